// The lens through the encoder-graph path (kernels/runtime/lensMemory.ts: encoder graph for the distant past,
// lens graph on the recall window and the cursor's segment, memory checkpoints and σ(k) cached per file
// version) equals the old path — the lens graph run on every segment 0..s in order — on the REAL shipped model.
// A small recall window (2 segments) and checkpoint spacing (4) make a 9-segment file exercise every case:
// first request, later cursor, same cursor, earlier cursor, a shorter prefix, an edit, the partial last segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { LensState, type LensResult, type LensTarget } from '../../../kernels/runtime/lens.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';
import { docStream, type DocStream } from '../../../kernels/runtime/segments.js';
import { EncoderSession, floats } from '../../../kernels/runtime/session.js';
import { tokenRanges } from '../../../kernels/runtime/tokenizer.js';

const MODEL = path.resolve(__dirname, '../../../kernels/model');
const skip = hasModel(MODEL) ? false : 'no model in kernels/model';
const W = 2; // recall window of the tested LensState (the shipped default is 32)
const TOL = 1e-5;

/** Varied TypeScript, `n` characters or more. */
function source(n: number, salt = ''): string {
  const lines: string[] = [];
  for (let i = 0, len = 0; len < n; i++) {
    const block = [`export function ${salt}mix${i}(xs: number[], k = ${(i * 37) % 101}): number {`,
      `  let acc = ${i % 9};`, `  for (const x of xs) acc = (acc * 31 + x * k) % ${1000 + (i % 17)};`,
      i % 3 === 0 ? `  // case ${i}: fold the tail into the head` : `  if (acc > ${i}) acc -= xs.length;`, '  return acc;', '}'];
    lines.push(...block);
    len += block.join('\n').length + 1;
  }
  return lines.join('\n');
}

/** The old path: the lens graph on segments 0..nSeg-1 in order, each mem_out fed to the next mem_in. */
async function allLensPath(session: EncoderSession, doc: DocStream) {
  const c = session.info.config, T = c.seg_len, L = c.n_layers, Hkv = c.n_kv_heads, D = c.d_head;
  let mem = new Float32Array(L * Hkv * D * D), z = new Float32Array(L * Hkv * D);
  const segs = [];
  for (let s = 0; s * T < doc.ids.length; s++) {
    const ids = new BigInt64Array(T), valid = new Float32Array(T);
    for (let t = 0; t < T && s * T + t < doc.ids.length; t++) { ids[t] = BigInt(doc.ids[s * T + t]!); valid[t] = 1; }
    const out = await session.run('lens', { input_ids: new ort.Tensor('int64', ids, [1, T]), valid: new ort.Tensor('float32', valid, [1, T]),
      rand_blocks: session.randBlocks, mem_in: new ort.Tensor('float32', mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', z, [L, Hkv, D]) });
    segs.push({ zBefore: z, probs: floats(out.probs!).slice(), globalProbs: floats(out.global_probs!).slice(), gates: floats(out.gates!).slice(),
      keyBlocks: Array.from(out.key_blocks!.data as BigInt64Array, Number), sigmaQ: floats(out.sigma_q!).slice(), sigmaK: floats(out.sigma_k!).slice() });
    mem = floats(out.mem_out!).slice(); z = floats(out.z_out!).slice();
  }
  return segs;
}
type Reference = Awaited<ReturnType<typeof allLensPath>>;

/** ‖a − b‖ / ‖b‖. */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i]! - b[i]!) ** 2; n += b[i]! ** 2; }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

/** The lens of `target` equals the old path's segment, and so do the memory-read weights of some tokens. */
function check(session: EncoderSession, state: LensState, r: LensResult, ref: Reference, text: string, doc: DocStream, what: string): number {
  const c = session.info.config, T = c.seg_len, D = c.d_head, H = c.n_heads, Hkv = c.n_kv_heads, s = r.segment, o = ref[s]!;
  let worst = 0;
  const near = (a: ArrayLike<number>, b: ArrayLike<number>, name: string) => {
    const e = rel(a, b); worst = Math.max(worst, e);
    assert.ok(e <= TOL, `${what}: ${name} of segment ${s}: relative error ${e}`);
  };
  near(r.probs, o.probs, 'probs'); near(r.globalProbs, o.globalProbs, 'global_probs'); near(r.gates, o.gates, 'gates');
  assert.deepEqual(Array.from(r.keyBlocks), o.keyBlocks, `${what}: key_blocks`);
  const n = Math.min(T, doc.ids.length - s * T);
  assert.deepEqual(Array.from(r.tokenIds), Array.from(doc.ids.subarray(s * T, s * T + n)), `${what}: token ids`);
  const ranges = [{ startLine: 0, startColumn: 0, endLine: 0, endColumn: 0 }, // stream token 0 is <doc>
    ...tokenRanges(text, { ids: doc.ids.subarray(1), starts: doc.starts.subarray(1), ends: doc.ends.subarray(1) })];
  assert.deepEqual(r.ranges, ranges.slice(s * T, s * T + n), `${what}: ranges`);
  if (s === 0) return worst;
  const first = Math.max(0, s - W);
  for (const [l, h, t] of [[0, 0, 5], [c.n_layers - 1, H - 1, n - 1], [1, 2, Math.floor(n / 2)]] as const) {
    const g = Math.floor(h / (H / Hkv)), sq = o.sigmaQ.subarray(((l * H + h) * T + t) * D, ((l * H + h) * T + t + 1) * D);
    let den = 1e-6;
    for (let a = 0; a < D; a++) den += sq[a]! * o.zBefore[(l * Hkv + g) * D + a]!;
    const w: number[] = []; // reference weight of every kept past token, stream order from segment `first`
    for (let j = first; j < s; j++) for (let u = 0; u < T; u++) {
      let dot = 0;
      for (let a = 0; a < D; a++) dot += sq[a]! * ref[j]!.sigmaK[((l * Hkv + g) * T + u) * D + a]!;
      w.push(dot / den);
    }
    const got = state.recall(l, h, t, 20);
    near([got.total], [w.reduce((a, b) => a + b, 0)], `recall total (${l},${h},${t})`);
    near(got.tokens.map((x) => x.weight), [...w].sort((a, b) => b - a).slice(0, 20), `recall top-20 (${l},${h},${t})`);
    near(got.tokens.map((x) => x.weight), got.tokens.map((x) => w[x.index - first * T]!), `recall weights by index (${l},${h},${t})`);
    // The read per kept past segment: the reference weights summed segment by segment.
    assert.equal(got.firstSegment, first);
    near(got.bySegment, Array.from({ length: s - first }, (_, j) => w.slice(j * T, (j + 1) * T).reduce((a, b) => a + b, 0)), `recall by segment (${l},${h},${t})`);
  }
  return worst;
}

/** The first safe cut (see LensState.tokenize) at or after `at`. */
function cutAfter(text: string, at: number): number {
  for (let i = at; i < text.length; i++) if (/[ \n]/.test(text[i]!) && /[!-~]/.test(text[i - 1]!)) return i;
  return text.length;
}

test('lens via the encoder graph + caches equals the all-lens-graph path (real model, 9 segments)', { skip }, async () => {
  const session = await EncoderSession.open(MODEL, { provider: 'cpu', maxSegments: 3 }); // runs of 3: the carry across runs is exercised
  const T = session.info.config.seg_len;
  let text = source(20_000);
  while (Math.ceil(docStream(session.tokenizer.encode(text)).ids.length / T) < 9) text = source(text.length * 1.05);
  const doc = docStream(session.tokenizer.encode(text));
  const nSeg = Math.ceil(doc.ids.length / T);
  assert.ok(nSeg === 9 && doc.ids.length % T !== 0, `9 segments (${nSeg}), the last one partial`);
  const ref = await allLensPath(session, doc);
  const state = new LensState(session, { recallSegments: W, checkpointEvery: 4 });
  let worst = 0;
  const ask = async (t: string, d: DocStream, r: Reference, target: LensTarget, what: string,
    work: { encoderSegments: number; lensSegments: number; tokenized: string }) => {
    const res = await state.run(t, target);
    worst = Math.max(worst, check(session, state, res, r, t, d, what));
    assert.deepEqual(res.work, work, `${what}: work done`);
    return res;
  };
  // 1. A prefix holding segment 6 whole, cursor in segment 6: encoder over 0..3 (runs 3 + 1), lens on 4, 5, 6.
  const cut7 = cutAfter(text, doc.ends[7 * T - 1]!);
  const r1 = await ask(text.slice(0, cut7), doc, ref, { offset: doc.starts[6 * T + 100]! }, 'first, by offset',
    { encoderSegments: 4, lensSegments: 3, tokenized: 'all' });
  assert.equal(r1.segment, 6); assert.equal(r1.cursorToken, 100);
  // 2. The whole file, a later segment: σ(k) of 5 and 6 and the memory after 6 are cached, only 7 runs.
  await ask(text, doc, ref, 7, 'later', { encoderSegments: 0, lensSegments: 1, tokenized: 'tail' });
  // 3. The same segment again.
  await ask(text, doc, ref, 7, 'same', { encoderSegments: 0, lensSegments: 1, tokenized: 'none' });
  // 4. An earlier cursor in a shorter prefix: window 3..4; the memory before 3 from zeros (no checkpoint ≤ 3), 4 at the checkpoint.
  await ask(text.slice(0, cutAfter(text, doc.ends[6 * T - 1]!)), doc, ref, 5, 'earlier', { encoderSegments: 3, lensSegments: 3, tokenized: 'prefix' });
  // 5. The partial last segment of the whole file.
  await ask(text, doc, ref, nSeg - 1, 'last', { encoderSegments: 0, lensSegments: 3, tokenized: 'tail' });
  // 6. An edit inside segment 5: checkpoint 4 survives, everything after the edit is recomputed.
  const at = doc.starts[5 * T + 300]!;
  const edited = text.slice(0, at) + 'zz' + text.slice(at);
  const docE = docStream(session.tokenizer.encode(edited));
  const refE = await allLensPath(session, docE);
  await ask(edited, docE, refE, 7, 'edited', { encoderSegments: 1, lensSegments: 3, tokenized: 'all' });
  // 7. Another file, then back: the first file's checkpoints are still there (σ(k) is not).
  const other = source(9000, 'o'), docO = docStream(session.tokenizer.encode(other));
  assert.ok(docO.ids.length > T, 'the other file has two segments or more');
  await ask(other, docO, await allLensPath(session, docO), 1, 'other file', { encoderSegments: 0, lensSegments: 2, tokenized: 'all' });
  await ask(edited, docE, refE, 6, 'back', { encoderSegments: 0, lensSegments: 3, tokenized: 'all' });
  console.log(`# ${nSeg} segments; largest relative error vs the all-lens-graph path ${worst.toExponential(2)}`);
  await session.close();
});
