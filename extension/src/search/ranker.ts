// The seam between the query engine and the ways of ranking chunks. Lexical (FTS5 bm25) ships now; a dense
// ranker (the encoder) plugs in through the same interface, and hybrid fuses any two of them.
import type { SearchMode } from '../core/api.js';

/** One ranked chunk: the store's chunk id and a ranker-specific score (higher is better). */
export interface RankedChunk {
  id: number;
  score: number;
}

export interface Ranker {
  readonly mode: Exclude<SearchMode, 'hybrid'>;
  /** Best first, at most `limit`. */
  rank(query: string, limit: number): Promise<RankedChunk[]>;
}

/** Reciprocal-rank fusion: robust to the two rankers' scores living on different scales. */
export function reciprocalRankFusion(lists: readonly RankedChunk[][], limit: number, k = 60): RankedChunk[] {
  const fused = new Map<number, number>();
  for (const list of lists) {
    list.forEach((r, rank) => fused.set(r.id, (fused.get(r.id) ?? 0) + 1 / (k + rank + 1)));
  }
  return [...fused.entries()]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, limit);
}

/**
 * Normalised score fusion: each list's scores are min–max scaled to [0, 1] over its own candidates, a chunk
 * missing from a list gets 0 there, and the two are averaged with equal weight. Unlike RRF it keeps how far
 * apart the scores are, not only their order.
 */
export function normalizedScoreFusion(lists: readonly RankedChunk[][], limit: number): RankedChunk[] {
  const fused = new Map<number, number>();
  for (const list of lists) {
    if (list.length === 0) continue;
    let lo = Infinity, hi = -Infinity;
    for (const r of list) { lo = Math.min(lo, r.score); hi = Math.max(hi, r.score); }
    for (const r of list) {
      const s = hi > lo ? (r.score - lo) / (hi - lo) : 1; // one candidate, or all equal: each counts fully
      fused.set(r.id, (fused.get(r.id) ?? 0) + s / lists.length);
    }
  }
  return [...fused.entries()]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, limit);
}

// Hybrid search fuses with the weighted two-sided fusion in hybrid.ts (the functions above are the equal-weight forms).
export type { Fusion } from './hybrid.js';
