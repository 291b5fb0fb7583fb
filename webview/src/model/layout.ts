// The block-sparse layout of one segment for one (layer, head), as the lens graph computed it (BigBird, ITC
// form). Every cell (query block i, key block j) is classified from key_blocks, so the picture shows what the
// kernel actually did, not what the config promises.
import type { LensConfig } from '../protocol.js';

export type BlockKind = 'window' | 'global' | 'random' | 'dense' | 'skipped';

export interface LayoutCounts {
  /** Query·key scores the kernel computed (valid tokens only). */
  computed: number;
  /** Scores dense attention would have computed on top. */
  skipped: number;
  /** computed + skipped = valid² */
  total: number;
}

export const blockCount = (c: LensConfig): number => Math.ceil(c.segLen / c.block);

/** Global blocks: the first ceil(g/2) and the last floor(g/2) blocks (g = 2 → blocks 0 and nb-1, as in the contract). */
export function globalBlocks(c: LensConfig): Set<number> {
  const nb = blockCount(c);
  const set = new Set<number>();
  const head = Math.ceil(c.global / 2);
  for (let i = 0; i < head && i < nb; i++) set.add(i);
  for (let i = 0; i < c.global - head; i++) set.add(nb - 1 - i);
  return set;
}

/** kinds[i][j] for one head: rows of global blocks see everything; other rows see the blocks in their key_blocks row. */
export function classifyBlocks(c: LensConfig, keyBlocks: number[][] | undefined, dense: boolean): BlockKind[][] {
  const nb = blockCount(c);
  const globals = globalBlocks(c);
  const half = Math.floor((c.window - 1) / 2);
  const kinds: BlockKind[][] = [];
  for (let i = 0; i < nb; i++) {
    const row: BlockKind[] = new Array<BlockKind>(nb).fill(dense ? 'dense' : 'skipped');
    if (!dense) {
      const attended = globals.has(i) ? row.map((_, j) => j) : (keyBlocks?.[i] ?? []).filter((j) => j >= 0 && j < nb);
      for (const j of attended) row[j] = globals.has(i) || globals.has(j) ? 'global' : Math.abs(i - j) <= half ? 'window' : 'random';
    }
    kinds.push(row);
  }
  return kinds;
}

/** Valid tokens in block j when the segment holds `valid` tokens (the last segment of a file is padded). */
const validIn = (j: number, b: number, valid: number): number => Math.max(0, Math.min(b, valid - j * b));

export function countScores(c: LensConfig, kinds: BlockKind[][], valid: number): LayoutCounts {
  let computed = 0;
  kinds.forEach((row, i) => row.forEach((k, j) => {
    if (k !== 'skipped') computed += validIn(i, c.block, valid) * validIn(j, c.block, valid);
  }));
  const total = valid * valid;
  return { computed, skipped: total - computed, total };
}

/** Which query block a token sits in. */
export const blockOf = (c: LensConfig, token: number): number => Math.floor(token / c.block);
