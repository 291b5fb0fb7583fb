// The embedding store and the embedding pass, with a fake encoder that records what it was asked to embed
// (the vectors are a deterministic function of the text), so the tests see exactly which chunks re-embed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import type { ChunkRow } from '../../../extension/src/index/store.js';
import { quantizeRows } from '../../../extension/src/core/embeddingMatrix.js';
import { hashVector, inFixture, memoryLogger } from './fixture.js';

const DIM = 8;

const vectorOf = (text: string): Float32Array => hashVector(text, DIM);

function fakeEncoder(): SemanticEncoder & { embedded: string[] } {
  const embedded: string[] = [];
  return {
    embedded,
    info: { config: { emb_dim: DIM, n_layers: 1, n_kv_heads: 1, d_head: 2 } },
    async encodeChunks(texts) {
      embedded.push(...texts);
      const out = new Float32Array(texts.length * DIM);
      texts.forEach((t, i) => out.set(vectorOf(t), i * DIM));
      return out;
    },
    async encodeQuery(text) { return vectorOf(text); },
    async encodeFiles() { throw new Error('memory is off in these tests'); },
    async contribution() { throw new Error('memory is off in these tests'); },
  };
}

/** The texts the embedding pass sends for `chunks` (file text by path): a packed chunk's members one by one. */
function textsToEmbed(chunks: Iterable<ChunkRow>, textOf: (p: string) => string): string[] {
  const out: string[] = [];
  for (const c of chunks) for (const [a, b] of c.parts ?? [[c.startOffset, c.endOffset]]) out.push(textOf(c.path).slice(a, b));
  return out;
}

async function openWith(ws: string, enc: SemanticEncoder, tag: string): Promise<WorkspaceIndex> {
  const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger: memoryLogger() });
  await index.enableSemantic({ encoder: enc, modelTag: tag });
  return index;
}

test('every chunk gets an embedding; a second update embeds nothing', async () => {
  await inFixture(async (ws) => {
    const enc = fakeEncoder();
    const index = await openWith(ws, enc, 'model-a');
    const stats = await index.update();
    assert.deepEqual(index.semanticStats(), { embedded: stats.chunks, chunks: stats.chunks, embeddedLastUpdate: stats.chunks });
    const expected = textsToEmbed(index.indexStore.iterateChunks(), (p) => fs.readFileSync(path.join(ws, p), 'utf8'));
    assert.ok(expected.length > stats.chunks, 'the fixture has packed chunks');
    assert.deepEqual(enc.embedded.sort(), expected.sort());
    enc.embedded.length = 0;
    await index.update();
    assert.equal(enc.embedded.length, 0);
    assert.equal(index.semanticStats()!.embeddedLastUpdate, 0);
    await index.close();
  });
});

/** How often `file` is opened or read (node:fs and node:fs/promises, by path) while `fn` runs. */
async function readsOf(file: string, fn: () => Promise<unknown>): Promise<number> {
  const fsp = require('node:fs/promises') as Record<string, unknown>, fss = require('node:fs') as Record<string, unknown>;
  const patched: [Record<string, unknown>, string, unknown][] = [];
  let reads = 0;
  for (const [mod, names] of [[fsp, ['readFile', 'open']], [fss, ['readFileSync', 'openSync', 'readFile', 'open', 'createReadStream']]] as const) {
    for (const name of names) {
      const orig = mod[name] as (...a: unknown[]) => unknown;
      patched.push([mod, name, orig]);
      mod[name] = function (this: unknown, ...args: unknown[]) {
        if (path.resolve(String(args[0])) === file) reads++;
        return orig.apply(this, args);
      };
    }
  }
  try { await fn(); } finally { for (const [mod, name, orig] of patched) mod[name] = orig; }
  return reads;
}

test('a content change re-embeds only that file; the chunk text sent is the chunk as stored; the file is read once', async () => {
  await inFixture(async (ws) => {
    const enc = fakeEncoder();
    const index = await openWith(ws, enc, 'model-a');
    await index.update();
    const file = path.join(ws, 'c/list.c');
    const text = fs.readFileSync(file, 'utf8');
    const edited = `${text}\nint list_sentinel_marker(void) { return 42; }\n`;
    fs.writeFileSync(file, edited);
    enc.embedded.length = 0;
    assert.equal(await readsOf(file, () => index.applyChanges([{ type: 'changed', path: file }])), 1, 'read once: chunked and embedded from one read');
    const cChunks = [...index.indexStore.iterateChunks()].filter((c) => c.path === 'c/list.c');
    assert.deepEqual(enc.embedded.sort(), textsToEmbed(cChunks, () => edited).sort());
    const s = index.semanticStats()!;
    assert.equal(s.embedded, s.chunks);
    // The new function's own text finds it (the fake encoder maps equal text to equal vectors).
    const target = cChunks.find((c) => edited.slice(c.startOffset, c.endOffset).includes('list_sentinel_marker'))!;
    const own = textsToEmbed([target], () => edited).find((t) => t.includes('list_sentinel_marker'))!;
    const hits = await index.search(own, { mode: 'dense', limit: 1 });
    assert.deepEqual([hits[0]?.path, hits[0]?.startLine], ['c/list.c', target.startLine]);
    await index.close();
  });
});

test('a deleted file takes its embeddings with it', async () => {
  await inFixture(async (ws) => {
    const enc = fakeEncoder();
    const index = await openWith(ws, enc, 'model-a');
    await index.update();
    fs.rmSync(path.join(ws, 'js/server.js'));
    await index.applyChanges([{ type: 'deleted', path: 'js/server.js' }]);
    const s = index.semanticStats()!;
    assert.equal(s.embedded, s.chunks);
    const hits = await index.search('start http server', { mode: 'dense', limit: 50 });
    assert.ok(hits.every((h) => h.path !== 'js/server.js'));
    await index.close();
  });
});

test('a different model tag re-embeds every chunk; reopening with the same tag re-embeds none', async () => {
  await inFixture(async (ws) => {
    const first = fakeEncoder();
    let index = await openWith(ws, first, 'model-a');
    await index.update();
    const texts = textsToEmbed(index.indexStore.iterateChunks(), (p) => fs.readFileSync(path.join(ws, p), 'utf8')).length;
    await index.close();

    const same = fakeEncoder();
    index = await openWith(ws, same, 'model-a');
    await index.update();
    assert.equal(same.embedded.length, 0);
    await index.close();

    const other = fakeEncoder();
    index = await openWith(ws, other, 'model-b');
    assert.equal(index.semanticStats()!.embedded, 0, 'old vectors dropped as soon as the new model is attached');
    await index.update();
    assert.equal(other.embedded.length, texts);
    await index.close();
  });
});

test('hybrid and similar search work over the fake encoder; lexical needs none', async () => {
  await inFixture(async (ws) => {
    const enc = fakeEncoder();
    const index = await openWith(ws, enc, 'model-a');
    await index.update();
    assert.ok(index.supports('hybrid'));
    const hybrid = await index.search('findUserById', { mode: 'hybrid', limit: 5 });
    assert.equal(hybrid[0]?.path, 'ts/userRepository.ts', 'lexical side still decides an exact identifier');
    const chunk = [...index.indexStore.iterateChunks()].find((c) => c.path === 'py/geometry.py')!;
    const similar = await index.searchSimilar('py/geometry.py', chunk.startLine, chunk.endLine, 50);
    assert.ok(similar.every((h) => !(h.path === 'py/geometry.py' && h.startLine <= chunk.endLine && h.endLine >= chunk.startLine)),
      'the selection itself is not its own result');
    assert.ok(similar.length > 0);
    await index.close();
  });
});

test('a packed chunk stores one vector per member and ranks by its best member', async () => {
  await inFixture(async (ws) => {
    const enc = fakeEncoder();
    const index = await openWith(ws, enc, 'model-a');
    await index.update();
    const packed = [...index.indexStore.iterateChunks()].find((c) => (c.parts?.length ?? 0) >= 2);
    assert.ok(packed, 'the fixture has a packed chunk');
    const text = fs.readFileSync(path.join(ws, packed.path), 'utf8');
    const m = index.indexStore.loadEmbeddings(DIM);
    const rows = [...m.ids.keys()].filter((r) => m.ids[r] === packed.id);
    assert.equal(rows.length, packed.parts!.length);
    const member = (k: number) => { // the member's vector as stored: quantised, and its dot with the float vector
      const want = { q: new Int8Array(DIM), scale: new Float32Array(1) };
      quantizeRows(vectorOf(text.slice(...packed.parts![k]!)), DIM, want.q, want.scale);
      const self = want.scale[0]! * want.q.reduce((a, x, d) => a + x * vectorOf(text.slice(...packed.parts![k]!))[d]!, 0);
      return { ...want, self };
    };
    packed.parts!.forEach((_, k) => {
      assert.deepEqual([...m.q.subarray(rows[k]! * DIM, (rows[k]! + 1) * DIM)], [...member(k).q]);
      assert.equal(m.scale[rows[k]!], member(k).scale[0]);
    });
    // Each member's lines are stored beside its offsets (the lines its start and end offsets fall on).
    const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
    assert.deepEqual(packed.partLines, packed.parts!.map(([a, b]) => [lineAt(a), lineAt(b)]));
    // Every member's own text finds the packed chunk first, with that member's own score (its cosine with itself
    // through the int8 rows, within 1 % of 1), not an average, and the hit is focused on that member.
    for (const [k, [a, b]] of packed.parts!.entries()) {
      const [top] = await index.search(text.slice(a, b), { mode: 'dense', limit: 1 });
      assert.deepEqual([top?.path, top?.startLine, top?.endLine], [packed.path, packed.startLine, packed.endLine]);
      assert.ok(Math.abs(top!.score - member(k).self) < 1e-6 && Math.abs(top!.score - 1) < 0.01, `score ${top!.score}`);
      assert.deepEqual(top!.focus, { startLine: packed.partLines![k]![0], endLine: packed.partLines![k]![1] }, `member ${k}`);
    }
    await index.close();
  });
});
