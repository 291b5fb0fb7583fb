// The whole encoder in float64, following CONTRACT.md, so golden fixtures of the ONNX graphs can be checked
// against an independent implementation. Pre-LayerNorm blocks: x += Wo·A(LN1 x); x += FFN(LN2 x).
import { localAttention, usesDense } from './attention.js';
import { addInto, emptyMemory, gateMix, linearContribution, read, sigma, updateDelta, type HeadMemory } from './memory.js';
import { rope, type RopeStyle, type RopeTable } from './rope.js';
import { geluTanh, headSlice, layerNorm, matmul } from './tensor.js';
import { mulberry32 } from '../runtime/random.js';

export interface EncoderConfig {
  vocab: number; d_model: number; n_layers: number; n_heads: number; n_kv_heads: number; d_head: number;
  d_ff: number; seg_len: number; block: number; window: number; global: number; random: number;
  memory_rule: 'linear' | 'delta'; mem_proj?: boolean; emb_dim: number; rope_base?: number; rope_style?: RopeStyle; rope_table?: RopeTable;
}

export interface Norm { g: Float64Array; b: Float64Array } // [d], [d]
export interface LayerWeights {
  ln1: Norm;
  wqkv: Float64Array;  // [d, (H + 2·Hkv)·Dh]: q heads, then k heads, then v heads
  bqkv?: Float64Array; // [(H + 2·Hkv)·Dh]
  wqkvM?: Float64Array; // [d, (H + 2·Hkv)·Dh]: the memory's own q, k, v heads (cfg.mem_proj; no RoPE)
  wo: Float64Array;    // [H·Dh, d]
  bo?: Float64Array;   // [d]
  beta: Float64Array;  // [H] gate logits
  ln2: Norm;
  w1: Float64Array; b1?: Float64Array; // [d, d_ff], [d_ff]
  w2: Float64Array; b2?: Float64Array; // [d_ff, d], [d]
}
export interface EncoderWeights {
  tokEmb: Float64Array; // [V, d]
  layers: LayerWeights[];
  lnf: Norm;
  we: Float64Array; be?: Float64Array; // [d, emb_dim], [emb_dim]
}

export interface EncoderInputs {
  ids: ArrayLike<number>;    // [S, T]
  valid: ArrayLike<number>;  // [S, T]
  segDoc: ArrayLike<number>; // [S] contiguous doc index, starting at 0
  randBlocks: Int32Array;    // [L, H, nb, r]
  memIn?: Float64Array;      // [L, Hkv, Dk, Dv] memory carried into doc 0
  zIn?: Float64Array;        // [L, Hkv, Dk]
}
export interface EncoderOutputs {
  emb: Float64Array;    // [S, T, E]
  memOut: Float64Array; // [L, Hkv, Dk, Dv] after the last segment of the last doc
  zOut: Float64Array;   // [L, Hkv, Dk]
  memSum: Float64Array; // [L, Hkv, Dk, Dv] Σ over all segments of σ(k)ᵀv (mem_in excluded)
  zSum: Float64Array;   // [L, Hkv, Dk]
  denseSegments: number[]; // segments attended densely (short), for logging
}

export function encoderForward(cfg: EncoderConfig, w: EncoderWeights, inp: EncoderInputs): EncoderOutputs {
  const { d_model: d, n_layers: L, n_heads: H, n_kv_heads: Hkv, d_head: Dh, seg_len: T } = cfg;
  const S = inp.segDoc.length, nb = T / cfg.block, r = cfg.random, gqa = H / Hkv;
  const memSize = Dh * Dh;
  const out: EncoderOutputs = {
    emb: new Float64Array(S * T * cfg.emb_dim), memOut: new Float64Array(L * Hkv * memSize),
    zOut: new Float64Array(L * Hkv * Dh), memSum: new Float64Array(L * Hkv * memSize),
    zSum: new Float64Array(L * Hkv * Dh), denseSegments: [],
  };
  // Residual stream of every segment: x[s] [T, d]
  const x = Array.from({ length: S }, (_, s) => {
    const xs = new Float64Array(T * d); // [T, d]
    for (let t = 0; t < T; t++) xs.set(w.tokEmb.subarray(inp.ids[s * T + t]! * d, (inp.ids[s * T + t]! + 1) * d), t * d);
    return xs;
  });
  for (let s = 0; s < S; s++) {
    let n = 0;
    for (let t = 0; t < T; t++) n += inp.valid[s * T + t] === 1 ? 1 : 0;
    if (usesDense(n, cfg)) out.denseSegments.push(s);
  }

  for (let l = 0; l < L; l++) {
    const lw = w.layers[l]!;
    // One memory per kv head, reset at every doc start (doc 0 starts from mem_in).
    let mem: HeadMemory[] = [];
    for (let s = 0; s < S; s++) {
      const valid = Array.prototype.slice.call(inp.valid, s * T, (s + 1) * T) as number[];
      if (s === 0 || inp.segDoc[s] !== inp.segDoc[s - 1]) mem = startMemory(cfg, l, inp.segDoc[s] === 0 ? inp : undefined);
      const h = layerNorm(x[s]!, T, d, lw.ln1.g, lw.ln1.b);                 // [T, d]
      const qkv = matmul(h, lw.wqkv, T, d, (H + 2 * Hkv) * Dh, lw.bqkv);     // [T, (H+2Hkv)·Dh]
      const nAll = H + 2 * Hkv;
      const kvHeads = (m: Float64Array, first: number) => Array.from({ length: Hkv }, (_, g) => headSlice(m, T, nAll, Dh, first + g));
      const ks = kvHeads(qkv, H), vs = kvHeads(qkv, H + Hkv);                 // [T, Dh] each
      // The memory reads and writes through the same q/k/v, or through its own projections (mem_proj).
      const qkvM = cfg.mem_proj ? matmul(h, need(lw.wqkvM, 'wqkvM'), T, d, nAll * Dh) : qkv;
      const vms = cfg.mem_proj ? kvHeads(qkvM, H + Hkv) : vs;
      const sks = (cfg.mem_proj ? kvHeads(qkvM, H) : ks).map(sigma);         // [T, Dh]
      const attn = new Float64Array(T * H * Dh);                             // [T, H·Dh]
      for (let hq = 0; hq < H; hq++) {
        const g = Math.floor(hq / gqa);
        const q = headSlice(qkv, T, nAll, Dh, hq);                           // [T, Dh]
        const local = localAttention({
          q: rope(q, T, Dh, cfg.rope_base, cfg.rope_style, cfg.rope_table), k: rope(ks[g]!, T, Dh, cfg.rope_base, cfg.rope_style, cfg.rope_table),
          v: vs[g]!, valid, T, D: Dh,
        }, cfg, inp.randBlocks.subarray(((l * H + hq) * nb) * r, ((l * H + hq + 1) * nb) * r));
        const aMem = read(mem[g]!, sigma(cfg.mem_proj ? headSlice(qkvM, T, nAll, Dh, hq) : q), T, Dh, Dh); // [T, Dh]
        const a = gateMix(lw.beta[hq]!, aMem, local);                        // [T, Dh]
        for (let t = 0; t < T; t++) attn.set(a.subarray(t * Dh, (t + 1) * Dh), t * H * Dh + hq * Dh);
      }
      for (let g = 0; g < Hkv; g++) {
        const c = linearContribution(sks[g]!, vms[g]!, valid, T, Dh, Dh);
        addAt(out.memSum, out.zSum, l * Hkv + g, c, Dh);
        if (cfg.memory_rule === 'delta') updateDelta(mem[g]!, sks[g]!, vms[g]!, valid, T, Dh, Dh);
        else addInto(mem[g]!, c);
      }
      const proj = matmul(attn, lw.wo, T, H * Dh, d, lw.bo);                 // [T, d]
      const xs = x[s]!;
      for (let i = 0; i < xs.length; i++) xs[i]! += proj[i]!;
      const h2 = layerNorm(xs, T, d, lw.ln2.g, lw.ln2.b);                    // [T, d]
      const f = matmul(h2, lw.w1, T, d, cfg.d_ff, lw.b1).map(geluTanh);      // [T, d_ff]
      const f2 = matmul(f, lw.w2, T, cfg.d_ff, d, lw.b2);                    // [T, d]
      for (let i = 0; i < xs.length; i++) xs[i]! += f2[i]!;
      if (s === S - 1) for (let g = 0; g < Hkv; g++) setAt(out.memOut, out.zOut, l * Hkv + g, mem[g]!, Dh);
    }
  }
  for (let s = 0; s < S; s++) {
    const hf = layerNorm(x[s]!, T, d, w.lnf.g, w.lnf.b);                     // [T, d]
    out.emb.set(matmul(hf, w.we, T, d, cfg.emb_dim, w.be), s * T * cfg.emb_dim); // [T, E]
  }
  return out;
}

function need(w: Float64Array | undefined, name: string): Float64Array {
  if (!w) throw new Error(`encoder weights lack ${name}, which the config asks for`);
  return w;
}

function startMemory(cfg: EncoderConfig, l: number, inp?: EncoderInputs): HeadMemory[] {
  const Dh = cfg.d_head;
  return Array.from({ length: cfg.n_kv_heads }, (_, g) => {
    const m = emptyMemory(Dh, Dh);
    const i = l * cfg.n_kv_heads + g;
    if (inp?.memIn) m.M.set(inp.memIn.subarray(i * Dh * Dh, (i + 1) * Dh * Dh));
    if (inp?.zIn) m.z.set(inp.zIn.subarray(i * Dh, (i + 1) * Dh));
    return m;
  });
}

function addAt(M: Float64Array, z: Float64Array, i: number, c: HeadMemory, Dh: number): void {
  for (let j = 0; j < Dh * Dh; j++) M[i * Dh * Dh + j]! += c.M[j]!;
  for (let j = 0; j < Dh; j++) z[i * Dh + j]! += c.z[j]!;
}
function setAt(M: Float64Array, z: Float64Array, i: number, c: HeadMemory, Dh: number): void {
  M.set(c.M, i * Dh * Dh);
  z.set(c.z, i * Dh);
}

/** Small random weights for tests (normal(0, scale) via Box–Muller on mulberry32). */
export function randomWeights(cfg: EncoderConfig, seed: number, scale = 0.1): EncoderWeights {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const t = (n: number, s = scale) => Float64Array.from({ length: n }, () => normal() * s);
  const ones = (n: number) => new Float64Array(n).fill(1);
  const { d_model: d, n_heads: H, n_kv_heads: Hkv, d_head: Dh, d_ff } = cfg;
  return {
    tokEmb: t(cfg.vocab * d, 1),
    layers: Array.from({ length: cfg.n_layers }, () => ({
      ln1: { g: ones(d), b: t(d) }, wqkv: t(d * (H + 2 * Hkv) * Dh), bqkv: t((H + 2 * Hkv) * Dh),
      wo: t(H * Dh * d), bo: t(d), beta: t(H, 1), ...(cfg.mem_proj ? { wqkvM: t(d * (H + 2 * Hkv) * Dh) } : {}),
      ln2: { g: ones(d), b: t(d) }, w1: t(d * d_ff), b1: t(d_ff), w2: t(d_ff * d), b2: t(d),
    })),
    lnf: { g: ones(d), b: t(d) }, we: t(d * cfg.emb_dim), be: t(cfg.emb_dim),
  };
}
