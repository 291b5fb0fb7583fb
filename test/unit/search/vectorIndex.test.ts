// The usearch vector index against the exact JS scan (denseRanker.topKByDot) on fresh random data: exact mode
// must give the same chunks in the same order (scores differ only by the query's int8 rounding), HNSW mode on a
// small space must find them too; packed chunks score as their best member; removals and replacements are seen.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeRows, type EmbeddingMatrix } from '../../../extension/src/core/embeddingMatrix.js';
import { topKByDot } from '../../../extension/src/search/denseRanker.js';
import { FRESH_MAX_ROWS, loadUsearch, VectorIndex } from '../../../extension/src/search/vectorIndex.js';
import { mulberry32 } from '../../../kernels/runtime/random.js';

const u = loadUsearch().mod!;

function unit(rand: () => number, dim: number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => rand() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** `chunks` chunks of 1..3 members each, as the index and as the reference matrix. */
function space(rand: () => number, chunks: number, dim: number, exactMaxRows: number) {
  const index = new VectorIndex(u, dim, exactMaxRows);
  const ids: number[] = [], rows: Float32Array[] = [];
  for (let c = 0; c < chunks; c++) {
    const id = 10 + c * 3, n = 1 + Math.floor(rand() * 3);
    const vecs = new Float32Array(n * dim);
    for (let m = 0; m < n; m++) { const v = unit(rand, dim); vecs.set(v, m * dim); rows.push(v); ids.push(id); }
    index.set(id, vecs);
  }
  return { index, ids, rows };
}

function matrixOf(ids: number[], rows: Float32Array[], dim: number): EmbeddingMatrix {
  const q = new Int8Array(rows.length * dim), scale = new Float32Array(rows.length);
  quantizeRows(Float32Array.from(rows.flatMap((r) => [...r])), dim, q, scale);
  return { ids: Int32Array.from(ids), q, scale, dim };
}

test('exact mode ranks the same chunks as the JS scan, a packed chunk by its best member', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const dim = 32;
  const { index, ids, rows } = space(rand, 400, dim, 1e9);
  assert.equal(index.mode, 'exact');
  const m = matrixOf(ids, rows, dim);
  let same = 0, total = 0;
  for (let t = 0; t < 20; t++) {
    const q = unit(rand, dim);
    const want = topKByDot(m, q, 10), got = index.search(q, 10);
    assert.equal(got.length, 10);
    assert.equal(new Set(got.map((h) => h.id)).size, 10, 'each chunk once');
    for (const h of got) {
      const ref = topKByDot(m, q, 1000).find((r) => r.id === h.id)!;
      assert.ok(Math.abs(h.score - ref.score) < 0.03, `score ${h.score} against the scan's ${ref.score}`);
      assert.equal(h.member, ref.member, `chunk ${h.id}: best member`);
    }
    same += got.filter((h) => want.some((w) => w.id === h.id)).length;
    total += 10;
  }
  // int8 rounding of the query may swap near-ties at the edge of the top 10, nothing more
  assert.ok(same / total >= 0.97, `overlap with the exact scan ${same}/${total}`);
});

test('HNSW mode (past the threshold) finds what the exact scan finds on a small space', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const dim = 32;
  const { index, ids, rows } = space(rand, 600, dim, 200);
  assert.equal(index.mode, 'hnsw');
  index.fold(); // every row into the graph (below FRESH_MAX_ROWS they would wait in the exact segment)
  assert.equal(index.freshRows, 0);
  const m = matrixOf(ids, rows, dim);
  let same = 0;
  for (let t = 0; t < 20; t++) {
    const q = unit(rand, dim);
    const want = new Set(topKByDot(m, q, 10).map((r) => r.id));
    same += index.search(q, 10).filter((h) => want.has(h.id)).length;
  }
  assert.ok(same / 200 >= 0.95, `recall@10 ${same / 200}`);
});

for (const [exactMaxRows, fold] of [[1e9, false], [50, false], [50, true]] as const) {
  const kind = exactMaxRows === 1e9 ? 'exact' : fold ? 'HNSW, rows in the graph' : 'HNSW, rows in the fresh segment';
  test(`removals, replacements and exclusions are seen at once (${kind})`, () => {
    const dim = 8, index = new VectorIndex(u, dim, exactMaxRows);
    const e = (d: number) => { const v = new Float32Array(dim); v[d] = 1; return v; };
    // 60 distinct directions, none along dim 0 (identical vectors make a degenerate graph: one in ~15 runs it
    // missed some of them)
    const rand = mulberry32(11);
    for (let id = 1; id <= 60; id++) { const v = unit(rand, dim); v[0] = 0; index.set(id, v.map((x) => x / Math.hypot(...v))); }
    if (fold) index.fold();
    assert.equal(index.freshRows, exactMaxRows === 50 && !fold ? 60 : 0);
    index.set(7, Float32Array.from([...e(0), ...e(5)])); // a packed chunk: member 0 points along dim 0
    let hit = index.search(e(0), 1)[0]!;
    assert.deepEqual([hit.id, hit.member], [7, 0]);
    assert.ok(hit.score > 0.99);
    assert.equal(index.rows, 61);
    assert.deepEqual(index.search(e(0), 1, new Set([7]))[0]!.id === 7, false, 'excluded');
    index.remove(7);
    assert.equal(index.rows, 59);
    assert.ok(index.search(e(0), 60).every((h) => h.id !== 7));
    index.set(9, e(0)); // replaced: one member now
    hit = index.search(e(0), 1)[0]!;
    assert.deepEqual([hit.id, hit.member], [9, undefined]);
    assert.equal(index.search(e(0), 1000).length, 59, 'every chunk once');
    assert.throws(() => index.search(new Float32Array(3), 2), /3 dims, the index 8/);
  });
}

test('HNSW mode: a changed chunk waits in the exact segment, found first at once; saving folds it into the graph', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const dim = 32;
  const { index } = space(rand, 600, dim, 200);
  index.fold();
  const fresh = unit(rand, dim);
  index.set(5, Float32Array.from([...unit(rand, dim), ...fresh])); // a new packed chunk; member 1 is the query
  assert.equal(index.freshRows, 2);
  let hit = index.search(fresh, 3)[0]!;
  assert.deepEqual([hit.id, hit.member], [5, 1]);
  assert.ok(hit.score > 0.99);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vindex-'));
  try {
    const rows = index.rows;
    index.saveHnsw(path.join(dir, 'g.usearch'));
    assert.equal(index.freshRows, 0, 'saving folded the segment into the graph');
    assert.equal(index.rows, rows);
    const again = new VectorIndex(u, dim, 200);
    again.loadHnsw(path.join(dir, 'g.usearch'), index.members);
    hit = again.search(fresh, 3)[0]!;
    assert.deepEqual([hit.id, hit.member], [5, 1], 'the saved graph holds it');
    again.remove(5);
    assert.ok(again.search(fresh, 50).every((h) => h.id !== 5));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('HNSW mode: a full exact segment folded in by one save, more changes, then a save: the graph takes them (usearch reserves per-thread state only when it grows)', () => {
  const dim = 8, index = new VectorIndex(u, dim, 0); // HNSW from the first row
  const rand = mulberry32(7);
  for (let id = 1; id <= FRESH_MAX_ROWS + 1; id++) index.set(id, unit(rand, dim)); // the segment overflows: folded
  assert.equal(index.freshRows, 0);
  for (let id = FRESH_MAX_ROWS + 2; id <= FRESH_MAX_ROWS + 40; id++) index.set(id, unit(rand, dim));
  assert.equal(index.freshRows, 39);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vindex-'));
  try {
    index.saveHnsw(path.join(dir, 'g.usearch')); // folds the 39 rows into the graph
    assert.equal(index.freshRows, 0);
    assert.equal(index.rows, FRESH_MAX_ROWS + 40);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
