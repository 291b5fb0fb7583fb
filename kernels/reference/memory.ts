// Infini-attention compressive memory of one kv head: M [Dk, Dv], z [Dk], σ = ELU + 1 (always > 0).
// Linear rule: the memory before segment s is an exclusive prefix sum of per-segment contributions σ(K)ᵀV, so
// all segments can be computed in parallel; delta rule subtracts what the memory already predicts for V.

import { MEMORY_EPS } from '../runtime/memoryRead.js';

export { MEMORY_EPS };

export function elu1(x: number): number {
  return x > 0 ? x + 1 : Math.exp(x);
}

export function sigma(x: Float64Array): Float64Array {
  return x.map(elu1);
}

export interface HeadMemory {
  M: Float64Array; // [Dk, Dv]
  z: Float64Array; // [Dk]
}

export function emptyMemory(Dk: number, Dv: number): HeadMemory {
  return { M: new Float64Array(Dk * Dv), z: new Float64Array(Dk) };
}

/** Σ over valid t of σ(k_t)ᵀ v_t and σ(k_t): the linear-rule contribution of one segment. sk: σ(k) [T, Dk]. */
export function linearContribution(sk: Float64Array, v: Float64Array, valid: ArrayLike<number>,
  T: number, Dk: number, Dv: number): HeadMemory {
  const c = emptyMemory(Dk, Dv);
  for (let t = 0; t < T; t++) {
    if (valid[t] !== 1) continue;
    for (let a = 0; a < Dk; a++) {
      const ska = sk[t * Dk + a]!;
      c.z[a]! += ska;
      for (let d = 0; d < Dv; d++) c.M[a * Dv + d]! += ska * v[t * Dv + d]!;
    }
  }
  return c;
}

/** Linear rule: M += σ(K)ᵀV, z += Σσ(K) (in place). */
export function updateLinear(mem: HeadMemory, sk: Float64Array, v: Float64Array, valid: ArrayLike<number>,
  T: number, Dk: number, Dv: number): void {
  addInto(mem, linearContribution(sk, v, valid, T, Dk, Dv));
}

/** Delta rule: M += σ(K)ᵀ(V − σ(K)M/(σ(K)z + ε)), z += Σσ(K) (in place; the retrieval uses the old M, z). */
export function updateDelta(mem: HeadMemory, sk: Float64Array, v: Float64Array, valid: ArrayLike<number>,
  T: number, Dk: number, Dv: number): void {
  const predicted = read(mem, sk, T, Dk, Dv); // [T, Dv]
  const resid = new Float64Array(T * Dv);     // [T, Dv]
  for (let i = 0; i < resid.length; i++) resid[i] = v[i]! - predicted[i]!;
  addInto(mem, linearContribution(sk, resid, valid, T, Dk, Dv));
}

/** A_mem = σ(q)M / (σ(q)z + ε): sq [T, Dk] → [T, Dv]. Exactly 0 for an empty memory (a file's first segment). */
export function read(mem: HeadMemory, sq: Float64Array, T: number, Dk: number, Dv: number): Float64Array {
  const out = new Float64Array(T * Dv); // [T, Dv]
  for (let t = 0; t < T; t++) {
    let den = MEMORY_EPS;
    for (let a = 0; a < Dk; a++) den += sq[t * Dk + a]! * mem.z[a]!;
    for (let a = 0; a < Dk; a++) {
      const w = sq[t * Dk + a]! / den;
      if (w === 0) continue;
      for (let d = 0; d < Dv; d++) out[t * Dv + d]! += w * mem.M[a * Dv + d]!;
    }
  }
  return out;
}

/** A = sig(β)·A_mem + (1 − sig(β))·A_local. */
export function gateMix(beta: number, aMem: Float64Array, aLocal: Float64Array): Float64Array {
  const g = 1 / (1 + Math.exp(-beta));
  return aMem.map((m, i) => g * m + (1 - g) * aLocal[i]!);
}

/**
 * How much each past token t contributes to the memory read of each query (linear rule, exact):
 * w[q, t] = σ(q)·σ(k_t) / (σ(q)·z + ε), with A_mem[q] = Σ_t w[q, t] v_t. sq [T, Dk], pastSk [N, Dk] → [T, N].
 */
export function readAttribution(sq: Float64Array, pastSk: Float64Array, z: Float64Array,
  T: number, N: number, Dk: number): Float64Array {
  const w = new Float64Array(T * N); // [T, N]
  for (let q = 0; q < T; q++) {
    let den = MEMORY_EPS;
    for (let a = 0; a < Dk; a++) den += sq[q * Dk + a]! * z[a]!;
    for (let t = 0; t < N; t++) {
      let s = 0;
      for (let a = 0; a < Dk; a++) s += sq[q * Dk + a]! * pastSk[t * Dk + a]!;
      w[q * N + t] = s / den;
    }
  }
  return w;
}

/** Exclusive prefix sum of per-segment contributions: memory before each segment (segment-parallel form). */
export function prefixMemories(contribs: HeadMemory[], start?: HeadMemory): HeadMemory[] {
  const Dk = contribs[0]?.z.length ?? start?.z.length ?? 0;
  const Dv = Dk === 0 ? 0 : (contribs[0]?.M.length ?? start!.M.length) / Dk;
  const running = start ? { M: start.M.slice(), z: start.z.slice() } : emptyMemory(Dk, Dv);
  return contribs.map((c) => {
    const before = { M: running.M.slice(), z: running.z.slice() };
    addInto(running, c);
    return before;
  });
}

export function addInto(dst: HeadMemory, src: HeadMemory, sign = 1): void {
  for (let i = 0; i < dst.M.length; i++) dst.M[i]! += sign * src.M[i]!;
  for (let i = 0; i < dst.z.length; i++) dst.z[i]! += sign * src.z[i]!;
}
