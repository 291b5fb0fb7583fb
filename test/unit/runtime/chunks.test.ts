// Chunk-alone retrieval embeddings (EncoderSession.encodeChunks): the length-bucket plan, the <doc> stream cut
// to max_chunk_tokens, and, with the shipped model, that batching and padding change nothing: each chunk's
// embedding equals the query graph run on that chunk alone, unpadded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { chunkStream, paddedWidth, planChunkBatches, retrievalConfig } from '../../../kernels/runtime/chunks.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';
import { EncoderSession, floats } from '../../../kernels/runtime/session.js';
import { mulberry32 } from '../../../kernels/runtime/random.js';

const MODEL = path.join(__dirname, '../../../kernels/model');
const noModel = hasModel(MODEL) ? false : 'kernels/model/ has no model yet';

test('planChunkBatches covers every item once, pads within the slack and the token budget', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const lengths = Array.from({ length: 777 }, () => 1 + Math.floor(rand() * 512));
  const batches = planChunkBatches(lengths, 4096, 1.25);
  const seen = batches.flatMap((b) => b.items).sort((a, b) => a - b);
  assert.deepEqual(seen, lengths.map((_, i) => i));
  for (const b of batches) {
    const ls = b.items.map((i) => lengths[i]!);
    assert.ok(ls.every((n) => paddedWidth(n) === b.width), 'one rung a batch, each stream at its own rung');
    assert.ok(b.width >= Math.max(...ls) && b.width <= Math.max(8, Math.ceil(Math.min(...ls) * 1.25)), 'padding within the slack');
    assert.ok(b.items.length === 1 || b.items.length * b.width <= 4096, 'padded tokens within the budget');
  }
  assert.deepEqual(planChunkBatches([]), []);
});

test('chunkStream puts <doc> first and cuts to max_chunk_tokens in all', () => {
  const cfg = retrievalConfig({ retrieval: { chunk_graph: 'query', doc_token: 2, max_chunk_tokens: 5 } });
  assert.deepEqual([...chunkStream([10, 11, 12, 13, 14, 15, 16], cfg)], [2, 10, 11, 12, 13]);
  assert.deepEqual([...chunkStream([], cfg)], [2]);
  assert.deepEqual(retrievalConfig({}), { chunkGraph: 'query', docToken: 2, maxChunkTokens: 512 });
  assert.throws(() => retrievalConfig({ retrieval: { chunk_graph: 'encoder' } }), /not supported/);
});

test('encodeChunks equals the query graph on each chunk alone (batching and padding change nothing)', { skip: noModel }, async () => {
  const s = await EncoderSession.open(MODEL, { provider: 'cpu' });
  try {
    const c = s.info.config, E = c.emb_dim;
    const texts = ['def add(a, b):\n    return a + b\n', 'x', '', 'function parseConfig(path) { return JSON.parse(read(path)); }',
      'int main(void) {\n  return 0;\n}\n'.repeat(60), 'def add(a, b):\n    return a + b\n'];
    const got = await s.encodeChunks(texts); // [n, E]
    const zerosM = new Float32Array(c.n_layers * c.n_kv_heads * c.d_head * c.d_head), zerosZ = new Float32Array(c.n_layers * c.n_kv_heads * c.d_head);
    for (let i = 0; i < texts.length; i++) {
      const ids = chunkStream(s.tokenizer.encode(texts[i]!).ids);
      assert.ok(ids.length <= 512);
      const out = await s.run('query', {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, ids.length]),
        valid: new ort.Tensor('float32', new Float32Array(ids.length).fill(1), [1, ids.length]),
        mem_in: new ort.Tensor('float32', zerosM, [c.n_layers, c.n_kv_heads, c.d_head, c.d_head]),
        z_in: new ort.Tensor('float32', zerosZ, [c.n_layers, c.n_kv_heads, c.d_head]),
      });
      const want = floats(out.qemb!);
      const row = got.subarray(i * E, (i + 1) * E);
      let err = 0, norm = 0;
      for (let d = 0; d < E; d++) { err = Math.max(err, Math.abs(row[d]! - want[d]!)); norm += row[d]! * row[d]!; }
      assert.ok(err < 1e-4, `chunk ${i}: max abs diff ${err}`);
      assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-4, `chunk ${i}: L2 norm ${Math.sqrt(norm)}`);
    }
    assert.deepEqual(got.subarray(0, E), got.subarray(5 * E, 6 * E), 'equal texts, equal embeddings');
  } finally {
    await s.close();
  }
});
