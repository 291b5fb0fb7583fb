// Runtime plumbing against a tiny generated ONNX model (the trained model is tested in model.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EncoderSession } from '../../../kernels/runtime/session.js';
import { Encoder } from '../../../kernels/runtime/encoder.js';
import { tinyTokenizerJson } from './tinyTokenizer.js';
import { writeTinyLens, writeTinyModel } from './tinyOnnx.js';

const sample = 'export function add(a, b) {\n  return a + b;\n}\n// naïve 😀\nconst x = add(1, 2);\n';
const tokJson = tinyTokenizerJson(sample) as { model: { vocab: Record<string, number> } };
const V = Object.keys(tokJson.model.vocab).length;
const dir = mkdtempSync(path.join(tmpdir(), 'tiny-model-'));
const m = writeTinyModel(dir, tokJson, { L: 2, Hkv: 2, H: 4, D: 4, E: 8, V, T: 16, block: 4 });

function expectedChunk(ids: number[]): Float32Array {
  const acc = new Float64Array(m.E);
  for (const id of ids) for (let e = 0; e < m.E; e++) acc[e]! += m.table[id * m.E + e]!;
  const n = Math.hypot(...acc);
  return Float32Array.from(acc, (x) => x / n);
}

test('auto provider falls back in order and reports which provider runs', async () => {
  const s = await EncoderSession.open(dir, { provider: 'auto' });
  assert.ok(['webgpu', 'cpu', 'cuda'].includes(s.info.provider));
  if (s.info.provider === 'cpu') assert.ok(s.info.skipped.some((k) => k.provider === 'webgpu'), 'webgpu was tried first');
  console.log(`# provider ${s.info.provider}; skipped: ${JSON.stringify(s.info.skipped)}`);
  await s.close();
  await assert.rejects(EncoderSession.open(path.join(dir, 'missing')), /model-card.json is missing/);
});

test('chunk embeddings are the normalised mean over the chunk\'s tokens, the same for any batch size', async () => {
  const files = [
    { path: 'a.ts', text: sample.repeat(4), chunks: [{ startOffset: 0, endOffset: 46 }, { startOffset: 46, endOffset: 4 * sample.length }] },
    { path: 'b.ts', text: 'x', chunks: [{ startOffset: 0, endOffset: 1 }] },
    { path: 'c.ts', text: sample, chunks: [{ startOffset: 7, endOffset: 30 }] },
  ];
  const small = await EncoderSession.open(dir, { provider: 'cpu', maxSegments: 1 });
  const big = await EncoderSession.open(dir, { provider: 'cpu', maxSegments: 64 });
  const a = await small.encodeFiles(files), b = await big.encodeFiles(files);
  assert.ok(small.stats.runs > big.stats.runs, `${small.stats.runs} runs vs ${big.stats.runs}`);
  for (let f = 0; f < files.length; f++) {
    assert.deepEqual(a[f]!.chunkEmbeddings, b[f]!.chunkEmbeddings);
    const t = small.tokenizer.encode(files[f]!.text);
    files[f]!.chunks.forEach((c, k) => {
      const ids = Array.from(t.ids).filter((_, i) => t.ends[i]! > c.startOffset && t.starts[i]! < c.endOffset);
      const want = expectedChunk(ids), got = a[f]!.chunkEmbeddings.subarray(k * m.E, (k + 1) * m.E);
      for (let e = 0; e < m.E; e++) assert.ok(Math.abs(got[e]! - want[e]!) < 1e-5);
    });
  }
  await small.close(); await big.close();
});

test('per-file contributions add up over the runs of a long file (one file per run)', async () => {
  const s = await EncoderSession.open(dir, { provider: 'cpu', maxSegments: 2 });
  const texts = [sample.repeat(5), 'y'];
  const out = await s.encodeFiles(texts.map((text, i) => ({ path: `${i}`, text, chunks: [] })), true);
  out.forEach((r, i) => {
    const n = r.tokenIds.length + 1; // + <doc>
    assert.ok(n > 2 * m.T || i === 1, 'the long file spans several runs');
    assert.ok(r.contribution!.z.every((x) => x === n), `z = ${r.contribution!.z[0]}, want ${n}`);
  });
  const again = await s.contribution(out[0]!.tokenIds);
  assert.deepEqual(again.z, out[0]!.contribution!.z);
  await s.close();
});

test('the worker answers encode and query requests off the caller\'s thread', async () => {
  const logs: string[] = [];
  const enc = await Encoder.open(dir, { provider: 'cpu', log: (l) => logs.push(l) });
  assert.equal(enc.info.provider, 'cpu');
  assert.ok(logs.some((l) => /provider cpu/.test(l)));
  const [r] = await enc.encodeFiles([{ path: 'a', text: sample, chunks: [{ startOffset: 0, endOffset: sample.length }] }]);
  assert.equal(r!.chunkEmbeddings.length, m.E);
  const q = await enc.encodeQuery('function add');
  assert.ok(Math.abs(Math.hypot(...q) - 1) < 1e-5);
  await assert.rejects(enc.lens('x', 5), /segment 5 out of range|lens/);
  assert.ok((await enc.stats()).runs >= 1);
  await enc.close();
  await assert.rejects(enc.encodeQuery('x'), /closed/, 'a closed encoder answers at once');
});

test('lens: segments chained through the memory; recall weights σ(q)·σ(k_t)/(σ(q)·z + ε) over past tokens', async () => {
  const { tableQ, tableK } = writeTinyLens(dir, m);
  const s = await EncoderSession.open(dir, { provider: 'cpu' });
  const { LensState } = await import('../../../kernels/runtime/lens.js');
  const lens = new LensState(s);
  const text = sample.repeat(3);
  const stream = [2, ...s.tokenizer.encode(text).ids];
  const segment = Math.floor((stream.length - 1) / m.T);
  assert.ok(segment >= 2);
  const r = await lens.run(text, segment);
  assert.equal(r.segments, segment + 1);
  assert.deepEqual(Array.from(r.tokenIds), stream.slice(segment * m.T));
  assert.equal(r.ranges.length, r.tokenIds.length);
  const token = 3, layer = 1, head = 3, g = Math.floor(head / (m.H / m.Hkv));
  void g; // the fake σ(k) is the same for every kv head
  const rec = lens.recall(layer, head, token, 5);
  // Memory before the segment: z = number of past (valid) tokens in every entry of the fake graph.
  const nPast = segment * m.T, sq = tableQ.subarray(r.tokenIds[token]! * m.D, (r.tokenIds[token]! + 1) * m.D);
  const den = sq.reduce((a, x) => a + x * nPast, 0) + 1e-6;
  const w = stream.slice(0, nPast).map((id) => tableK.subarray(id * m.D, (id + 1) * m.D).reduce((a, x, d) => a + x * sq[d]!, 0) / den);
  const want = Array.from(w.keys()).sort((a, b) => w[b]! - w[a]!).slice(0, 5);
  assert.deepEqual(rec.tokens.map((t) => t.index).map((i) => w[i]), want.map((i) => w[i]));
  assert.ok(Math.abs(rec.total - w.reduce((a, b) => a + b, 0)) < 1e-4 * Math.abs(rec.total));
  assert.throws(() => lens.recall(9, 0, 0, 1), /out of range/);
  await s.close();
});
