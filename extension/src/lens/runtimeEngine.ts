// A LensEngine over kernels/runtime's lens (Encoder.lens / Encoder.recall, which tokenize and run the ONNX lens
// graph in the encoder's worker thread, never on the extension host): runs the lens for the segment holding the
// cursor and turns its tensors into LensData with lensData.ts. No 'vscode' here.
//
// Only a prefix of the file travels: the text up to a tokenizer-safe cut some way past the cursor (see
// `safeCut`), so a cursor near the top of a 100,000-line file does not pay for tokenizing the whole file. The
// tokens before such a cut are exactly those of the whole file (byte-level BPE never merges across the cut).
import type { Cancellation } from '../core/api.js';
import type { LensData, MemoryRecall, SourceRange, TokenAttention } from '../../../webview/src/protocol.js';
import type { LensResult, LensTarget, RecallResult } from '../../../kernels/runtime/lens.js';
import { LineIndex } from '../../../kernels/runtime/lines.js';
import { attendedKeys, layoutOf, MEMORY_TOP_K, type LensEngine, type LensGraphOutputs, type LensModelConfig, type LensRequest } from './lensData.js';

/** The two calls of kernels/runtime's Encoder the lens needs (its worker keeps the state of the last lens run). */
export interface RuntimeLens {
  lens(text: string, target: LensTarget): Promise<LensResult>;
  recall(layer: number, head: number, token: number, topK: number): Promise<RecallResult>;
}

/** Characters past the cursor sent at first: one segment (1,024 tokens) of code is 3–5 KB, so this rarely grows. */
export const FIRST_MARGIN = 16_384;

interface Loaded {
  key: string;
  uri: string;
  version: number;
  text: string;          // the prefix that was encoded
  cut: boolean;          // the prefix is shorter than the file
  result: LensResult;
  lines: number[];       // line starts of `text`
}

/** The text of the <doc> token: empty (it stands for no file text); the token is flagged `special` instead. */
const DOC_MARKER_TEXT = '';

export function runtimeLensEngine(rt: RuntimeLens, config: LensModelConfig): LensEngine {
  let loaded: Loaded | undefined;
  /** The last file version shown and, per segment, the prefix length that held it (to load a segment again). */
  let doc: { key: string; text: string; cuts: Map<number, number> } | undefined;
  const T = config.segLen;

  async function run(req: { uri: string; version: number; text: string }, target: LensTarget, from: number,
    cancel: Cancellation): Promise<Loaded> {
    // Grow the prefix until the cursor's segment is complete (or the prefix is the whole file).
    for (let margin = FIRST_MARGIN; ; margin *= 4) {
      const end = safeCut(req.text, from + margin);
      const text = end >= req.text.length ? req.text : req.text.slice(0, end);
      const result = await rt.lens(text, target);
      if (cancel.isCancellationRequested) throw new Error('cancelled');
      if (text.length === req.text.length || result.ranges.length === T) {
        const key = `${req.uri}\u0000${req.version}`;
        if (doc?.key !== key) doc = { key, text: req.text, cuts: new Map() };
        doc.cuts.set(result.segment, text.length);
        loaded = { key: `${key}\u0000${result.segment}`, uri: req.uri, version: req.version, text, cut: text.length < req.text.length,
          result, lines: new LineIndex(text).starts };
        return loaded;
      }
    }
  }

  const textOf = (l: Loaded, r: SourceRange, stream: number): string =>
    stream === 0 ? DOC_MARKER_TEXT : l.text.slice(l.lines[r.startLine]! + r.startChar, l.lines[r.endLine]! + r.endChar);

  async function attention(l: Loaded, token: number): Promise<TokenAttention> {
    const o = outputsOf(l.result);
    const heads = [];
    for (let layer = 0; layer < config.layers; layer++) {
      for (let head = 0; head < config.heads; head++) {
        const keys = attendedKeys(config, o, l.result.dense, layer, head, token);
        if (l.result.segment === 0) { heads.push({ layer, head, keys, memory: [] }); continue; }
        const r = await rt.recall(layer, head, token, MEMORY_TOP_K);
        // What the kept window does not explain is the read of the segments before it (none when it starts at 0).
        const older = r.firstSegment > 0 ? Math.max(0, 1 - r.total) : 0;
        heads.push({ layer, head, keys, memory: recalls(r, l), memorySegments: { first: r.firstSegment, shares: r.bySegment, older } });
      }
    }
    return { segment: l.result.segment, token, heads };
  }

  function recalls(r: RecallResult, l: Loaded): MemoryRecall[] {
    return r.tokens.map((t) => {
      const range = toRange(t.range);
      return { segment: Math.floor(t.index / T), token: t.index % T, text: textOf(l, range, t.index), range, weight: t.weight,
        ...(t.index === 0 ? { special: 'doc' as const } : {}) };
    });
  }

  return {
    async lens(req, cancel): Promise<LensData> {
      const l = await run(req, { offset: req.offset }, req.offset, cancel);
      const r = l.result;
      const tokens = r.ranges.map((x, i) => {
        const range = toRange(x);
        return { index: i, text: textOf(l, range, r.firstToken + i), range, ...(r.firstToken + i === 0 ? { special: 'doc' as const } : {}) };
      });
      const { keyBlocks, gates } = layoutOf(config, outputsOf(r));
      const { kvHeads: _kv, dHead: _d, ...shown } = config;
      return {
        uri: req.uri, label: req.label, version: req.version, config: shown, segment: r.segment, segmentCount: r.segments,
        ...(l.cut ? { moreSegments: true } : {}),
        tokens, dense: r.dense, keyBlocks, gates, selection: await attention(l, r.cursorToken ?? 0),
      };
    },
    async attention(req, cancel): Promise<TokenAttention> {
      let l = loaded;
      if (!l || l.key !== `${req.uri}\u0000${req.version}\u0000${req.segment}`) {
        // A segment the host cached earlier: encode it again from the prefix that held it.
        const end = doc?.key === `${req.uri}\u0000${req.version}` ? doc.cuts.get(req.segment) : undefined;
        if (!doc || end === undefined) throw new Error('The lens for this file version is gone: run Show Attention again.');
        l = await run({ uri: req.uri, version: req.version, text: doc.text }, req.segment, Math.max(0, end - FIRST_MARGIN), cancel);
      }
      if (req.token >= l.result.ranges.length) throw new Error(`token ${req.token} is not in segment ${req.segment}`);
      return attention(l, req.token);
    },
  };
}

/**
 * The first offset ≥ `at` where the text can be cut without changing any token before it: just before an ASCII
 * space, tab or line break that follows a printable ASCII character. The byte-level pre-tokenizer's pieces never
 * end in whitespace after a non-space character, so a piece ends there whatever follows, and BPE merges stay
 * inside pieces. Returns text.length when there is no such place (the whole file is sent).
 */
export function safeCut(text: string, at: number): number {
  for (let i = Math.max(1, at); i < text.length; i++) {
    const c = text.charCodeAt(i), p = text.charCodeAt(i - 1);
    if ((c === 32 || c === 9 || c === 10 || c === 13) && p > 32 && p < 127) return i;
  }
  return text.length;
}

function outputsOf(r: LensResult): LensGraphOutputs {
  // σ(q) and z stay in the worker: the runtime's recall() computes the memory read.
  return { probs: r.probs, keyBlocks: r.keyBlocks, globalProbs: r.globalProbs, gates: r.gates, sigmaQ: [], zIn: [] };
}

const toRange = (r: { startLine: number; startColumn: number; endLine: number; endColumn: number }): SourceRange =>
  ({ startLine: r.startLine, startChar: r.startColumn, endLine: r.endLine, endChar: r.endColumn });

/** The lens's view of kernels/runtime's ModelConfig. */
export function lensConfigFrom(c: import('../../../kernels/runtime/modelFiles.js').ModelConfig): LensModelConfig {
  return { layers: c.n_layers, heads: c.n_heads, kvHeads: c.n_kv_heads, dHead: c.d_head, segLen: c.seg_len, block: c.block,
    window: c.window, global: c.global, random: c.random };
}
