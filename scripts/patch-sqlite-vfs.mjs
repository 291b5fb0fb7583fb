// Fixes node-sqlite3-wasm 0.8.60's file layer (its Node VFS, dist/node-sqlite3-wasm.js) in node_modules; run by
// `postinstall` and by scripts/build.mjs, so the bundles and the unit tests (which import node_modules) both get it.
// Idempotent; fails loudly when the file is neither the text we patch nor already patched (a new release: review).
//
// 1. xCheckReservedLock said "another connection holds the reserved lock" whenever `<db>.lock` existed, also when
//    that directory was this connection's own lock (the VFS takes the one directory at every lock level). SQLite
//    asks while holding its shared lock, so a hot journal left by a killed writer was never rolled back, and the
//    next write deleted it: the half-done transaction became permanent. The lock is exclusive, so a connection
//    that holds it knows no other one does.
// 2. xLock writes the holder's pid into the lock directory (and xUnlock removes it), so a directory left by a
//    killed process can be told from a live holder's (extension/src/index/fileLock.ts clears only a dead one's).
// 3. In a folder we may not write (read-only index), xLock cannot make the directory: read without it, unless the
//    directory exists (someone who can write there holds it: busy). Nobody can create a journal there either.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PATCHES = [
  {
    what: 'xCheckReservedLock: our own lock is not another connection\'s reserved lock',
    from: 'function _nodejsCheckReservedLock(fi,outResult){try{',
    to: 'function _nodejsCheckReservedLock(fi,outResult){if(_isLocked(fi)){setValue(outResult,0,"i32");return SQLITE_OK}try{',
  },
  {
    what: 'xLock: record the holder\'s pid; a read-only folder reads without the lock directory',
    from: 'function _nodejsLock(fi,level){if(!_isLocked(fi)){try{fs.mkdirSync(`${_path(fi)}.lock`)}catch(err){return err.code=="EEXIST"?SQLITE_BUSY:SQLITE_IOERR_LOCK}_setLocked(fi,true)}return SQLITE_OK}',
    to: 'function _nodejsLock(fi,level){if(!_isLocked(fi)){const lockDir=`${_path(fi)}.lock`;try{fs.mkdirSync(lockDir)}catch(err){if(err.code=="EEXIST")return SQLITE_BUSY;' +
      'if(err.code=="EACCES"||err.code=="EROFS"||err.code=="EPERM")return fs.existsSync(lockDir)?SQLITE_BUSY:SQLITE_OK;return SQLITE_IOERR_LOCK}' +
      'try{fs.writeFileSync(`${lockDir}/pid`,String(process.pid))}catch{}_setLocked(fi,true)}return SQLITE_OK}',
  },
  {
    what: 'xUnlock: remove the pid file with the lock directory',
    from: 'function _nodejsUnlock(fi,level){if(level==SQLITE_LOCK_NONE&&_isLocked(fi)){try{fs.rmdirSync(`${_path(fi)}.lock`)}',
    to: 'function _nodejsUnlock(fi,level){if(level==SQLITE_LOCK_NONE&&_isLocked(fi)){try{fs.rmSync(`${_path(fi)}.lock/pid`,{force:true});fs.rmdirSync(`${_path(fi)}.lock`)}',
  },
];

const count = (text, s) => text.split(s).length - 1;

/** Patches `file` in place; returns what it did. Throws when the text is not what we know. */
export function patchSqliteVfs(file) {
  let text = fs.readFileSync(file, 'utf8');
  const done = [];
  for (const p of PATCHES) {
    if (count(text, p.to) === 1) continue; // already applied
    if (count(text, p.from) !== 1) {
      throw new Error(`patch-sqlite-vfs: ${file} does not hold the expected text for "${p.what}" ` +
        '(node-sqlite3-wasm changed?): review scripts/patch-sqlite-vfs.mjs before using this version');
    }
    text = text.replace(p.from, p.to);
    done.push(p.what);
  }
  if (done.length) fs.writeFileSync(file, text);
  return done;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VFS_FILE = path.join(root, 'node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.js');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const done = patchSqliteVfs(VFS_FILE);
  console.log(done.length ? `patch-sqlite-vfs: patched ${done.length} function(s) of node-sqlite3-wasm: ${done.join('; ')}`
    : 'patch-sqlite-vfs: node-sqlite3-wasm already patched');
}
