# Runs argv with stderr (and stdin) on a pseudo-terminal that is NOT the child's controlling terminal, so
# closing the master sends no SIGHUP: the terminal simply goes away and every later write to it fails with
# EIO, as when an SSH session or a terminal window dies under a running box-qc. stdout is inherited.
# Usage: python3 pty-run.py <close-after-seconds> <argv...>; exits with the child's exit code.
import fcntl, os, select, struct, subprocess, sys, termios, time

close_after = float(sys.argv[1])
master, slave = os.openpty()
# A real size: ora draws no spinner on a terminal that reports 0 columns (io/output.ts).
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))
os.set_inheritable(slave, True)
child = subprocess.Popen(sys.argv[2:], stdin=slave, stderr=slave, close_fds=True, pass_fds=(slave,))
os.close(slave)
seen = b''
deadline = time.time() + close_after
while time.time() < deadline and child.poll() is None:
    r, _, _ = select.select([master], [], [], 0.05)
    if r:
        try:
            seen += os.read(master, 65536)
        except OSError:
            break
os.close(master)
code = child.wait()
sys.stderr.write('pty saw %d bytes before closing\n' % len(seen))
sys.exit(code if code >= 0 else 128 - code)
