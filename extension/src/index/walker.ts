// Walks a workspace folder and lists the files worth indexing with their size and mtime, without reading
// them (the indexer reads only files whose mtime/size changed). Every file left out is reported with a
// reason; symlink cycles are cut by remembering the real path of every folder entered.
import * as fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import type { Logger, SkipReason } from '../core/api.js';
import { IgnoreRules } from './ignoreRules.js';

export interface WalkOptions {
  excludeGlobs: readonly string[];
  maxFileBytes: number;
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
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

export async function walkWorkspace(root: string, options: WalkOptions): Promise<WalkResult> {
  const result: WalkResult = { files: [], skipped: [] };
  const seenDirs = new Set<string>();
  const rootReal = await fs.realpath(root);
  seenDirs.add(rootReal);
  const rules = await IgnoreRules.create(options.excludeGlobs).enter(root, '');
  await walkDir(root, '', rules, seenDirs, options, result);
  result.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const s of result.skipped) {
    if (s.reason !== 'ignored') options.logger.info(`skip ${s.path}: ${s.reason}${s.detail ? ` (${s.detail})` : ''}`);
  }
  return result;
}

async function walkDir(abs: string, rel: string, rules: IgnoreRules, seenDirs: Set<string>,
  options: WalkOptions, out: WalkResult): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(abs, { withFileTypes: true });
  } catch (err) {
    // A folder that vanished or cannot be listed loses only itself, never the walk.
    out.skipped.push({ path: rel || '.', reason: reasonOf(err), detail: codeOf(err) });
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const childAbs = path.join(abs, entry.name);
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    let stat: Stats | undefined;
    if (entry.isSymbolicLink()) {
      if (!options.followSymlinks) continue;
      try {
        stat = await fs.stat(childAbs);
      } catch (err) {
        out.skipped.push({ path: childRel, reason: reasonOf(err), detail: `dangling link: ${codeOf(err)}` });
        continue;
      }
      isDir = stat.isDirectory();
      isFile = stat.isFile();
    }
    if (!isDir && !isFile) continue; // sockets, fifos, devices
    if (rules.ignores(childRel, isDir)) {
      out.skipped.push({ path: childRel, reason: 'ignored' });
      continue;
    }
    if (isDir) {
      const real = await fs.realpath(childAbs).catch(() => undefined);
      if (real === undefined || seenDirs.has(real)) continue; // vanished, or a link back into the walk
      seenDirs.add(real);
      await walkDir(childAbs, childRel, await rules.enter(childAbs, childRel), seenDirs, options, out);
      continue;
    }
    try {
      stat ??= await fs.stat(childAbs);
    } catch (err) {
      out.skipped.push({ path: childRel, reason: reasonOf(err), detail: codeOf(err) });
      continue;
    }
    if (stat.size > options.maxFileBytes) {
      out.skipped.push({ path: childRel, reason: 'too-large', detail: `${stat.size} bytes > ${options.maxFileBytes}` });
      continue;
    }
    out.files.push({ path: childRel, abs: childAbs, size: stat.size, mtimeMs: stat.mtimeMs });
  }
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
    const stat = await fs.stat(abs);
    if (!stat.isFile()) return { path: rel, reason: 'ignored', detail: 'not a file' };
    if (stat.size > options.maxFileBytes) return { path: rel, reason: 'too-large', detail: `${stat.size} bytes` };
    return { path: rel, abs, size: stat.size, mtimeMs: stat.mtimeMs };
  } catch (err) {
    return { path: rel, reason: reasonOf(err), detail: codeOf(err) };
  }
}

export function reasonOf(err: unknown): SkipReason {
  return codeOf(err) === 'ENOENT' ? 'vanished' : 'unreadable';
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? String(err);
}
