// DEMO DATA — FOR TESTS ONLY, never shipped: LensData for a small config, made by running the real
// lens-data builder (extension/src/lens/lensData.ts) over tensors from kernels/reference's block-sparse
// attention with random q, k, v, and random σ(k) for the "earlier segments". A regex stands in for the tokenizer.
import { blockSparseAttention } from '../../../kernels/reference/attention.js';
import { randomBlocks } from '../../../kernels/runtime/random.js';
import { buildLensData, type LensGraphOutputs, type LensModelConfig, type PastSegment } from '../../../extension/src/lens/lensData.js';
import type { LensData, LensToken } from '../../../webview/src/protocol.js';
import { randArray, randn } from '../kernels/helpers.js';

export const DEMO_CONFIG: LensModelConfig = {
  layers: 2, heads: 2, kvHeads: 1, dHead: 4, segLen: 64, block: 8, window: 3, global: 2, random: 1,
};

/** Demo tokenizer: words, runs of spaces, single other characters; newlines ride with the following indent. */
export function demoTokens(text: string, limit: number): LensToken[] {
  const tokens: LensToken[] = [];
  let line = 0, col = 0;
  for (const m of text.matchAll(/\n[ \t]*|\w+|[ \t]+|[^\w\s]|[^\S\n]/gu)) {
    if (tokens.length === limit) break;
    const s = m[0];
    const start = { line, col };
    for (const ch of s) { if (ch === '\n') { line++; col = 0; } else col += ch.length; }
    tokens.push({ index: tokens.length, text: s, range: { startLine: start.line, startChar: start.col, endLine: line, endChar: col } });
  }
  return tokens;
}

export interface DemoOptions { segment?: number; selected?: number; seed?: number; uri?: string; label?: string; version?: number }

export function demoLens(text: string, o: DemoOptions = {}): { data: LensData; outputs: LensGraphOutputs; past: PastSegment[] } {
  const c = DEMO_CONFIG, T = c.segLen, D = c.dHead, nb = T / c.block, K = c.window + c.global + c.random;
  const next = randn(o.seed ?? 7);
  const tokens = demoTokens(text, T);
  const valid = Array.from({ length: T }, (_, t) => (t < tokens.length ? 1 : 0));
  const rand = randomBlocks(1234, c.layers, c.heads, nb, c.window, c.global, c.random); // [L, H, nb, r]
  const G = c.global;
  const probs = new Float64Array(c.layers * c.heads * nb * c.block * K * c.block);
  const keyBlocks = new Float64Array(c.layers * c.heads * nb * K);
  const globalProbs = new Float64Array(c.layers * c.heads * G * c.block * T);
  for (let l = 0; l < c.layers; l++) for (let h = 0; h < c.heads; h++) {
    const i = l * c.heads + h;
    const r = blockSparseAttention({ q: randArray(T * D, next), k: randArray(T * D, next), v: randArray(T * D, next), valid, T, D },
      c, rand.subarray(i * nb * c.random, (i + 1) * nb * c.random));
    probs.set(r.probs, i * r.probs.length);
    keyBlocks.set(r.keyBlocks, i * r.keyBlocks.length);
    globalProbs.set(r.globalProbs, i * r.globalProbs.length);
  }
  const segment = o.segment ?? 1;
  const past: PastSegment[] = Array.from({ length: segment }, (_, s) => ({
    segment: s, tokens: demoTokens(text, T).map((t) => ({ ...t, range: { ...t.range, startLine: t.range.startLine, endLine: t.range.endLine } })),
    sigmaK: randArray(c.layers * c.kvHeads * T * D, () => Math.exp(next())),                       // [L, Hkv, T, Dk]
  }));
  const zIn = new Float64Array(c.layers * c.kvHeads * D);                                            // [L, Hkv, Dk]
  for (const p of past) for (let l = 0; l < c.layers; l++) for (const t of p.tokens) for (let a = 0; a < D; a++) {
    zIn[l * D + a]! += p.sigmaK[(l * T + t.index) * D + a]!;
  }
  const outputs: LensGraphOutputs = {
    probs, keyBlocks, globalProbs, zIn,
    gates: Float64Array.from({ length: c.layers * c.heads }, () => 1 / (1 + Math.exp(-next()))),
    sigmaQ: randArray(c.layers * c.heads * T * D, () => Math.exp(next())),                             // [L, H, T, Dk]
  };
  const data = buildLensData({
    req: { uri: o.uri ?? 'file:///demo/demo.ts', label: o.label ?? 'demo.ts', version: o.version ?? 1, text, offset: 0 },
    config: c, segment, segmentCount: segment + 1, tokens, dense: false, outputs, selected: o.selected ?? 20, past: () => past,
  });
  return { data, outputs, past };
}
