import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSparseAttention, denseMaskedAttention, localAttention, materialiseMask, usesDense } from '../../../kernels/reference/attention.js';
import { randomBlocks } from '../../../kernels/runtime/random.js';
import { rope } from '../../../kernels/reference/rope.js';
import { dot } from '../../../kernels/reference/tensor.js';
import { freshSeed, hasNaN, randArray, randn, relError, validPrefix } from './helpers.js';

const cfg = { block: 64, window: 3, global: 2, random: 2 };
const D = 64;

function inputs(seed: number, T: number, nValid: number) {
  const next = randn(seed);
  return { q: randArray(T * D, next), k: randArray(T * D, next), v: randArray(T * D, next), valid: validPrefix(T, nValid), T, D };
}

// Odd valid lengths padded into whole segments: 63 and 500 as in the fixtures, plus full and one-off-full.
for (const [T, nValid] of [[512, 63], [512, 500], [1024, 500], [1024, 1024], [1024, 1023], [512, 512]] as const) {
  test(`block-sparse (gather) == dense with materialised mask, T=${T}, ${nValid} valid`, () => {
    const seed = freshSeed(`sparse-vs-dense ${T}/${nValid}`);
    const x = inputs(seed, T, nValid);
    const rb = randomBlocks(seed, 1, 1, T / cfg.block, cfg.window, cfg.global, cfg.random); // [1,1,nb,r]
    const sparse = blockSparseAttention(x, cfg, rb);
    const dense = denseMaskedAttention(x, materialiseMask(T, cfg, rb, false, nValid));
    assert.ok(!hasNaN(sparse.out) && !hasNaN(dense));
    const err = relError(sparse.out, dense);
    assert.ok(err < 1e-12, `relative error ${err}`);
    // Every gathered probability row of a real query sums to 1, and padding keys get no weight.
    const K = cfg.window + cfg.global + cfg.random, b = cfg.block;
    for (let row = 0; row < sparse.probs.length / (K * b); row++) {
      const p = sparse.probs.subarray(row * K * b, (row + 1) * K * b);
      const blk = Math.floor(row / b);
      if (sparse.keyBlocks[blk * K] === -1 && sparse.keyBlocks[blk * K + 1] === -1) continue; // global row
      assert.ok(Math.abs(p.reduce((s, y) => s + y, 0) - 1) < 1e-12);
      for (let c = 0; c < K * b; c++) {
        const kbk = sparse.keyBlocks[blk * K + Math.floor(c / b)]!;
        if (kbk < 0 || kbk * b + (c % b) >= nValid) assert.equal(p[c], 0);
      }
    }
  });
}

test('dense fallback below (w+g+r)·b valid tokens equals full attention over valid keys', () => {
  const seed = freshSeed('dense fallback');
  const T = 1024, x = inputs(seed, T, 447);
  assert.ok(usesDense(447, cfg) && !usesDense(448, cfg));
  const rb = randomBlocks(seed, 1, 1, T / cfg.block, 3, 2, 2);
  const out = localAttention(x, cfg, rb);
  const ref = denseMaskedAttention(x, new Uint8Array(T * T).fill(1));
  assert.ok(relError(out, ref) < 1e-12);
  // The gather form's fallback (key blocks 0..K-1 hold every valid key) is the same dense attention ...
  assert.ok(relError(blockSparseAttention(x, cfg, rb).out, ref) < 1e-12);
  // ... while one more valid token switches to the sparse layout, which differs.
  const y = { ...x, valid: validPrefix(T, 448) };
  assert.ok(relError(blockSparseAttention(y, cfg, rb).out, denseMaskedAttention(y, new Uint8Array(T * T).fill(1))) > 1e-6);
});

test('RoPE keeps norms and makes q·k depend only on the position difference', () => {
  const seed = freshSeed('rope');
  const next = randn(seed);
  const T = 40, q1 = randArray(D, next), k1 = randArray(D, next);
  const Q = new Float64Array(T * D), K = new Float64Array(T * D);
  for (let t = 0; t < T; t++) { Q.set(q1, t * D); K.set(k1, t * D); }
  for (const style of ['half', 'interleaved'] as const) {
    const rq = rope(Q, T, D, 10000, style), rk = rope(K, T, D, 10000, style);
    for (let t = 0; t < T; t++) assert.ok(Math.abs(dot(rq, t * D, rq, t * D, D) - dot(q1, 0, q1, 0, D)) < 1e-9);
    const a = dot(rq, 7 * D, rk, 3 * D, D), b = dot(rq, 30 * D, rk, 26 * D, D);
    assert.ok(Math.abs(a - b) < 1e-9, `${a} vs ${b}`);
    assert.ok(Math.abs(dot(rq, 0, rk, 0, D) - dot(q1, 0, k1, 0, D)) < 1e-12, 'position 0 is the identity');
  }
});
