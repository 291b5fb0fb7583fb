// A LensEngine over kernels/runtime's lens (Encoder.lens / Encoder.recall, which run the ONNX lens graph in
// the worker): finds the segment holding the cursor with the tokenizer, runs the lens for it, and turns its
// tensors into LensData with lensData.ts. No 'vscode' here.
import type { Cancellation } from '../../core/api.js';
import type { LensData, LensToken, MemoryRecall, SourceRange, TokenAttention } from '../../../../webview/src/protocol.js';
import type { LensResult, RecallResult } from '../../../../kernels/runtime/lens.js';
import type { TokenizedText } from '../../../../kernels/runtime/tokenizer.js';
import { attendedKeys, layoutOf, MEMORY_TOP_K, tokenAtOffset, type LensEngine, type LensGraphOutputs, type LensModelConfig, type LensRequest } from './lensData.js';

/** The two calls of kernels/runtime's Encoder the lens needs (its worker keeps the state of the last lens run). */
export interface RuntimeLens {
  lens(text: string, segment: number): Promise<LensResult>;
  recall(layer: number, head: number, token: number, topK: number): Promise<RecallResult>;
}

interface Loaded {
  key: string;
  req: LensRequest;
  result: LensResult;
  tokens: LensToken[];
  /** Past tokens by stream index: text and range, for the memory list. */
  streamText(t: number): string;
}

const DOC_MARKER_TEXT = '<doc>';

export function runtimeLensEngine(rt: RuntimeLens, tokenize: (text: string) => TokenizedText, config: LensModelConfig): LensEngine {
  let loaded: Loaded | undefined;
  const T = config.segLen;

  async function load(req: LensRequest, segment: number, cancel: Cancellation): Promise<Loaded> {
    const key = `${req.uri}\u0000${req.version}\u0000${segment}`;
    if (loaded?.key === key) return loaded;
    const tok = tokenize(req.text);
    const result = await rt.lens(req.text, segment);
    if (cancel.isCancellationRequested) throw new Error('cancelled');
    // Stream index 0 is <doc>; stream index i > 0 is text token i-1.
    const streamText = (t: number): string => (t === 0 ? DOC_MARKER_TEXT : req.text.slice(tok.starts[t - 1]!, tok.ends[t - 1]!));
    const tokens = result.ranges.map((r, i) => ({ index: i, text: streamText(result.firstToken + i), range: toRange(r) }));
    loaded = { key, req, result, tokens, streamText };
    return loaded;
  }

  async function attention(l: Loaded, token: number): Promise<TokenAttention> {
    const o = outputsOf(l.result);
    const heads = [];
    for (let layer = 0; layer < config.layers; layer++) {
      for (let head = 0; head < config.heads; head++) {
        const memory = l.result.segment === 0 ? [] : recalls(await rt.recall(layer, head, token, MEMORY_TOP_K), l);
        heads.push({ layer, head, keys: attendedKeys(config, o, l.result.dense, layer, head, token), memory });
      }
    }
    return { segment: l.result.segment, token, heads };
  }

  function recalls(r: RecallResult, l: Loaded): MemoryRecall[] {
    return r.tokens.map((t) => ({ segment: Math.floor(t.index / T), token: t.index % T, text: l.streamText(t.index), range: toRange(t.range), weight: t.weight }));
  }

  return {
    async lens(req, cancel): Promise<LensData> {
      const tok = tokenize(req.text);
      // The stream position of the cursor's token (+1 for <doc>) gives its segment.
      const at = tokenAtOffset(Array.from(tok.ids, (_, i) => ({ index: i, start: tok.starts[i]!, end: tok.ends[i]! })), req.offset);
      const stream = at === undefined ? 0 : at + 1;
      const l = await load(req, Math.floor(stream / T), cancel);
      const selected = stream - l.result.firstToken;
      const { keyBlocks, gates } = layoutOf(config, outputsOf(l.result));
      const { kvHeads: _kv, dHead: _d, ...shown } = config;
      return {
        uri: req.uri, label: req.label, version: req.version, config: shown, segment: l.result.segment, segmentCount: l.result.segments,
        tokens: l.tokens, dense: l.result.dense, keyBlocks, gates, selection: await attention(l, selected),
      };
    },
    async attention(req, cancel): Promise<TokenAttention> {
      if (!loaded || !loaded.key.startsWith(`${req.uri}\u0000${req.version}\u0000`)) throw new Error('The lens for this file version is gone: run Show Attention again.');
      const l = await load(loaded.req, req.segment, cancel);
      if (req.token >= l.tokens.length) throw new Error(`token ${req.token} is not in segment ${req.segment}`);
      return attention(l, req.token);
    },
  };
}

function outputsOf(r: LensResult): LensGraphOutputs {
  // σ(q) and z stay in the worker: the runtime's recall() computes the memory read.
  return { probs: r.probs, keyBlocks: r.keyBlocks, globalProbs: r.globalProbs, gates: r.gates, sigmaQ: [], zIn: [] };
}

const toRange = (r: { startLine: number; startColumn: number; endLine: number; endColumn: number }): SourceRange =>
  ({ startLine: r.startLine, startChar: r.startColumn, endLine: r.endLine, endChar: r.endColumn });

/** The lens's view of kernels/runtime's ModelConfig. */
export function lensConfigFrom(c: import('../../../../kernels/runtime/modelFiles.js').ModelConfig): LensModelConfig {
  return { layers: c.n_layers, heads: c.n_heads, kvHeads: c.n_kv_heads, dHead: c.d_head, segLen: c.seg_len, block: c.block,
    window: c.window, global: c.global, random: c.random };
}
