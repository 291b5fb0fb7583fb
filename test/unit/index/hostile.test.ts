// Hostile or unlucky trees (issue 26, items 7-10): deep nesting, files swapped after the walk, links out of the
// workspace, special files and names that are not UTF-8. Each must cost only itself, with a correct skip reason
// and one log line, and nothing outside the root may be read unless links out are allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Chunker } from '../../../extension/src/index/chunker.js';
import { readFileForIndex } from '../../../extension/src/index/fileReader.js';
import { readGuard } from '../../../extension/src/index/fileAccess.js';
import { walkWorkspace, type WalkOptions } from '../../../extension/src/index/walker.js';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { cleanup, copyFixture, inFixture, memoryLogger, type MemoryLogger } from './fixture.js';

const posix = process.platform !== 'win32';
const walkOptions = (logger: MemoryLogger, extra: Partial<WalkOptions> = {}): WalkOptions =>
  ({ excludeGlobs: [], maxFileBytes: 1 << 20, followSymlinks: false, logger, ...extra });

/** A folder outside the workspace with a file only it contains. */
function outsideDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-outside-'));
  fs.writeFileSync(path.join(dir, 'secret.py'), 'def zebracorn_outside_only():\n    return 42\n');
  return dir;
}

const skipLines = (logger: MemoryLogger) => logger.lines.filter((l) => /^info skip /.test(l));

test('thousands of nested classes, structs and functions chunk without overflowing the stack', async () => {
  const chunker = new Chunker();
  try {
    const ts = Array.from({ length: 2000 }, (_, i) => `class C${i} { m${i}() {\n`).join('') + '}}\n'.repeat(2000);
    const c = Array.from({ length: 3000 }, (_, i) => `struct S${i} { int a${i};\n`).join('') + '};\n'.repeat(3000);
    const js = Array.from({ length: 5000 }, (_, i) => `function f${i}() {\n`).join('') + '}\n'.repeat(5000);
    for (const [file, text] of [['a.ts', ts], ['a.c', c], ['a.js', js]] as const) {
      const chunks = await chunker.chunk(file, text);
      assert.ok(chunks.length > 0, file);
      assert.ok(chunks.every((ch) => ch.startLine >= 1 && ch.endLine >= ch.startLine), file);
    }
  } finally {
    chunker.dispose();
  }
});

test('a file the chunker throws on is skipped as failed; the read goes on', async () => {
  await inFixture(async (ws) => {
    const throwing = { chunk: async () => { throw new RangeError('Maximum call stack size exceeded'); } } as unknown as Chunker;
    const st = fs.statSync(path.join(ws, 'py/geometry.py'));
    const file = { path: 'py/geometry.py', abs: path.join(ws, 'py/geometry.py'), size: st.size, mtimeMs: st.mtimeMs };
    const r = await readFileForIndex({ file, guard: await readGuard(ws, false, 1 << 20) }, throwing);
    assert.equal(r.outcome.kind, 'put');
    assert.equal(r.outcome.kind === 'put' && r.outcome.skip?.reason, 'failed');
    assert.match(r.logs.map((l) => l.message).join('\n'), /skip py\/geometry\.py: failed \(RangeError: Maximum call stack/);
    // stored so that the next update reads it again and does not take it as unchanged: a passing failure heals
    assert.ok(r.outcome.kind === 'put' && r.outcome.file.mtimeMs === -1 && r.outcome.hash === '');
    const chunker = new Chunker();
    try {
      const again = await readFileForIndex({ file, guard: await readGuard(ws, false, 1 << 20), knownHash: '', knownId: 7 }, chunker);
      assert.equal(again.outcome.kind, 'put');
      assert.ok(again.outcome.kind === 'put' && again.outcome.chunks.length > 0 && !again.outcome.skip);
    } finally {
      chunker.dispose();
    }
  });
});

test('files swapped after the walk for a FIFO, a link to /dev/zero, a folder or a bigger file are not read', { skip: posix ? false : 'POSIX only' }, async () => {
  await inFixture(async (ws) => {
    const logger = memoryLogger();
    for (const follow of [false, true]) {
      const files = ['fifo.py', 'zero.py', 'dir.py', 'grown.py'];
      for (const f of files) fs.writeFileSync(path.join(ws, f), 'x = 1\n');
      const walk = await walkWorkspace(ws, walkOptions(logger, { followSymlinks: follow, maxFileBytes: 1000 }));
      for (const f of files) fs.rmSync(path.join(ws, f));
      execFileSync('mkfifo', [path.join(ws, 'fifo.py')]);
      fs.symlinkSync('/dev/zero', path.join(ws, 'zero.py'));
      fs.mkdirSync(path.join(ws, 'dir.py'));
      fs.writeFileSync(path.join(ws, 'grown.py'), 'y = 2\n'.repeat(1000));
      const reasons: Record<string, string | undefined> = {};
      for (const f of files) {
        const file = walk.files.find((w) => w.path === f)!;
        // A FIFO read would block forever and /dev/zero never ends: both must return at once.
        const r = await readFileForIndex({ file, guard: walk.guard }, new Chunker());
        reasons[f] = r.outcome.kind === 'put' ? r.outcome.skip?.reason : r.outcome.kind;
      }
      assert.deepEqual(reasons, {
        'fifo.py': 'not-a-file', 'zero.py': follow ? 'not-a-file' : 'outside-workspace', 'dir.py': 'not-a-file', 'grown.py': 'too-large',
      }, `followSymlinks ${follow}`);
      for (const f of files) fs.rmSync(path.join(ws, f), { recursive: true });
    }
  });
});

test('links out of the workspace are skipped by default and followed only when allowed; links inside are followed', { skip: posix ? false : 'POSIX only' }, async () => {
  const ws = copyFixture();
  const outside = outsideDir();
  try {
    fs.mkdirSync(path.join(ws, 'links'));
    fs.symlinkSync(outside, path.join(ws, 'links/outside_dir'));
    fs.symlinkSync(path.join(outside, 'secret.py'), path.join(ws, 'links/outside_file.py'));
    fs.symlinkSync('../py/geometry.py', path.join(ws, 'links/inside_file.py'));
    for (const follow of [false, true]) {
      const logger = memoryLogger();
      const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', `idx-${follow}`), logger, followSymlinks: follow });
      const stats = await index.update();
      const hits = await index.search('zebracorn_outside_only', { limit: 5 });
      const paths = hits.map((h) => h.path).sort();
      await index.close();
      if (follow) {
        assert.deepEqual(paths, ['links/outside_dir/secret.py', 'links/outside_file.py']);
        assert.equal(stats.skipped['outside-workspace'], undefined);
      } else {
        assert.deepEqual(paths, [], 'nothing outside the root is read by default');
        assert.equal(stats.skipped['outside-workspace'], 2);
        assert.equal(skipLines(logger).filter((l) => l.includes(': outside-workspace (')).length, 2);
      }
      const all = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', `idx-${follow}`), followSymlinks: follow });
      assert.ok((await all.search('parse_config_file', { limit: 50 })).some((h) => h.path === 'links/inside_file.py'), 'a link inside the root is followed');
      await all.close();
    }
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
    cleanup(ws);
  }
});

test('FIFOs, sockets, non-UTF-8 names and CR-only files get correct reasons; summary counts equal the log lines', { skip: posix ? false : 'POSIX only' }, async () => {
  await inFixture(async (ws) => {
    execFileSync('mkfifo', [path.join(ws, 'pipe.py')]);
    const sock = path.join(ws, 'sock');
    const server = await new Promise<import('node:net').Server>((resolve) => {
      const s = require('node:net').createServer();
      s.listen(sock, () => resolve(s));
    });
    const bad = Buffer.concat([Buffer.from(ws + '/'), Buffer.from([0x66, 0xff, 0x2e, 0x70, 0x79])]); // "f\xff.py"
    fs.writeFileSync(bad, 'x = 1\n');
    const badDir = Buffer.concat([Buffer.from(ws + '/'), Buffer.from([0x64, 0xfe])]);
    fs.mkdirSync(badDir);
    fs.writeFileSync(Buffer.concat([badDir, Buffer.from('/inner.py')]), 'y = 2\n');
    fs.symlinkSync('nowhere.py', path.join(ws, 'dangling.py'));
    fs.writeFileSync(path.join(ws, 'mac.py'), Array.from({ length: 200 }, (_, i) => `def f${i}():\r    return ${i}\r`).join(''));
    fs.writeFileSync(path.join(ws, 'bin.py'), Buffer.from([1, 0, 2]));
    const logger = memoryLogger();
    const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger });
    const stats = await index.update();
    const mac = (await index.search('f150', { limit: 3 })).find((h) => h.path === 'mac.py');
    await index.close();
    server.close();
    const lines = skipLines(logger);
    const reasonOf = (p: string) => lines.find((l) => l.startsWith(`info skip ${p}: `))?.slice(`info skip ${p}: `.length).split(' ')[0];
    assert.equal(reasonOf('pipe.py'), 'not-a-file');
    assert.equal(reasonOf('sock'), 'not-a-file');
    assert.equal(reasonOf('f\ufffd.py'), 'bad-name');
    assert.equal(reasonOf('d\ufffd'), 'bad-name');
    assert.equal(reasonOf('dangling.py'), 'broken-link');
    assert.equal(reasonOf('bin.py'), 'binary');
    assert.equal(reasonOf('mac.py'), undefined, 'a CR-only file is text, not minified');
    assert.ok(mac && mac.startLine <= 301 && mac.endLine >= 302 && mac.endLine - mac.startLine < 100, `lone CRs end lines: ${JSON.stringify(mac)}`);
    // Every skip but 'ignored' (the user's own choice, not logged) has exactly one log line, and vice versa.
    const logged: Record<string, number> = {};
    for (const l of lines) { const r = l.split(': ')[1]!.split(' ')[0]!; logged[r] = (logged[r] ?? 0) + 1; }
    const { ignored: _ignored, ...counted } = stats.skipped;
    assert.deepEqual(logged, counted);
  });
});

test('a folder is indexed under its own path, a link to it is the duplicate, whichever sorts first', { skip: posix ? false : 'POSIX only' }, async () => {
  await inFixture(async (ws) => {
    fs.symlinkSync('py', path.join(ws, 'a-link-to-py'));
    fs.mkdirSync(path.join(ws, 'deep'));
    fs.symlinkSync('../py', path.join(ws, 'deep/also-py'));
    const logger = memoryLogger();
    const { files, skipped } = await walkWorkspace(ws, walkOptions(logger));
    assert.ok(files.some((f) => f.path === 'py/geometry.py'));
    assert.ok(!files.some((f) => f.path.startsWith('a-link-to-py/') || f.path.startsWith('deep/also-py/')));
    assert.deepEqual(skipped.filter((s) => s.reason === 'duplicate-link').map((s) => s.path).sort(), ['a-link-to-py', 'deep/also-py']);
  });
});

test('watcher events apply the same rules: a link out, a FIFO and a file swapped for a link to /dev/zero are skipped', { skip: posix ? false : 'POSIX only' }, async () => {
  const ws = copyFixture();
  const outside = outsideDir();
  try {
    const logger = memoryLogger();
    const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger });
    await index.update();
    fs.symlinkSync(path.join(outside, 'secret.py'), path.join(ws, 'out.py'));
    execFileSync('mkfifo', [path.join(ws, 'pipe.py')]);
    fs.rmSync(path.join(ws, 'py/geometry.py'));
    fs.symlinkSync('/dev/zero', path.join(ws, 'py/geometry.py'));
    await index.applyChanges([{ type: 'created', path: 'out.py' }, { type: 'created', path: 'pipe.py' }, { type: 'changed', path: 'py/geometry.py' }]);
    assert.deepEqual(await index.search('zebracorn_outside_only', { limit: 5 }), []);
    assert.ok(!(await index.search('parse_config_file', { limit: 5 })).some((h) => h.path === 'py/geometry.py'));
    await index.close();
    const text = logger.lines.join('\n');
    assert.match(text, /skip out\.py: outside-workspace/);
    assert.match(text, /skip pipe\.py: not-a-file \(FIFO\)/);
    assert.match(text, /skip py\/geometry\.py: outside-workspace/);
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
    cleanup(ws);
  }
});
