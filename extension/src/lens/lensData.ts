// Turns the lens graph's outputs (kernels/CONTRACT.md, `lens.fp32.onnx`) into the LensData the webview draws.
// No 'vscode' here: the runtime (ONNX) or any other producer of the same tensors plugs in through
// `LensEngine`, and unit tests drive it with tensors from kernels/reference.
import type { Cancellation } from '../core/api.js';
import type {
  AttendedKey, HeadAttention, LensConfig, LensData, LensToken, MemoryRecall, MemorySegments, TokenAttention,
} from '../../../webview/src/protocol.js';
import { readWeights } from '../../../kernels/runtime/memoryRead.js';
import { isGlobalBlock } from '../../../kernels/runtime/layout.js';

type Floats = ArrayLike<number>;

/** One segment's lens graph outputs, flat, with the contract's shapes. */
export interface LensGraphOutputs {
  probs: Floats;       // [L, H, nb, b, K·b]
  keyBlocks: Floats;   // [L, H, nb, K] (-1 = empty slot)
  globalProbs: Floats; // [L, H, G·b, T]
  gates: Floats;       // [L, H]
  sigmaQ: Floats;      // [L, H, T, Dk]
  /** z before this segment (the lens graph's z_in): the memory-read normaliser. */
  zIn: Floats;         // [L, Hkv, Dk]
  /** Short segments are attended densely; the graph then gives full rows. */
  denseProbs?: Floats; // [L, H, T, T]
}

export interface LensModelConfig extends LensConfig {
  kvHeads: number;
  dHead: number;
}

/** σ(k) of one earlier segment of the same file, for memory attribution. */
export interface PastSegment {
  segment: number;
  tokens: LensToken[];
  sigmaK: Floats; // [L, Hkv, T, Dk]
}

/** What the host asks of the model side; the host caches the answers per uri + version. */
export interface LensRequest {
  uri: string;
  label: string;
  version: number;
  text: string;
  /** UTF-16 offset of the cursor: the selected token is the one covering it. */
  offset: number;
}
export interface LensEngine {
  lens(req: LensRequest, cancel: Cancellation): Promise<LensData>;
  attention(req: { uri: string; version: number; segment: number; token: number }, cancel: Cancellation): Promise<TokenAttention>;
}

export const MEMORY_TOP_K = 20;

const dims = (c: LensModelConfig) => {
  const nb = c.segLen / c.block, K = c.window + c.global + c.random;
  return { L: c.layers, H: c.heads, Hkv: c.kvHeads, T: c.segLen, b: c.block, nb, K, D: c.dHead };
};

/** The keys token t of head (l, h) attended to, with their probabilities (zero-weight slots dropped). */
export function attendedKeys(c: LensModelConfig, o: LensGraphOutputs, dense: boolean, l: number, h: number, t: number): AttendedKey[] {
  const { H, T, b, nb, K } = dims(c);
  const keys: AttendedKey[] = [];
  const fullRow = (src: Floats, base: number): void => {
    for (let j = 0; j < T; j++) { const w = src[base + j]!; if (w > 0) keys.push({ token: j, weight: w }); }
  };
  const qb = Math.floor(t / b), r = t % b;
  // Dense rows when the producer gives them; otherwise the graph's sparse rows are what it computed.
  if (dense && o.denseProbs) {
    fullRow(o.denseProbs, ((l * H + h) * T + t) * T);
  } else if (isGlobalBlock(qb, nb, c.global)) {
    const g = globalIndex(qb, nb, c.global);
    fullRow(o.globalProbs, ((l * H + h) * c.global * b + g * b + r) * T);
  } else {
    const row = (((l * H + h) * nb + qb) * b + r) * K * b;                  // probs[l, h, qb, r, :]
    for (let slot = 0; slot < K; slot++) {
      const kb = o.keyBlocks[((l * H + h) * nb + qb) * K + slot]!;          // key_blocks[l, h, qb, slot]
      if (kb < 0) continue;
      for (let c2 = 0; c2 < b; c2++) {
        const w = o.probs[row + slot * b + c2]!;
        if (w > 0) keys.push({ token: kb * b + c2, weight: w });
      }
    }
  }
  return keys;
}

/** Rank of global block qb among the global blocks, ascending (the row order of global_probs). */
function globalIndex(qb: number, nb: number, global: number): number {
  let g = 0;
  for (let i = 0; i < qb; i++) if (isGlobalBlock(i, nb, global)) g++;
  return g;
}

/**
 * The top-k past tokens in the memory read of token t, head (l, h), exact under the linear rule:
 * w = σ(q)·σ(k_u) / (σ(q)·z + ε) (kernels/runtime readWeights), streamed one past segment at a time.
 */
export function memoryRecalls(c: LensModelConfig, o: LensGraphOutputs, past: Iterable<PastSegment>, l: number, h: number, t: number,
  k = MEMORY_TOP_K): MemoryRecall[] {
  const { H, Hkv, T, D } = dims(c);
  const g = Math.floor(h / (H / Hkv));
  const sq = Float64Array.from({ length: D }, (_, a) => o.sigmaQ[((l * H + h) * T + t) * D + a]!);   // [1, Dk]
  const z = Float64Array.from({ length: D }, (_, a) => o.zIn[(l * Hkv + g) * D + a]!);                // [Dk]
  let top: MemoryRecall[] = [];
  for (const p of past) {
    const n = p.tokens.length;
    const sk = new Float64Array(n * D);                                                               // [N, Dk]
    p.tokens.forEach((tok, i) => {
      for (let a = 0; a < D; a++) sk[i * D + a] = p.sigmaK[((l * Hkv + g) * T + tok.index) * D + a]!;
    });
    const w = readWeights(sq, sk, z, n, D);                                                           // [N]
    p.tokens.forEach((tok, i) => top.push({ segment: p.segment, token: tok.index, text: tok.text, range: tok.range, weight: w[i]! }));
    if (top.length > 4 * k) top = heaviest(top, k);
  }
  return heaviest(top, k);
}

const heaviest = (xs: MemoryRecall[], k: number): MemoryRecall[] => xs.sort((a, b) => b.weight - a.weight).slice(0, k);

/** The memory read of token t, head (l, h), summed per past segment (every past segment is kept apart here). */
export function memorySegments(c: LensModelConfig, o: LensGraphOutputs, past: Iterable<PastSegment>, l: number, h: number, t: number,
  segment: number): MemorySegments {
  const shares = new Array<number>(segment).fill(0);
  for (const r of memoryRecalls(c, o, past, l, h, t, Number.POSITIVE_INFINITY)) shares[r.segment]! += r.weight;
  return { first: 0, shares, older: 0 };
}

/**
 * Several selected tokens at once: per head, the keys' weights and the memory recalls summed over the tokens
 * (one token's weights sum to 1, so n tokens' sum to n), the recalls cut to the heaviest `topK` again, and the
 * per-segment memory shares summed. The last token is the one the lens centres on.
 */
export function sumAttention(parts: readonly TokenAttention[], topK = MEMORY_TOP_K): TokenAttention {
  const last = parts.at(-1);
  if (!last) throw new Error('sumAttention: no tokens');
  if (parts.length === 1) return last;
  const heads = last.heads.map((head, i): HeadAttention => {
    const keys = new Map<number, number>();
    const memory = new Map<string, MemoryRecall>();
    let segs: MemorySegments | undefined;
    for (const p of parts) {
      const h = p.heads[i]!;
      for (const k of h.keys) keys.set(k.token, (keys.get(k.token) ?? 0) + k.weight);
      for (const m of h.memory) {
        const key = `${m.segment}:${m.token}`;
        const seen = memory.get(key);
        memory.set(key, seen ? { ...seen, weight: seen.weight + m.weight } : { ...m });
      }
      if (h.memorySegments) segs = addSegments(segs, h.memorySegments);
    }
    return { layer: head.layer, head: head.head, keys: [...keys].map(([token, weight]) => ({ token, weight })),
      memory: heaviest([...memory.values()], topK), ...(segs ? { memorySegments: segs } : {}) };
  });
  return { segment: last.segment, token: last.token, tokens: parts.map((p) => p.token), heads };
}

function addSegments(a: MemorySegments | undefined, b: MemorySegments): MemorySegments {
  if (!a) return { first: b.first, shares: [...b.shares], older: b.older };
  // Same segment and file version, so the same kept window: add position by position.
  return { first: a.first, shares: a.shares.map((x, i) => x + (b.shares[i] ?? 0)), older: a.older + b.older };
}

/** Everything the lens shows for token t, over all layers and heads. */
export function tokenAttention(c: LensModelConfig, o: LensGraphOutputs, dense: boolean, segment: number, t: number,
  past: () => Iterable<PastSegment>): TokenAttention {
  const heads: HeadAttention[] = [];
  for (let l = 0; l < c.layers; l++) {
    for (let h = 0; h < c.heads; h++) {
      heads.push({ layer: l, head: h, keys: attendedKeys(c, o, dense, l, h, t),
        memory: segment === 0 ? [] : memoryRecalls(c, o, past(), l, h, t),
        ...(segment === 0 ? {} : { memorySegments: memorySegments(c, o, past(), l, h, t, segment) }) });
    }
  }
  return { segment, token: t, heads };
}

/** key_blocks as nested arrays [L][H][nb][K] and gates as [L][H], the webview's shapes. */
export function layoutOf(c: LensModelConfig, o: LensGraphOutputs): { keyBlocks: number[][][][]; gates: number[][] } {
  const { L, H, nb, K } = dims(c);
  const keyBlocks = Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) =>
    Array.from({ length: nb }, (_, i) => Array.from({ length: K }, (_, s) => Number(o.keyBlocks[((l * H + h) * nb + i) * K + s]!)))));
  const gates = Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => Number(o.gates[l * H + h]!)));
  return { keyBlocks, gates };
}

/** The token whose source range covers (or, past the end of a line, precedes) the cursor. */
export function tokenAtOffset(tokens: readonly { index: number; start: number; end: number }[], offset: number): number | undefined {
  let lo = 0, hi = tokens.length - 1, best: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid]!.start <= offset) { best = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return best === undefined ? tokens[0]?.index : tokens[best]!.index;
}

export interface SegmentLens {
  req: LensRequest;
  config: LensModelConfig;
  segment: number;
  segmentCount: number;
  tokens: LensToken[];
  dense: boolean;
  outputs: LensGraphOutputs;
  selected: number;
  past: () => Iterable<PastSegment>;
}

export function buildLensData(s: SegmentLens): LensData {
  const { keyBlocks, gates } = layoutOf(s.config, s.outputs);
  const { kvHeads: _kv, dHead: _d, ...config } = s.config;
  return {
    uri: s.req.uri, label: s.req.label, version: s.req.version, config, segment: s.segment, segmentCount: s.segmentCount,
    tokens: s.tokens, dense: s.dense, keyBlocks, gates,
    selection: tokenAttention(s.config, s.outputs, s.dense, s.segment, s.selected, s.past),
  };
}
