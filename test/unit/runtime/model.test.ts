// The shipped model (kernels/model/) under onnxruntime-node on the CPU against the golden fixtures
// (test/fixtures/model/graphs.json: PyTorch float64 outputs), plus the real tokenizer and the end-to-end
// encoder. Skipped, with a message, until the model and fixtures land.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';
import { CodeTokenizer } from '../../../kernels/runtime/tokenizer.js';
import { EncoderSession } from '../../../kernels/runtime/session.js';

const ROOT = path.join(__dirname, '../../..');
const MODEL = path.join(ROOT, 'kernels/model'), FIX = path.join(ROOT, 'test/fixtures/model');
const noModel = hasModel(MODEL) ? false : 'kernels/model/ has no model yet';
const noTokenizer = existsSync(path.join(MODEL, 'tokenizer.json')) ? false : 'kernels/model/tokenizer.json not shipped yet';
const noFixtures = existsSync(path.join(FIX, 'graphs.json')) && !noModel ? false : 'test/fixtures/model/graphs.json not written yet';

interface BinRef { file: string; dtype: 'float32' | 'int64'; shape: number[]; slice?: string }

function loadBin(b: BinRef): Float32Array | BigInt64Array {
  const buf = readFileSync(path.join(FIX, b.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return b.dtype === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
}

/** x[..., start:stop:step, ...] along one axis of a row-major tensor. */
function sliceAxis(x: ArrayLike<number>, shape: number[], axis: number, start: number, stop: number, step: number): number[] {
  const ax = axis < 0 ? shape.length + axis : axis;
  const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1), n = shape[ax]!;
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (let i = start; i < Math.min(stop, n); i += step) {
    for (let j = 0; j < inner; j++) out.push(x[(o * n + i) * inner + j]!);
  }
  return out;
}

/** The slices fixtures.py documents for large outputs. */
function applySlice(name: string, x: ArrayLike<number>, shape: number[]): ArrayLike<number> {
  switch (name) {
    case 'emb': return sliceAxis(x, shape, 1, 0, Infinity, 8);
    case 'probs': return sliceAxis(x, shape, -2, 0, 2, 1);
    case 'global_probs': return sliceAxis(x, shape, 2, 0, Infinity, 16);
    case 'sigma_q': case 'sigma_k': return sliceAxis(x, shape, 2, 0, 64, 1);
    default: return x;
  }
}

/** ‖a − b‖ / ‖b‖ (the measure fixtures.py reports). */
function normRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i]! - b[i]!) ** 2; n += b[i]! ** 2; }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

for (const graph of ['encoder', 'encoder_dense', 'query', 'lens']) {
  test(`${graph}.fp32.onnx on the CPU matches PyTorch float64 within 1e-4, no NaN`, { skip: noFixtures }, async (t) => {
    const manifest = JSON.parse(readFileSync(path.join(FIX, 'graphs.json'), 'utf8')) as Record<string, { inputs: Record<string, BinRef>; outputs: Record<string, BinRef> }>;
    const entry = manifest[graph];
    const file = path.join(MODEL, `${graph}.fp32.onnx`);
    if (!entry || !existsSync(file)) { t.skip(`no ${graph} graph or fixture`); return; }
    const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, b] of Object.entries(entry.inputs)) {
      const data = loadBin(b);
      feeds[name] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, b.shape) : new ort.Tensor('float32', data, b.shape);
    }
    const out = await session.run(feeds);
    const report: string[] = [];
    for (const [name, b] of Object.entries(entry.outputs)) {
      const got = out[name]!, want = loadBin(b);
      if (want instanceof BigInt64Array) { assert.deepEqual(Array.from(got.data as BigInt64Array), Array.from(want), name); continue; }
      const mine = applySlice(name, got.data as Float32Array, got.dims as number[]);
      assert.ok(!Array.from(mine).some((x) => Number.isNaN(x)), `${name} has NaN`);
      const err = normRel(mine, want);
      report.push(`${name} ${err.toExponential(2)}`);
      assert.ok(err <= 1e-4, `${graph}.${name}: relative error ${err}`);
    }
    console.log(`# ${graph}: ${report.join(', ')}`);
    await session.release();
  });
}

test('the real tokenizer: contract ids, vocabulary, exact round trip and offsets on this repo\'s sources', { skip: noTokenizer }, () => {
  const tok = CodeTokenizer.load(MODEL);
  assert.equal(tok.vocabSize, 8192);
  const files = ['kernels/reference', 'kernels/runtime', 'extension/src/memory']
    .flatMap((d) => readdirSync(path.join(ROOT, d)).map((f) => path.join(ROOT, d, f)));
  for (const f of [...files, path.join(ROOT, 'kernels/CONTRACT.md')]) {
    const text = readFileSync(f, 'utf8');
    const t = tok.encode(text); // throws if the tokens don't cover the bytes exactly
    assert.equal(tok.decode(t.ids), text, f);
  }
});

test('the real tokenizer gives the Rust tokenizer\'s ids (golden cases: code, CRLF, Unicode, emoji, special-token text)', { skip: noTokenizer }, (t) => {
  const golden = JSON.parse(readFileSync(path.join(__dirname, 'tokenizer-golden.json'), 'utf8')) as
    { tokenizerSha256: string; cases: { text: string; ids: number[] }[] };
  const sha = createHash('sha256').update(readFileSync(path.join(MODEL, 'tokenizer.json'))).digest('hex');
  if (sha !== golden.tokenizerSha256) { t.skip('tokenizer.json changed since tokenizer-golden.json was written: regenerate it'); return; }
  const tok = CodeTokenizer.load(MODEL);
  for (const c of golden.cases) {
    const mine = tok.encode(c.text);
    assert.deepEqual(Array.from(mine.ids), c.ids, JSON.stringify(c.text.slice(0, 40)));
    assert.equal(tok.decode(mine.ids), c.text);
  }
});

test('the real encoder: unit-norm chunk embeddings, and the same whether a long file runs in one batch or carried run by run', { skip: noModel }, async () => {
  const text = readFileSync(path.join(ROOT, 'kernels/reference/encoder.ts'), 'utf8').repeat(3);
  const chunks = [{ startOffset: 0, endOffset: 2000 }, { startOffset: text.length - 3000, endOffset: text.length }];
  const one = await EncoderSession.open(MODEL, { provider: 'cpu', maxSegments: 64 });
  const carried = await EncoderSession.open(MODEL, { provider: 'cpu', maxSegments: 1 });
  const [a] = await one.encodeFiles([{ path: 'x', text, chunks }], true);
  const [b] = await carried.encodeFiles([{ path: 'x', text, chunks }], true);
  assert.ok(a!.tokenIds.length > 2 * one.info.config.seg_len, 'spans several segments');
  for (let k = 0; k < chunks.length; k++) {
    const E = one.info.config.emb_dim, x = a!.chunkEmbeddings.subarray(k * E, (k + 1) * E);
    assert.ok(Math.abs(Math.hypot(...x) - 1) < 1e-4);
  }
  assert.ok(normRel(b!.chunkEmbeddings, a!.chunkEmbeddings) < 1e-4, 'memory carried across runs');
  assert.ok(normRel(b!.contribution!.mem, a!.contribution!.mem) < 1e-4);
  const [q] = await one.encodeQueries(['random block layout of one segment']);
  assert.ok(Math.abs(Math.hypot(...q!) - 1) < 1e-4);
  await one.close(); await carried.close();
});
