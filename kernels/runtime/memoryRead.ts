// The memory read's attribution as the product computes it (lens graph outputs → which past tokens a query draws
// on). kernels/reference/memory.ts keeps its own float64 version as the oracle the unit tests hold this against.

/** ε in the memory read's denominator σ(q)·z + ε, the same constant the graphs use (CONTRACT.md). */
export const MEMORY_EPS = 1e-6;

/**
 * Weights of one query over N past keys under the linear rule: w[t] = σ(q)·σ(k_t) / (σ(q)·z + ε).
 * sq [Dk], pastSk [N, Dk], z [Dk] → [N].
 */
export function readWeights(sq: ArrayLike<number>, pastSk: ArrayLike<number>, z: ArrayLike<number>,
  N: number, Dk: number): Float64Array {
  let den = MEMORY_EPS;
  for (let a = 0; a < Dk; a++) den += sq[a]! * z[a]!;
  const w = new Float64Array(N); // [N]
  for (let t = 0; t < N; t++) {
    let s = 0;
    for (let a = 0; a < Dk; a++) s += sq[a]! * pastSk[t * Dk + a]!;
    w[t] = s / den;
  }
  return w;
}
