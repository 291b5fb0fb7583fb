// Seeded random block choice shared by the Python trainer/exporter, the runtime and kernels/reference (CONTRACT.md).
// The random pattern is an *input* of the graphs, so both sides must draw exactly the same blocks.
import { candidateBlocks, isGlobalBlock } from './layout.js';

/** mulberry32: a 32-bit state PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * rand_blocks for every (layer, head, query block): Int32Array [L, H, nb, r].
 * One generator per (layer, head), seeded with seed + 1000003·l + 7919·h; rows i = 0..nb-1 in order; each
 * non-global row draws r blocks by a partial Fisher–Yates shuffle of its ascending candidate list (blocks outside
 * the window and outside the global blocks). Global rows hold -1 and draw nothing. A row with fewer than r
 * candidates (tiny nb, tests only) is padded with -1.
 */
export function randomBlocks(seed: number, L: number, H: number, nb: number,
  window: number, global: number, r: number): Int32Array {
  const out = new Int32Array(L * H * nb * r).fill(-1); // [L, H, nb, r]
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const rand = mulberry32(seed + 1000003 * l + 7919 * h);
      for (let i = 0; i < nb; i++) {
        if (isGlobalBlock(i, nb, global)) continue;
        const cand = candidateBlocks(i, nb, window, global);
        const take = Math.min(r, cand.length);
        for (let j = 0; j < take; j++) {
          const k = j + Math.floor(rand() * (cand.length - j));
          const tmp = cand[j]!; cand[j] = cand[k]!; cand[k] = tmp;
          out[((l * H + h) * nb + i) * r + j] = cand[j]!;
        }
      }
    }
  }
  return out;
}
