// Weighted hybrid fusion (extension/src/search/hybrid.ts): the limits of the weight reduce to one side exactly,
// hand-computed weighted RRF and score values, the dense-only cap, tie order, settings validation, and the engine
// asking each side at the documented depths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DENSE_DEPTH, fuseHybrid, HYBRID_DEFAULTS, hybridDepths, LEXICAL_DEPTH_FACTOR, resolveFusion, type FusionSettings, type Ranked,
} from '../../../extension/src/search/hybrid.js';
import { SearchEngine } from '../../../extension/src/search/engine.js';
import type { RankedChunk, Ranker } from '../../../extension/src/search/ranker.js';
import type { IndexStore } from '../../../extension/src/index/store.js';
import { mulberry32 } from '../../../kernels/runtime/random.js';

const rrf = (w: number, extra: Partial<FusionSettings> = {}): FusionSettings => ({ method: 'rrf', denseWeight: w, rrfK: 60, denseOnly: Infinity, ...extra });
const score = (w: number, extra: Partial<FusionSettings> = {}): FusionSettings => ({ method: 'score', denseWeight: w, rrfK: 60, denseOnly: Infinity, ...extra });
const ids = <K>(l: readonly Ranked<K>[]) => l.map((r) => r.id);

/** A random ranking of `n` ids drawn from 0..pool-1, best first, strictly decreasing scores (some equal when `ties`). */
function randomList(rand: () => number, n: number, pool: number, ties = false): Ranked<number>[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(n, pool)) chosen.add(Math.floor(rand() * pool));
  let s = 10;
  return [...chosen].map((id) => ({ id, score: (s -= ties && rand() < 0.3 ? 0 : rand() + 0.01) }));
}

test('weight 0 gives the lexical ranking exactly, weight 1 the dense ranking, for both methods', () => {
  const rand = mulberry32(7);
  for (let trial = 0; trial < 200; trial++) {
    const lex = randomList(rand, 1 + Math.floor(rand() * 40), 120, trial % 2 === 0);
    const dense = randomList(rand, 1 + Math.floor(rand() * 200), 120, trial % 3 === 0);
    const limit = 1 + Math.floor(rand() * 15);
    for (const make of [rrf, score]) {
      // w = 0: the lexical order (equal lexical scores keep their lexical rank), then dense-only items in dense order.
      const only = dense.filter((d) => !lex.some((l) => l.id === d.id)).map((d) => d.id);
      assert.deepEqual(ids(fuseHybrid(lex, dense, limit, make(0))), [...ids(lex), ...only].slice(0, limit));
      // w = 1: the dense order, as long as the dense side may bring in at least `limit` of its own (a short
      // dense list is followed by the lexical-only items in lexical order).
      const lexOnly = lex.filter((l) => !dense.some((d) => d.id === l.id)).map((l) => l.id);
      assert.deepEqual(ids(fuseHybrid(lex, dense, limit, make(1, { denseOnly: limit }))), [...ids(dense), ...lexOnly].slice(0, limit));
    }
  }
});

test('weighted RRF: exact scores (1 - w)/(k + rank) + w/(k + rank), both-sides bonus', () => {
  const lex = [{ id: 1, score: 9 }, { id: 2, score: 8 }, { id: 3, score: 7 }];
  const dense = [{ id: 3, score: 0.9 }, { id: 4, score: 0.8 }];
  const fused = fuseHybrid(lex, dense, 10, rrf(0.25, { rrfK: 10 }));
  const by = new Map(fused.map((r) => [r.id, r.score]));
  assert.ok(Math.abs(by.get(1)! - 0.75 / 11) < 1e-15);
  assert.ok(Math.abs(by.get(2)! - 0.75 / 12) < 1e-15);
  assert.ok(Math.abs(by.get(3)! - (0.75 / 13 + 0.25 / 11)) < 1e-15);
  assert.ok(Math.abs(by.get(4)! - 0.25 / 12) < 1e-15);
  assert.deepEqual(ids(fused), [3, 1, 2, 4]); // 0.0804, 0.0682, 0.0625, 0.0208
  // k = 60 flattens the lexical ranks: 0.9/61 for lexical #1 < 0.9/63 + 0.1/61 for lexical #3 that dense liked.
  assert.deepEqual(ids(fuseHybrid(lex, dense, 10, rrf(0.1))), [3, 1, 2, 4]);
  // k = 1 makes the lexical ranks decisive at the same weight (0.45, 0.3, 0.275); the dense-only item stays last.
  assert.deepEqual(ids(fuseHybrid(lex, dense, 10, rrf(0.1, { rrfK: 1 }))), [1, 2, 3, 4]);
});

test('weighted score fusion: per-list min-max, (1 - w)·lexical + w·dense, missing side counts 0', () => {
  const lex = [{ id: 1, score: 10 }, { id: 2, score: 6 }, { id: 3, score: 2 }]; // → 1, 0.5, 0
  const dense = [{ id: 3, score: 0.9 }, { id: 4, score: 0.5 }, { id: 5, score: 0.4 }]; // → 1, 0.2, 0
  const fused = fuseHybrid(lex, dense, 10, score(0.3));
  const by = new Map(fused.map((r) => [r.id, r.score]));
  assert.ok(Math.abs(by.get(1)! - 0.7) < 1e-12);
  assert.ok(Math.abs(by.get(2)! - 0.35) < 1e-12);
  assert.ok(Math.abs(by.get(3)! - 0.3) < 1e-12);
  assert.ok(Math.abs(by.get(4)! - 0.06) < 1e-12);
  assert.equal(by.get(5), 0);
  assert.deepEqual(ids(fused), [1, 2, 3, 4, 5]);
  // A list of one (or all-equal scores) counts fully instead of dividing by zero.
  assert.deepEqual(fuseHybrid([{ id: 9, score: 3 }], [], 5, score(0.4)), [{ id: 9, score: 0.6 }]);
  assert.deepEqual(fuseHybrid([], [], 5, score(0.4)), []);
});

test('denseOnly caps the dense-only candidates; the deeper dense list still re-scores lexical ones', () => {
  const lex = [{ id: 1, score: 5 }, { id: 2, score: 4.999 }];
  // id 2 is far down the dense list, id 1 not in it at all; ids 10..14 only dense found.
  const dense = [10, 11, 12, 13, 14].map((id, i) => ({ id, score: 1 - i / 100 })).concat([{ id: 2, score: 0.1 }]);
  assert.deepEqual(ids(fuseHybrid(lex, dense, 10, rrf(0.3, { denseOnly: 0 }))), [2, 1], 'dense rank 6 lifts lexical #2 over #1');
  assert.deepEqual(ids(fuseHybrid(lex, dense, 10, score(0.3, { denseOnly: 0 }))), [1, 2], 'min-max: the last dense item adds 0');
  const two = ids(fuseHybrid(lex, dense, 10, rrf(0.3, { denseOnly: 2 })));
  assert.deepEqual([...two].sort((a, b) => a - b), [1, 2, 10, 11]);
  assert.equal(fuseHybrid(lex, dense, 10, rrf(0.3, { denseOnly: Infinity })).length, 7);
});

test('ties on the fused score go by the heavier side\'s rank (lexical at equal weights), never by id', () => {
  // id 7 is lexical #1, id 4 dense #1, nothing else: equal fused score at w = 0.5.
  const lex = [{ id: 7, score: 1 }];
  const dense = [{ id: 4, score: 1 }];
  const even = fuseHybrid(lex, dense, 10, rrf(0.5));
  assert.equal(even[0]!.score, even[1]!.score);
  assert.deepEqual(ids(even), [7, 4]);
  assert.deepEqual(ids(fuseHybrid(lex, dense, 10, score(0.5))), [7, 4]);
  // Same lists with string keys: the same order (the CLI's eval-fusion fuses hits keyed by path and lines).
  assert.deepEqual(ids(fuseHybrid([{ id: 'b', score: 1 }], [{ id: 'a', score: 1 }], 10, rrf(0.5))), ['b', 'a']);
  // The limit cuts after sorting.
  const many = Array.from({ length: 30 }, (_, i) => ({ id: i, score: 30 - i }));
  assert.deepEqual(ids(fuseHybrid(many, [...many].reverse(), 3, rrf(0.2))), [0, 1, 2]);
});

test('resolveFusion: defaults, legacy method names, overrides, and rejected values', () => {
  assert.deepEqual(resolveFusion(), { ...HYBRID_DEFAULTS });
  assert.deepEqual(resolveFusion('score'), { ...HYBRID_DEFAULTS, method: 'score' });
  assert.deepEqual(resolveFusion({ denseWeight: 0.7, rrfK: undefined }), { ...HYBRID_DEFAULTS, denseWeight: 0.7 });
  assert.throws(() => resolveFusion({ denseWeight: 1.5 }), /dense weight/);
  assert.throws(() => resolveFusion({ denseWeight: Number.NaN }), /dense weight/);
  assert.throws(() => resolveFusion({ rrfK: 0 }), /RRF k/);
  assert.throws(() => resolveFusion({ denseOnly: -1 }), /denseOnly/);
  assert.throws(() => resolveFusion({ method: 'max' as 'rrf' }), /rrf or score/);
  assert.ok(HYBRID_DEFAULTS.denseWeight >= 0 && HYBRID_DEFAULTS.denseWeight <= 1 && Object.isFrozen(HYBRID_DEFAULTS));
});

test('the engine asks each side at hybridDepths(limit) and returns fuseHybrid of the two lists', async () => {
  const rand = mulberry32(3);
  const lexList = randomList(rand, 200, 500);
  const denseList = randomList(rand, 500, 500);
  const asked: Record<string, number> = {};
  const fake = (mode: 'lexical' | 'dense', list: RankedChunk[]): Ranker =>
    ({ mode, rank: async (_q: string, limit: number) => { asked[mode] = limit; return list.slice(0, limit); } });
  const store = { chunksByIds: (ids: readonly number[]) => new Map(ids.map((id) => [id, { id, path: `f${id}.ts`, startLine: id, endLine: id, kind: 'function', snippet: '' }])) };
  const setting: Partial<FusionSettings> = { method: 'score', denseWeight: 0.2, denseOnly: 5 };
  const engine = new SearchEngine(store as unknown as IndexStore, setting);
  engine.register(fake('lexical', lexList));
  engine.register(fake('dense', denseList));
  const hits = await engine.search('q', { mode: 'hybrid', limit: 10 });
  assert.deepEqual(asked, { lexical: 10 * LEXICAL_DEPTH_FACTOR, dense: DENSE_DEPTH });
  assert.deepEqual(hybridDepths(100), { lexical: 100 * LEXICAL_DEPTH_FACTOR, dense: Math.max(DENSE_DEPTH, 100 * LEXICAL_DEPTH_FACTOR) });
  const want = fuseHybrid(lexList.slice(0, 40), denseList.slice(0, DENSE_DEPTH), 10, resolveFusion(setting));
  assert.deepEqual(hits.map((h) => h.startLine), ids(want));
  assert.throws(() => new SearchEngine(store as unknown as IndexStore, { denseWeight: 2 }), /dense weight/);
});

test('a fused chunk keeps the member of the side that gave it more of its score', () => {
  // chunk 1: lexical first (member 2), dense last (member 0); chunk 2: lexical last (member 1), dense first (member 3)
  const lex: Ranked<number>[] = [{ id: 1, score: 9, member: 2 }, { id: 3, score: 5 }, { id: 2, score: 1, member: 1 }];
  const dense: Ranked<number>[] = [{ id: 2, score: 0.9, member: 3 }, { id: 3, score: 0.5 }, { id: 1, score: 0.1, member: 0 }];
  const byId = (l: Ranked<number>[]) => new Map(l.map((r) => [r.id, r]));
  const half = byId(fuseHybrid(lex, dense, 10, score(0.5)));
  assert.equal(half.get(1)!.member, 2, 'lexical part 0.5 against dense 0: the lexical member');
  assert.equal(half.get(2)!.member, 3, 'dense part 0.5 against lexical 0: the dense member');
  assert.ok(!('member' in half.get(3)!), 'no member on either side: none');
  // one side only: its member, whatever the weights
  const lexOnly = fuseHybrid([{ id: 5, score: 1, member: 4 }], [], 10, score(0.9));
  assert.deepEqual(lexOnly.map((r) => [r.id, r.member]), [[5, 4]]);
});
