import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { IndexStore } from '../../../extension/src/index/store.js';
import { Indexer } from '../../../extension/src/index/indexer.js';
import { walkWorkspace } from '../../../extension/src/index/walker.js';
import { cleanup, copyFixture, inFixture, memoryLogger } from '../index/fixture.js';

async function openIndex(ws: string, logger = memoryLogger()) {
  const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger });
  return { index, logger };
}

test('incremental update reads only changed files; touch without edit re-reads but keeps chunks', async () => {
  await inFixture(async (ws) => {
    const { index } = await openIndex(ws);
    const first = await index.update();
    assert.equal(first.filesReadLastUpdate, first.files);
    const again = await index.update();
    assert.equal(again.filesReadLastUpdate, 0, 'nothing changed, nothing read');
    fs.appendFileSync(path.join(ws, 'py/geometry.py'), '\ndef added_later():\n    return 42\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(ws, 'c/list.c'), later, later); // mtime only: read, hash equal, chunks kept
    const third = await index.update();
    assert.equal(third.filesReadLastUpdate, 2);
    assert.ok((await index.search('added_later')).some((h) => h.path === 'py/geometry.py' && h.name?.includes('added_later')));
    await index.close();
  });
});

test('rename and delete through watcher events, and a full update agree', async () => {
  await inFixture(async (ws) => {
    const { index } = await openIndex(ws);
    await index.update();
    fs.renameSync(path.join(ws, 'js/server.js'), path.join(ws, 'js/httpServer.js'));
    fs.rmSync(path.join(ws, 'c/list.c'));
    await index.applyChanges([
      { type: 'deleted', path: 'js/server.js' }, { type: 'created', path: path.join(ws, 'js/httpServer.js') },
      { type: 'deleted', path: 'c/list.c' },
    ]);
    const hits = await index.search('startHttpServer');
    assert.equal(hits[0]?.path, 'js/httpServer.js');
    assert.ok(!(await index.search('list_append')).some((h) => h.path === 'c/list.c'));
    const viaEvents = index.indexStore.digest().digest;
    const full = await index.update();
    assert.equal(full.filesReadLastUpdate, 0, 'events already brought the index up to date');
    assert.equal(index.indexStore.digest().digest, viaEvents);
    await index.close();
  });
});

test('binary, minified and invalid UTF-8 files are skipped with reasons and counted', async () => {
  await inFixture(async (ws) => {
    fs.writeFileSync(path.join(ws, 'image.py'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]));
    fs.writeFileSync(path.join(ws, 'bundle.min.js'), `var a=${'1+'.repeat(5000)}1;`);
    fs.writeFileSync(path.join(ws, 'latin1.py'), Buffer.from('x = "caf\xe9"\n', 'latin1'));
    const { index, logger } = await openIndex(ws);
    const stats = await index.update();
    assert.deepEqual({ b: stats.skipped.binary, m: stats.skipped.minified, u: stats.skipped['invalid-utf8'] }, { b: 1, m: 1, u: 1 });
    assert.ok(logger.lines.some((l) => l.includes('latin1.py') && l.includes('not valid UTF-8 at byte 8')));
    const again = await index.update();
    assert.equal(again.filesReadLastUpdate, 0, 'skipped files are remembered, not re-read');
    await index.close();
  });
});

test('a file that vanishes or cannot be read mid-update costs only itself', async () => {
  const ws = copyFixture();
  const logger = memoryLogger();
  const store = await IndexStore.open(path.join(ws, '..', 'idx', 'index.sqlite'), logger);
  try {
    const indexer = new Indexer(ws, store, logger);
    const walk = await walkWorkspace(ws, { excludeGlobs: [], maxFileBytes: 1 << 20, followSymlinks: true, logger });
    fs.rmSync(path.join(ws, 'js/server.js')); // vanishes between the walk and the read
    fs.rmSync(path.join(ws, 'c/list.c'));
    fs.mkdirSync(path.join(ws, 'c/list.c')); // now a folder: not read at all, also when run as root
    await indexer.sync(walk, {});
    const stats = indexer.stats();
    assert.equal(stats.skipped['not-a-file'], 1);
    assert.equal(stats.skipped.vanished, 1, 'counted although not stored');
    assert.ok(stats.files >= 4);
    assert.ok(logger.lines.some((l) => l.includes('js/server.js') && l.includes('vanished')));
    indexer.dispose();
  } finally {
    store.close();
    cleanup(ws);
  }
});

test('a corrupt index file is moved aside with a message and rebuilt; a stale lock is cleared', async () => {
  await inFixture(async (ws) => {
    const { index } = await openIndex(ws);
    await index.update();
    const file = index.indexPath;
    await index.close();
    const bytes = fs.readFileSync(file);
    bytes.fill(0x5a, 4096, Math.min(bytes.length, 4096 * 3)); // trash b-tree pages
    fs.writeFileSync(file, bytes);
    fs.mkdirSync(`${file}.lock`); // what a process killed in a statement leaves behind: SQLite's lock, its pid inside
    fs.writeFileSync(`${file}.lock/pid`, '999999');
    const { index: reopened, logger } = await openIndex(ws);
    assert.ok(logger.lines.some((l) => l.startsWith('warn') && l.includes('unusable') && l.includes('rebuilding')), logger.lines.join('\n'));
    assert.ok(logger.lines.some((l) => l.includes('stale lock')), logger.lines.join('\n'));
    const aside = fs.readdirSync(path.dirname(file)).filter((n) => n.startsWith('index.sqlite.corrupt-'));
    assert.equal(aside.length, 1, 'the damaged file is kept aside');
    assert.equal(fs.statSync(path.join(path.dirname(file), aside[0]!)).size, bytes.length, 'all of it');
    const stats = await reopened.update();
    assert.ok(stats.chunks > 0);
    assert.ok((await reopened.search('parse config file')).some((h) => h.name?.includes('parse_config_file')));
    await reopened.close();
    fs.writeFileSync(file, 'this is not a database at all, just text that is long enough to look like one'.repeat(100));
    const { index: third, logger: l3 } = await openIndex(ws);
    assert.ok(l3.lines.some((l) => l.includes('unusable')));
    await third.close();
  });
});
