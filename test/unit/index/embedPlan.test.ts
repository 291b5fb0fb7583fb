// Request size and overlap of the embedding pass by provider: the CPU keeps 48-chunk requests, one step after the
// other; a GPU provider gets 512-chunk requests, the next sent as soon as one finishes and the finished one stored
// while the next runs. Never more than one request of ours at the encoder. Both must store the same vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { embedPlan } from '../../../extension/src/index/embedder.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import { hashVector, inFixture, memoryLogger } from './fixture.js';

const DIM = 4;

const vectorOf = (text: string): Float32Array => hashVector(text, DIM);

/** A slow fake encoder that records request sizes, how many requests were outstanding at once, and events. */
function slowEncoder(provider: string) {
  const stats = { sizes: [] as number[], outstanding: 0, maxOutstanding: 0, events: [] as string[] };
  const enc: SemanticEncoder = {
    info: { provider, config: { emb_dim: DIM, n_layers: 1, n_kv_heads: 1, d_head: 2 } },
    async encodeChunks(texts) {
      stats.sizes.push(texts.length);
      stats.maxOutstanding = Math.max(stats.maxOutstanding, ++stats.outstanding);
      stats.events.push('start');
      await new Promise((r) => setTimeout(r, 15));
      stats.outstanding--;
      stats.events.push('end');
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

test('embedPlan: 48 chunks, no overlap on the CPU; 512 with overlap on a GPU provider', () => {
  assert.deepEqual(embedPlan('cpu'), { batch: 48, overlap: false });
  assert.deepEqual(embedPlan(undefined), { batch: 48, overlap: false });
  assert.deepEqual(embedPlan('webgpu'), { batch: 512, overlap: true });
  assert.deepEqual(embedPlan('cuda'), { batch: 512, overlap: true });
  assert.deepEqual(embedPlan('webgpu', 64), { batch: 64, overlap: true });
});

test('the overlapped GPU plan stores the same vectors as the CPU plan, one request at the encoder at a time', async () => {
  await inFixture(async (ws) => {
    const results: Record<string, { ids: number[]; q: number[]; scale: number[]; stats: ReturnType<typeof slowEncoder>['stats'] }> = {};
    for (const provider of ['cpu', 'webgpu']) {
      const { enc, stats } = slowEncoder(provider);
      const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', `idx-${provider}`), logger: memoryLogger() });
      await index.enableSemantic({ encoder: enc, modelTag: 't', embedBatch: 2 });
      const s = await index.update((p) => { if (p.phase === 'encode' && p.filesDone > 0) stats.events.push('stored'); });
      const m = index.indexStore.loadEmbeddings(DIM);
      assert.equal(new Set(m.ids).size, s.chunks, `${provider}: every chunk embedded`);
      assert.equal(index.lastTimings().embedded, s.chunks);
      results[provider] = { ids: [...m.ids], q: [...m.q], scale: [...m.scale], stats };
      await index.close();
    }
    assert.ok(results.cpu!.stats.sizes.length >= 4, 'several requests');
    assert.equal(results.cpu!.stats.maxOutstanding, 1);
    assert.equal(results.webgpu!.stats.maxOutstanding, 1);
    // CPU: each request is stored before the next starts. GPU: the next starts before the finished one is stored.
    assert.deepEqual(results.cpu!.stats.events.slice(0, 6), ['start', 'end', 'stored', 'start', 'end', 'stored']);
    assert.deepEqual(results.webgpu!.stats.events.slice(0, 6), ['start', 'end', 'start', 'stored', 'end', 'start']);
    assert.deepEqual(results.webgpu!.stats.sizes, results.cpu!.stats.sizes);
    assert.deepEqual(results.webgpu!.ids, results.cpu!.ids);
    assert.deepEqual(results.webgpu!.q, results.cpu!.q);
    assert.deepEqual(results.webgpu!.scale, results.cpu!.scale);
  });
});
