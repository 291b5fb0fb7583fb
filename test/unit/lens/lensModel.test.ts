// The lens with the REAL shipped model (kernels/model/lens.fp32.onnx, tokenizer.json), under plain Node:
// the attention weights and memory-read weights the lens shows for a token equal the TypeScript reference
// (kernels/reference) computed from the same graph's σ(q), σ(k): q and k are recovered by inverting σ = ELU+1,
// rotated with the reference RoPE and pushed through the reference block-sparse softmax.
// Also: the prefix the host sends (safeCut) tokenizes exactly like the whole file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { blockSparseAttention } from '../../../kernels/reference/attention.js';
import { readAttribution } from '../../../kernels/reference/memory.js';
import { randomBlocks } from '../../../kernels/runtime/random.js';
import { rope } from '../../../kernels/reference/rope.js';
import { LensState } from '../../../kernels/runtime/lens.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';
import { docStream } from '../../../kernels/runtime/segments.js';
import { EncoderSession, floats, INFERENCE_SEED } from '../../../kernels/runtime/session.js';
import { CodeTokenizer } from '../../../kernels/runtime/tokenizer.js';
import { lensConfigFrom, runtimeLensEngine, safeCut } from '../../../extension/src/lens/runtimeEngine.js';

const MODEL = path.resolve(__dirname, '../../../kernels/model');
const skip = hasModel(MODEL) ? false : 'no model in kernels/model';
const never = { isCancellationRequested: false };

/** A small TypeScript file of two segments; the second is long enough to be block-sparse (not the dense fallback). */
function source(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join('\n').length < 6_000; i++) {
    lines.push(`export function scale${i}(values: number[], factor = ${i}): number[] {`, `  return values.map((v) => v * factor + ${i % 7});`, '}');
  }
  return lines.join('\n');
}

/** x from σ(x) = ELU(x) + 1: x + 1 above 1, exp(x) below. */
const unSigma = (s: number): number => (s > 1 ? s - 1 : Math.log(s));

test('lens weights of a token equal the reference computation (real lens graph, 2 segments)', { skip }, async () => {
  const session = await EncoderSession.open(MODEL, { provider: 'cpu' });
  const c = session.info.config, cfg = lensConfigFrom(c);
  const T = c.seg_len, D = c.d_head, L = c.n_layers, H = c.n_heads, Hkv = c.n_kv_heads, nb = T / c.block;
  const state = new LensState(session);
  const engine = runtimeLensEngine({ lens: (t, target) => state.run(t, target), recall: async (l, h, t, k) => state.recall(l, h, t, k) }, cfg);
  const text = source();
  const doc = docStream(session.tokenizer.encode(text));
  assert.equal(Math.ceil(doc.ids.length / T), 2, 'the fixture has two segments');
  const nValid1 = doc.ids.length - T;
  assert.ok(nValid1 >= (c.window + c.global + c.random) * c.block, 'segment 1 is block-sparse');
  // The cursor on a token of segment 1 that is neither in a global block nor padding.
  const stream = T + 5 * c.block + 17;
  const data = await engine.lens({ uri: 'file:///x.ts', label: 'x.ts', version: 1, text, offset: doc.starts[stream]! }, never);
  assert.equal(data.segment, 1);
  const tok = data.selection.token;
  assert.equal(tok, stream - T);

  // The same graph run by hand: segment 0 (zero memory), then segment 1 with segment 0's memory.
  const seg = (s: number, mem: Float32Array, z: Float32Array) => {
    const ids = new BigInt64Array(T), valid = new Float32Array(T);
    for (let t = 0; t < T && s * T + t < doc.ids.length; t++) { ids[t] = BigInt(doc.ids[s * T + t]!); valid[t] = 1; }
    return session.run('lens', { input_ids: new ort.Tensor('int64', ids, [1, T]), valid: new ort.Tensor('float32', valid, [1, T]),
      rand_blocks: session.randBlocks, mem_in: new ort.Tensor('float32', mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', z, [L, Hkv, D]) });
  };
  const o0 = await seg(0, new Float32Array(L * Hkv * D * D), new Float32Array(L * Hkv * D));
  const zIn = floats(o0.z_out!).slice();
  const o1 = await seg(1, floats(o0.mem_out!).slice(), zIn);
  const sq = floats(o1.sigma_q!), sk1 = floats(o1.sigma_k!), sk0 = floats(o0.sigma_k!); // [L, H, T, D], [L, Hkv, T, D]
  const rand = randomBlocks(INFERENCE_SEED, L, H, nb, c.window, c.global, c.random);
  const valid = Array.from({ length: T }, (_, t) => (t < nValid1 ? 1 : 0));
  const head = (x: Float32Array, rows: number, i: number) => Float64Array.from(x.subarray(i * T * D, (i + 1) * T * D), unSigma); // [T, D]

  let compared = 0, worst = 0;
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    const q = rope(head(sq, H, l * H + h), T, D, c.rope_base, 'half', 'float32');
    const k = rope(head(sk1, Hkv, l * Hkv + g), T, D, c.rope_base, 'half', 'float32');
    const ref = blockSparseAttention({ q, k, v: new Float64Array(T * D), valid, T, D }, c, rand.subarray((l * H + h) * nb * c.random, (l * H + h + 1) * nb * c.random));
    // Expected: token → probability over the gathered slots of the selected token's row.
    const qb = Math.floor(tok / c.block), r = tok % c.block, K = c.window + c.global + c.random;
    const expected = new Map<number, number>();
    for (let s = 0; s < K; s++) {
      const kb = ref.keyBlocks[qb * K + s]!;
      if (kb < 0) continue;
      for (let j = 0; j < c.block; j++) {
        const p = ref.probs[((qb * c.block + r) * K + s) * c.block + j]!;
        if (p > 1e-7) expected.set(kb * c.block + j, (expected.get(kb * c.block + j) ?? 0) + p);
      }
    }
    const shown = data.selection.heads.find((x) => x.layer === l && x.head === h)!;
    const shownMap = new Map(shown.keys.map((x) => [x.token, x.weight]));
    for (const [t, p] of expected) {
      const w = shownMap.get(t);
      assert.ok(w !== undefined, `layer ${l} head ${h}: key ${t} (p=${p}) is shown`);
      const err = Math.abs(w - p) / Math.max(p, 1e-3);
      worst = Math.max(worst, err);
      assert.ok(err <= 1e-4, `layer ${l} head ${h} key ${t}: shown ${w}, reference ${p}`);
      compared++;
    }
    for (const x of shown.keys) if (!expected.has(x.token)) assert.ok(x.weight <= 1e-6, `layer ${l} head ${h}: key ${x.token} shown with ${x.weight} but not in the reference`);

    // Memory read: σ(q)·σ(k_u) / (σ(q)·z + ε) over segment 0's tokens (all valid), the top shown ones first.
    const sqTok = Float64Array.from(sq.subarray(((l * H + h) * T + tok) * D, ((l * H + h) * T + tok + 1) * D));
    const pastSk = Float64Array.from(sk0.subarray((l * Hkv + g) * T * D, (l * Hkv + g + 1) * T * D));
    const w = readAttribution(sqTok, pastSk, Float64Array.from(zIn.subarray((l * Hkv + g) * D, (l * Hkv + g + 1) * D)), 1, T, D);
    const top = Array.from(w.keys()).sort((a, b) => w[b]! - w[a]!).slice(0, shown.memory.length);
    assert.ok(shown.memory.length > 0, 'segment 1 shows a memory read');
    shown.memory.forEach((m, i) => {
      assert.equal(m.segment, 0);
      assert.ok(Math.abs(m.weight - w[m.token]!) <= 1e-4 * Math.max(w[m.token]!, 1e-3), `memory weight of token ${m.token}`);
      assert.ok(Math.abs(w[top[i]!]! - m.weight) <= 1e-4 * Math.max(m.weight, 1e-3), `memory rank ${i}`);
    });
  }
  assert.ok(compared > 16 * 100, `compared ${compared} key weights`);
  console.log(`# compared ${compared} attention weights over ${L * H} heads; largest relative error ${worst.toExponential(2)}`);
  await session.close();
});

test('the prefix cut after a safe newline tokenizes exactly like the whole file', { skip }, () => {
  const tok = CodeTokenizer.load(MODEL);
  const files = ['extension/src/lens/runtimeEngine.ts', 'kernels/runtime/tokenizer.ts', 'kernels/train/lens_train/model.py', 'README.md']
    .map((f) => readFileSync(path.resolve(__dirname, '../../..', f), 'utf8'));
  files.push('a\n  b\n\n\tc  \n d\n\u00e9t\u00e9\n<doc>\nx'.repeat(50));
  for (const text of files) {
    const full = tok.encode(text);
    for (const at of [1, 100, Math.floor(text.length / 3), Math.floor(text.length / 2)]) {
      const cut = safeCut(text, at);
      if (cut >= text.length) continue;
      assert.match(text[cut]!, /[ \t\r\n]/);
      const part = tok.encode(text.slice(0, cut));
      const n = part.ids.length;
      assert.deepEqual(Array.from(part.ids), Array.from(full.ids.subarray(0, n)), `ids before cut ${cut}`);
      assert.equal(full.starts[n], cut, 'the next token of the whole file starts at the cut');
    }
  }
});
