// Dense ranking over a search space: the vector index (vectorIndex.ts, usearch: exact int8 scan or HNSW) where
// its addon loads, else the exact JS scan below, which stays as the reference the index is measured against.
//
// The JS scan: brute-force dot product of the query embedding against every stored chunk embedding, held in
// memory as one int8 matrix with a float scale per row (a quarter of float32: a packed chunk has a row per
// member, ~2.5 rows a chunk, so a 100k-chunk workspace holds ~64 MB instead of ~256 MB). Rows are L2-normalised
// before quantising, so the dot product is the cosine up to the rounding (≤ scale/2 per component). A chunk packed from several
// small symbols has one row per member, and scores as its best member (max over its rows): one vector of a
// whole group averages unrelated functions (on the val set, dense MRR@10 0.195 with one vector a chunk, 0.296 by
// the best member; docs/search.md). At 15k–100k chunks × 256 dims this is 4–26 M multiply-adds a query (a few
// ms to ~30 ms in JS), simpler and exact compared with an ANN index.
import { quantizeRows, type EmbeddingMatrix } from '../core/embeddingMatrix.js';
import type { RankedChunk, Ranker } from './ranker.js';

/** Where dense ranking looks: the best `limit` chunks for a query vector, minus excluded ids, best first. */
export interface DenseSpace {
  search(query: Float32Array, limit: number, exclude?: ReadonlySet<number>): RankedChunk[];
}

/** The exact JS scan as a DenseSpace (the fallback where usearch does not load). */
export const matrixSpace = (m: EmbeddingMatrix): DenseSpace => ({ search: (q, limit, exclude) => topKByDot(m, q, limit, exclude) });

/** How many candidate chunks the vector index proposes for each result the exact scan then ranks. */
export const RERANK_FACTOR = 4;

/**
 * The vector index proposes, the exact scan decides: the index's best RERANK_FACTOR × limit (+ 30) chunks are
 * scored again exactly as topKByDot scores them (the stored vectors of just those chunks, `vectorsOf`), so the
 * int8 rounding of the query inside the index never reorders results; only a chunk the index did not propose
 * can be missed. On the dev set the index alone moved dense MRR@10 by -0.0028 (0.4418 -> 0.4390, docs/scale.md).
 */
export function rerankedSpace(index: DenseSpace, vectorsOf: (ids: number[]) => Map<number, Float32Array>): DenseSpace {
  return {
    search(q, limit, exclude) {
      const k = Math.max(0, Math.floor(limit));
      if (k === 0) return [];
      const cands = index.search(q, k * RERANK_FACTOR + 30, exclude);
      const vecs = vectorsOf(cands.map((c) => c.id));
      const dim = q.length;
      let rows = 0;
      for (const v of vecs.values()) rows += v.length / dim;
      const m: EmbeddingMatrix = { ids: new Int32Array(rows), q: new Int8Array(rows * dim), scale: new Float32Array(rows), dim };
      let r = 0;
      for (const [id, v] of vecs) { // a chunk's rows stay adjacent, as topKByDot needs
        const n = v.length / dim;
        m.ids.fill(id, r, r + n);
        quantizeRows(v, dim, m.q, m.scale, r);
        r += n;
      }
      return topKByDot(m, q, k, exclude);
    },
  };
}

export class DenseRanker implements Ranker {
  readonly mode = 'dense' as const;

  /** `space` is asked on every query so newly stored embeddings are seen; cache it on the caller's side. */
  constructor(private readonly space: () => DenseSpace, private readonly embedQuery: (query: string) => Promise<Float32Array>) {}

  async rank(query: string, limit: number): Promise<RankedChunk[]> {
    if (query.trim() === '') return [];
    const q = await this.embedQuery(query);
    return this.space().search(q, limit);
  }

  /** Ranking for a vector already in hand (Find Similar Code embeds a selection), minus excluded chunk ids. */
  rankVector(vector: Float32Array, limit: number, exclude?: ReadonlySet<number>): RankedChunk[] {
    return this.space().search(vector, limit, exclude);
  }
}

/** The `limit` chunks with the highest dot product with `q` (a chunk of several rows: its best row, whose index
 * is the result's `member`), best first; equal scores go by ascending id. */
export function topKByDot(m: EmbeddingMatrix, q: Float32Array, limit: number, exclude?: ReadonlySet<number>): RankedChunk[] {
  const { ids, q: rows, scale, dim } = m;
  if (q.length !== dim) throw new Error(`query embedding has ${q.length} dims, the index ${dim}`);
  const k = Math.max(0, Math.floor(limit));
  // A sorted list of the best k so far (k is small: a result page); a new row enters only if it beats the worst.
  const best: RankedChunk[] = [];
  const better = (a: RankedChunk, b: RankedChunk) => a.score > b.score || (a.score === b.score && a.id < b.id);
  if (k === 0) return best;
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r]!;
    if (exclude?.has(id)) continue;
    let s = -Infinity, bestRow = r;
    const first = r;
    for (; ; r++) { // this chunk's rows: the best one counts
      let t = 0;
      const o = r * dim;
      for (let d = 0; d < dim; d++) t += rows[o + d]! * q[d]!;
      t *= scale[r]!;
      if (t > s) { s = t; bestRow = r; }
      if (r + 1 >= ids.length || ids[r + 1] !== id) break;
    }
    const cand: RankedChunk = r > first ? { id, score: s, member: bestRow - first } : { id, score: s };
    if (best.length === k && !better(cand, best[k - 1]!)) continue;
    let i = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push(cand);
    while (i > 0 && better(cand, best[i - 1]!)) { best[i] = best[i - 1]!; i--; }
    best[i] = cand;
  }
  return best;
}
