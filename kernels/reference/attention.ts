// Local attention of one head inside one segment: block-sparse (gather form, what the graphs compute) and dense
// with a materialised T×T mask (the naive form the tests compare against). Padding keys are always masked.
import { blockMask, isGlobalBlock, keyBlocks, type SparseConfig } from '../runtime/layout.js';
import { dot, maskedSoftmax } from './tensor.js';

export interface HeadInputs {
  q: Float64Array;      // [T, D] (RoPE already applied)
  k: Float64Array;      // [T, D] (RoPE already applied)
  v: Float64Array;      // [T, D]
  valid: ArrayLike<number>; // [T] 1 = real token, 0 = padding
  T: number;
  D: number;
}

export interface SparseResult {
  out: Float64Array;        // [T, D]
  probs: Float64Array;      // [nb, b, K·b] probabilities over the gathered key slots (0 on empty slots)
  keyBlocks: Int32Array;    // [nb, K] (-1 = empty); global rows are all -1 (see globalProbs)
  globalProbs: Float64Array; // [nGlobal·b, T] rows of the global query blocks over all keys
}

/** Dense fallback threshold (CONTRACT `dense_below`): fewer valid tokens than (w+g+r)·b → dense. */
export function usesDense(nValid: number, cfg: SparseConfig): boolean {
  return nValid < (cfg.window + cfg.global + cfg.random) * cfg.block;
}

/**
 * Key-block slots the graphs use [nb, K]: the sparse layout, or — for a short segment (dense fallback) —
 * blocks 0..K-1 for every non-global row, which then hold every valid key, so the gather form is dense.
 * Global rows are all -1 (they attend to every key).
 */
export function effectiveKeyBlocks(nb: number, cfg: SparseConfig, randHead: ArrayLike<number>, nValid: number): Int32Array {
  const K = cfg.window + cfg.global + cfg.random;
  const kb = new Int32Array(nb * K).fill(-1); // [nb, K]
  const dense = usesDense(nValid, cfg);
  for (let i = 0; i < nb; i++) {
    if (isGlobalBlock(i, nb, cfg.global)) continue;
    if (dense) { for (let s = 0; s < K; s++) kb[i * K + s] = s < nb ? s : -1; continue; }
    kb.set(keyBlocks(i, nb, cfg, Array.from({ length: cfg.random }, (_, t) => randHead[i * cfg.random + t] ?? -1)), i * K);
  }
  return kb;
}

/**
 * Block-sparse attention, gather form: each query block gathers only its K key blocks. randHead: [nb, r].
 * Short segments take the dense fallback (see effectiveKeyBlocks), as the graphs do.
 */
export function blockSparseAttention(x: HeadInputs, cfg: SparseConfig, randHead: ArrayLike<number>): SparseResult {
  const { q, k, v, valid, T, D } = x;
  const b = cfg.block, nb = T / b, K = cfg.window + cfg.global + cfg.random;
  if (!Number.isInteger(nb)) throw new Error(`segment length ${T} is not a multiple of block ${b}`);
  const allSlots = effectiveKeyBlocks(nb, cfg, randHead, countValid(valid, T));
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(T * D);                       // [T, D]
  const probs = new Float64Array(nb * b * K * b);            // [nb, b, K·b]
  const kb = new Int32Array(nb * K).fill(-1);                // [nb, K]
  const globalRows: number[] = [];
  for (let i = 0; i < nb; i++) if (isGlobalBlock(i, nb, cfg.global)) globalRows.push(i);
  const globalProbs = new Float64Array(globalRows.length * b * T); // [nGlobal·b, T]

  for (let i = 0; i < nb; i++) {
    if (isGlobalBlock(i, nb, cfg.global)) {
      const g = globalRows.indexOf(i);
      for (let r = 0; r < b; r++) {
        const t = i * b + r;
        const row = globalProbs.subarray((g * b + r) * T, (g * b + r + 1) * T); // [T]
        for (let j = 0; j < T; j++) row[j] = dot(q, t * D, k, j * D, D) * scale;
        maskedSoftmax(row, (j) => valid[j] === 1);
        accumulate(out, t, row, (j) => j, v, D);
      }
      continue;
    }
    const slots = allSlots.subarray(i * K, (i + 1) * K);
    kb.set(slots, i * K);
    const keyOf = (c: number) => slots[Math.floor(c / b)]! * b + (c % b); // gathered column → key token
    for (let r = 0; r < b; r++) {
      const t = i * b + r;
      const row = probs.subarray((i * b + r) * K * b, (i * b + r + 1) * K * b); // [K·b]
      for (let c = 0; c < K * b; c++) row[c] = slots[Math.floor(c / b)]! < 0 ? 0 : dot(q, t * D, k, keyOf(c) * D, D) * scale;
      maskedSoftmax(row, (c) => slots[Math.floor(c / b)]! >= 0 && valid[keyOf(c)] === 1);
      accumulate(out, t, row, keyOf, v, D);
    }
  }
  return { out, probs, keyBlocks: kb, globalProbs };
}

/** Naive form: softmax over a materialised [T, T] mask (block mask ∧ valid keys). */
export function denseMaskedAttention(x: HeadInputs, mask: Uint8Array): Float64Array {
  const { q, k, v, valid, T, D } = x;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(T * D); // [T, D]
  const row = new Float64Array(T);     // [T]
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < T; j++) row[j] = dot(q, t * D, k, j * D, D) * scale;
    maskedSoftmax(row, (j) => mask[t * T + j] === 1 && valid[j] === 1);
    accumulate(out, t, row, (j) => j, v, D);
  }
  return out;
}

/**
 * Token-level [T, T] mask of the layout: all ones when dense; with nValid, the layout the graphs use for a
 * segment of that many valid tokens (sparse, or its dense fallback).
 */
export function materialiseMask(T: number, cfg: SparseConfig, randHead: ArrayLike<number>, dense = false, nValid = T): Uint8Array {
  const mask = new Uint8Array(T * T); // [T, T]
  if (dense) return mask.fill(1);
  const b = cfg.block, nb = T / b, K = cfg.window + cfg.global + cfg.random;
  const bm = blockMask(nb, cfg, randHead); // [nb, nb]
  if (usesDense(nValid, cfg)) {
    const kb = effectiveKeyBlocks(nb, cfg, randHead, nValid);
    for (let i = 0; i < nb; i++) if (!isGlobalBlock(i, nb, cfg.global)) {
      bm.fill(0, i * nb, (i + 1) * nb);
      for (let s = 0; s < K; s++) if (kb[i * K + s]! >= 0) bm[i * nb + kb[i * K + s]!] = 1;
    }
  }
  for (let t = 0; t < T; t++) for (let j = 0; j < T; j++) mask[t * T + j] = bm[Math.floor(t / b) * nb + Math.floor(j / b)]!;
  return mask;
}

/** Local attention as the encoder uses it: dense below the threshold (logged by the caller), sparse otherwise. */
export function localAttention(x: HeadInputs, cfg: SparseConfig, randHead: ArrayLike<number>): Float64Array {
  return usesDense(countValid(x.valid, x.T), cfg) ? denseMaskedAttention(x, materialiseMask(x.T, cfg, randHead, true))
    : blockSparseAttention(x, cfg, randHead).out;
}

function countValid(valid: ArrayLike<number>, T: number): number {
  let n = 0;
  for (let t = 0; t < T; t++) n += valid[t] === 1 ? 1 : 0;
  return n;
}

function accumulate(out: Float64Array, t: number, p: Float64Array, keyOf: (c: number) => number,
  v: Float64Array, D: number): void {
  for (let c = 0; c < p.length; c++) {
    const w = p[c]!;
    if (w === 0) continue;
    const j = keyOf(c);
    for (let d = 0; d < D; d++) out[t * D + d]! += w * v[j * D + d]!;
  }
}
