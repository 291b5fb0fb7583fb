import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addInto, elu1, emptyMemory, gateMix, linearContribution, prefixMemories, read, readAttribution, sigma,
  updateDelta, updateLinear,
} from '../../../kernels/reference/memory.js';
import { readWeights } from '../../../kernels/runtime/memoryRead.js';
import { freshSeed, hasNaN, randArray, randn, relError, validPrefix } from './helpers.js';

const T = 96, Dk = 64, Dv = 64;

function segments(seed: number, n: number) {
  const next = randn(seed);
  return Array.from({ length: n }, (_, s) => ({
    sk: sigma(randArray(T * Dk, next)), sq: sigma(randArray(T * Dk, next)), v: randArray(T * Dv, next),
    valid: validPrefix(T, s === n - 1 ? 37 : T), // last segment padded
  }));
}

test('σ = ELU+1 is positive and continuous at 0', () => {
  assert.equal(elu1(0), 1);
  assert.ok(elu1(-50) > 0 && Math.abs(elu1(-1e-9) - 1) < 1e-8 && elu1(2) === 3);
});

test('segment-by-segment linear memory == segment-parallel exclusive prefix sum', () => {
  const segs = segments(freshSeed('prefix'), 6);
  const seq = emptyMemory(Dk, Dv);
  const before: { M: Float64Array; z: Float64Array }[] = [];
  for (const s of segs) {
    before.push({ M: seq.M.slice(), z: seq.z.slice() });
    updateLinear(seq, s.sk, s.v, s.valid, T, Dk, Dv);
  }
  const par = prefixMemories(segs.map((s) => linearContribution(s.sk, s.v, s.valid, T, Dk, Dv)));
  for (let s = 0; s < segs.length; s++) {
    assert.ok(relError(par[s]!.M, before[s]!.M) < 1e-12);
    const a = read(par[s]!, segs[s]!.sq, T, Dk, Dv), b = read(before[s]!, segs[s]!.sq, T, Dk, Dv);
    assert.ok(relError(a, b) < 1e-12);
    if (s === 0) assert.ok(a.every((x) => x === 0));
  }
});

test('reading the empty memory at a file\'s first segment gives exactly 0, no NaN', () => {
  const [s] = segments(freshSeed('first segment'), 1);
  const out = read(emptyMemory(Dk, Dv), s!.sq, T, Dk, Dv);
  assert.ok(!hasNaN(out) && out.every((x) => x === 0));
  const w = readAttribution(s!.sq, new Float64Array(0), new Float64Array(Dk), T, 0, Dk);
  assert.equal(w.length, 0);
});

test('padding tokens add nothing to the memory', () => {
  const [s] = segments(freshSeed('padding'), 1);
  const c = linearContribution(s!.sk, s!.v, validPrefix(T, 10), T, Dk, Dv);
  const c10 = linearContribution(s!.sk.subarray(0, 10 * Dk), s!.v.subarray(0, 10 * Dv), validPrefix(10, 10), 10, Dk, Dv);
  assert.ok(relError(c.M, c10.M) < 1e-15 && relError(c.z, c10.z) < 1e-15);
});

test('delta rule: equals linear on an empty memory, adds nothing when V is already predicted', () => {
  const segs = segments(freshSeed('delta'), 2);
  const a = emptyMemory(Dk, Dv), b = emptyMemory(Dk, Dv);
  updateDelta(a, segs[0]!.sk, segs[0]!.v, segs[0]!.valid, T, Dk, Dv);
  updateLinear(b, segs[0]!.sk, segs[0]!.v, segs[0]!.valid, T, Dk, Dv);
  assert.ok(relError(a.M, b.M) < 1e-15 && relError(a.z, b.z) < 1e-15);
  // Values the memory already retrieves exactly leave M unchanged (only z grows).
  const predicted = read(a, segs[1]!.sk, T, Dk, Dv);
  const M0 = a.M.slice(), z0 = a.z.slice();
  updateDelta(a, segs[1]!.sk, predicted, segs[1]!.valid, T, Dk, Dv);
  assert.ok(relError(a.M, M0) < 1e-12, 'M changed');
  assert.ok(a.z.some((x, i) => x > z0[i]!));
  // Delta keeps M bounded where linear grows when the same segment is written again and again.
  const d = emptyMemory(Dk, Dv), l = emptyMemory(Dk, Dv);
  for (let i = 0; i < 5; i++) {
    updateDelta(d, segs[0]!.sk, segs[0]!.v, segs[0]!.valid, T, Dk, Dv);
    updateLinear(l, segs[0]!.sk, segs[0]!.v, segs[0]!.valid, T, Dk, Dv);
  }
  const norm = (x: Float64Array) => Math.sqrt(x.reduce((s, y) => s + y * y, 0));
  assert.ok(norm(d.M) < norm(l.M), `${norm(d.M)} vs ${norm(l.M)}`);
});

test('memory-read attribution reproduces the read: A_mem = Σ_t w[q,t] v_t', () => {
  const segs = segments(freshSeed('attribution'), 3);
  const mem = emptyMemory(Dk, Dv);
  const pastSk: number[] = [], pastV: number[] = [];
  for (const s of segs.slice(0, 2)) {
    updateLinear(mem, s.sk, s.v, s.valid, T, Dk, Dv);
    for (let t = 0; t < T; t++) if (s.valid[t]) {
      pastSk.push(...s.sk.subarray(t * Dk, (t + 1) * Dk)); pastV.push(...s.v.subarray(t * Dv, (t + 1) * Dv));
    }
  }
  const N = pastSk.length / Dk, q = segs[2]!.sq;
  const w = readAttribution(q, Float64Array.from(pastSk), mem.z, T, N, Dk); // [T, N]
  const recon = new Float64Array(T * Dv);
  for (let i = 0; i < T; i++) for (let t = 0; t < N; t++) for (let d = 0; d < Dv; d++) recon[i * Dv + d]! += w[i * N + t]! * pastV[t * Dv + d]!;
  assert.ok(relError(recon, read(mem, q, T, Dk, Dv)) < 1e-12);
  for (let i = 0; i < T; i++) { // weights are a (near-)distribution over past tokens
    const s = w.subarray(i * N, (i + 1) * N).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < 1e-6 && w.subarray(i * N, (i + 1) * N).every((x) => x >= 0));
  }
  for (const i of [0, 17, T - 1]) { // the runtime's one-query weights (what the lens ships) match the oracle's row
    const row = readWeights(q.subarray(i * Dk, (i + 1) * Dk), Float32Array.from(pastSk), mem.z, N, Dk); // [N]
    assert.ok(relError(row, w.subarray(i * N, (i + 1) * N)) < 1e-6);
  }
});

test('gate mix: sigmoid(β) interpolates between memory and local attention', () => {
  const next = randn(freshSeed('gate'));
  const m = randArray(32, next), loc = randArray(32, next);
  assert.ok(relError(gateMix(0, m, loc), m.map((x, i) => (x + loc[i]!) / 2)) < 1e-15);
  assert.ok(relError(gateMix(60, m, loc), m) < 1e-15 && relError(gateMix(-60, m, loc), loc) < 1e-15);
  const sum = emptyMemory(2, 2); addInto(sum, { M: Float64Array.of(1, 2, 3, 4), z: Float64Array.of(1, 1) }, -1);
  assert.deepEqual(Array.from(sum.M), [-1, -2, -3, -4]);
});
