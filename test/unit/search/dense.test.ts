// Dense ranking (brute-force dot product) and the hybrid fusion, checked against values computed by hand or
// by a plain full sort on fresh random data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeRows, type EmbeddingMatrix } from '../../../extension/src/core/embeddingMatrix.js';
import { DenseRanker, matrixSpace, topKByDot } from '../../../extension/src/search/denseRanker.js';
import { mulberry32 } from '../../../kernels/runtime/random.js';

function matrix(rows: number[][], ids?: number[]): EmbeddingMatrix {
  const dim = rows[0]?.length ?? 2;
  const q = new Int8Array(rows.length * dim), scale = new Float32Array(rows.length);
  quantizeRows(Float32Array.from(rows.flat()), dim, q, scale);
  return { ids: Int32Array.from(ids ?? rows.map((_, i) => i + 1)), q, scale, dim };
}

/** Row i of a matrix as the ranker sees it (dequantised). */
const rowOf = (m: EmbeddingMatrix, i: number) => Array.from(m.q.subarray(i * m.dim, (i + 1) * m.dim), (x) => x * m.scale[i]!);

test('quantizeRows: int8 with a scale per row, each component within half a step, the largest exact', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const dim = 256, n = 50;
  const vecs = Float32Array.from({ length: n * dim }, () => rand() * 2 - 1);
  const q = new Int8Array(n * dim), scale = new Float32Array(n);
  quantizeRows(vecs, dim, q, scale);
  for (let r = 0; r < n; r++) {
    const row = vecs.subarray(r * dim, (r + 1) * dim);
    const max = Math.max(...row.map(Math.abs));
    assert.ok(Math.abs(scale[r]! - max / 127) < 1e-6);
    for (let d = 0; d < dim; d++) assert.ok(Math.abs(q[r * dim + d]! * scale[r]! - row[d]!) <= scale[r]! / 2 + 1e-7);
    assert.equal(Math.max(...q.subarray(r * dim, (r + 1) * dim).map(Math.abs)), 127);
  }
  const zero = new Int8Array(2), zs = new Float32Array(1);
  quantizeRows(new Float32Array(2), 2, zero, zs);
  assert.deepEqual([...zero, ...zs], [0, 0, 1], 'a zero row stays zero');
});

test('topKByDot returns the best rows by dot product, best first', () => {
  const m = matrix([[1, 0], [0, 1], [0.6, 0.8], [-1, 0]]);
  const r = topKByDot(m, Float32Array.from([0.8, 0.6]), 3);
  assert.deepEqual(r.map((x) => x.id), [3, 1, 2]); // 0.96, 0.8, 0.6
  assert.ok(Math.abs(r[0]!.score - rowOf(m, 2).reduce((a, x, d) => a + x * [0.8, 0.6][d]!, 0)) < 1e-6);
  assert.ok(Math.abs(r[0]!.score - 0.96) < 0.01);
});

test('topKByDot matches a full sort on random data, for several k', () => {
  const rand = mulberry32(Date.now() >>> 0); // fresh data each run; the property must hold for any
  const n = 503, dim = 17;
  const rows = Array.from({ length: n }, () => Array.from({ length: dim }, () => rand() * 2 - 1));
  const ids = Array.from({ length: n }, (_, i) => 1000 + ((i * 7919) % n)); // ids not in row order
  const q = Float32Array.from({ length: dim }, () => rand() * 2 - 1);
  const m = matrix(rows, ids);
  const all = rows.map((_, i) => ({ id: ids[i]!, score: rowOf(m, i).reduce((a, x, d) => a + x * q[d]!, 0) }))
    .sort((a, b) => b.score - a.score || a.id - b.id);
  for (const k of [1, 10, 64, n, n + 5]) {
    const got = topKByDot(m, q, k);
    assert.deepEqual(got.map((x) => x.id), all.slice(0, k).map((x) => x.id), `k=${k}`);
  }
});

test('ties go to the lower chunk id, whatever the row order', () => {
  const m = matrix([[1, 0], [1, 0], [1, 0], [0, 1]], [30, 10, 20, 5]);
  assert.deepEqual(topKByDot(m, Float32Array.from([1, 0]), 2).map((x) => x.id), [10, 20]);
});

test('excluded ids, empty matrices, limit 0 and a wrong query width', () => {
  const m = matrix([[1, 0], [0.9, 0.1], [0, 1]]);
  assert.deepEqual(topKByDot(m, Float32Array.from([1, 0]), 2, new Set([1])).map((x) => x.id), [2, 3]);
  assert.deepEqual(topKByDot({ ids: new Int32Array(0), q: new Int8Array(0), scale: new Float32Array(0), dim: 2 }, Float32Array.from([1, 0]), 5), []);
  assert.deepEqual(topKByDot(m, Float32Array.from([1, 0]), 0), []);
  assert.throws(() => topKByDot(m, Float32Array.from([1, 0, 0]), 2), /3 dims, the index 2/);
});

test('DenseRanker embeds the query once and ranks the current matrix; a blank query ranks nothing', async () => {
  let current = matrix([[1, 0]]);
  const asked: string[] = [];
  const r = new DenseRanker(() => matrixSpace(current), async (q) => { asked.push(q); return Float32Array.from([0, 1]); });
  assert.deepEqual((await r.rank('a', 5)).map((x) => x.id), [1]);
  current = matrix([[1, 0], [0, 1]]); // new vectors stored since: seen by the next query
  assert.deepEqual((await r.rank('b', 5)).map((x) => x.id), [2, 1]);
  assert.deepEqual(await r.rank('   ', 5), []);
  assert.deepEqual(asked, ['a', 'b']);
});


test('topKByDot scores a chunk of several adjacent rows by its best row and returns it once', () => {
  // chunk 7 has three rows (a packed chunk's members), chunk 8 one, chunk 9 two
  const m = matrix([[0, 1], [0.6, 0.8], [-1, 0], [0.8, 0.6], [0.28, 0.96], [-0.6, -0.8]], [7, 7, 7, 8, 9, 9]);
  const r = topKByDot(m, Float32Array.from([1, 0]), 3);
  assert.deepEqual(r.map((x) => x.id), [8, 7, 9]);
  assert.deepEqual(r.map((x) => Math.round(x.score * 100) / 100), [0.8, 0.6, 0.28]);
  assert.deepEqual(topKByDot(m, Float32Array.from([1, 0]), 3, new Set([8])).map((x) => x.id), [7, 9]);
  assert.deepEqual(topKByDot(m, Float32Array.from([0, 1]), 1).map((x) => x.id), [7]);
});
