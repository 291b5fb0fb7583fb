// Shared helpers for kernel tests: fresh random inputs (seeded from the clock unless TEST_SEED is set, and
// printed so a failure can be replayed) and relative-error measures.
import { mulberry32 } from '../../../kernels/runtime/random.js';

export function freshSeed(label: string): number {
  const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  console.log(`# ${label}: seed ${seed}`);
  return seed;
}

export function randn(seed: number): () => number {
  const rand = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function randArray(n: number, next: () => number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => next() * scale);
}

/** max |a − b| / max(max |b|, tiny): relative to the reference's scale, so near-zero entries don't blow up. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

export function hasNaN(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return true;
  return false;
}

export function validPrefix(T: number, n: number): Uint8Array {
  const v = new Uint8Array(T);
  v.fill(1, 0, Math.min(n, T));
  return v;
}
