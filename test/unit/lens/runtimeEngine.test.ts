// The runtime adapter against a stand-in runtime whose lens tensors come from kernels/reference: the cursor's
// token picks the segment and the selected token; <doc> counts as stream token 0; memory recalls map stream
// indices back to (segment, token, text, range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSparseAttention } from '../../../kernels/reference/attention.js';
import { randomBlocks } from '../../../kernels/runtime/random.js';
import type { LensResult, LensTarget, RecallResult } from '../../../kernels/runtime/lens.js';
import type { TokenizedText } from '../../../kernels/runtime/tokenizer.js';
import { runtimeLensEngine } from '../../../extension/src/lens/runtimeEngine.js';
import type { LensModelConfig } from '../../../extension/src/lens/lensData.js';
import { randArray, randn } from '../kernels/helpers.js';

const cfg: LensModelConfig = { layers: 1, heads: 1, kvHeads: 1, dHead: 4, segLen: 32, block: 8, window: 3, global: 2, random: 1 };
const never = { isCancellationRequested: false };

/** Words and single other characters, with offsets: stands in for the BPE tokenizer. */
function tokenize(text: string): TokenizedText {
  const m = [...text.matchAll(/\w+|\S|\s+/g)];
  return { ids: Int32Array.from(m, () => 5), starts: Int32Array.from(m, (x) => x.index), ends: Int32Array.from(m, (x) => x.index + x[0].length) };
}

function fakeRuntime(text: string) {
  const calls: string[] = [];
  const tok = tokenize(text);
  const n = tok.ids.length + 1, T = cfg.segLen, nb = T / cfg.block;
  const rand = randomBlocks(1234, 1, 1, nb, cfg.window, cfg.global, cfg.random);
  const next = randn(3);
  const rt = {
    async lens(_text: string, target: LensTarget): Promise<LensResult> {
      // The runtime finds the cursor's token: <doc> is stream token 0, text token i is stream token i + 1.
      let cursor: number | undefined;
      if (typeof target !== 'number') { cursor = 1; for (let i = 0; i < tok.ids.length; i++) if (tok.starts[i]! <= target.offset) cursor = i + 1; }
      const segment = cursor === undefined ? target as number : Math.floor(cursor / T);
      calls.push(`lens ${segment}`);
      const valid = Array.from({ length: T }, (_, t) => (segment * T + t < n ? 1 : 0));
      const r = blockSparseAttention({ q: randArray(T * 4, next), k: randArray(T * 4, next), v: randArray(T * 4, next), valid, T, D: 4 }, cfg, rand);
      const count = Math.min(T, n - segment * T);
      const ranges = Array.from({ length: count }, (_, i) => {
        const s = segment * T + i; // stream index; 0 is <doc>
        const a = s === 0 ? 0 : tok.starts[s - 1]!, b = s === 0 ? 0 : tok.ends[s - 1]!;
        return { startLine: 0, startColumn: a, endLine: 0, endColumn: b };
      });
      return { segment, ...(cursor === undefined ? {} : { cursorToken: cursor - segment * T }), segments: Math.ceil(n / T), firstToken: segment * T, tokenIds: new Int32Array(count), ranges, dense: false,
        probs: Float32Array.from(r.probs), keyBlocks: r.keyBlocks, globalProbs: Float32Array.from(r.globalProbs), gates: Float32Array.of(0.25),
        shape: { L: 1, H: 1, Hkv: 1, nb, b: cfg.block, K: 6, T, global: 2 } };
    },
    async recall(): Promise<RecallResult> {
      calls.push('recall');
      return { total: 1, firstSegment: 0, bySegment: [1], tokens: [{ index: 5, weight: 0.75, range: { startLine: 0, startColumn: tok.starts[4]!, endLine: 0, endColumn: tok.ends[4]! } }] };
    },
  };
  return { rt, calls, tok };
}

test('the cursor picks segment and token; keys and memory come back in LensData form', async () => {
  const text = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '); // 79 tokens + <doc> = 80 stream tokens
  const { rt, calls, tok } = fakeRuntime(text);
  const engine = runtimeLensEngine(rt, cfg);
  const offset = text.indexOf('w20'); // text token 40 → stream 41 → segment 1, token 9
  assert.equal(tok.starts[40], offset);
  const data = await engine.lens({ uri: 'file:///a', label: 'a', version: 3, text, offset }, never);
  assert.equal(data.segment, 1);
  assert.equal(data.segmentCount, 3);
  assert.equal(data.selection.token, 9);
  assert.equal(data.tokens[9]!.text, 'w20');
  assert.deepEqual(data.tokens[9]!.range, { startLine: 0, startChar: offset, endLine: 0, endChar: offset + 3 });
  const keys = data.selection.heads[0]!.keys;
  assert.ok(Math.abs(keys.reduce((s, k) => s + k.weight, 0) - 1) < 1e-6);
  assert.deepEqual(data.selection.heads[0]!.memory, [{ segment: 0, token: 5, text: 'w2', weight: 0.75,
    range: { startLine: 0, startChar: tok.starts[4]!, endLine: 0, endChar: tok.ends[4]! } }]);
  // The read per earlier segment: the kept window starts at segment 0, so nothing is left unattributed.
  assert.deepEqual(data.selection.heads[0]!.memorySegments, { first: 0, shares: [1], older: 0 });
  // Another token of the same segment reuses the loaded lens; a stale version is refused with a message.
  const other = await engine.attention({ uri: 'file:///a', version: 3, segment: 1, token: 2 }, never);
  assert.equal(other.token, 2);
  assert.deepEqual(calls.filter((c) => c.startsWith('lens')), ['lens 1']);
  await assert.rejects(engine.attention({ uri: 'file:///a', version: 4, segment: 1, token: 2 }, never), /run Show Attention again/);
});

test('segment 0 starts with <doc> and has no memory read', async () => {
  const text = 'a b c';
  const { rt, calls } = fakeRuntime(text);
  const data = await runtimeLensEngine(rt, cfg).lens({ uri: 'file:///b', label: 'b', version: 1, text, offset: 0 }, never);
  assert.equal(data.segment, 0);
  // The <doc> marker is flagged, never passed off as text of the file.
  assert.equal(data.tokens[0]!.text, '');
  assert.equal(data.tokens[0]!.special, 'doc');
  assert.equal(data.tokens[1]!.special, undefined);
  assert.equal(data.selection.token, 1);
  assert.deepEqual(data.selection.heads[0]!.memory, []);
  assert.ok(!calls.includes('recall'));
});
