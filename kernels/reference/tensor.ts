// Small float64 linear-algebra helpers over flat row-major Float64Arrays. Readable, not fast.

/** C = A·B (+ bias): A [m, k], B [k, n] → C [m, n]. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number,
  bias?: Float64Array): Float64Array {
  const c = new Float64Array(m * n); // [m, n]
  for (let i = 0; i < m; i++) {
    const row = c.subarray(i * n, (i + 1) * n);
    if (bias) row.set(bias);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      if (av === 0) continue;
      const brow = p * n;
      for (let j = 0; j < n; j++) row[j]! += av * b[brow + j]!;
    }
  }
  return c;
}

/** LayerNorm over the last axis: x [rows, d]. */
export function layerNorm(x: Float64Array, rows: number, d: number, gamma: Float64Array,
  beta: Float64Array, eps = 1e-5): Float64Array {
  const y = new Float64Array(rows * d); // [rows, d]
  for (let r = 0; r < rows; r++) {
    let mean = 0, varc = 0;
    for (let j = 0; j < d; j++) mean += x[r * d + j]!;
    mean /= d;
    for (let j = 0; j < d; j++) { const t = x[r * d + j]! - mean; varc += t * t; }
    const inv = 1 / Math.sqrt(varc / d + eps);
    for (let j = 0; j < d; j++) y[r * d + j] = (x[r * d + j]! - mean) * inv * gamma[j]! + beta[j]!;
  }
  return y;
}

/** GELU, tanh form (PyTorch approximate='tanh'). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** Numerically stable softmax of row[0..n) in place over entries where keep(j); others become 0. */
export function maskedSoftmax(row: Float64Array, keep: (j: number) => boolean): void {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (keep(j) && row[j]! > max) max = row[j]!;
  let sum = 0;
  for (let j = 0; j < row.length; j++) {
    const e = keep(j) ? Math.exp(row[j]! - max) : 0;
    row[j] = e; sum += e;
  }
  // A row with no key left (cannot happen for valid layouts: block 0 is global and token 0 is valid) stays 0.
  if (sum > 0) for (let j = 0; j < row.length; j++) row[j]! /= sum;
}

export function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, n: number): number {
  let s = 0;
  for (let t = 0; t < n; t++) s += a[ai + t]! * b[bi + t]!;
  return s;
}

/** Slice head h out of x [T, nH·D] → [T, D]. */
export function headSlice(x: Float64Array, T: number, nH: number, D: number, h: number): Float64Array {
  const out = new Float64Array(T * D); // [T, D]
  for (let t = 0; t < T; t++) out.set(x.subarray(t * nH * D + h * D, t * nH * D + (h + 1) * D), t * D);
  return out;
}

export function l2Normalise(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return n > 0 ? v.map((x) => x / n) : v.slice();
}
