// Opening an index file safely: who may write it, what a crash left behind, and what is damage.
//
// - One writer per index across processes (fileLock.ts WriterLock). A process that cannot write (another one
//   holds the writer lock, or the file or its folder is read-only) opens the index read-only and serves searches
//   from what is committed; it never rebuilds, moves or deletes anything.
// - A hot journal (a writer killed mid-transaction) is rolled back by SQLite itself on open (this needs the VFS
//   fix of scripts/patch-sqlite-vfs.mjs), so a crash leaves the last committed state.
// - "database is locked" is never damage: we wait (busy_timeout), clear a lock whose holder died, and otherwise
//   say that another process holds it.
// - Damage (not a database, quick_check fails, not our schema) found by the writer moves the file and its journal
//   aside under a time-stamped name (the last two kept) and starts empty; an empty file is not worth keeping.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import type { Logger } from '../core/api.js';
import { clearStaleSqliteLock, LockHeldError, WriterLock } from './fileLock.js';

/** Another live process holds the index (its writer lock, or SQLite's lock for longer than we wait). */
export class IndexBusyError extends Error {}
/** The index cannot be used and this process may not repair it (read-only, or another process writes it). */
export class IndexUnusableError extends Error {}

export interface OpenedDatabase { db: Database; lock?: WriterLock; readOnly?: string }

const BUSY_TIMEOUT_MS = 5000;
const KEEP_CORRUPT = 2;

export const isBusy = (err: unknown): boolean => /database is locked|database table is locked|SQLITE_BUSY/i.test((err as Error)?.message ?? '');
const isPermission = (err: unknown): boolean => ['EACCES', 'EROFS', 'EPERM'].includes((err as NodeJS.ErrnoException)?.code ?? '');

/**
 * Opens `file` for `access`: 'write' must update it (throws IndexBusyError / IndexUnusableError when it cannot),
 * 'shared' writes when it can and otherwise reads (`readOnly` says why). `check` returns why a database is not a
 * usable index (or undefined); a problem starting with "schema version" is an older build's index, not damage.
 */
export function openDatabase(file: string, logger: Logger, access: 'write' | 'shared', purpose: string,
  check: (db: Database) => string | undefined): OpenedDatabase {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new IndexUnusableError(`cannot create the index folder ${dir}: ${(err as Error).message}`);
  }
  let lock: WriterLock | undefined;
  let readOnly: string | undefined;
  try {
    lock = WriterLock.acquire(file, purpose);
  } catch (err) {
    if (err instanceof LockHeldError) {
      if (access === 'write') throw new IndexBusyError(`cannot update the index at ${file}: ${err.message}. Try again when it has finished.`);
      readOnly = err.message;
    } else if (isPermission(err)) {
      readOnly = `its folder ${dir} is read-only`;
    } else {
      throw err;
    }
  }
  if (lock && fs.existsSync(file) && !canWrite(file)) {
    readOnly = `the file ${file} is read-only`;
    lock.release();
    lock = undefined;
  }
  if (readOnly && access === 'write') throw new IndexUnusableError(`cannot update the index at ${file}: ${readOnly}`);
  try {
    if (clearStaleSqliteLock(file)) logger.info(`Infini Lens: cleared a stale lock left by an interrupted process (${file}.lock).`);
  } catch { /* a read-only folder: nobody can have left one there */ }
  try {
    if (readOnly) return { db: openReadOnly(file, readOnly, check), readOnly };
    fs.rmSync(`${file}.pid`, { force: true }); // written by builds before the writer lock
    return { db: openWritable(file, logger, check), lock };
  } catch (err) {
    lock?.release();
    throw err;
  }
}

function canWrite(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function connect(file: string, readOnly: boolean): Database {
  const db = new Database(file, readOnly ? { readOnly: true, fileMustExist: true } : {});
  db.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
  return retryWhenStale(db, file);
}

/** The problem with `file`, or undefined; throws IndexBusyError when a live process holds SQLite's lock. */
function inspect(file: string, readOnly: boolean, check: (db: Database) => string | undefined): { db?: Database; problem?: string } {
  let db: Database | undefined;
  try {
    db = connect(file, readOnly);
    const problem = check(db);
    return problem ? (db.close(), { problem }) : { db };
  } catch (err) {
    try { db?.close(); } catch { /* already unusable */ }
    if (err instanceof IndexBusyError) throw err;
    return { problem: `cannot open: ${(err as Error).message}` };
  }
}

function openReadOnly(file: string, why: string, check: (db: Database) => string | undefined): Database {
  if (!fs.existsSync(file)) throw new IndexUnusableError(`there is no index at ${file} yet, and this process cannot create it: ${why}`);
  const { db, problem } = inspect(file, true, check);
  if (db) return db;
  const hint = fs.existsSync(`${file}-journal`) ? ' (an interrupted write that only a process that may write there can undo)' : '';
  throw new IndexUnusableError(`the index at ${file} cannot be read${hint}: ${problem}; left as it is because ${why}`);
}

function openWritable(file: string, logger: Logger, check: (db: Database) => string | undefined): Database {
  const { db, problem } = inspect(file, false, check);
  if (db) return db;
  if (problem!.startsWith('schema version')) {
    // Not damage: an index written by another version. It is only a cache, so rebuild in place.
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}-journal`, { force: true });
    logger.info(`Infini Lens: the index at ${file} has ${problem}; rebuilding it.`);
  } else {
    const aside = moveAside(file);
    logger.warn(`Infini Lens: the index at ${file} was unusable (${problem}); ` +
      `${aside ? `moved it to ${aside}` : 'it was empty'} and rebuilding from scratch.`);
  }
  return connect(file, false);
}

/** Moves a damaged file (and its journal) to `<file>.corrupt-<time>`, keeping the newest KEEP_CORRUPT copies. */
function moveAside(file: string): string | undefined {
  const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
  if (size === 0) {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}-journal`, { force: true });
    return undefined;
  }
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  fs.renameSync(file, aside);
  if (fs.existsSync(`${file}-journal`)) fs.renameSync(`${file}-journal`, `${aside}-journal`);
  const base = path.basename(file);
  const old = fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith(`${base}.corrupt-`) && !n.endsWith('-journal')).sort().reverse();
  for (const n of old.slice(KEEP_CORRUPT)) {
    fs.rmSync(path.join(path.dirname(file), n), { force: true });
    fs.rmSync(path.join(path.dirname(file), `${n}-journal`), { force: true });
  }
  return aside;
}

/** Wraps the statement calls so that "database is locked" after busy_timeout clears a dead holder's lock and
 * retries once, or becomes an IndexBusyError that says so (never a sign of damage). */
function retryWhenStale(db: Database, file: string): Database {
  for (const name of ['exec', 'run', 'get', 'all', 'prepare'] as const) {
    const call = (db[name] as (...a: unknown[]) => unknown).bind(db);
    (db as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        return call(...args);
      } catch (err) {
        if (!isBusy(err)) throw err;
        if (clearStaleSqliteLock(file)) {
          try { return call(...args); } catch (again) { if (!isBusy(again)) throw again; }
        }
        throw new IndexBusyError(`the index at ${file} is locked by another process (waited ${BUSY_TIMEOUT_MS / 1000} s); try again when it has finished`);
      }
    };
  }
  return db;
}
