// The dense search space held in memory by usearch (unum-cloud/usearch: SIMD int8 cosine, exact and HNSW).
// One int8 row per vector: a packed chunk has one row per member (its key is chunkId * MEMBER_SLOTS + member)
// and scores as its best member, as the exact JS scan (denseRanker.topKByDot) does.
//
// Small spaces are scanned exactly (usearch's exactSearch over one flat int8 matrix); above EXACT_MAX_ROWS rows
// the rows move into HNSW graphs, which answer in under a millisecond where the scan takes tens at 1M rows.
// The threshold is measured, not guessed: `npm run bench:scale -- --crossover` (docs/scale.md). In HNSW mode the
// chunks changed since the graph last took rows wait in a small exact segment searched beside it (at most
// FRESH_MAX_ROWS rows; folded into the graph when full and before the graph is saved): a file just saved is found
// by the exact scan, whatever the graph's recall around it (at 1M chunks a fresh vector added to the graph was
// not always found, even by itself).
//
// The graph is kept in segments of at most GRAPH_MAX_ROWS rows, searched one after the other and merged (as Lucene
// keeps one HNSW graph per segment). usearch keeps only the neighbours its heuristic picks, so many near-copies of
// one vector (a boilerplate block, a vendored file copied around) form a star around it: each copy links to the
// centre, the centre keeps at most 2 x connectivity of them, and the rest can be reached by no search, not even
// their own vector's. Segments hold fewer copies each; bench:scale measures recall and how many rows find
// themselves (docs/scale.md).
//
// usearch ships N-API prebuilds for linux-x64/arm64, darwin and win32-x64 only; loadUsearch() answers
// undefined elsewhere (win32-arm64) or when the addon is missing, and the caller keeps the exact JS scan.
//
// We call the addon itself, not usearch's JS wrapper: the wrapper turns every Int8Array into a Float32Array,
// which an int8 index then casts back by x * 127 with clamping, so rows already quantised to [-127, 127]
// saturate. Handed Int8Array rows, the addon stores them as they are (one scale a row is no matter: cosine).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_CHUNK_MEMBERS } from '../core/api.js';
import type { RankedChunk } from './ranker.js';

/** The parts of usearch's N-API addon (javascript/lib.cpp) used here. */
export interface NativeIndex {
  add(keys: BigUint64Array, rows: Int8Array, threads: number): void;
  search(query: Int8Array, k: number, threads: number): [BigUint64Array, Float32Array, BigUint64Array];
  remove(keys: BigUint64Array): number[];
  size(): number;
  save(file: string): void;
  load(file: string): void;
}
export interface Usearch {
  CompiledIndex: new (dims: number, metric: string, quantization: string, connectivity: number, expansionAdd: number,
    expansionSearch: number, multi: boolean) => NativeIndex;
  /** Exact top-k by `metric`; reads both arrays from their buffer's start (byteOffset must be 0). */
  exactSearch(dataset: Int8Array, queries: Int8Array, dims: number, k: number, metric: string, threads: number): [BigUint64Array, Float32Array, BigUint64Array];
}

/** Row key of member `m` of chunk `id` (a chunk has at most MAX_CHUNK_MEMBERS members). */
export const MEMBER_SLOTS = MAX_CHUNK_MEMBERS;

/** Above this many rows the HNSW graph (search beam 512, below) answers faster than the exact int8 scan: on this
 * project's 2-core dev machine the two were level at 36k rows (1.02 against 1.06 ms p50) and the graph was faster
 * from 51k on (1.08 against 1.39 ms); with a beam of 128 they had been level at 6.6k. `npm run bench:scale --
 * --crossover` measures it (docs/scale.md). */
export const EXACT_MAX_ROWS = 40_000;

/** The threshold in use: EXACT_MAX_ROWS, or INFINILENS_EXACT_MAX_ROWS (a whole number) where set, so that tests
 * and the crash test can put a small index into HNSW mode. */
export function exactMaxRowsSetting(): number {
  return rowsSetting('INFINILENS_EXACT_MAX_ROWS', EXACT_MAX_ROWS);
}

/** GRAPH_MAX_ROWS, or INFINILENS_GRAPH_MAX_ROWS (at least 1) where set: the crash test makes small segments. */
export function graphMaxRowsSetting(): number {
  return Math.max(1, rowsSetting('INFINILENS_GRAPH_MAX_ROWS', GRAPH_MAX_ROWS));
}

function rowsSetting(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number of rows, not '${v}'`);
  return Number(v);
}

/** Rows per HNSW graph segment: a full segment is left as it is (removals still reach it) and the next rows start
 * another. Measured by bench:scale at 1M chunks (2.47M rows, ~72 near-copies of each dev vector; docs/scale.md):
 * one graph found 0.50 of the chunks by their own vector and gave recall@10 0.52; segments of 1M rows 0.98 / 0.93;
 * of 500k rows 0.998 / 0.991 at p50 5.8 ms (one search per segment, so smaller ones cost latency). */
export const GRAPH_MAX_ROWS = 500_000;

/** One HNSW segment: the graph, the rows removed from it since it was made or loaded (usearch keeps them as
 * tombstones, which take places in a search's answer before it drops them), and the file it was last saved to or
 * loaded from with that file's SHA-1 (cleared by any change, so an unchanged segment is not written again). */
export class Graph {
  removed = 0;
  saved?: { name: string; sha1: string };
  constructor(readonly g: NativeIndex) {}
  get size(): number { return this.g.size(); }
}

/** HNSW settings (usearch's connectivity, expansion_add, expansion_search); bench:scale measures the recall they
 * give against the exact scan (docs/scale.md). The search beam is 512: at 200k chunks it took recall@10 from 0.937
 * (beam 128) to 0.990 for +0.45 ms p50 (same graph, `bench:scale -- --chunks 200k --ef-sweep 128,512,2048`); at 1M
 * chunks in 500k-row segments 0.945 (beam 128) against 0.991. */
export const HNSW = { connectivity: 16, expansionAdd: 64, expansionSearch: 512 };

let loaded: { mod?: Usearch; why?: string } | undefined;

/** The usearch addon, or undefined (with the reason in `why`) where no prebuild loads or INFINILENS_VECTOR_INDEX=off
 * (to compare with the exact JS scan). */
export function loadUsearch(): { mod?: Usearch; why?: string } {
  if (!loaded && process.env.INFINILENS_VECTOR_INDEX === 'off') loaded = { why: 'the vector index is off (INFINILENS_VECTOR_INDEX=off)' };
  if (!loaded) {
    try {
      // Runtime requires (esbuild leaves 'usearch' external), so a VSIX without the addon still loads. The
      // package folder is the one holding prebuilds/, where node-gyp-build picks this platform's binary.
      let dir = path.dirname(require.resolve('usearch'));
      while (!fs.existsSync(path.join(dir, 'prebuilds')) && !fs.existsSync(path.join(dir, 'build')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
      const gypBuild = require('node-gyp-build') as (dir: string) => Usearch;
      loaded = { mod: gypBuild(dir) };
    } catch (err) {
      loaded = { why: `usearch unavailable on ${process.platform}-${process.arch} (${(err as Error).message.split('\n')[0]})` };
    }
  }
  return loaded;
}

/** Symmetric int8 quantisation of one vector to the full [-127, 127] range (cosine ignores the scale). */
export function quantize(v: Float32Array, out = new Int8Array(v.length)): Int8Array {
  let max = 0;
  for (let d = 0; d < v.length; d++) max = Math.max(max, Math.abs(v[d]!));
  const s = max > 0 ? 127 / max : 0;
  for (let d = 0; d < v.length; d++) out[d] = Math.round(v[d]! * s);
  return out;
}

/** Rows scanned exactly: [capacity, dim] int8 at byteOffset 0 (exactSearch reads the buffer from its start), each
 * row's key and each key's row; a removed row is filled from the last one. */
class FlatRows {
  private flat: Int8Array;
  private rowKey: Float64Array;
  private readonly keyRow = new Map<number, number>();
  count = 0;

  constructor(private readonly u: Usearch, private readonly dim: number) {
    this.flat = new Int8Array(1024 * dim);
    this.rowKey = new Float64Array(1024);
  }

  has(key: number): boolean { return this.keyRow.has(key); }

  add(keys: Float64Array, q: Int8Array): void {
    const at = this.count;
    this.grow(at + keys.length);
    this.flat.set(q.subarray(0, keys.length * this.dim), at * this.dim);
    for (let i = 0; i < keys.length; i++) {
      this.rowKey[at + i] = keys[i]!;
      this.keyRow.set(keys[i]!, at + i);
    }
    this.count += keys.length;
  }

  remove(key: number): void {
    const r = this.keyRow.get(key);
    if (r === undefined) return;
    const last = this.count - 1;
    this.keyRow.delete(key);
    if (r !== last) { // move the last row into the hole
      this.flat.copyWithin(r * this.dim, last * this.dim, (last + 1) * this.dim);
      this.rowKey[r] = this.rowKey[last]!;
      this.keyRow.set(this.rowKey[r]!, r);
    }
    this.count--;
  }

  /** The `want` rows (at most count) nearest `q` by cosine, nearest first. */
  near(q: Int8Array, want: number): { keys: BigUint64Array; distances: Float32Array; count: number } {
    const k = Math.min(want, this.count);
    if (k === 0) return { keys: new BigUint64Array(0), distances: new Float32Array(0), count: 0 };
    const [offsets, distances] = this.u.exactSearch(this.flat.subarray(0, this.count * this.dim), q, this.dim, k, 'cos', 1);
    const keys = new BigUint64Array(k);
    for (let i = 0; i < k; i++) keys[i] = BigInt(this.rowKey[Number(offsets[i]!)]!); // row offsets → keys
    return { keys, distances, count: k };
  }

  /** Every row and its key (views, valid until the next change). */
  all(): { keys: Float64Array; q: Int8Array } {
    return { keys: this.rowKey.subarray(0, this.count), q: this.flat.subarray(0, this.count * this.dim) };
  }

  clear(): void {
    this.keyRow.clear();
    this.count = 0;
  }

  private grow(rows: number): void {
    if (rows * this.dim <= this.flat.length) return;
    let cap = this.flat.length / this.dim;
    while (cap < rows) cap *= 2;
    const flat = new Int8Array(cap * this.dim);
    flat.set(this.flat);
    const rowKey = new Float64Array(cap);
    rowKey.set(this.rowKey);
    this.flat = flat;
    this.rowKey = rowKey;
  }
}

/** In HNSW mode, chunks changed since the graph was last folded wait in an exact segment of at most this many rows
 * (scanned in ~0.25 ms here): a saved file is found by the exact scan at once, whatever the graph's recall around
 * it, and the graph takes the rows in bulk, when the index is saved or the segment is full (a fold of this many
 * rows is a few seconds of graph inserts on every core, not more). */
export const FRESH_MAX_ROWS = 8_500;

export class VectorIndex {
  /** chunk id → its number of rows (members). */
  readonly members = new Map<number, number>();
  private rowCount = 0;
  /** Exact mode: every row. HNSW mode: the rows not yet in a graph (the fresh segment). */
  private readonly flat: FlatRows;
  /** HNSW mode: the graph segments, oldest first (empty in exact mode). */
  private readonly segments: Graph[] = [];
  private hnsw = false;

  constructor(private readonly u: Usearch, readonly dim: number, private readonly exactMaxRows = exactMaxRowsSetting(),
    private readonly graphMaxRows = graphMaxRowsSetting()) {
    this.flat = new FlatRows(u, dim);
  }

  get rows(): number { return this.rowCount; }
  get mode(): 'exact' | 'hnsw' { return this.hnsw ? 'hnsw' : 'exact'; }
  /** Rows waiting in the exact segment in front of the graph (HNSW mode; 0 in exact mode). */
  get freshRows(): number { return this.hnsw ? this.flat.count : 0; }
  /** The graph segments, oldest first (HNSW mode). */
  get graphs(): readonly Graph[] { return this.segments; }

  /** Adds (or replaces) chunk `id` with its vectors, `vecs` [members, dim] float32 (one row per member). */
  set(id: number, vecs: Float32Array): void {
    this.remove(id);
    const n = vecs.length / this.dim;
    if (!Number.isInteger(n) || n < 1 || n > MEMBER_SLOTS) throw new Error(`chunk ${id}: ${vecs.length} floats is not 1..${MEMBER_SLOTS} rows of ${this.dim}`);
    const q = new Int8Array(n * this.dim); // [n, dim]
    for (let m = 0; m < n; m++) quantize(vecs.subarray(m * this.dim, (m + 1) * this.dim), q.subarray(m * this.dim, (m + 1) * this.dim));
    this.addRows([id], [n], q);
  }

  /** Adds chunks from rows already quantised: chunk ids[j] has ns[j] rows, back to back in q ([sum ns, dim] int8). */
  addRows(ids: readonly number[], ns: readonly number[], q: Int8Array): void {
    let total = 0;
    for (let j = 0; j < ids.length; j++) { this.remove(ids[j]!); total += ns[j]!; }
    const keys = new Float64Array(total);
    for (let j = 0, r = 0; j < ids.length; j++) {
      this.members.set(ids[j]!, ns[j]!);
      for (let m = 0; m < ns[j]!; m++) keys[r++] = ids[j]! * MEMBER_SLOTS + m;
    }
    this.rowCount += total;
    this.flat.add(keys, q);
    if (!this.hnsw && this.rowCount > this.exactMaxRows) this.hnsw = true; // outgrew the exact scan: every row into graphs
    if (this.hnsw && this.flat.count > FRESH_MAX_ROWS) this.fold();
  }

  remove(id: number): void {
    const n = this.members.get(id);
    if (n === undefined) return;
    this.members.delete(id);
    this.rowCount -= n;
    const inGraph: bigint[] = [];
    for (let m = 0; m < n; m++) {
      const key = id * MEMBER_SLOTS + m;
      if (this.flat.has(key)) this.flat.remove(key); else inGraph.push(BigInt(key));
    }
    // newest segment first: a chunk changed lately sits there
    let left = inGraph;
    for (let i = this.segments.length - 1; i >= 0 && left.length; i--) {
      const seg = this.segments[i]!, gone = seg.g.remove(BigUint64Array.from(left));
      const still = left.filter((_, j) => !gone[j]);
      if (still.length < left.length) { seg.removed += left.length - still.length; seg.saved = undefined; }
      left = still;
    }
    if (left.length) throw new Error(`chunk ${id}: ${left.length} of its rows are in no graph segment`);
  }

  /** The `limit` chunks closest to `query` by cosine (a chunk: its best row, `member` when it has several), best
   * first, ties by ascending id; `exclude`d chunks left out. */
  search(query: Float32Array, limit: number, exclude?: ReadonlySet<number>): RankedChunk[] {
    if (query.length !== this.dim) throw new Error(`query embedding has ${query.length} dims, the index ${this.dim}`);
    const k = Math.max(0, Math.floor(limit));
    if (k === 0 || this.rowCount === 0) return [];
    const q = quantize(query); // a fresh array: byteOffset 0, as exactSearch needs
    // Rows, not chunks, come back: ask for more until k distinct chunks are in hand (or every row is).
    for (let want = Math.min(this.rowCount, 4 * k + 16 + (exclude?.size ?? 0)); ; want = Math.min(this.rowCount, want * 4)) {
      const best = new Map<number, RankedChunk>();
      for (const { keys, distances, count } of this.rowsNear(q, want)) {
        for (let i = 0; i < count; i++) {
          const key = Number(keys[i]!), id = Math.floor(key / MEMBER_SLOTS), score = 1 - distances[i]!;
          if (exclude?.has(id) || (best.get(id)?.score ?? -Infinity) >= score) continue;
          const hit: RankedChunk = { id, score };
          if (this.members.get(id)! > 1) hit.member = key % MEMBER_SLOTS;
          best.set(id, hit);
        }
      }
      if (best.size >= k || want >= this.rowCount) {
        return [...best.values()].sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k);
      }
    }
  }

  /** Every row (key, int8 vector) in exact mode, for saving; undefined in HNSW mode (usearch saves the graphs). */
  exactRows(): { keys: Float64Array; q: Int8Array } | undefined {
    return this.hnsw ? undefined : this.flat.all();
  }

  /** HNSW mode: moves the fresh segment's rows into the graph now: into the newest segment up to GRAPH_MAX_ROWS,
   * the rest into new ones. Always on one thread: usearch's add reserves per-thread state only when it grows the
   * graph, for the thread count of that call, so an add on fewer threads followed by one on more failed ("Reserve
   * capacity ahead of insertions!", the dev corpus' first save); and one thread inserts in a fixed order, so the
   * same rows make the same graph (on every core, one graph in ~15 of a small test's left a live row unreachable
   * after two removals). */
  fold(): void {
    if (!this.hnsw || this.flat.count === 0) return;
    const { keys, q } = this.flat.all();
    for (let at = 0; at < keys.length;) {
      let seg = this.segments.at(-1);
      if (!seg || seg.size >= this.graphMaxRows) this.segments.push(seg = new Graph(this.newHnsw()));
      const n = Math.min(keys.length - at, this.graphMaxRows - seg.size);
      seg.g.add(BigUint64Array.from(keys.subarray(at, at + n), (k) => BigInt(k)), q.subarray(at * this.dim, (at + n) * this.dim), 1);
      seg.saved = undefined;
      at += n;
    }
    this.flat.clear();
  }

  /** Restores HNSW mode from segment files saved from `graphs` (oldest first, with their SHA-1s), with the member
   * counts saved beside them. */
  loadGraphs(files: readonly { file: string; name: string; sha1: string }[], members: Map<number, number>): void {
    this.hnsw = true;
    this.segments.length = 0;
    this.flat.clear();
    let size = 0;
    for (const { file, name, sha1 } of files) {
      const seg = new Graph(this.newHnsw());
      seg.g.load(file);
      seg.saved = { name, sha1 };
      this.segments.push(seg);
      size += seg.size;
    }
    for (const [id, n] of members) { this.members.set(id, n); this.rowCount += n; }
    if (size !== this.rowCount) throw new Error(`the graph files hold ${size} rows, their chunk list ${this.rowCount}`);
  }

  /** The nearest rows of each part: each graph segment's `want` and the exact scan's (all of them in exact mode). */
  private rowsNear(q: Int8Array, want: number): { keys: BigUint64Array; distances: Float32Array; count: number }[] {
    const parts = [this.flat.near(q, want)];
    for (const seg of this.segments) {
      const size = seg.size;
      if (size === 0) continue;
      // asked for all its rows: ask past the tombstones too, so that every live row can come back
      const [keys, distances, counts] = seg.g.search(q, want >= size ? size + seg.removed : want, 1);
      parts.push({ keys, distances, count: Number(counts[0]) });
    }
    return parts;
  }

  private newHnsw(): NativeIndex {
    return new this.u.CompiledIndex(this.dim, 'cos', 'i8', HNSW.connectivity, HNSW.expansionAdd, HNSW.expansionSearch, false);
  }

}
