// Float16 ↔ float32 for fp16 graphs (Node 20 has no Float16Array; onnxruntime takes Uint16Array bits).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    f32[0] = x[i]!;
    const b = u32[0]!, sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff, man = b & 0x7fffff;
    if (exp === 0xff) { out[i] = sign | 0x7c00 | (man ? 0x200 : 0); continue; }
    const e = exp - 127 + 15;
    if (e >= 0x1f) { out[i] = sign | 0x7c00; continue; }            // overflow → ±inf
    if (e <= 0) {                                                     // subnormal or zero
      out[i] = sign | Math.round(Math.abs(x[i]!) * 2 ** 24); // units of the smallest subnormal, 2^-24
      continue;
    }
    const rounded = (e << 10 | man >>> 13) + (((man & 0x1fff) > 0x1000 || ((man & 0x1fff) === 0x1000 && (man >>> 13) & 1)) ? 1 : 0);
    out[i] = sign | rounded;
  }
  return out;
}

export function fromHalf(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i]!, sign = v & 0x8000 ? -1 : 1, exp = (v >>> 10) & 0x1f, man = v & 0x3ff;
    out[i] = exp === 0 ? sign * man * 2 ** -24 : exp === 0x1f ? (man ? NaN : sign * Infinity)
      : sign * (1 + man / 1024) * 2 ** (exp - 15);
  }
  return out;
}
