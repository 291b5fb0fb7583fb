// The attention lens for one segment of one file: sparse attention probabilities, gates and the memory read.
// The lens graph is run over segments 0..s in order (its mem_out feeds the next mem_in), keeping σ(k) of the
// earlier segments so `recall` can say which past tokens the memory read of a token draws on:
// w[t] = σ(q)·σ(k_t) / (σ(q)·z + ε) (exact for the linear rule; CONTRACT.md).
import * as ort from 'onnxruntime-node';
import { MEMORY_EPS } from '../reference/memory.js';
import { floats, type EncoderSession } from './session.js';
import { docStream, type DocStream } from './segments.js';
import { tokenRanges, type TokenRange } from './tokenizer.js';

export interface LensResult {
  segment: number;
  segments: number;              // how many segments the file has
  firstToken: number;            // stream index of this segment's token 0 (stream index 0 is <doc>)
  tokenIds: Int32Array;          // [n] this segment's valid tokens
  ranges: TokenRange[];          // [n] their source ranges (0-based lines, UTF-16 columns)
  dense: boolean;                // attended densely (fewer valid tokens than dense_below)
  probs: Float32Array;           // [L, H, nb, b, K·b]
  keyBlocks: Int32Array;         // [L, H, nb, K] (-1 = empty slot)
  globalProbs: Float32Array;     // [L, H, global·b, T]
  gates: Float32Array;           // [L, H] sigmoid(β)
  shape: { L: number; H: number; Hkv: number; nb: number; b: number; K: number; T: number; global: number };
}

export interface RecallResult {
  tokens: { index: number; weight: number; range: TokenRange }[]; // past tokens, largest weight first
  total: number; // Σ of all weights (≈ 1 when the memory is not empty, 0 at the first segment)
}

export class LensState {
  private doc?: DocStream;
  private ranges: TokenRange[] = [];
  private pastSk: Float32Array[] = [];   // per layer: [Hkv, N, 64] σ(k) of the valid past tokens
  private zBefore?: Float32Array;        // [L, Hkv, 64]
  private sigmaQ?: Float32Array;         // [L, H, T, 64]
  private nPast = 0;

  constructor(private readonly session: EncoderSession) {}

  async run(text: string, segment: number): Promise<LensResult> {
    const c = this.session.info.config, T = c.seg_len, L = c.n_layers, Hkv = c.n_kv_heads, D = c.d_head;
    const doc = docStream(this.session.tokenizer.encode(text));
    const nSeg = Math.ceil(doc.ids.length / T);
    if (!Number.isInteger(segment) || segment < 0 || segment >= nSeg) throw new Error(`segment ${segment} out of range 0..${nSeg - 1}`);
    this.doc = doc;
    this.ranges = [{ startLine: 0, startColumn: 0, endLine: 0, endColumn: 0 }, ...tokenRanges(text, {
      ids: doc.ids.subarray(1), starts: doc.starts.subarray(1), ends: doc.ends.subarray(1) })];
    let mem = new Float32Array(L * Hkv * D * D), z = new Float32Array(L * Hkv * D);
    // Segments before the last one are full, so the past holds exactly segment·T tokens.
    this.nPast = segment * T;
    this.pastSk = Array.from({ length: L }, () => new Float32Array(Hkv * this.nPast * D)); // [Hkv, N, D] per layer
    let out: Record<string, ort.Tensor> = {};
    for (let s = 0; s <= segment; s++) {
      const ids = new BigInt64Array(T), valid = new Float32Array(T);
      const n = Math.min(T, doc.ids.length - s * T);
      for (let t = 0; t < n; t++) { ids[t] = BigInt(doc.ids[s * T + t]!); valid[t] = 1; }
      if (s === segment) this.zBefore = z;
      out = await this.session.run('lens', {
        input_ids: new ort.Tensor('int64', ids, [1, T]), valid: new ort.Tensor('float32', valid, [1, T]),
        rand_blocks: this.session.randBlocks,
        mem_in: new ort.Tensor('float32', mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', z, [L, Hkv, D]),
      });
      if (s < segment) {
        const sk = floats(out.sigma_k!); // [L, Hkv, T, 64]
        for (let l = 0; l < L; l++) for (let g = 0; g < Hkv; g++) {
          this.pastSk[l]!.set(sk.subarray(((l * Hkv + g) * T) * D, ((l * Hkv + g) * T + n) * D), (g * this.nPast + s * T) * D);
        }
        mem = floats(out.mem_out!).slice(); z = floats(out.z_out!).slice();
      }
    }
    this.sigmaQ = floats(out.sigma_q!).slice();
    const n = Math.min(T, doc.ids.length - segment * T), nb = T / c.block, K = c.window + c.global + c.random;
    return {
      segment, segments: nSeg, firstToken: segment * T,
      tokenIds: doc.ids.slice(segment * T, segment * T + n), ranges: this.ranges.slice(segment * T, segment * T + n),
      dense: n < K * c.block,
      probs: floats(out.probs!).slice(), keyBlocks: Int32Array.from(out.key_blocks!.data as BigInt64Array, Number),
      globalProbs: floats(out.global_probs!).slice(), gates: floats(out.gates!).slice(),
      shape: { L, H: c.n_heads, Hkv, nb, b: c.block, K, T, global: c.global },
    };
  }

  /** The past tokens the memory read of `token` (index inside the segment) weighs most, in layer/head. */
  recall(layer: number, head: number, token: number, topK: number): RecallResult {
    const c = this.session.info.config, T = c.seg_len, D = c.d_head, H = c.n_heads, Hkv = c.n_kv_heads;
    if (!this.sigmaQ || !this.zBefore) throw new Error('no lens state');
    if (layer < 0 || layer >= c.n_layers || head < 0 || head >= H || token < 0 || token >= T) throw new Error('recall: index out of range');
    const g = Math.floor(head / (H / Hkv));
    const sq = this.sigmaQ.subarray(((layer * H + head) * T + token) * D, ((layer * H + head) * T + token + 1) * D);
    const z = this.zBefore.subarray((layer * Hkv + g) * D, (layer * Hkv + g + 1) * D);
    let den = MEMORY_EPS;
    for (let a = 0; a < D; a++) den += sq[a]! * z[a]!;
    const sk = this.pastSk[layer]!, w = new Float64Array(this.nPast);
    let total = 0;
    for (let t = 0; t < this.nPast; t++) {
      let s = 0;
      for (let a = 0; a < D; a++) s += sq[a]! * sk[(g * this.nPast + t) * D + a]!;
      w[t] = s / den; total += w[t]!;
    }
    const order = Array.from(w.keys()).sort((a, b) => w[b]! - w[a]!).slice(0, topK);
    return { total, tokens: order.map((t) => ({ index: t, weight: w[t]!, range: this.ranges[t]! })) };
  }
}
