# Runs argv with stdin and stderr on a pseudo-terminal, then, when a line arrives on our stdin, hangs the
# terminal up under it: the master is closed (every later write to the terminal fails with EIO) and the child
# gets SIGHUP, as when an SSH session or a terminal window dies under a running box-qc. stdout is inherited.
# Usage: python3 pty-hup.py <argv...>; exits with the child's exit code (128+n when killed by signal n).
import fcntl, os, select, signal, struct, subprocess, sys, termios

master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))
os.set_inheritable(slave, True)
child = subprocess.Popen(sys.argv[1:], stdin=slave, stderr=slave, close_fds=True, pass_fds=(slave,))
os.close(slave)
seen = b''
go = False
while not go and child.poll() is None:
    r, _, _ = select.select([master, sys.stdin], [], [], 0.05)
    if master in r:
        try:
            seen += os.read(master, 65536)
        except OSError:
            break
    if sys.stdin in r:
        go = True
os.close(master)
if go and child.poll() is None:
    os.kill(child.pid, signal.SIGHUP)
code = child.wait()
sys.stderr.write('pty saw %d bytes before the hang-up%s\n' % (len(seen), ' (SIGHUP sent)' if go else ''))
sys.exit(code if code >= 0 else 128 - code)
