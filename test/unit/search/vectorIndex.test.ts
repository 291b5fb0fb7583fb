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
import { FRESH_MAX_ROWS, HNSW, loadUsearch, MEMBER_SLOTS, quantize, VectorIndex } from '../../../extension/src/search/vectorIndex.js';
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

/** Saves every graph segment into `dir` (folding the fresh segment first), as VectorSync.save does. */
function saveGraphs(index: VectorIndex, dir: string) {
  index.fold();
  return index.graphs.map((seg, i) => {
    const file = path.join(dir, `g${i}.usearch`);
    seg.g.save(file);
    return { file, name: `g${i}.usearch`, sha1: '' };
  });
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
    const files = saveGraphs(index, dir);
    assert.equal(index.freshRows, 0, 'saving folded the segment into the graph');
    assert.equal(index.rows, rows);
    const again = new VectorIndex(u, dim, 200);
    again.loadGraphs(files, index.members);
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
    saveGraphs(index, dir); // folds the 39 rows into the graph
    assert.equal(index.freshRows, 0);
    assert.equal(index.rows, FRESH_MAX_ROWS + 40);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('HNSW in segments: rows past a segment\'s size start another; search merges them as the exact scan ranks; removals reach old segments; saved and loaded per segment', () => {
  const rand = mulberry32(Date.now() >>> 0);
  const dim = 16, index = new VectorIndex(u, dim, 0, 100); // HNSW from the first row, 100 rows a segment
  const exact = new VectorIndex(u, dim, 1e9); // the same rows scanned exactly (the same int8 rounding)
  const rows: Float32Array[] = [];
  for (let c = 0; c < 300; c++) {
    const id = 1 + c, n = 1 + Math.floor(rand() * 3), vecs = new Float32Array(n * dim);
    for (let m = 0; m < n; m++) { const v = unit(rand, dim); vecs.set(v, m * dim); rows.push(v); }
    index.set(id, vecs);
    exact.set(id, vecs);
  }
  index.fold();
  assert.equal(index.graphs.length, Math.ceil(index.rows / 100));
  assert.ok(index.graphs.slice(0, -1).every((g) => g.size === 100), 'every segment but the newest is full');
  for (let t = 0; t < 20; t++) { // a beam of 512 over 100-row graphs visits every row: the same answer
    const q = unit(rand, dim), got = index.search(q, 5), want = exact.search(q, 5);
    assert.deepEqual(got.map((h) => [h.id, h.member]), want.map((h) => [h.id, h.member]));
    got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i]!.score) < 1e-6)); // two SIMD paths, last-bit differences
  }
  const first = rows[0]!; // chunk 1, in the oldest segment
  assert.equal(index.search(first, 1)[0]!.id, 1);
  index.remove(1);
  assert.equal(index.graphs[0]!.removed > 0, true);
  assert.ok(index.search(first, 400).every((h) => h.id !== 1), 'removed from the oldest segment');
  assert.equal(index.search(first, 400).length, 299, 'every other chunk once');
  index.set(1, first); // back, into the newest segment
  index.fold();
  assert.equal(index.search(first, 1)[0]!.id, 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vindex-'));
  try {
    const again = new VectorIndex(u, dim, 0, 100);
    again.loadGraphs(saveGraphs(index, dir), index.members);
    assert.equal(again.graphs.length, index.graphs.length);
    assert.equal(again.rows, index.rows);
    for (let t = 0; t < 10; t++) {
      const q = unit(rand, dim);
      assert.deepEqual(again.search(q, 5), index.search(q, 5));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('near-copies of one vector: in segments every row is found by its own vector (one usearch graph leaves copies unreachable)', () => {
  const rand = mulberry32(11);
  const dim = 64, copies = 150, others = 1500;
  const centre = unit(rand, dim), vecs: Float32Array[] = [centre];
  for (let c = 0; c < copies; c++) { // cosine ~0.9 with the centre, ~0.81 with each other
    const n = unit(rand, dim);
    const v = centre.map((x, d) => 0.9 * x + Math.sqrt(1 - 0.81) * n[d]!);
    vecs.push(v.map((x) => x / Math.hypot(...v)));
  }
  for (let c = 0; c < others; c++) vecs.push(unit(rand, dim));
  const order = vecs.map((_, i) => i).sort((a, b) => ((a * 7919) % 1663) - ((b * 7919) % 1663)); // copies spread out
  const found = (graphMaxRows: number) => {
    const index = new VectorIndex(u, dim, 0, graphMaxRows);
    for (const i of order) index.set(i + 1, vecs[i]!);
    index.fold();
    return { segments: index.graphs.length, found: vecs.filter((v, i) => index.search(v, 1)[0]?.id === i + 1).length };
  };
  const one = found(1e9), split = found(200);
  assert.equal(one.segments, 1);
  assert.ok(split.segments >= 8);
  assert.equal(split.found, vecs.length, `segments of 200 rows: ${split.found} of ${vecs.length} found themselves`);
  console.log(`# one graph: ${one.found} of ${vecs.length} rows found by their own vector; ${split.segments} segments: ${split.found}`);
});

test('a graph segment folded in batches is the graph the same adds make, byte for byte (bench:scale --workers builds segments so)', () => {
  const rand = mulberry32(5), dim = 16, n = 3000, batch = 700;
  const q = new Int8Array(n * dim);
  for (let r = 0; r < n; r++) q.set(quantize(unit(rand, dim)), r * dim);
  const index = new VectorIndex(u, dim, 0, 1e9);
  const raw = new u.CompiledIndex(dim, 'cos', 'i8', HNSW.connectivity, HNSW.expansionAdd, HNSW.expansionSearch, false);
  for (let from = 0; from < n; from += batch) { // chunks of one row, `batch` at a time, folded after each
    const ids = Array.from({ length: Math.min(batch, n - from) }, (_, i) => from + i + 1), rows = q.subarray(from * dim, (from + ids.length) * dim);
    index.addRows(ids, ids.map(() => 1), rows);
    index.fold();
    raw.add(BigUint64Array.from(ids, (id) => BigInt(id * MEMBER_SLOTS)), rows, 1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vindex-'));
  try {
    index.graphs[0]!.g.save(path.join(dir, 'folded.usearch'));
    raw.save(path.join(dir, 'raw.usearch'));
    assert.equal(index.graphs.length, 1);
    assert.ok(fs.readFileSync(path.join(dir, 'folded.usearch')).equals(fs.readFileSync(path.join(dir, 'raw.usearch'))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
