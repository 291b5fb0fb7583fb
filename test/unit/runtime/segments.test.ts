import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkTokens, docStream, meanPool, planRuns, runInputs, segmentCount } from '../../../kernels/runtime/segments.js';
import { CodeTokenizer, SPECIAL } from '../../../kernels/runtime/tokenizer.js';
import { fromHalf, toHalf } from '../../../kernels/runtime/tensors.js';
import { tinyTokenizerJson } from './tinyTokenizer.js';

test('planRuns packs segments, splits long docs across runs and marks continuations', () => {
  const T = 4;
  const runs = planRuns([3, 9, 1, 20], T, 4); // segments: 1, 3, 1, 5
  assert.deepEqual(runs.map((r) => r.segments), [4, 4, 2]);
  assert.deepEqual(runs[1]!.pieces, [{ doc: 2, firstSegment: 0, segments: 1, continues: false }, { doc: 3, firstSegment: 0, segments: 3, continues: false }]);
  assert.deepEqual(runs[2]!.pieces, [{ doc: 3, firstSegment: 3, segments: 2, continues: true }]);
  for (const r of runs) r.pieces.forEach((p, i) => assert.ok(!p.continues || i === 0, 'a continuation opens its run'));
  const total = runs.flatMap((r) => r.pieces).reduce((a, p) => a + p.segments, 0);
  assert.equal(total, [3, 9, 1, 20].reduce((a, n) => a + segmentCount(n, T), 0));
  // One doc per run: no run mixes docs, so each run's mem_sum belongs to one file.
  for (const r of planRuns([3, 9, 1, 20], T, 4, true)) assert.equal(new Set(r.pieces.map((p) => p.doc)).size, 1);
});

test('runInputs lays tokens into padded segments with seg_doc numbering per run', () => {
  const mk = (n: number, base: number) => ({ ids: Int32Array.from({ length: n }, (_, i) => base + i), starts: new Int32Array(n), ends: new Int32Array(n) });
  const docs = [mk(5, 100), mk(2, 200)];
  const [run] = planRuns([5, 2], 4, 8);
  const x = runInputs(run!, docs, 4);
  assert.deepEqual(Array.from(x.ids, Number), [100, 101, 102, 103, 104, 0, 0, 0, 200, 201, 0, 0]);
  assert.deepEqual(Array.from(x.valid), [1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(x.segDoc, Number), [0, 0, 1]);
});

test('chunks map to the tokens overlapping their span; pooling is an L2-normalised mean', () => {
  const text = 'function foo(bar) {\n  return bar;\n}\n\nfunction baz() {}\n';
  const tok = CodeTokenizer.fromJson(tinyTokenizerJson(text));
  const doc = docStream(tok.encode(text));
  assert.equal(doc.ids[0], SPECIAL.doc);
  const second = text.indexOf('function baz');
  const toks = chunkTokens(doc, second, text.length);
  assert.ok(toks.length > 0 && !toks.includes(0));
  for (const i of toks) assert.ok(doc.ends[i]! > second && doc.starts[i]! < text.length);
  // Every token of the text falls in exactly one of two adjacent chunks.
  const a = chunkTokens(doc, 0, second), b = chunkTokens(doc, second, text.length);
  const boundary = a.filter((i) => b.includes(i));
  assert.ok(boundary.length <= 1); // a token may straddle the boundary (e.g. '\n\n' before 'function')
  assert.equal(new Set([...a, ...b]).size, doc.ids.length - 1);
  assert.equal(chunkTokens(doc, 5, 5).length, 1, 'an empty span still gets the token at its position');
  const E = 3, rows = [Float32Array.of(1, 0, 0), Float32Array.of(0, 2, 0), Float32Array.of(3, 2, 0)];
  const p = meanPool((t) => rows[t]!, [0, 1, 2], E);
  const n = Math.hypot(4 / 3, 4 / 3);
  assert.ok(Math.abs(p[0]! - 4 / 3 / n) < 1e-6 && Math.abs(p[1]! - 4 / 3 / n) < 1e-6 && p[2] === 0);
});

test('float16 conversion round-trips representable values and rounds the rest to nearest', () => {
  const xs = Float32Array.of(0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 1e-3, 3.14159, 1e6, -1e-9);
  const back = fromHalf(toHalf(xs));
  assert.deepEqual(Array.from(back.subarray(0, 7)), Array.from(xs.subarray(0, 7)));
  assert.ok(Math.abs(back[7]! - 1e-3) < 1e-3 * 2 ** -10);
  assert.ok(Math.abs(back[8]! - 3.14159) < 3.14159 * 2 ** -10);
  assert.equal(back[9], Infinity);
  assert.ok(Object.is(back[10], -0));
});
