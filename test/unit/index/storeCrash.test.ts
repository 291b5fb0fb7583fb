// A writer killed mid-transaction must leave the last committed state: SQLite rolls its hot journal back on the
// next open. node-sqlite3-wasm 0.8.60's file layer hid the journal (it took its own lock for another process's), so
// the half-done transaction became permanent; scripts/patch-sqlite-vfs.mjs fixes it. Both tests fail without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { IndexStore } from '../../../extension/src/index/store.js';
import { clearStaleSqliteLock } from '../../../extension/src/index/fileLock.js';
import { memoryLogger } from './fixture.js';

const ROOT = path.resolve(__dirname, '../../..');

/** Runs `code` (ES module, tsx) in a child, waits for its first line, kills it with SIGKILL. */
async function killAfterFirstLine(code: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(String(d)));
    child.once('exit', (c) => reject(new Error(`child exited (${c}) before it was killed: ${err}`)));
  });
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
  return line;
}

test('kill -9 during `BEGIN; UPDATE` of 20,000 rows (cache_size=5): reopening rolls the journal back, 0 rows changed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-hot-'));
  const file = path.join(dir, 't.sqlite');
  try {
    const db = new Database(file);
    db.exec('PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad TEXT NOT NULL)');
    const ins = db.prepare('INSERT INTO t(v, pad) VALUES (0, ?)');
    db.exec('BEGIN');
    for (let i = 0; i < 20_000; i++) ins.run(['x'.repeat(100)]);
    db.exec('COMMIT');
    ins.finalize();
    db.close();
    await killAfterFirstLine(`import sqlite from 'node-sqlite3-wasm';
      const db = new sqlite.Database(${JSON.stringify(file)});
      db.exec('PRAGMA cache_size=5; BEGIN; UPDATE t SET v = v + 1');
      console.log('updated'); setInterval(() => {}, 1000);`);
    assert.ok(fs.existsSync(`${file}-journal`), 'the killed writer left its journal');
    fs.rmSync(`${file}.lock`, { recursive: true }); // its holder is dead (the store clears it: the test below)
    const again = new Database(file);
    try {
      assert.deepEqual(again.get('SELECT count(*) AS n FROM t WHERE v <> 0'), { n: 0 }, 'the half-done UPDATE is rolled back');
      assert.deepEqual(again.get('SELECT count(*) AS n FROM t'), { n: 20_000 });
      assert.deepEqual(again.get('PRAGMA quick_check'), { quick_check: 'ok' });
    } finally {
      again.close();
    }
    assert.ok(!fs.existsSync(`${file}-journal`), 'the rolled-back journal is gone');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an IndexStore writer killed mid-transaction: the next open takes over its locks and sees the last commit', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-hot-'));
  const file = path.join(dir, 'index.sqlite');
  try {
    const chunks = (p: string) => Array.from({ length: 40 }, (_, k) => ({ path: p, startLine: k * 3 + 1, endLine: k * 3 + 3, kind: 'function',
      startOffset: k * 90, endOffset: k * 90 + 89, snippet: `f${k}`, tokens: [{ name: `f${k}`, path: p, body: `body ${k} ${p}`, context: '' }] }));
    const store = await IndexStore.open(file, memoryLogger(), { access: 'write' });
    store.transaction(() => { for (let i = 0; i < 50; i++) store.putFile(`a/f${i}.py`, `h${i}`, 1, 10, chunks(`a/f${i}.py`)); });
    const before = store.digest();
    store.close();
    const storeModule = path.join(ROOT, 'extension/src/index/store.ts');
    const line = await killAfterFirstLine(`import storeModule from ${JSON.stringify(storeModule)};
      const { IndexStore } = storeModule;
      const log = { info() {}, warn() {}, error() {} };
      const store = await IndexStore.open(${JSON.stringify(file)}, log, { access: 'write' });
      const chunks = ${chunks.toString()};
      store.db.exec('PRAGMA cache_size=5; BEGIN IMMEDIATE');
      for (let i = 0; i < 50; i++) store.deleteFile('a/f' + i + '.py');
      for (let i = 0; i < 60; i++) store.putFile('b/g' + i + '.py', 'g' + i, 1, 10, chunks('b/g' + i + '.py'));
      console.log(process.pid); setInterval(() => {}, 1000);`);
    assert.match(line, /^\d+/);
    assert.ok(fs.existsSync(`${file}-journal`) && fs.existsSync(`${file}.writer`), 'journal and writer lock left behind');
    const logger = memoryLogger();
    assert.ok(clearStaleSqliteLock(file), 'the dead writer\'s SQLite lock directory is cleared');
    const reopened = await IndexStore.open(file, logger, { access: 'write' });
    try {
      assert.equal(reopened.readOnly, undefined);
      const after = reopened.digest();
      assert.deepEqual(after, before, 'the same files, chunks and keyword rows as the last commit; integrity ok');
      assert.ok(!logger.lines.some((l) => l.includes('unusable')), logger.lines.join('\n'));
    } finally {
      reopened.close();
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['index.sqlite'], 'no journal, lock or moved-aside copy left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
