import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encoderForward, randomWeights, type EncoderConfig, type EncoderInputs } from '../../../kernels/reference/encoder.js';
import { randomBlocks, mulberry32 } from '../../../kernels/runtime/random.js';
import { freshSeed, hasNaN, relError } from './helpers.js';

// A tiny model with the contract's structure (GQA 4/2, 8 blocks a segment) so the float64 forward is fast.
export const tinyConfig: EncoderConfig = {
  vocab: 50, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_head: 8, d_ff: 48, seg_len: 64, block: 8,
  window: 3, global: 2, random: 2, memory_rule: 'linear', emb_dim: 16,
};

/** Cut docs (token arrays) into padded segments: the runtime's layout of an encoder batch. */
function batch(cfg: EncoderConfig, docs: number[][], seed: number, mem?: { memIn: Float64Array; zIn: Float64Array }): EncoderInputs {
  const T = cfg.seg_len, ids: number[] = [], valid: number[] = [], segDoc: number[] = [];
  docs.forEach((doc, d) => {
    for (let s = 0; s * T < doc.length; s++) {
      const part = doc.slice(s * T, (s + 1) * T);
      ids.push(...part, ...new Array(T - part.length).fill(0));
      valid.push(...part.map(() => 1), ...new Array(T - part.length).fill(0));
      segDoc.push(d);
    }
  });
  const rb = randomBlocks(seed, cfg.n_layers, cfg.n_heads, T / cfg.block, cfg.window, cfg.global, cfg.random);
  return { ids, valid, segDoc, randBlocks: rb, ...mem };
}

function tokens(seed: number, n: number, vocab: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => (i === 0 ? 2 : 4 + Math.floor(r() * (vocab - 4))));
}

test('a file encoded in one batch == encoded segment run by segment run, memory carried via mem_in', () => {
  const seed = freshSeed('encoder carry');
  const w = randomWeights(tinyConfig, seed);
  const doc = tokens(seed, 3 * 64 + 29, tinyConfig.vocab); // 4 segments, the last one padded
  const whole = encoderForward(tinyConfig, w, batch(tinyConfig, [doc], 1234));
  assert.ok(!hasNaN(whole.emb) && !hasNaN(whole.memOut));
  const first = encoderForward(tinyConfig, w, batch(tinyConfig, [doc.slice(0, 128)], 1234));
  const rest = encoderForward(tinyConfig, w, batch(tinyConfig, [doc.slice(128)], 1234, { memIn: first.memOut, zIn: first.zOut }));
  assert.ok(relError([...first.emb, ...rest.emb], whole.emb) < 1e-12);
  assert.ok(relError(rest.memOut, whole.memOut) < 1e-12 && relError(rest.zOut, whole.zOut) < 1e-12);
  // mem_sum excludes mem_in: the two halves add up to the whole.
  assert.ok(relError(first.memSum.map((x, i) => x + rest.memSum[i]!), whole.memSum) < 1e-12);
  assert.ok(relError(whole.memOut, whole.memSum) < 1e-12, 'single doc, no mem_in: mem_out = mem_sum');
});

test('several docs in one batch == each doc alone; memory does not leak across docs', () => {
  const seed = freshSeed('encoder docs');
  const w = randomWeights(tinyConfig, seed + 1);
  const a = tokens(seed, 63, tinyConfig.vocab), b = tokens(seed + 7, 150, tinyConfig.vocab);
  const both = encoderForward(tinyConfig, w, batch(tinyConfig, [a, b], 99));
  const ea = encoderForward(tinyConfig, w, batch(tinyConfig, [a], 99));
  const eb = encoderForward(tinyConfig, w, batch(tinyConfig, [b], 99));
  assert.ok(relError([...ea.emb, ...eb.emb], both.emb) < 1e-12);
  assert.ok(relError(both.memOut, eb.memOut) < 1e-12, 'mem_out is the last doc\'s memory');
  assert.ok(relError(ea.memSum.map((x, i) => x + eb.memSum[i]!), both.memSum) < 1e-12);
  // Dense below (3+2+2)·8 = 56 valid tokens: only b's 22-token tail segment.
  assert.deepEqual(both.denseSegments, [3]);
});

test('delta rule matches linear on the first segment and differs after it', () => {
  const seed = freshSeed('encoder delta');
  const w = randomWeights(tinyConfig, seed);
  const doc = tokens(seed, 200, tinyConfig.vocab);
  const lin = encoderForward(tinyConfig, w, batch(tinyConfig, [doc], 5));
  const del = encoderForward({ ...tinyConfig, memory_rule: 'delta' }, w, batch(tinyConfig, [doc], 5));
  const E = tinyConfig.emb_dim, T = tinyConfig.seg_len;
  assert.ok(relError(del.emb.subarray(0, T * E), lin.emb.subarray(0, T * E)) < 1e-12);
  assert.ok(relError(del.emb, lin.emb) > 1e-8 && !hasNaN(del.emb));
});
