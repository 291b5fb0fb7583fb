// Safe access to workspace files for the walk and the reads behind it. The tree may change under the indexer
// (a file swapped for a FIFO, a symlink to /dev/zero, a folder) and may hold links out of the workspace, so a
// read resolves the path, checks it stays inside the root (unless following links out is allowed), opens it
// without blocking or following a last-moment link, checks the open file is a regular file and reads at most
// the size limit.
import * as fs from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { SkipReason } from '../core/api.js';

/** What a read may touch: the workspace's real path, whether links may lead out of it, and the size limit. */
export interface ReadGuard {
  rootReal: string;
  followSymlinks: boolean;
  maxFileBytes: number;
}

export interface Skip { reason: SkipReason; detail?: string }

export type BoundedRead =
  | { ok: true; bytes: Buffer; size: number; mtimeMs: number }
  | ({ ok: false } & Skip);

/** O_NONBLOCK: opening a FIFO that was swapped in must not wait for a writer. O_NOFOLLOW: the resolved path
 * must not have become a link since (both 0 where the platform has none). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

export async function readGuard(root: string, followSymlinks: boolean, maxFileBytes: number): Promise<ReadGuard> {
  return { rootReal: await fs.realpath(root), followSymlinks, maxFileBytes };
}

/** Whether a real (resolved) path is the root or below it. */
export function isInside(rootReal: string, real: string): boolean {
  if (real === rootReal) return true;
  const prefix = rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep;
  return real.startsWith(prefix);
}

/** 'FIFO', 'socket', 'character device', … for a skip message. */
export function kindOf(st: Pick<Stats, 'isFile' | 'isDirectory' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isSymbolicLink'>): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSymbolicLink()) return 'symlink';
  return 'special file';
}

/** Skip reason for an error from realpath/stat/open/read. */
export function skipOf(err: unknown, what = ''): Skip {
  const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
  const detail = what ? `${what}: ${code}` : code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: 'vanished', detail };
  if (code === 'ELOOP') return { reason: 'broken-link', detail: `${what || 'link'}: symlink loop` };
  if (code === 'ENXIO') return { reason: 'not-a-file', detail: `socket or device (${code})` };
  return { reason: 'unreadable', detail };
}

/** Reads one file as the guard allows: at most maxFileBytes, regular files only, inside the root by default. */
export async function readBounded(abs: string, guard: ReadGuard): Promise<BoundedRead> {
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch (err) {
    return { ok: false, ...skipOf(err) };
  }
  if (!guard.followSymlinks && !isInside(guard.rootReal, real)) {
    return { ok: false, reason: 'outside-workspace', detail: `a link to ${real}; set infiniLens.followSymlinks (CLI: --follow-symlinks) to index it` };
  }
  // Never open a device or a FIFO at all (opening some devices has effects); the fstat below catches a swap after this.
  let pre: Stats;
  try {
    pre = await fs.lstat(real);
  } catch (err) {
    return { ok: false, ...skipOf(err) };
  }
  if (!pre.isFile()) return { ok: false, reason: 'not-a-file', detail: kindOf(pre) };
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(real, OPEN_FLAGS);
  } catch (err) {
    return { ok: false, ...skipOf(err) };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: 'not-a-file', detail: kindOf(st) };
    if (st.size > guard.maxFileBytes) return { ok: false, reason: 'too-large', detail: `${st.size} bytes > ${guard.maxFileBytes}` };
    // The size fstat gave, no more: a file growing meanwhile is read again on the next update (its mtime moved).
    const bytes = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(bytes, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { ok: true, bytes: got === st.size ? bytes : bytes.subarray(0, got), size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    return { ok: false, ...skipOf(err) };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
