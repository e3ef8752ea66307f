/**
 * Who made a temp, probe or reservation file in the store folder (issue 15 review finding 7a): its name
 * carries `<host>-<pid>-<start>`, where <host> hashes the host name and the PID namespace. A cleanup removes
 * only files of a process of this host and namespace that is gone (pid dead, a zombie, or reused with another
 * start time), never a live one's (ensureWritable's probes are made without the store lock; a reservation
 * lives across the POST), and never another host's or namespace's, whose processes it cannot see.
 */
import { createHash } from 'node:crypto';
import { readPidNamespace, readProcStat } from './proc-info.js';

/** `<8 hex>-<pid>-<start or x>`. Without a known namespace the hash is the host name's alone (as before). */
export function ownerTag(hostname: string, pidNs: string | undefined, pid: number, start: string): string {
  const hash = createHash('sha256')
    .update(pidNs === undefined ? hostname : `${hostname}\0${pidNs}`)
    .digest('hex')
    .slice(0, 8);
  return `${hash}-${pid}-${start}`;
}

const own = new Map<string, Promise<string>>();

/** This process's tag, read from /proc once. */
export function ownTag(hostname: string, pid: number): Promise<string> {
  const key = `${pid}\0${hostname}`;
  let tag = own.get(key);
  if (tag === undefined)
    own.set(
      key,
      (tag = (async () =>
        ownerTag(hostname, await readPidNamespace(), pid, (await readProcStat(pid))?.start ?? 'x'))()),
    );
  return tag;
}

const TAGGED = /^([0-9a-f]{8})-(\d+)-(\d+|x)-/;

export type Judged = 'ours' | 'alive' | 'gone' | 'foreign' | 'untagged';

/**
 * Judges the file name part after its prefix (`<tag>-<random>...`). 'untagged': an older box-qc's name or a
 * test hook's (the caller keeps its old rule).
 */
export async function judgeTagged(rest: string, self: string, isPidAlive: (pid: number) => boolean): Promise<Judged> {
  const m = TAGGED.exec(rest);
  if (!m) return 'untagged';
  if (`${m[1]}-${m[2]}-${m[3]}-` === `${self}-`) return 'ours';
  if (m[1] !== self.slice(0, 8)) return 'foreign';
  const pid = Number(m[2]);
  const start = m[3]!;
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'foreign';
  // Without /proc (not Linux, or the process just exited) pid liveness alone decides, as for locks.
  if (!isPidAlive(pid)) return 'gone';
  const stat = await readProcStat(pid);
  if (stat === undefined) return 'alive';
  if (stat.state === 'Z' || stat.state === 'X') return 'gone';
  return start === 'x' || stat.start === start ? 'alive' : 'gone';
}
