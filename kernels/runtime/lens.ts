// The attention lens for one segment of one file: sparse attention probabilities, gates and the memory read.
// The lens graph is run over segments 0..s in order (its mem_out feeds the next mem_in), keeping σ(k) of the
// earlier segments so `recall` can say which past tokens the memory read of a token draws on:
// w[t] = σ(q)·σ(k_t) / (σ(q)·z + ε) (exact for the linear rule; CONTRACT.md).
// σ(k) is kept for the last RECALL_SEGMENTS past segments only (bounded memory however deep the cursor is);
// the memory read itself (M, z) still covers every earlier segment, and `total` says which share of it the
// kept tokens explain.
import * as ort from 'onnxruntime-node';
import { MEMORY_EPS } from '../reference/memory.js';
import { floats, type EncoderSession } from './session.js';
import { docStream, type DocStream } from './segments.js';
import { tokenRanges, type TokenRange } from './tokenizer.js';

/** Past segments whose σ(k) is kept for recall: 32 × 1,024 tokens × (L·Hkv·64) floats ≈ 67 MB for the shipped model. */
export const RECALL_SEGMENTS = 32;

/** Which segment to show: by index, or the one holding the token that covers a UTF-16 offset of the text. */
export type LensTarget = number | { offset: number };

export interface LensResult {
  segment: number;
  /** With an offset target: index inside the segment of the token covering the offset (or preceding it). */
  cursorToken?: number;
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
  private pastStart = 0;                 // stream index of the first kept past token

  constructor(private readonly session: EncoderSession) {}

  async run(text: string, target: LensTarget): Promise<LensResult> {
    const c = this.session.info.config, T = c.seg_len, L = c.n_layers, Hkv = c.n_kv_heads, D = c.d_head;
    const doc = docStream(this.session.tokenizer.encode(text));
    const nSeg = Math.ceil(doc.ids.length / T);
    const cursor = typeof target === 'number' ? undefined : streamTokenAt(doc, target.offset);
    const segment = cursor === undefined ? (target as number) : Math.floor(cursor / T);
    if (!Number.isInteger(segment) || segment < 0 || segment >= nSeg) throw new Error(`segment ${segment} out of range 0..${nSeg - 1}`);
    this.doc = doc;
    this.ranges = [{ startLine: 0, startColumn: 0, endLine: 0, endColumn: 0 }, ...tokenRanges(text, {
      ids: doc.ids.subarray(1), starts: doc.starts.subarray(1), ends: doc.ends.subarray(1) })];
    let mem = new Float32Array(L * Hkv * D * D), z = new Float32Array(L * Hkv * D);
    // Segments before the last one are full, so the kept past holds exactly (segment − first kept)·T tokens.
    const firstKept = Math.max(0, segment - RECALL_SEGMENTS);
    this.pastStart = firstKept * T;
    this.nPast = (segment - firstKept) * T;
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
      if (s < segment && s >= firstKept) {
        const sk = floats(out.sigma_k!); // [L, Hkv, T, 64]
        for (let l = 0; l < L; l++) for (let g = 0; g < Hkv; g++) {
          this.pastSk[l]!.set(sk.subarray(((l * Hkv + g) * T) * D, ((l * Hkv + g) * T + n) * D), (g * this.nPast + (s - firstKept) * T) * D);
        }
      }
      if (s < segment) {
        mem = floats(out.mem_out!).slice(); z = floats(out.z_out!).slice();
      }
    }
    this.sigmaQ = floats(out.sigma_q!).slice();
    const n = Math.min(T, doc.ids.length - segment * T), nb = T / c.block, K = c.window + c.global + c.random;
    return {
      segment, ...(cursor === undefined ? {} : { cursorToken: cursor - segment * T }), segments: nSeg, firstToken: segment * T,
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
    const sk = this.pastSk[layer]!;
    // Top-k by a small sorted buffer: O(N·log k) instead of sorting all N past tokens per layer×head.
    const top = new TopK(topK);
    let total = 0;
    for (let t = 0; t < this.nPast; t++) {
      let s = 0;
      for (let a = 0; a < D; a++) s += sq[a]! * sk[(g * this.nPast + t) * D + a]!;
      const w = s / den;
      total += w;
      top.offer(this.pastStart + t, w);
    }
    return { total, tokens: top.items().map(({ index, weight }) => ({ index, weight, range: this.ranges[index]! })) };
  }
}

/** The k heaviest (index, weight) pairs seen, heaviest first; ties keep the earlier index. */
class TopK {
  private readonly idx: number[] = [];
  private readonly w: number[] = [];
  constructor(private readonly k: number) {}
  offer(index: number, weight: number): void {
    if (this.k <= 0 || (this.w.length === this.k && weight <= this.w[this.k - 1]!)) return;
    let lo = 0, hi = this.w.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.w[mid]! >= weight) lo = mid + 1; else hi = mid; }
    this.w.splice(lo, 0, weight); this.idx.splice(lo, 0, index);
    if (this.w.length > this.k) { this.w.pop(); this.idx.pop(); }
  }
  items(): { index: number; weight: number }[] { return this.idx.map((index, i) => ({ index, weight: this.w[i]! })); }
}

/** Stream index (0 = <doc>) of the text token covering `offset`, or the last one starting before it. */
function streamTokenAt(doc: DocStream, offset: number): number {
  let lo = 1, hi = doc.ids.length - 1, best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (doc.starts[mid]! <= offset) { best = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return best === 0 && doc.ids.length > 1 ? 1 : best;
}
