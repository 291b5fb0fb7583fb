// The host ↔ worker protocol under plain Node: the worker entry runs from source (tsx) on a temporary folder.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { IndexProgress } from '../../../extension/src/core/api.js';
import { IndexClient, type IndexClientEvents } from '../../../extension/src/worker/indexClient.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';

type Ws = { root: string; storageDir: string };

const WORKER = path.resolve(__dirname, '../../../extension/src/worker/indexWorker.ts');

function workspace(files: number): Ws {
  const base = mkdtempSync(path.join(tmpdir(), 'infini-client-'));
  const root = path.join(base, 'ws');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  for (let i = 0; i < files; i++) {
    writeFileSync(path.join(root, 'src', `file${i}.ts`), `export function handler${i}(x: number): number {\n  return x + ${i};\n}\n`);
  }
  return { root, storageDir: path.join(base, 'store') };
}

/** Runs `fn` with a client on a fresh workspace of `files` files; disposes the client and removes the folder after. */
async function withClient(files: number, fn: (client: IndexClient, ws: Ws) => Promise<void>, events?: IndexClientEvents): Promise<void> {
  const ws = workspace(files);
  const client = new IndexClient(WORKER, events);
  try {
    await fn(client, ws);
  } finally {
    await client.dispose();
    rmSync(path.dirname(ws.root), { recursive: true, force: true });
  }
}

const open = (client: IndexClient, ws: Ws) =>
  client.open({ ...ws, excludeGlobs: [], maxFileBytes: 1 << 20 });

test('open, update with progress, search and clear through the worker', async () => {
  const progress: IndexProgress[] = [];
  await withClient(3, async (client, ws) => {
    assert.equal((await open(client, ws)).files, 0);
    const stats = await client.update();
    assert.equal(stats.files, 3);
    assert.ok(progress.some((p) => p.phase === 'done' && p.filesDone === 3), JSON.stringify(progress));
    const [hit] = await client.search('handler2', { limit: 5 });
    assert.equal(hit?.path, 'src/file2.ts');
    writeFileSync(path.join(ws.root, 'src', 'extra.ts'), 'export const uniqueExtraToken = 1;\n');
    assert.equal((await client.applyChanges([{ type: 'created', path: 'src/extra.ts' }])).files, 4);
    await client.clear();
    assert.equal((await client.stats()).files, 0);
    assert.deepEqual(await client.search('handler2', {}), []);
  }, { onProgress: (p) => progress.push(p) });
});

test('a cancel stored before the worker starts the pass stops it; the next update carries on', async () => {
  await withClient(5, async (client, ws) => {
    await open(client, ws);
    const pass = client.update();
    client.cancelUpdate(); // the flag is shared memory: set before the worker reads the request
    assert.equal((await pass).files, 0);
    assert.equal((await client.update()).files, 5);
  });
});

test('calls before open fail with a clear message; a dead worker fails pending calls', async () => {
  const client = new IndexClient(WORKER);
  await assert.rejects(client.stats(), /index is not open/);
  await client.dispose();
  const exits: number[] = [];
  const crashing = new IndexClient(path.resolve(__dirname, 'missing-worker.js'), { onExit: (c) => exits.push(c) });
  await assert.rejects(crashing.stats(), /index worker exited/);
  assert.equal(exits.length, 1);
});

test('the worker answers an unknown method with an error, and drops (and logs) a malformed message, instead of crashing', async () => {
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(WORKER)});`, { eval: true });
  try {
    const replies: unknown[] = [];
    worker.on('message', (m) => replies.push(m));
    worker.postMessage({ id: 8, method: 'stats' }); // no envelope type: not a request at all
    worker.postMessage({ type: 'request', id: 7, method: 'drop-tables', params: {} });
    worker.postMessage({ type: 'request', id: 9, method: 'search', params: 'x' });
    for (let i = 0; i < 200 && replies.length < 5; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(replies, [
      { type: 'notification', method: 'log', params: { level: 'warn', message: 'index worker: dropped a malformed message: unknown message type \'undefined\'' } },
      { type: 'notification', method: 'log', params: { level: 'warn', message: "index worker: refused request drop-tables: unknown method 'drop-tables'" } },
      { type: 'response', id: 7, ok: false, error: "unknown method 'drop-tables'" },
      { type: 'notification', method: 'log', params: { level: 'warn', message: 'index worker: refused request search: params must be an object' } },
      { type: 'response', id: 9, ok: false, error: 'params must be an object' },
    ].slice(0, replies.length));
    assert.equal(replies.length, 5);
  } finally {
    await worker.terminate();
  }
});

const MODEL = path.resolve(__dirname, '../../../kernels/model');

test('with the shipped model: embeds after lexical indexing, dense search and Find Similar through the worker', async (t) => {
  if (!hasModel(MODEL)) return t.skip('no model in kernels/model');
  const progress: IndexProgress[] = [];
  await withClient(4, async (client, ws) => {
    await client.open({ ...ws, excludeGlobs: [], maxFileBytes: 1 << 20, semantic: { modelDir: MODEL, provider: 'cpu' } });
    const stats = await client.update();
    assert.equal(stats.semantic?.embedded, stats.chunks, JSON.stringify(stats.semantic));
    const lexicalDone = progress.findIndex((p) => p.phase === 'done');
    const encode = progress.findIndex((p) => p.phase === 'encode');
    assert.ok(lexicalDone >= 0 && encode > lexicalDone, `embedding follows the lexical pass: ${JSON.stringify(progress)}`);
    assert.equal((await client.search('handler2', { mode: 'dense', limit: 10 })).length, stats.chunks);
    const similar = await client.searchSimilar({ relPath: 'src/file1.ts', startLine: 1, endLine: 3, limit: 10 });
    assert.equal(similar.length, stats.chunks - 1, 'every chunk but the selection\'s own');
    assert.ok(similar.every((h) => h.path !== 'src/file1.ts'));
    // A save: its reply becomes the status bar's state, so it must still say how many chunks are embedded.
    const saved = path.join(ws.root, 'src', 'file3.ts');
    writeFileSync(saved, 'export function saved(x: number): number {\n  return x * 3;\n}\n\nexport const other = 1;\n');
    const afterSave = await client.applyChanges([{ type: 'changed', path: saved }]);
    assert.equal(afterSave.filesReadLastUpdate, 1);
    assert.ok(afterSave.semantic, 'the reply of a save keeps the semantic field');
    assert.equal(afterSave.semantic.embedded, afterSave.chunks, JSON.stringify(afterSave));
  }, { onProgress: (p) => progress.push(p) });
});

test('without a model: dense/hybrid fall back to lexical, Find Similar says why it cannot run', async () => {
  await withClient(3, async (client, ws) => {
    await client.open({ ...ws, excludeGlobs: [], maxFileBytes: 1 << 20, semantic: { modelDir: path.join(ws.root, 'no-model'), provider: 'cpu' } });
    const stats = await client.update();
    assert.equal(stats.semantic, undefined);
    assert.equal((await client.search('handler2', { mode: 'hybrid' }))[0]?.path, 'src/file2.ts');
    await assert.rejects(client.searchSimilar({ relPath: 'src/file1.ts', startLine: 1, endLine: 3, limit: 5 }), /dense/);
  });
});
