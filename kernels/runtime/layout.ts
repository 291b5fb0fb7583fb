// The BigBird (ITC) block layout of one segment: which key blocks each query block attends to.
// Query block i sees its window (i-⌊w/2⌋ .. i+⌊w/2⌋, clipped), the global blocks and r random blocks; global
// query blocks see every key. Slots are ordered window, global, random (the lens graph's `key_blocks` order);
// out-of-range slots and repeats of an earlier slot are -1 (empty).

export interface SparseConfig {
  block: number;   // b: tokens per block
  window: number;  // w: odd number of neighbouring blocks, centred on the query block
  global: number;  // g: first ⌈g/2⌉ and last ⌊g/2⌋ blocks are global
  random: number;  // r: random key blocks per non-global query block
}

export function isGlobalBlock(i: number, nb: number, global: number): boolean {
  const head = Math.ceil(global / 2), tail = Math.floor(global / 2);
  return i < head || i >= nb - tail;
}

export function globalBlocks(nb: number, global: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < nb; i++) if (isGlobalBlock(i, nb, global)) out.push(i);
  return out;
}

export function inWindow(i: number, j: number, window: number): boolean {
  return Math.abs(i - j) <= Math.floor(window / 2);
}

/** Ascending blocks that row i may draw at random: outside its window, not global. */
export function candidateBlocks(i: number, nb: number, window: number, global: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < nb; j++) if (!inWindow(i, j, window) && !isGlobalBlock(j, nb, global)) out.push(j);
  return out;
}

/** Key-block slots of query block i: Int32Array [K], K = w + g + r, -1 = empty slot. */
export function keyBlocks(i: number, nb: number, cfg: SparseConfig, randRow: ArrayLike<number>): Int32Array {
  const K = cfg.window + cfg.global + cfg.random;
  const slots = new Int32Array(K).fill(-1);
  const seen = new Set<number>();
  let s = 0;
  const put = (j: number) => {
    if (j >= 0 && j < nb && !seen.has(j)) { slots[s] = j; seen.add(j); }
    s++;
  };
  const half = Math.floor(cfg.window / 2);
  for (let d = -half; d <= half; d++) put(i + d);
  for (const j of globalBlocks(nb, cfg.global)) put(j);
  for (let t = 0; t < cfg.random; t++) put(randRow[t] ?? -1);
  return slots;
}

/** The block mask [nb, nb] (1 = query block i attends to key block j) for one head. */
export function blockMask(nb: number, cfg: SparseConfig, randHead: ArrayLike<number>): Uint8Array {
  const mask = new Uint8Array(nb * nb); // [nb, nb]
  for (let i = 0; i < nb; i++) {
    if (isGlobalBlock(i, nb, cfg.global)) { mask.fill(1, i * nb, (i + 1) * nb); continue; }
    const row = Array.from({ length: cfg.random }, (_, t) => randHead[i * cfg.random + t] ?? -1);
    for (const j of keyBlocks(i, nb, cfg, row)) if (j >= 0) mask[i * nb + j] = 1;
  }
  return mask;
}

export interface LayoutCounts {
  computed: number;  // query·key scores evaluated for one head of one segment
  skipped: number;   // scores a dense T×T attention would evaluate on top
  density: number;   // computed / T²
}

export function layoutCounts(nb: number, cfg: SparseConfig, randHead: ArrayLike<number>): LayoutCounts {
  const mask = blockMask(nb, cfg, randHead);
  const b2 = cfg.block * cfg.block;
  let computed = 0;
  for (const m of mask) computed += m * b2;
  const total = nb * nb * b2;
  return { computed, skipped: total - computed, density: computed / total };
}
