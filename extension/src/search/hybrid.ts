// Hybrid search: fuses the lexical (FTS5 bm25) and the dense (encoder) ranking of one query, with a weight per
// side. The dense side is much weaker than lexical with the current encoders (docs/search.md), so equal weights
// let it push good lexical hits down; a weight and a cap on the candidates only the dense side found keep it to
// re-ordering what lexical found, plus a few semantic finds.
//
// The fusion is a pure function of the two ranked lists (best first). Ties on the fused score go by the rank on
// the heavier side, then on the other side, so the order never depends on the ids: the CLI's fusion grid
// (`eval-fusion`) fuses hit lists of lexical and dense searches and gets exactly what hybrid search returns.

/** One ranked item: `id` (a chunk id, or any key) and a ranker-specific score, higher is better; `member`: the
 * member of a packed chunk that decided the score, if the ranker knows it. */
export interface Ranked<K> {
  id: K;
  score: number;
  member?: number;
}

export type FusionMethod = 'rrf' | 'score';

export interface FusionSettings {
  /**
   * 'rrf': weighted reciprocal rank, (1 − w)/(k + lexical rank) + w/(k + dense rank), ranks from 1;
   * 'score': each side's scores min–max scaled to [0, 1] over its own list, then (1 − w)·lexical + w·dense.
   * A side that did not rank an item adds 0 for it.
   */
  method: FusionMethod;
  /** w, the dense side's weight in [0, 1]; lexical gets 1 − w. 0 gives lexical order exactly, 1 dense order. */
  denseWeight: number;
  /** k of reciprocal-rank fusion (method 'rrf'): larger flattens the gap between ranks. */
  rrfK: number;
  /**
   * Candidates: every item of the lexical list, and from the dense list only its best `denseOnly` that lexical
   * did not find. The rest of the (deeper) dense list still scores the lexical candidates. Infinity: all.
   */
  denseOnly: number;
}

/** Hybrid, how hybrid or a legacy method name ('rrf' | 'score': that method with the other defaults). */
export type Fusion = FusionMethod | Partial<FusionSettings>;

/**
 * The defaults, in one place (the CLI overrides them with --fusion, --dense-weight, --rrf-k, --dense-only).
 * Chosen on the VAL set (kernels/train/data/val_set.json: nltk, luxon, zod, xorg-server hw/, 354 queries; never
 * on dev) by `node scripts/tune-fusion.mjs`: the best MRR@10 of 30 settings among those whose R@1, R@10 and
 * MRR@10 are each at least the better of lexical and dense alone. Val R@1 / R@10 / MRR@10, model run 15
 * (packed chunks scored by their best member):
 *   lexical                          0.410 / 0.757 / 0.518
 *   dense                            0.305 / 0.602 / 0.400
 *   w = 0.3 (the run-9 choice)       0.463 / 0.782 / 0.577
 *   these defaults (w = 0.5)         0.461 / 0.791 / 0.578
 * (Run 14 chose w = 0.5 too, 0.567; run 9 w = 0.3 with dense 0.293, run 4 w = 0.2.) So: the dense side re-orders the lexical top
 * candidates with half the weight. Table and caveats in docs/search.md ("Fusion tuned on the val set"); re-run
 * the script when kernels/model changes.
 */
export const HYBRID_DEFAULTS: Readonly<FusionSettings> = Object.freeze({
  method: 'score',
  denseWeight: 0.5,
  rrfK: 60,
  denseOnly: 0,
});

/** How deep each side is asked: lexical `limit × LEXICAL_DEPTH_FACTOR`, dense at least DENSE_DEPTH (a deeper
 *  dense list gives more lexical candidates a dense score; the dot-product scan costs the same either way). */
export const LEXICAL_DEPTH_FACTOR = 4;
export const DENSE_DEPTH = 200;

export function hybridDepths(limit: number): { lexical: number; dense: number } {
  const lexical = Math.max(1, Math.floor(limit)) * LEXICAL_DEPTH_FACTOR;
  return { lexical, dense: Math.max(lexical, DENSE_DEPTH) };
}

/** Defaults overlaid with `fusion`; throws on weights outside [0, 1], k ≤ 0 or a negative denseOnly. */
export function resolveFusion(fusion?: Fusion): FusionSettings {
  const s: FusionSettings = typeof fusion === 'string'
    ? { ...HYBRID_DEFAULTS, method: fusion }
    : { ...HYBRID_DEFAULTS, ...Object.fromEntries(Object.entries(fusion ?? {}).filter(([, v]) => v !== undefined)) };
  if (s.method !== 'rrf' && s.method !== 'score') throw new Error(`fusion method must be rrf or score, got '${String(s.method)}'`);
  if (!(s.denseWeight >= 0 && s.denseWeight <= 1)) throw new Error(`dense weight must be in [0, 1], got ${s.denseWeight}`);
  if (!(s.rrfK > 0) || !Number.isFinite(s.rrfK)) throw new Error(`RRF k must be a positive number, got ${s.rrfK}`);
  if (!(s.denseOnly >= 0)) throw new Error(`denseOnly must be ≥ 0 (Infinity for all), got ${s.denseOnly}`);
  return s;
}

/** Fuses a lexical and a dense ranking (each best first, ids unique within a list) into the best `limit`. */
export function fuseHybrid<K>(lexical: readonly Ranked<K>[], dense: readonly Ranked<K>[], limit: number, settings: FusionSettings): Ranked<K>[] {
  const w = settings.denseWeight;
  const lexRank = new Map<K, number>();
  lexical.forEach((r, i) => { if (!lexRank.has(r.id)) lexRank.set(r.id, i); });
  const denseRank = new Map<K, number>();
  dense.forEach((r, i) => { if (!denseRank.has(r.id)) denseRank.set(r.id, i); });

  const candidates: K[] = [...lexRank.keys()];
  for (const [id, i] of denseRank) if (i < settings.denseOnly && !lexRank.has(id)) candidates.push(id);

  const part = (list: readonly Ranked<K>[], ranks: Map<K, number>, weight: number): ((id: K) => number) => {
    if (weight === 0) return () => 0;
    if (settings.method === 'rrf') {
      return (id) => { const i = ranks.get(id); return i === undefined ? 0 : weight / (settings.rrfK + i + 1); };
    }
    let lo = Infinity, hi = -Infinity;
    for (const r of list) { lo = Math.min(lo, r.score); hi = Math.max(hi, r.score); }
    return (id) => {
      const i = ranks.get(id);
      if (i === undefined) return 0;
      return weight * (hi > lo ? (list[i]!.score - lo) / (hi - lo) : 1); // one item, or all equal: counts fully
    };
  };
  const lexPart = part(lexical, lexRank, 1 - w);
  const densePart = part(dense, denseRank, w);

  // Ties: the heavier side's rank decides (lexical when the weights are equal), then the other side's.
  const [first, second] = w > 0.5 ? [denseRank, lexRank] : [lexRank, denseRank];
  const byRank = (m: Map<K, number>, a: K, b: K) => {
    const ra = m.get(a) ?? Infinity, rb = m.get(b) ?? Infinity;
    return ra === rb ? 0 : ra - rb;
  };
  // The member shown for a packed chunk is the one of the side that gave it more of its fused score.
  const memberOf = (list: readonly Ranked<K>[], ranks: Map<K, number>, id: K) => { const i = ranks.get(id); return i === undefined ? undefined : list[i]!.member; };
  const fused = (id: K): Ranked<K> => {
    const l = lexPart(id), d = densePart(id);
    const member = l >= d ? memberOf(lexical, lexRank, id) ?? memberOf(dense, denseRank, id) : memberOf(dense, denseRank, id) ?? memberOf(lexical, lexRank, id);
    return member === undefined ? { id, score: l + d } : { id, score: l + d, member };
  };
  return candidates
    .map(fused)
    .sort((a, b) => b.score - a.score || byRank(first, a.id, b.id) || byRank(second, a.id, b.id))
    .slice(0, Math.max(0, limit));
}
