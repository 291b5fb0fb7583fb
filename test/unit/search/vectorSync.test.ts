// The vector index beside the store: saved after a full pass, loaded only when it agrees with the store (else
// rebuilt from the store's vectors), brought up to date from the store's log per file (no reload), and ranking
// as the exact JS scan does. A fake encoder (deterministic vectors from the text) stands in for the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import { topKByDot } from '../../../extension/src/search/denseRanker.js';
import { hashVector, inFixture, memoryLogger, type MemoryLogger } from '../index/fixture.js';

const DIM = 16;

const encoder: SemanticEncoder = {
  info: { config: { emb_dim: DIM, n_layers: 1, n_kv_heads: 1, d_head: 2 } },
  async encodeChunks(texts) {
    const out = new Float32Array(texts.length * DIM);
    texts.forEach((t, i) => out.set(hashVector(t, DIM), i * DIM));
    return out;
  },
  async encodeQuery(text) { return hashVector(text, DIM); },
  async encodeFiles() { throw new Error('memory is off in these tests'); },
  async contribution() { throw new Error('memory is off in these tests'); },
};

async function open(ws: string, logger: MemoryLogger = memoryLogger()): Promise<WorkspaceIndex> {
  const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger });
  await index.enableSemantic({ encoder, modelTag: 'fake' });
  return index;
}

const vecDir = (ws: string) => path.join(ws, '..', 'idx', 'vectors');

/** The JS scan's top ids over the store's vectors, for a query text. */
function scanTop(index: WorkspaceIndex, query: string, k: number): number[] {
  const m = { ...index.indexStore.loadEmbeddings(DIM), dim: DIM };
  return topKByDot(m, hashVector(query, DIM), k).map((h) => h.id);
}

test('saved after a pass, loaded on reopen, ranks as the exact scan; a file edit is searchable at once', async () => {
  await inFixture(async (ws) => {
    let index = await open(ws);
    await index.update();
    assert.ok(fs.existsSync(path.join(vecDir(ws), 'meta.json')));
    await index.close();
    const log = memoryLogger();
    index = await open(ws, log);
    assert.equal(index.vectorCheck()!.origin, 'loaded');
    assert.equal(index.vectorCheck()!.problem, undefined);
    for (const q of ['start http server', 'parse config', 'class Stack']) {
      const hits = await index.search(q, { mode: 'dense', limit: 5 });
      const byId = (await index.indexStore.chunksByIds(scanTop(index, q, 5)));
      assert.deepEqual(hits.map((h) => `${h.path}:${h.startLine}`), scanTop(index, q, 5).map((id) => `${byId.get(id)!.path}:${byId.get(id)!.startLine}`), q);
    }
    // A new function in a new file: the embedding pass stores it and the next query finds it (vectors of the
    // same text are equal, so its own text as the query is its nearest neighbour).
    const text = 'export function zebraQuasar(n: number) {\n  return n * 42;\n}\n';
    fs.writeFileSync(path.join(ws, 'ts', 'zebra.ts'), text);
    await index.applyChanges([{ type: 'created', path: 'ts/zebra.ts' }]);
    const hit = (await index.search(text.trimEnd(), { mode: 'dense', limit: 1 }))[0]!;
    assert.equal(hit.path, 'ts/zebra.ts');
    fs.rmSync(path.join(ws, 'ts', 'zebra.ts'));
    await index.applyChanges([{ type: 'deleted', path: 'ts/zebra.ts' }]);
    assert.ok((await index.search(text.trimEnd(), { mode: 'dense', limit: 50 })).every((h) => h.path !== 'ts/zebra.ts'));
    assert.equal(index.vectorCheck()!.problem, undefined);
    await index.close();
  });
});

test('a vector file that disagrees with the store is rebuilt from the store, never trusted', async () => {
  await inFixture(async (ws) => {
    let index = await open(ws);
    await index.update();
    await index.close();
    const saved = fs.mkdtempSync(path.join(ws, '..', 'old-'));
    fs.cpSync(vecDir(ws), saved, { recursive: true });
    const meta = JSON.parse(fs.readFileSync(path.join(vecDir(ws), 'meta.json'), 'utf8')) as { files: Record<string, string> };
    const data = Object.keys(meta.files).find((f) => !f.startsWith('chunks-'))!;

    // 1. A flipped byte in the saved vectors.
    const f = path.join(vecDir(ws), data), buf = fs.readFileSync(f);
    buf[buf.length - 3] = buf[buf.length - 3]! ^ 0x5a;
    fs.writeFileSync(f, buf);
    let log = memoryLogger();
    index = await open(ws, log);
    assert.match(index.vectorCheck()!.origin, /^rebuilt \(.*checksum differs\)/);
    assert.ok(log.lines.some((l) => l.includes('vector index rebuilt from the store')));
    await index.close(); // saves the rebuilt index

    // 2. The store moved on while the vector files stayed behind (a crash after the store's commit, before any
    //    save): the log replays the difference, and the counts agree.
    index = await open(ws);
    fs.appendFileSync(path.join(ws, 'js', 'server.js'), '\nfunction addedLater() { return 1; }\n');
    await index.applyChanges([{ type: 'changed', path: 'js/server.js' }]);
    await index.close(false); // no save: the files on disk are one generation behind the store
    index = await open(ws);
    assert.equal(index.vectorCheck()!.origin, 'loaded');
    assert.equal(index.vectorCheck()!.problem, undefined);
    await index.close();

    // 3. An older saved index whose log has been trimmed since: it cannot catch up, so it is rebuilt.
    fs.rmSync(vecDir(ws), { recursive: true });
    fs.cpSync(saved, vecDir(ws), { recursive: true });
    index = await open(ws);
    assert.match(index.vectorCheck()!.origin, /^rebuilt \(saved at generation/);
    assert.equal(index.vectorCheck()!.problem, undefined);
    await index.close();

    // 4. Another model's vectors.
    index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger: log = memoryLogger() });
    await index.enableSemantic({ encoder, modelTag: 'other' });
    assert.equal(index.vectorCheck()!.chunks, 0, 'the store dropped the old vectors and so does the index');
    assert.match(index.vectorCheck()!.origin, /another model/);
    await index.close();
  });
});

test('HNSW in segments beside the store: one file a segment, an unchanged segment keeps its file across saves, loaded on reopen; a flipped byte in one rebuilds', async () => {
  const env = { exact: process.env.INFINILENS_EXACT_MAX_ROWS, graph: process.env.INFINILENS_GRAPH_MAX_ROWS };
  process.env.INFINILENS_EXACT_MAX_ROWS = '0';
  process.env.INFINILENS_GRAPH_MAX_ROWS = '4';
  const metaOf = (ws: string) => JSON.parse(fs.readFileSync(path.join(vecDir(ws), 'meta.json'), 'utf8')) as { mode: string; graphs: string[]; files: Record<string, string> };
  try {
    await inFixture(async (ws) => {
      let index = await open(ws);
      await index.update();
      await index.close();
      const before = metaOf(ws);
      assert.equal(before.mode, 'hnsw');
      assert.ok(before.graphs.length >= 3, `${before.graphs.length} segments`);
      for (const g of before.graphs) assert.ok(fs.existsSync(path.join(vecDir(ws), g)));
      index = await open(ws);
      assert.equal(index.vectorCheck()!.origin, 'loaded');
      for (const q of ['start http server', 'parse config']) {
        const hits = await index.search(q, { mode: 'dense', limit: 3 });
        const byId = await index.indexStore.chunksByIds(scanTop(index, q, 3));
        assert.deepEqual(hits.map((h) => `${h.path}:${h.startLine}`), scanTop(index, q, 3).map((id) => `${byId.get(id)!.path}:${byId.get(id)!.startLine}`), q);
      }
      // a new file: its rows go to the newest segment (or a new one); the full older segments keep their files
      const text = 'export function zebraQuasar(n: number) {\n  return n * 42;\n}\n';
      fs.writeFileSync(path.join(ws, 'ts', 'zebra.ts'), text);
      await index.applyChanges([{ type: 'created', path: 'ts/zebra.ts' }]);
      await index.close();
      const after = metaOf(ws);
      assert.deepEqual(after.graphs.slice(0, before.graphs.length - 1), before.graphs.slice(0, -1), 'full segments not written again');
      assert.ok(after.graphs.length >= before.graphs.length);
      index = await open(ws);
      assert.equal(index.vectorCheck()!.origin, 'loaded');
      assert.equal((await index.search(text.trimEnd(), { mode: 'dense', limit: 1 }))[0]!.path, 'ts/zebra.ts');
      await index.close();
      const f = path.join(vecDir(ws), after.graphs[0]!), buf = fs.readFileSync(f);
      buf[buf.length - 3] = buf[buf.length - 3]! ^ 0x5a;
      fs.writeFileSync(f, buf);
      index = await open(ws);
      assert.match(index.vectorCheck()!.origin, /^rebuilt \(hnsw-.*checksum differs\)/);
      assert.equal(index.vectorCheck()!.problem, undefined);
      await index.close();
    });
  } finally {
    for (const [k, v] of [['INFINILENS_EXACT_MAX_ROWS', env.exact], ['INFINILENS_GRAPH_MAX_ROWS', env.graph]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
});
