// Walks a workspace folder and lists the files worth indexing with their size and mtime, without reading
// them (the indexer reads only files whose mtime/size changed). Every entry left out is reported with a
// reason; symlink cycles are cut by remembering the real path of every folder entered, and links out of the
// root are not followed unless the caller allows it.
import * as fs from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import * as path from 'node:path';
import type { Logger, SkipReason } from '../core/api.js';
import { isInside, kindOf, readGuard, skipOf, type ReadGuard, type Skip } from './fileAccess.js';
import { IgnoreRules } from './ignoreRules.js';

export interface WalkOptions {
  excludeGlobs: readonly string[];
  maxFileBytes: number;
  /** Follow links whose real target is outside the root (links inside it are always followed). */
  followSymlinks: boolean;
  logger: Logger;
}

export interface WalkedFile {
  /** Relative to the root, POSIX separators. */
  path: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedFile {
  path: string;
  reason: SkipReason;
  detail?: string;
}

export interface WalkResult {
  files: WalkedFile[];
  skipped: SkippedFile[];
  /** What the reads behind this walk may touch (the root's real path, links, size limit). */
  guard: ReadGuard;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** A folder waiting to be listed: its ignore rules are read when it is entered. `link`: reached through a link. */
interface PendingDir { abs: string; rel: string; real: string; parentRules: IgnoreRules; link?: string }

const utf8Name = new TextDecoder('utf-8', { fatal: true });

/**
 * Depth-first in name order, with an explicit stack (a deep tree costs heap, not call stack). Links are followed
 * when their real target stays inside the root, or anywhere with followSymlinks; links to folders wait until every
 * real folder is walked, so a folder is indexed under its own path and a link to it is the duplicate. Every entry
 * left out (not a regular file or folder, a name that is not UTF-8, a link out, a dangling link, a second path to a
 * folder) is reported with a reason and logged.
 */
export async function walkWorkspace(root: string, options: WalkOptions): Promise<WalkResult> {
  const guard = await readGuard(root, options.followSymlinks, options.maxFileBytes);
  const result: WalkResult = { files: [], skipped: [], guard };
  const seenDirs = new Set<string>([guard.rootReal]);
  const rootRules = await IgnoreRules.create(options.excludeGlobs).enter(root, '');
  const stack: (PendingDir & { rules?: IgnoreRules })[] = [{ abs: root, rel: '', real: guard.rootReal, parentRules: rootRules, rules: rootRules }];
  const linked: PendingDir[] = [];
  for (;;) {
    let dir = stack.pop();
    if (!dir) {
      dir = linked.shift();
      if (!dir) break;
      if (seenDirs.has(dir.real)) {
        result.skipped.push({ path: dir.rel, reason: 'duplicate-link', detail: `${dir.link}: that folder is walked already (or this is a link back into it)` });
        continue;
      }
      seenDirs.add(dir.real);
    }
    const rules = dir.rules ?? await dir.parentRules.enter(dir.abs, dir.rel);
    const { subdirs, links } = await listDir(dir, rules, seenDirs, guard, result);
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
    linked.push(...links);
  }
  result.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const s of result.skipped) {
    if (s.reason !== 'ignored') options.logger.info(`skip ${s.path}: ${s.reason}${s.detail ? ` (${s.detail})` : ''}`);
  }
  return result;
}

/** Lists one folder: files go to `out`; folders to enter are returned in name order, those behind links apart. */
async function listDir(dir: PendingDir, rules: IgnoreRules, seenDirs: Set<string>, guard: ReadGuard, out: WalkResult):
  Promise<{ subdirs: PendingDir[]; links: PendingDir[] }> {
  let entries: Dirent<Buffer>[];
  try {
    entries = await fs.readdir(dir.abs, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    // A folder that vanished or cannot be listed loses only itself, never the walk.
    out.skipped.push({ path: dir.rel || '.', ...skipOf(err) });
    return { subdirs: [], links: [] };
  }
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  const subdirs: PendingDir[] = [];
  const links: PendingDir[] = [];
  const skip = (p: string, s: Skip) => out.skipped.push({ path: p, ...s });
  for (const entry of entries) {
    let name: string;
    try {
      name = utf8Name.decode(entry.name);
    } catch {
      // The path could not be written back (it would name another file or none): leave it out, say so.
      const shown = entry.name.toString('utf8');
      skip(dir.rel ? `${dir.rel}/${shown}` : shown, { reason: 'bad-name', detail: `name is not valid UTF-8 (hex ${entry.name.toString('hex')})` });
      continue;
    }
    const abs = path.join(dir.abs, name);
    const rel = dir.rel ? `${dir.rel}/${name}` : name;
    let st: Stats | undefined;
    let real: string | undefined;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    let link = '';
    if (entry.isSymbolicLink() || (!isDir && !isFile && !isSpecial(entry))) {
      // A link (or a file system that gives no type): resolve it and judge the target.
      try {
        real = await fs.realpath(abs);
        st = await fs.stat(real);
      } catch (err) {
        if (rules.ignores(rel, false)) { skip(rel, { reason: 'ignored' }); continue; }
        const s = skipOf(err);
        skip(rel, entry.isSymbolicLink() && s.reason === 'vanished' ? { reason: 'broken-link', detail: `target missing: ${s.detail}` } : s);
        continue;
      }
      isDir = st.isDirectory();
      isFile = st.isFile();
      if (entry.isSymbolicLink()) link = `a link to ${real}`;
      else real = undefined; // no type from the file system, but not a link: an ordinary entry
    }
    if (rules.ignores(rel, isDir)) { skip(rel, { reason: 'ignored' }); continue; }
    if (real !== undefined && !guard.followSymlinks && !isInside(guard.rootReal, real)) {
      skip(rel, { reason: 'outside-workspace', detail: `${link || real}; set infiniLens.followSymlinks (CLI: --follow-symlinks) to index it` });
      continue;
    }
    if (!isDir && !isFile) {
      skip(rel, { reason: 'not-a-file', detail: st ? `${link ? `${link}, ` : ''}${kindOf(st)}` : kindOf(entry) });
      continue;
    }
    if (isDir) {
      if (real !== undefined) {
        links.push({ abs, rel, real, parentRules: rules, link: link || real });
        continue;
      }
      const dirReal = path.join(dir.real, name);
      if (seenDirs.has(dirReal)) { // inside a linked folder, already walked through another link
        skip(rel, { reason: 'duplicate-link', detail: `${dirReal} is walked already through another link` });
        continue;
      }
      seenDirs.add(dirReal);
      subdirs.push({ abs, rel, real: dirReal, parentRules: rules });
      continue;
    }
    try {
      st ??= await fs.stat(abs);
    } catch (err) {
      skip(rel, skipOf(err));
      continue;
    }
    if (st.size > guard.maxFileBytes) {
      skip(rel, { reason: 'too-large', detail: `${st.size} bytes > ${guard.maxFileBytes}` });
      continue;
    }
    out.files.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs });
  }
  return { subdirs, links };
}

function isSpecial(e: Dirent<Buffer>): boolean {
  return e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice();
}

/** Stats one file for a watcher event, applying the same rules as the walk (ancestors' ignore files too). */
export async function statOne(root: string, rel: string, options: WalkOptions): Promise<WalkedFile | SkippedFile> {
  const parts = rel.split('/');
  let rules = await IgnoreRules.create(options.excludeGlobs).enter(root, '');
  for (let i = 1; i < parts.length; i++) {
    const dirRel = parts.slice(0, i).join('/');
    if (rules.ignores(dirRel, true)) return { path: rel, reason: 'ignored' };
    rules = await rules.enter(path.join(root, ...parts.slice(0, i)), dirRel);
  }
  if (rules.ignores(rel, false)) return { path: rel, reason: 'ignored' };
  const abs = path.join(root, ...parts);
  try {
    const real = await fs.realpath(abs);
    const stat = await fs.stat(real);
    if (!options.followSymlinks && !isInside(await fs.realpath(root), real)) {
      return { path: rel, reason: 'outside-workspace', detail: `a link to ${real}; set infiniLens.followSymlinks (CLI: --follow-symlinks) to index it` };
    }
    if (!stat.isFile()) return { path: rel, reason: 'not-a-file', detail: kindOf(stat) };
    if (stat.size > options.maxFileBytes) return { path: rel, reason: 'too-large', detail: `${stat.size} bytes > ${options.maxFileBytes}` };
    return { path: rel, abs, size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (err) {
    return { path: rel, ...skipOf(err) };
  }
}
