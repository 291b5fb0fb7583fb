// The host's lens-graph → LensData builder, checked against kernels/reference: the attended keys it reads out
// of probs/key_blocks/global_probs must be exactly the sparse mask's keys and must reproduce the attention output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSparseAttention, materialiseMask } from '../../../kernels/reference/attention.js';
import { randomBlocks } from '../../../kernels/runtime/random.js';
import { readAttribution } from '../../../kernels/reference/memory.js';
import { attendedKeys, layoutOf, memoryRecalls, memorySegments, sumAttention, tokenAtOffset, type LensGraphOutputs, type LensModelConfig } from '../../../extension/src/lens/lensData.js';
import { freshSeed, randArray, randn, relError } from '../kernels/helpers.js';

const cfg: LensModelConfig = { layers: 1, heads: 2, kvHeads: 1, dHead: 8, segLen: 128, block: 16, window: 3, global: 2, random: 2 };

function setup(nValid: number) {
  const seed = freshSeed('lensData');
  const next = randn(seed);
  const T = cfg.segLen, D = cfg.dHead, nb = T / cfg.block;
  const valid = Array.from({ length: T }, (_, t) => (t < nValid ? 1 : 0));
  const rand = randomBlocks(seed, cfg.layers, cfg.heads, nb, cfg.window, cfg.global, cfg.random);
  const heads = Array.from({ length: cfg.heads }, (_, h) => {
    const x = { q: randArray(T * D, next), k: randArray(T * D, next), v: randArray(T * D, next), valid, T, D };
    const randHead = rand.subarray(h * nb * cfg.random, (h + 1) * nb * cfg.random);
    return { x, randHead, r: blockSparseAttention(x, cfg, randHead) };
  });
  const cat = (f: (r: (typeof heads)[number]['r']) => ArrayLike<number>) => heads.flatMap((h) => Array.from(f(h.r)));
  const outputs: LensGraphOutputs = {
    probs: cat((r) => r.probs), keyBlocks: cat((r) => r.keyBlocks), globalProbs: cat((r) => r.globalProbs),
    gates: [0.3, 0.7], sigmaQ: randArray(cfg.heads * T * D, () => Math.exp(next())), zIn: new Float64Array(D),
  };
  return { heads, outputs, valid, next };
}

test('attended keys are the sparse mask row and reproduce the block-sparse output (sparse and global rows)', () => {
  const { heads, outputs, valid } = setup(117); // odd length: the last block is part padding
  const T = cfg.segLen, D = cfg.dHead;
  for (const [h, { x, randHead, r }] of heads.entries()) {
    const mask = materialiseMask(T, cfg, randHead);
    for (const t of [0, 5, 20, 47, 64, 100, 116]) {
      const keys = attendedKeys(cfg, outputs, false, 0, h, t);
      const expected = [...Array(T).keys()].filter((j) => mask[t * T + j] === 1 && valid[j] === 1);
      assert.deepEqual(keys.map((k) => k.token).sort((a, b) => a - b), expected, `head ${h} token ${t}`);
      const sum = keys.reduce((s, k) => s + k.weight, 0);
      assert.ok(Math.abs(sum - 1) < 1e-12, `weights sum to ${sum}`);
      const out = new Float64Array(D);
      for (const k of keys) for (let d = 0; d < D; d++) out[d]! += k.weight * x.v[k.token * D + d]!;
      assert.ok(relError(out, r.out.subarray(t * D, (t + 1) * D)) < 1e-12);
    }
  }
});

test('layoutOf reshapes key_blocks and gates into [L][H][nb][K] and [L][H]', () => {
  const { outputs } = setup(128);
  const { keyBlocks, gates } = layoutOf(cfg, outputs);
  const K = cfg.window + cfg.global + cfg.random, nb = cfg.segLen / cfg.block;
  assert.deepEqual(gates, [[0.3, 0.7]]);
  assert.equal(keyBlocks[0]![1]![3]!.length, K);
  assert.equal(keyBlocks[0]![1]![3]![2], outputs.keyBlocks[(1 * nb + 3) * K + 2]);
});

test('memory recalls: exact linear-rule shares over all past tokens, heaviest first', () => {
  const { outputs, next } = setup(128);
  const T = cfg.segLen, D = cfg.dHead;
  const tokens = (n: number) => Array.from({ length: n }, (_, i) => ({ index: i, text: `t${i}`, range: { startLine: i, startChar: 0, endLine: i, endChar: 2 } }));
  const past = [0, 1, 2].map((s) => ({ segment: s, tokens: tokens(s === 2 ? 70 : T), sigmaK: randArray(T * D, () => Math.exp(next())) }));
  const z = new Float64Array(D);
  for (const p of past) for (const t of p.tokens) for (let a = 0; a < D; a++) z[a]! += p.sigmaK[t.index * D + a]!;
  const o = { ...outputs, zIn: z };
  const all = memoryRecalls(cfg, o, past, 0, 1, 9, 10_000);
  assert.equal(all.length, 128 + 128 + 70);
  const total = all.reduce((s, m) => s + m.weight, 0);
  assert.ok(Math.abs(total - 1) < 1e-6, `shares sum to ${total}`);
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.weight >= all[i]!.weight);
  const top = memoryRecalls(cfg, o, past, 0, 1, 9, 5);
  assert.deepEqual(top, all.slice(0, 5));
  const sq = Float64Array.from({ length: D }, (_, a) => o.sigmaQ[(1 * T + 9) * D + a]!);
  const best = top[0]!;
  const w = readAttribution(sq, past[best.segment]!.sigmaK.subarray(best.token * D, (best.token + 1) * D), z, 1, 1, D);
  assert.equal(best.weight, w[0]);
  // Per earlier segment: the same shares summed segment by segment; together the whole read.
  const segs = memorySegments(cfg, o, past, 0, 1, 9, 3);
  assert.equal(segs.first, 0);
  segs.shares.forEach((x, seg) => {
    const want = all.filter((m) => m.segment === seg).reduce((a, m) => a + m.weight, 0);
    assert.ok(Math.abs(x - want) < 1e-12, `segment ${seg}: ${x} vs ${want}`);
  });
  assert.ok(Math.abs(segs.shares.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('sumAttention: several tokens selected at once sum their keys, memory recalls and per-segment reads', () => {
  const range = { startLine: 0, startChar: 0, endLine: 0, endChar: 1 };
  const head = (keys: [number, number][], mem: [number, number, number][], shares: number[]) => ({ layer: 0, head: 0,
    keys: keys.map(([token, weight]) => ({ token, weight })),
    memory: mem.map(([segment, token, weight]) => ({ segment, token, weight, text: `m${token}`, range })),
    memorySegments: { first: 0, shares, older: 0 } });
  const a = { segment: 2, token: 5, heads: [head([[1, 0.75], [5, 0.25]], [[0, 3, 0.5], [1, 4, 0.5]], [0.5, 0.5])] };
  const b = { segment: 2, token: 9, heads: [head([[1, 0.5], [9, 0.5]], [[0, 3, 0.25], [0, 7, 0.75]], [1, 0])] };
  assert.equal(sumAttention([a]), a, 'one token: unchanged');
  const sum = sumAttention([a, b]);
  assert.equal(sum.token, 9, 'the last token added is the one the lens centres on');
  assert.deepEqual(sum.tokens, [5, 9]);
  const keys = new Map(sum.heads[0]!.keys.map((k) => [k.token, k.weight]));
  assert.deepEqual([...keys].sort((x, y) => x[0] - y[0]), [[1, 1.25], [5, 0.25], [9, 0.5]]);
  assert.ok(Math.abs([...keys.values()].reduce((x, y) => x + y, 0) - 2) < 1e-12, 'two tokens: weights sum to 2');
  assert.deepEqual(sum.heads[0]!.memory.map((m) => [m.segment, m.token, m.weight]), [[0, 3, 0.75], [0, 7, 0.75], [1, 4, 0.5]]);
  assert.deepEqual(sum.heads[0]!.memorySegments, { first: 0, shares: [1.5, 0.5], older: 0 });
  assert.throws(() => sumAttention([]), /no tokens/);
});

test('tokenAtOffset finds the token covering an offset, or the one before it', () => {
  const toks = [{ index: 0, start: 0, end: 3 }, { index: 1, start: 3, end: 4 }, { index: 2, start: 6, end: 9 }];
  assert.equal(tokenAtOffset(toks, 0), 0);
  assert.equal(tokenAtOffset(toks, 3), 1);
  assert.equal(tokenAtOffset(toks, 5), 1);
  assert.equal(tokenAtOffset(toks, 100), 2);
  assert.equal(tokenAtOffset([], 1), undefined);
});
