// Request size and overlap of the embedding pass by provider: the CPU keeps one 48-chunk request at a time; a GPU
// provider gets 512-chunk requests with the next one already at the encoder. Both must store the same vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/index/workspaceIndex.js';
import { embedPlan, type SemanticEncoder } from '../../../extension/src/index/embedder.js';
import { cleanup, copyFixture, memoryLogger } from './fixture.js';

const DIM = 4;

function vectorOf(text: string): Float32Array {
  const h = createHash('sha256').update(text).digest();
  const v = Float32Array.from({ length: DIM }, (_, i) => h[i]! - 127.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** A slow fake encoder that records request sizes and how many requests were outstanding at once. */
function slowEncoder(provider: string) {
  const stats = { sizes: [] as number[], outstanding: 0, maxOutstanding: 0 };
  const enc: SemanticEncoder = {
    info: { provider, config: { emb_dim: DIM, n_layers: 1, n_kv_heads: 1, d_head: 2 } },
    async encodeChunks(texts) {
      stats.sizes.push(texts.length);
      stats.maxOutstanding = Math.max(stats.maxOutstanding, ++stats.outstanding);
      await new Promise((r) => setTimeout(r, 15));
      stats.outstanding--;
      const out = new Float32Array(texts.length * DIM);
      texts.forEach((t, i) => out.set(vectorOf(t), i * DIM));
      return out;
    },
    async encodeQuery(text) { return vectorOf(text); },
    async encodeFiles() { throw new Error('memory is off'); },
    async contribution() { throw new Error('memory is off'); },
  };
  return { enc, stats };
}

test('embedPlan: 48 chunks one at a time on the CPU, 512 with two in flight on a GPU provider', () => {
  assert.deepEqual(embedPlan('cpu'), { batch: 48, depth: 1 });
  assert.deepEqual(embedPlan(undefined), { batch: 48, depth: 1 });
  assert.deepEqual(embedPlan('webgpu'), { batch: 512, depth: 2 });
  assert.deepEqual(embedPlan('cuda'), { batch: 512, depth: 2 });
  assert.deepEqual(embedPlan('webgpu', 64), { batch: 64, depth: 2 });
});

test('the overlapped GPU plan stores the same vectors as the CPU plan, with at most two requests outstanding', async () => {
  const ws = copyFixture();
  try {
    const results: Record<string, { ids: number[]; vecs: number[]; stats: ReturnType<typeof slowEncoder>['stats'] }> = {};
    for (const provider of ['cpu', 'webgpu']) {
      const { enc, stats } = slowEncoder(provider);
      const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', `idx-${provider}`), logger: memoryLogger() });
      await index.enableSemantic({ encoder: enc, modelTag: 't', embedBatch: 2 });
      const s = await index.update();
      const m = index.indexStore.loadEmbeddings(DIM);
      assert.equal(m.ids.length, s.chunks, `${provider}: every chunk embedded`);
      assert.equal(index.lastTimings().embedded, s.chunks);
      results[provider] = { ids: [...m.ids], vecs: [...m.vecs], stats };
      await index.close();
    }
    assert.ok(results.cpu!.stats.sizes.length >= 4, 'several requests');
    assert.equal(results.cpu!.stats.maxOutstanding, 1);
    assert.equal(results.webgpu!.stats.maxOutstanding, 2);
    assert.deepEqual(results.webgpu!.stats.sizes, results.cpu!.stats.sizes);
    assert.deepEqual(results.webgpu!.ids, results.cpu!.ids);
    assert.deepEqual(results.webgpu!.vecs, results.cpu!.vecs);
  } finally {
    cleanup(ws);
  }
});
