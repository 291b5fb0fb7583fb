// The attention lens for one segment of one file: sparse attention probabilities, gates and the memory read.
// The memory before the cursor's segment s comes from lensMemory.ts (encoder graph over the distant past, lens
// graph over the last RECALL_SEGMENTS segments, cached per file version); the lens graph then runs on s itself.
// σ(k) of the window's segments lets `recall` say which past tokens the memory read of a token draws on:
// w[t] = σ(q)·σ(k_t) / (σ(q)·z + ε) (exact for the linear rule; CONTRACT.md). The memory read itself (M, z)
// covers every earlier segment, and `total` says which share of it the kept tokens explain.
import { MEMORY_EPS } from './memoryRead.js';
import { floats, type EncoderSession } from './session.js';
import { docStream, type DocStream } from './segments.js';
import { LensMemory, type LensMemoryOptions, type LensWork } from './lensMemory.js';
import { LineIndex } from './lines.js';
import type { TokenRange } from './tokenizer.js';

/** Past segments whose σ(k) is kept for recall: 32 × 1,024 tokens × (L·Hkv·64) floats ≈ 67 MB for the shipped model. */
export const RECALL_SEGMENTS = 32;
/** The memory before every 16th segment is kept per file version (≈ 20 MB for a 100,000-line file). */
export const CHECKPOINT_EVERY = 16;

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
  /** What this request ran (cached work is not counted): segments through the encoder and the lens graph. */
  work?: LensWork & { tokenized: Tokenization };
}

export interface RecallResult {
  tokens: { index: number; weight: number; range: TokenRange }[]; // past tokens, largest weight first
  total: number; // Σ of all weights (≈ 1 when the memory is not empty, 0 at the first segment)
  /** Σ of the weights per kept past segment: bySegment[i] belongs to segment firstSegment + i. */
  firstSegment: number;
  bySegment: number[];
}

/** How a request's text was tokenized: wholly, only past the last text, taken from a longer last text, or not at all. */
export type Tokenization = 'all' | 'tail' | 'prefix' | 'none';

/** A tokenized text and what it takes to map its tokens to source ranges. */
interface Tokenized { text: string; doc: DocStream; lines: LineIndex }

export class LensState {
  private readonly memory: LensMemory;
  private tok?: Tokenized;               // the last text, so the same or a longer prefix is not tokenized again
  private pastSk: Float32Array[] = [];   // per past segment: [L, Hkv, T, 64] σ(k)
  private zBefore?: Float32Array;        // [L, Hkv, 64]
  private sigmaQ?: Float32Array;         // [L, H, T, 64]
  private pastStart = 0;                 // stream index of the first kept past token

  constructor(private readonly session: EncoderSession, opts: Partial<LensMemoryOptions> = {}) {
    this.memory = new LensMemory(session, { recallSegments: RECALL_SEGMENTS, checkpointEvery: CHECKPOINT_EVERY, maxFiles: 3, ...opts });
  }

  async run(text: string, target: LensTarget): Promise<LensResult> {
    const c = this.session.info.config, T = c.seg_len, W = this.memory.opts.recallSegments;
    this.sigmaQ = undefined; // a failed request leaves nothing to recall from
    const tokenized = this.tokenize(text);
    const { doc } = this.tok!;
    const nSeg = Math.ceil(doc.ids.length / T);
    const cursor = typeof target === 'number' ? undefined : streamTokenAt(doc, target.offset);
    const segment = cursor === undefined ? (target as number) : Math.floor(cursor / T);
    if (!Number.isInteger(segment) || segment < 0 || segment >= nSeg) throw new Error(`segment ${segment} out of range 0..${nSeg - 1}`);
    this.memory.attach(doc.ids);
    // Segments before the last one are full, so the kept past holds exactly (segment − first kept)·T tokens.
    const firstKept = Math.max(0, segment - W);
    this.pastStart = firstKept * T;
    this.pastSk = [];
    for (let j = firstKept; j < segment; j++) this.pastSk.push(await this.memory.sigmaK(j));
    const { out, before } = await this.memory.lens(segment);
    this.memory.trim(firstKept, segment);
    this.zBefore = before.z;
    this.sigmaQ = floats(out.sigma_q!).slice();
    const n = Math.min(T, doc.ids.length - segment * T), nb = T / c.block, K = c.window + c.global + c.random;
    return {
      segment, ...(cursor === undefined ? {} : { cursorToken: cursor - segment * T }), segments: nSeg, firstToken: segment * T,
      tokenIds: doc.ids.slice(segment * T, segment * T + n),
      ranges: Array.from({ length: n }, (_, t) => this.range(segment * T + t)),
      dense: n < K * c.block,
      probs: floats(out.probs!).slice(), keyBlocks: Int32Array.from(out.key_blocks!.data as BigInt64Array, Number),
      globalProbs: floats(out.global_probs!).slice(), gates: floats(out.gates!).slice(),
      shape: { L: c.n_layers, H: c.n_heads, Hkv: c.n_kv_heads, nb, b: c.block, K, T, global: c.global },
      work: { ...this.memory.work, tokenized },
    };
  }

  /**
   * Tokenizes `text`, reusing the last text's tokens when one is a prefix of the other cut at a safe place
   * (before ASCII whitespace that follows a printable ASCII character: no byte-level BPE piece spans it, so
   * the tokens on either side are those of the whole text — the host's `safeCut` prefixes are such cuts).
   */
  private tokenize(text: string): Tokenization {
    const prev = this.tok;
    if (prev && prev.text === text) return 'none';
    if (prev && prev.text.length < text.length && safeAt(text, prev.text.length) && text.startsWith(prev.text)) {
      const cut = prev.text.length, tail = this.session.tokenizer.encode(text.slice(cut)), m = prev.doc.ids.length;
      const doc: DocStream = { ids: new Int32Array(m + tail.ids.length), starts: new Int32Array(m + tail.ids.length), ends: new Int32Array(m + tail.ids.length) };
      doc.ids.set(prev.doc.ids); doc.starts.set(prev.doc.starts); doc.ends.set(prev.doc.ends);
      doc.ids.set(tail.ids, m);
      for (let i = 0; i < tail.ids.length; i++) { doc.starts[m + i] = tail.starts[i]! + cut; doc.ends[m + i] = tail.ends[i]! + cut; }
      this.tok = { text, doc, lines: new LineIndex(text) };
      return 'tail';
    }
    if (prev && text.length < prev.text.length && safeAt(prev.text, text.length) && prev.text.startsWith(text)) {
      let m = prev.doc.ids.length;
      while (m > 1 && prev.doc.ends[m - 1]! > text.length) m--;
      const doc = { ids: prev.doc.ids.slice(0, m), starts: prev.doc.starts.slice(0, m), ends: prev.doc.ends.slice(0, m) };
      this.tok = { text, doc, lines: new LineIndex(text) };
      return 'prefix';
    }
    this.tok = { text, doc: docStream(this.session.tokenizer.encode(text)), lines: new LineIndex(text) };
    return 'all';
  }

  /** Source range of stream token i (stream index 0, <doc>, is the empty range at 0:0). */
  private range(i: number): TokenRange {
    const { doc, lines } = this.tok!;
    if (i === 0) return { startLine: 0, startColumn: 0, endLine: 0, endColumn: 0 };
    const a = lines.position(doc.starts[i]!), b = lines.position(doc.ends[i]!);
    return { startLine: a.line, startColumn: a.column, endLine: b.line, endColumn: b.column };
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
    // Top-k by a small sorted buffer: O(N·log k) instead of sorting all N past tokens per layer×head.
    const top = new TopK(topK);
    const bySegment = this.pastSk.map((segSk, p) => {
      const sk = segSk.subarray((layer * Hkv + g) * T * D, (layer * Hkv + g + 1) * T * D); // [T, 64] of this layer, kv head
      let seg = 0;
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let a = 0; a < D; a++) s += sq[a]! * sk[t * D + a]!;
        const w = s / den;
        seg += w;
        top.offer(this.pastStart + p * T + t, w);
      }
      return seg;
    });
    const total = bySegment.reduce((a, b) => a + b, 0);
    return { total, firstSegment: this.pastStart / T, bySegment,
      tokens: top.items().map(({ index, weight }) => ({ index, weight, range: this.range(index) })) };
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

/** Whether text can be cut before index i without changing any token (see LensState.tokenize). */
function safeAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i), p = text.charCodeAt(i - 1);
  return i > 0 && (c === 32 || c === 9 || c === 10 || c === 13) && p > 32 && p < 127;
}
