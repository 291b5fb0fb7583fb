// Cross-process locks of an index folder, both plain files on disk so they work wherever the index does:
//
// - The writer lock `<db>.writer`: one process at a time updates an index. It holds the holder's pid, host and
//   process start time, is created atomically (a hard link of a finished file, so nobody reads half an owner), and
//   is taken over only when its holder is gone: a dead pid, or a pid now used by a process that started after the
//   lock was written (pid reuse). A live holder's lock is never taken.
// - SQLite's own lock directory `<db>.lock` (node-sqlite3-wasm's VFS, patched by scripts/patch-sqlite-vfs.mjs to
//   write its holder's pid inside): a process killed in the middle of a statement leaves it behind, and every
//   other connection would get "database is locked" forever. It is cleared by the same rule.
//
// Taking over a dead holder's lock goes through a short-lived `<lock>.steal` directory, so two processes that both
// find the same stale lock cannot both take it (the second re-reads it and finds the first one's live lock).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** Who holds a lock. `start`: the process's start time (ms since the epoch) where this OS tells it. */
export interface LockOwner { pid: number; host: string; start?: number; since: number; what: string }

/** A live process holds the lock we wanted. */
export class LockHeldError extends Error {
  constructor(readonly lockFile: string, readonly owner: LockOwner) {
    super(`another process is updating this index (pid ${owner.pid}${owner.host !== os.hostname() ? ` on ${owner.host}` : ''}, ` +
      `${owner.what}, since ${new Date(owner.since).toISOString()}); lock file ${lockFile}`);
  }
}

// The pid's start time may be read up to a second late (Linux: boot time in whole seconds + clock ticks).
const START_SLACK_MS = 1500;
// A lock directory with no pid inside is being made right now (mkdir, then the pid) unless it is older than this.
const ORPHAN_MS = 10_000;

/** When process `pid` started (ms since the epoch), or undefined where this OS does not tell us cheaply. */
export function processStart(pid: number): number | undefined {
  try {
    if (process.platform === 'linux') {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields 3.. (the name may hold spaces)
      const ticks = Number(fields[19]); // field 22: start time in clock ticks after boot (USER_HZ = 100)
      const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
      return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + ticks * 10 : undefined;
    }
    if (process.platform === 'darwin') {
      const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim();
      const t = Date.parse(out);
      return Number.isFinite(t) ? t : undefined;
    }
  } catch { /* gone, or not ours to read */ }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the lock written at `since` by `pid` is still held: that process runs, and started before `since`. */
export function holderAlive(pid: number, since: number, host = os.hostname()): boolean {
  if (host !== os.hostname()) return true; // another machine's process: we cannot tell, so never take it
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return false;
  const start = processStart(pid);
  return start === undefined || start <= since + START_SLACK_MS;
}

/** Runs `fn` holding `<lock>.steal`; undefined when another process is taking over the same lock right now. */
function whileStealing<T>(lock: string, fn: () => T): T | undefined {
  const steal = `${lock}.steal`;
  try {
    fs.mkdirSync(steal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (statOrUndefined(steal)?.mtimeMs ?? Date.now());
    if (age > ORPHAN_MS) fs.rmSync(steal, { recursive: true, force: true }); // its taker was killed mid-way
    return undefined;
  }
  try {
    return fn();
  } finally {
    fs.rmSync(steal, { recursive: true, force: true });
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as LockOwner;
    return Number.isInteger(o.pid) && typeof o.since === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `file` holding `token` unless it exists: a hard link of the finished `tmp` (never seen half written),
 * or O_EXCL where the file system has no hard links. */
function createExclusive(tmp: string, file: string, token: string): boolean {
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err;
  }
  try {
    fs.writeFileSync(file, token, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Tokens of the locks this thread has released (each token is unique: pid, time and purpose). */
const releasedHere = new Set<string>();

/** The writer lock of one index file. `acquire` throws LockHeldError while a live process holds it. */
export class WriterLock {
  private constructor(readonly file: string, private readonly token: string) {}

  static acquire(dbFile: string, what: string): WriterLock {
    const file = `${dbFile}.writer`;
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), start: processStart(process.pid), since: Date.now(), what };
    // The nonce makes every token unique, even two taken by this thread within one millisecond (releasedHere).
    const token = JSON.stringify({ ...owner, nonce: Math.random().toString(36).slice(2) });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(tmp, token);
    try {
      for (let attempt = 0; attempt < 50; attempt++) {
        if (createExclusive(tmp, file, token)) return new WriterLock(file, token);
        const text = readText(file);
        const held = text === undefined ? undefined : parseOwner(text);
        // A lock this thread released is stale even though our pid lives: its file was away when we released it
        // (the index folder was moved aside and back) and came back with our old token.
        if (held && !releasedHere.has(text!) && holderAlive(held.pid, held.since, held.host)) throw new LockHeldError(file, held);
        if (text === undefined) continue; // released meanwhile
        if (!held && Date.now() - (statOrUndefined(file)?.mtimeMs ?? 0) < ORPHAN_MS) {
          sleepMs(50); // being written right now (a file system without hard links): let it settle
          continue;
        }
        // Its holder is gone. Under the steal lock the file can only change by someone else's create after a
        // removal, so if the text is still the stale one we read, it is still that stale lock.
        const took = whileStealing(file, () => {
          if (readText(file) === text) fs.rmSync(file, { force: true });
          return true;
        });
        if (!took) sleepMs(20);
      }
      throw new Error(`could not take the writer lock ${file}`);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Whether this process still holds it (nobody took it over). */
  held(): boolean {
    return readText(this.file) === this.token;
  }

  release(): void {
    releasedHere.add(this.token);
    if (this.held()) fs.rmSync(this.file, { force: true });
  }
}

/** Clears SQLite's lock directory `<db>.lock` when the process that made it is gone; true if it cleared one. */
export function clearStaleSqliteLock(dbFile: string): boolean {
  const dir = `${dbFile}.lock`;
  const stale = (): boolean => {
    const st = statOrUndefined(dir);
    if (!st) return false;
    const pid = Number(readText(`${dir}/pid`)?.trim() || NaN); // empty: being written right now
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - st.mtimeMs > ORPHAN_MS; // an unpatched VFS's, or mid-mkdir
    if (pid === process.pid) return false; // one of our own connections: never ours to break
    return !holderAlive(pid, st.mtimeMs);
  };
  if (!stale()) return false;
  return whileStealing(dir, () => {
    if (!stale()) return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }) ?? false;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread: the store's calls are synchronous, and a wait for a lock is short. */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
