// One writer per index folder across processes; a lock is never damage; a read-only index still serves search.
// Other processes are real ones (the CLI under tsx, or a child holding a store), killed with SIGKILL where a crash
// is the point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IndexBusyError, IndexStore } from '../../../extension/src/index/store.js';
import { clearStaleSqliteLock, holderAlive, LockHeldError, processStart, WriterLock } from '../../../extension/src/index/fileLock.js';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { cleanup, copyFixture, memoryLogger } from './fixture.js';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'extension/src/cli.ts');
// As root every file is writable: read-only cases run the reader as `nobody`.
const asReader = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** A built index of the fixture workspace: { ws, dir (the index folder), file }. */
async function builtIndex(): Promise<{ ws: string; dir: string; file: string }> {
  const ws = copyFixture();
  const dir = path.join(path.dirname(ws), 'idx');
  const index = await WorkspaceIndex.open(ws, { storageDir: dir });
  await index.update();
  await index.close();
  fs.chmodSync(path.dirname(ws), 0o755); // mkdtemp makes it 0700: let `nobody` in
  return { ws, dir, file: path.join(dir, 'index.sqlite') };
}

const cli = (args: string[], opts = {}) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, ...opts });

/** Every file of the index folder with its sha256: "nothing changed" is this, before and after. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((n) => {
    const p = path.join(dir, n);
    return [n, fs.statSync(p).isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : 'dir'];
  }));
}

/** A child process that opens the index for writing and holds it until killed. */
async function holder(file: string): Promise<ChildProcess> {
  const code = `import m from ${JSON.stringify(path.join(ROOT, 'extension/src/index/store.ts'))};
    const store = await m.IndexStore.open(${JSON.stringify(file)}, { info() {}, warn() {}, error() {} }, { access: 'write', purpose: 'test holder' });
    console.log('holding'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => { child.stdout!.once('data', resolve); child.once('exit', reject); });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

test('a second `index` on the same folder is refused while a live process writes it; search reads it; a killed writer\'s lock is taken over', async () => {
  const { ws, dir, file } = await builtIndex();
  try {
    const before = snapshot(dir);
    const child = await holder(file);
    try {
      await assert.rejects(IndexStore.open(file, memoryLogger(), { access: 'write' }),
        (e: Error) => e instanceof IndexBusyError && e.message.includes(`pid ${child.pid}`) && e.message.includes('test holder'));
      const second = cli(['index', ws, '--index-dir', dir]);
      assert.equal(second.status, 1, second.stderr);
      assert.match(second.stderr, /^infini-lens: cannot update the index at .*another process is updating this index \(pid \d+/);
      assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
      const search = cli(['search', 'parse config', '--workspace', ws, '--index-dir', dir]);
      assert.equal(search.status, 0, search.stderr);
      assert.match(search.stdout, /parse_config_file/);
      assert.match(search.stderr, /without updating it: another process is updating this index/);
    } finally {
      await kill9(child);
    }
    const { 'index.sqlite.writer': writer, ...rest } = snapshot(dir);
    assert.ok(writer !== undefined, 'the killed holder left its lock');
    assert.deepEqual(rest, before, 'nothing else was changed, moved or rebuilt');
    const store = await IndexStore.open(file, memoryLogger(), { access: 'write' });
    assert.equal(store.readOnly, undefined, 'the dead holder\'s lock was taken over');
    assert.ok(store.counts().files > 0);
    store.close();
    assert.ok(!fs.existsSync(`${file}.writer`), 'released on close');
  } finally {
    cleanup(ws);
  }
});

test('a lock is held while its pid runs a process that started before it; a pid reused by a later process is not the holder', { skip: processStart(process.pid) === undefined && 'this OS does not tell process start times' }, async () => {
  const { ws, file } = await builtIndex();
  const sleeper = spawn('sleep', ['60']);
  try {
    await new Promise((r) => setTimeout(r, 200));
    const pid = sleeper.pid!;
    const owner = (since: number) => JSON.stringify({ pid, host: os.hostname(), since, what: 'x' });
    // a writer lock written after the process started: held
    fs.writeFileSync(`${file}.writer`, owner(Date.now()));
    assert.throws(() => WriterLock.acquire(file, 'test'), LockHeldError);
    // the same pid, but the lock is an hour older than the process: a reused pid, so the lock is stale
    fs.writeFileSync(`${file}.writer`, owner(Date.now() - 3600_000));
    WriterLock.acquire(file, 'test').release();
    // SQLite's lock directory: same rule, with the directory's time as the lock's
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.lock/pid`, String(pid));
    assert.equal(clearStaleSqliteLock(file), false, 'a live holder keeps it');
    const hourAgo = new Date(Date.now() - 3600_000);
    fs.utimesSync(`${file}.lock`, hourAgo, hourAgo);
    assert.equal(clearStaleSqliteLock(file), true, 'a reused pid does not');
    assert.ok(!fs.existsSync(`${file}.lock`));
    assert.equal(holderAlive(999_999_999, Date.now()), false, 'no such process');
  } finally {
    sleeper.kill('SIGKILL');
    cleanup(ws);
  }
});

test('"database is locked" (the issue\'s repro: SQLite\'s lock held by a live process) is not damage: a clear message, twice, nothing moved', async () => {
  const { ws, dir, file } = await builtIndex();
  try {
    fs.mkdirSync(`${file}.lock`);
    fs.writeFileSync(`${file}.lock/pid`, '1'); // init: alive, and started long before the lock
    fs.writeFileSync(`${file}.pid`, '1'); // what builds before the writer lock wrote beside it
    const before = snapshot(dir);
    for (let i = 0; i < 2; i++) {
      const r = cli(['search', 'parse config', '--workspace', ws, '--index-dir', dir]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^infini-lens: the index at .* is locked by another process \(waited 5 s\)/);
      assert.doesNotMatch(r.stderr, /\n\s+at |unusable|rebuild/);
    }
    const after = snapshot(dir);
    delete before['index.sqlite.pid']; // the stale pid file beside the index is removed, nothing else is touched
    assert.deepEqual(after, before);
    assert.ok(fs.statSync(file).size > 0);
  } finally {
    cleanup(ws);
  }
});

for (const what of ['file', 'folder'] as const) {
  test(`a read-only index ${what} still serves search: no rebuild, nothing written, no stack trace`, async () => {
    const { ws, dir, file } = await builtIndex();
    try {
      // 'file': a 444 file in a folder the reader may write; 'folder': a file it may write in a folder it may not
      const mine = (p: string) => { if (asReader.uid !== undefined) fs.chownSync(p, asReader.uid, asReader.gid); };
      if (what === 'file') { mine(dir); fs.chmodSync(file, 0o444); } else { mine(file); fs.chmodSync(file, 0o644); fs.chmodSync(dir, 0o555); }
      const before = snapshot(dir);
      const r = cli(['search', 'parse config', '--workspace', ws, '--index-dir', dir], asReader);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /parse_config_file/);
      assert.match(r.stderr, what === 'file' ? /without updating it: the file .* is read-only/ : /without updating it: its folder .* is read-only/);
      assert.doesNotMatch(r.stderr, /\n\s+at |unusable/);
      assert.deepEqual(snapshot(dir), before);
      const idx = cli(['index', ws, '--index-dir', dir], asReader);
      assert.equal(idx.status, 1, idx.stderr);
      assert.match(idx.stderr, /^infini-lens: cannot update the index at .* read-only/);
      assert.deepEqual(snapshot(dir), before);
    } finally {
      fs.chmodSync(dir, 0o755);
      cleanup(ws);
    }
  });
}

test('a lock released while its folder was moved away is ours to take again when the folder comes back', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-lockmove-'));
  const idx = path.join(dir, 'idx');
  fs.mkdirSync(idx);
  const db = path.join(idx, 'index.sqlite');
  try {
    const first = WriterLock.acquire(db, 'test');
    fs.renameSync(idx, `${idx}.moved`); // the folder goes away with the lock file inside (the first-run VS Code test)
    first.release(); // nothing to remove at the old path
    fs.renameSync(`${idx}.moved`, idx); // back, with our own old token
    const again = WriterLock.acquire(db, 'test'); // before the fix: LockHeldError naming our own pid
    assert.ok(again.held());
    // A lock this thread still holds is never taken, even by this thread.
    assert.throws(() => WriterLock.acquire(db, 'test'), LockHeldError);
    again.release();
    assert.equal(fs.existsSync(`${db}.writer`), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
