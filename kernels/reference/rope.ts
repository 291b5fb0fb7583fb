// Rotary position embedding (base 10000) with positions 0..T-1 inside a segment.
// 'half' pairs dimension i with i + D/2 (rotate-half, GPT-NeoX/LLaMA form); 'interleaved' pairs 2i with 2i+1.

export type RopeStyle = 'half' | 'interleaved';
/** 'float32' rounds the angle table as PyTorch builds it (float32 even in a float64 model). */
export type RopeTable = 'float64' | 'float32';

/** Returns a rotated copy of x [T, D]. */
export function rope(x: Float64Array, T: number, D: number, base = 10000, style: RopeStyle = 'half',
  table: RopeTable = 'float64'): Float64Array {
  const r = table === 'float32' ? Math.fround : (v: number) => v;
  const y = new Float64Array(T * D); // [T, D]
  const half = D / 2;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const theta = r(t * r(Math.pow(base, (-2 * i) / D)));
      const c = r(Math.cos(theta)), s = r(Math.sin(theta));
      const [a, b] = style === 'half' ? [i, i + half] : [2 * i, 2 * i + 1];
      const xa = x[t * D + a]!, xb = x[t * D + b]!;
      y[t * D + a] = xa * c - xb * s;
      y[t * D + b] = xb * c + xa * s;
    }
  }
  return y;
}
