// The int8 embedding matrix shared by the store (which fills it from the vectors table) and the dense ranker
// (which scores against it): one row per vector, a float scale per row.

/** Chunk ids and their embeddings, row i belonging to ids[i]; the rows of one chunk are adjacent. Row i is
 * `scale[i] * q[i*dim .. (i+1)*dim)`. */
export interface EmbeddingMatrix {
  ids: Int32Array;
  q: Int8Array; // [n, dim]
  scale: Float32Array; // [n]
  dim: number;
}

/** Symmetric per-row int8 quantisation of `vecs` ([n, dim]) into `q` / `scale` at row offset `at` (rows). */
export function quantizeRows(vecs: Float32Array, dim: number, q: Int8Array, scale: Float32Array, at = 0): void {
  const n = vecs.length / dim;
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(vecs[r * dim + d]!));
    const s = max > 0 ? max / 127 : 1;
    scale[at + r] = s;
    for (let d = 0; d < dim; d++) q[(at + r) * dim + d] = Math.round(vecs[r * dim + d]! / s);
  }
}
