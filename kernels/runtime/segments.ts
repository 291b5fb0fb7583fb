// Pure bookkeeping between token streams and encoder batches: cutting files into padded segments, packing
// segments into runs (a file longer than one run continues as doc 0 of the next run, its memory carried in
// mem_in/z_in), and pooling token embeddings into chunk and query embeddings.
import { SPECIAL, type TokenizedText } from './tokenizer.js';

/** A file's token stream as the encoder sees it: <doc> then the text's tokens; offsets of <doc> are [0, 0). */
export interface DocStream { ids: Int32Array; starts: Int32Array; ends: Int32Array }

export function docStream(t: TokenizedText, marker: number = SPECIAL.doc): DocStream {
  const n = t.ids.length + 1;
  const ids = new Int32Array(n), starts = new Int32Array(n), ends = new Int32Array(n);
  ids[0] = marker;
  ids.set(t.ids, 1); starts.set(t.starts, 1); ends.set(t.ends, 1);
  return { ids, starts, ends };
}

/** A contiguous range of one doc's segments placed in a run. */
export interface Piece { doc: number; firstSegment: number; segments: number; continues: boolean }
/** One encoder run: pieces in order; piece 0 may continue a doc from the previous run (then mem_in carries). */
export interface Run { pieces: Piece[]; segments: number }

export function segmentCount(nTokens: number, T: number): number {
  return Math.max(1, Math.ceil(nTokens / T));
}

/**
 * Packs docs (by token count) into runs of at most maxSegments segments. With onePerRun, a run never holds two
 * docs, so its mem_sum is that doc's own contribution to the workspace memory.
 */
export function planRuns(docLengths: number[], T: number, maxSegments: number, onePerRun = false): Run[] {
  const runs: Run[] = [];
  let cur: Run = { pieces: [], segments: 0 };
  const flush = () => { if (cur.pieces.length) runs.push(cur); cur = { pieces: [], segments: 0 }; };
  docLengths.forEach((n, doc) => {
    let left = segmentCount(n, T), first = 0;
    if (onePerRun) flush();
    while (left > 0) {
      if (cur.segments === maxSegments) flush();
      const take = Math.min(left, maxSegments - cur.segments);
      // A continuing piece must open its run: only doc 0 of a run receives mem_in.
      cur.pieces.push({ doc, firstSegment: first, segments: take, continues: first > 0 });
      cur.segments += take; first += take; left -= take;
      if (left > 0) flush();
    }
  });
  flush();
  return runs;
}

/** input_ids [S, T], valid [S, T], seg_doc [S] of one run. */
export function runInputs(run: Run, docs: DocStream[], T: number):
  { ids: BigInt64Array; valid: Float32Array; segDoc: BigInt64Array } {
  const ids = new BigInt64Array(run.segments * T), valid = new Float32Array(run.segments * T);
  const segDoc = new BigInt64Array(run.segments);
  let s = 0;
  run.pieces.forEach((p, d) => {
    const stream = docs[p.doc]!.ids;
    for (let k = 0; k < p.segments; k++, s++) {
      segDoc[s] = BigInt(d);
      const from = (p.firstSegment + k) * T;
      for (let t = 0; t < T && from + t < stream.length; t++) {
        ids[s * T + t] = BigInt(stream[from + t]!);
        valid[s * T + t] = 1;
      }
    }
  });
  return { ids, valid, segDoc };
}

/** Indices of a doc's tokens whose source range overlaps [start, end); the token at `start` if none does. */
export function chunkTokens(doc: DocStream, start: number, end: number): number[] {
  // Token ranges are ascending (index 0 is <doc>, empty): binary-search the first token ending after start.
  let lo = 1, hi = doc.ids.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (doc.ends[mid]! > start) hi = mid; else lo = mid + 1; }
  const out: number[] = [];
  for (let i = lo; i < doc.ids.length && doc.starts[i]! < end; i++) out.push(i);
  if (out.length === 0 && doc.ids.length > 1) out.push(Math.min(lo, doc.ids.length - 1)); // empty span
  return out;
}

/** L2-normalised mean of rows `tokens` of emb [n, E] (rows addressed through rowOf). */
export function meanPool(rowOf: (token: number) => Float32Array, tokens: number[], E: number): Float32Array {
  const acc = new Float64Array(E); // [E] accumulate in float64
  for (const t of tokens) { const r = rowOf(t); for (let e = 0; e < E; e++) acc[e]! += r[e]!; }
  let norm = 0;
  for (let e = 0; e < E; e++) norm += acc[e]! * acc[e]!;
  norm = Math.sqrt(norm);
  return Float32Array.from(acc, (x) => (norm > 0 ? x / norm : 0));
}
