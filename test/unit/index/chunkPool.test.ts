// The lexical pass on chunk workers must store exactly what the in-thread pass stores: same files, chunks, FTS
// rows (compared through digest() and bm25 search results), same skip reasons and log lines in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { poolSize, type LexicalWorkers } from '../../../extension/src/index/chunkPool.js';
import type { Cancellation } from '../../../extension/src/core/api.js';
import { cleanup, copyFixture, memoryLogger } from './fixture.js';

/** The fixture plus inputs that exercise every outcome: skips, an empty file, many small files, CRLF, a BOM. */
function workspace(): string {
  const ws = copyFixture();
  fs.writeFileSync(path.join(ws, 'blob.bin'), Buffer.from([1, 2, 0, 3]));
  fs.writeFileSync(path.join(ws, 'latin1.py'), Buffer.from('x = "caf\xe9"\n', 'latin1'));
  fs.writeFileSync(path.join(ws, 'min.js'), `var a=${'1+'.repeat(3000)}1;\n`);
  fs.writeFileSync(path.join(ws, 'empty.ts'), '');
  fs.writeFileSync(path.join(ws, 'crlf.py'), 'def crlf_one():\r\n    return 1\r\n\r\ndef crlf_two():\r\n    return 2\r\n');
  fs.writeFileSync(path.join(ws, 'bom.ts'), '\ufeffexport function withBom(): number { return 1; }\n');
  fs.mkdirSync(path.join(ws, 'many'));
  for (let i = 0; i < 40; i++) {
    fs.writeFileSync(path.join(ws, 'many', `m${i}.py`), `# module ${i}\ndef handler_${i}(request):\n    return request.value + ${i}\n\nclass Model${i}:\n    def save(self):\n        return ${i}\n`);
  }
  return ws;
}

const QUERIES = ['handler request value', 'Model save', 'crlf', 'withBom', 'parse config', 'list node', 'geometry area', 'module 7'];

async function snapshot(ws: string, dir: string, workers: LexicalWorkers) {
  const logger = memoryLogger();
  const index = await WorkspaceIndex.open(ws, { storageDir: dir, logger, lexicalWorkers: workers });
  try {
    const stats = await index.update();
    const timings = index.lastTimings();
    const searches = [];
    for (const q of QUERIES) searches.push((await index.search(q, { limit: 20 })).map((h) => `${h.path}:${h.startLine}-${h.endLine} ${h.score.toFixed(6)}`));
    return {
      digest: index.indexStore.digest(), stats: { ...stats, lastUpdateMs: 0 }, searches, workers: timings.lexicalWorkers,
      logs: logger.lines.filter((l) => !l.includes('lexical pass')), // those two lines name the workers and times
    };
  } finally {
    await index.close();
  }
}

test('chunk workers and the in-thread pass store identical indexes, skips and logs (full, then incremental)', async () => {
  const ws = workspace();
  const base = path.dirname(ws);
  try {
    const one = await snapshot(ws, path.join(base, 'idx-thread'), 0);
    const pool = await snapshot(ws, path.join(base, 'idx-pool'), 2);
    assert.equal(one.workers, 0);
    assert.equal(pool.workers, 2, 'the pool really ran');
    assert.ok(one.digest.chunks > 40, `a real workload (${one.digest.chunks} chunks)`);
    assert.equal(one.digest.integrity, 'ok');
    assert.deepEqual(pool.digest, one.digest);
    assert.deepEqual(pool.stats, one.stats);
    assert.deepEqual(pool.searches, one.searches);
    assert.deepEqual(pool.logs, one.logs);
    for (const reason of ['binary', 'invalid-utf8', 'minified']) assert.ok(one.logs.some((l) => l.includes(`: ${reason} (`)), reason);

    // Edit, add, delete, touch: both indexes carry on incrementally and still agree.
    fs.appendFileSync(path.join(ws, 'many', 'm3.py'), '\ndef appended_later():\n    return 3\n');
    fs.writeFileSync(path.join(ws, 'many', 'new.py'), 'def brand_new():\n    return 0\n');
    fs.rmSync(path.join(ws, 'many', 'm5.py'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(ws, 'many', 'm7.py'), later, later);
    const one2 = await snapshot(ws, path.join(base, 'idx-thread'), 0);
    const pool2 = await snapshot(ws, path.join(base, 'idx-pool'), 2);
    assert.equal(one2.stats.filesReadLastUpdate, 3);
    assert.notEqual(one2.digest.digest, one.digest.digest);
    assert.deepEqual(pool2.digest, one2.digest);
    assert.deepEqual(pool2.stats, one2.stats);
    assert.deepEqual(pool2.searches, one2.searches);
  } finally {
    cleanup(ws);
  }
});

test('a cancelled pooled pass drops its read-ahead quietly and the next pass completes the same index', async () => {
  const ws = workspace();
  const base = path.dirname(ws);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    let checks = 0;
    const cancel: Cancellation = { get isCancellationRequested() { return ++checks > 10; } };
    const index = await WorkspaceIndex.open(ws, { storageDir: path.join(base, 'idx-cancel'), lexicalWorkers: 3 });
    const partial = await index.update(undefined, cancel);
    assert.ok(partial.files > 0 && partial.files < 50, `stopped part-way (${partial.files} files)`);
    const full = await index.update();
    const digest = index.indexStore.digest();
    await index.close();
    await new Promise((r) => setTimeout(r, 50));
    const clean = await snapshot(ws, path.join(base, 'idx-clean'), 0);
    assert.deepEqual(digest, clean.digest);
    assert.equal(full.files, clean.stats.files);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    cleanup(ws);
  }
});

test('poolSize: auto stays in-thread on <= 2 cores and for small jobs; explicit counts are used as given', () => {
  assert.equal(poolSize('auto', 47_000, 2), 0);
  assert.equal(poolSize('auto', 47_000, 1), 0);
  assert.equal(poolSize('auto', 50, 16), 0);
  assert.equal(poolSize('auto', 47_000, 16), 12);
  assert.equal(poolSize('auto', 47_000, 4), 3);
  assert.equal(poolSize(2, 5, 2), 2);
  assert.equal(poolSize(0, 47_000, 16), 0);
});
