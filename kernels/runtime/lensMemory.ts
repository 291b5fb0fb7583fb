// The past of a lens segment, computed once per file version and reused as the cursor moves.
//
// The lens graph must see the memory (M, z) before the cursor's segment s, and recall needs σ(k) of the last
// `recallSegments` segments before s. Running the lens graph segment by segment over the whole past is the
// slow way; here the memory up to the recall window comes from the segment-parallel `encoder` graph (many
// segments a run, its mem_out/z_out carried into the next run's mem_in/z_in for doc 0: CONTRACT.md), and only
// the window and s itself go through the lens graph, seeded with that memory.
//
// Cached per file (matched by its token stream, so an edit keeps everything before the first changed token):
// the memory before every `checkpointEvery`-th segment, the memory and σ(k) of the segments of the latest
// window. A later cursor continues from the nearest cached boundary; an earlier one starts at a checkpoint.
import * as ort from 'onnxruntime-node';
import { floats, type EncoderSession } from './session.js';

/** Memory before a segment: M [L, Hkv, 64, 64] and z [L, Hkv, 64]. */
export interface MemoryState { mem: Float32Array; z: Float32Array }

export interface LensMemoryOptions {
  /** Past segments whose σ(k) is kept for recall (the lens graph runs on these). */
  recallSegments: number;
  /** Keep the memory before every n-th segment for the file (131 KB each for the shipped model). */
  checkpointEvery: number;
  /** Files whose checkpoints are kept (σ(k) is kept for the latest file only). */
  maxFiles: number;
}

/** What one lens request cost: segments through each graph. */
export interface LensWork { encoderSegments: number; lensSegments: number }

/** One file's cache: what is stored is valid for `ids` (its token stream, <doc> first). */
interface FileCache {
  ids: Int32Array;
  memory: Map<number, MemoryState>;   // k → memory before segment k (k ≥ 1; k = 0 is zeros)
  sigmaK: Map<number, Float32Array>;  // segment → σ(k) [L, Hkv, T, 64] of its (full) segment
}

export class LensMemory {
  private files: FileCache[] = [];    // most recent first
  work: LensWork = { encoderSegments: 0, lensSegments: 0 };

  constructor(private readonly session: EncoderSession, readonly opts: LensMemoryOptions) {}

  /** Selects the cache for this token stream: the cached file sharing the longest prefix (≥ one segment), or a new one. */
  attach(ids: Int32Array): void {
    const T = this.session.info.config.seg_len;
    let best = -1, bestCommon = 0;
    this.files.forEach((f, i) => { const c = commonPrefix(f.ids, ids); if (c > bestCommon) { best = i; bestCommon = c; } });
    let file: FileCache;
    if (best >= 0 && bestCommon >= T) {
      file = this.files.splice(best, 1)[0]!;
      // Identical streams keep everything; otherwise a state is valid only if all tokens it saw are unchanged.
      if (!(bestCommon === ids.length && bestCommon === file.ids.length)) {
        for (const k of [...file.memory.keys()]) if (k * T > bestCommon) file.memory.delete(k);
        for (const j of [...file.sigmaK.keys()]) if ((j + 1) * T > bestCommon) file.sigmaK.delete(j);
      }
      file.ids = ids;
    } else {
      file = { ids, memory: new Map(), sigmaK: new Map() };
    }
    for (const f of this.files) f.sigmaK.clear(); // σ(k) is large (2 MB a segment): kept for the current file only
    this.files.unshift(file);
    this.files.length = Math.min(this.files.length, this.opts.maxFiles);
    this.work = { encoderSegments: 0, lensSegments: 0 };
  }

  private get file(): FileCache {
    const f = this.files[0];
    if (!f) throw new Error('lens memory: no file attached');
    return f;
  }

  /** σ(k) of a full past segment, computing it (and its memory) with the lens graph when not cached. */
  async sigmaK(j: number): Promise<Float32Array> {
    const cached = this.file.sigmaK.get(j);
    if (cached) return cached;
    await this.lens(j, ['sigma_k', 'mem_out', 'z_out']);
    return this.file.sigmaK.get(j)!;
  }

  /** The lens graph on segment j, seeded with the memory before j; stores σ(k) of j and the memory after it. */
  async lens(j: number, fetches?: string[]): Promise<{ out: Record<string, ort.Tensor>; before: MemoryState }> {
    const c = this.session.info.config, T = c.seg_len, L = c.n_layers, Hkv = c.n_kv_heads, D = c.d_head;
    const f = this.file, before = await this.memoryBefore(j);
    const ids = new BigInt64Array(T), valid = new Float32Array(T); // [T]
    const n = Math.min(T, f.ids.length - j * T);
    for (let t = 0; t < n; t++) { ids[t] = BigInt(f.ids[j * T + t]!); valid[t] = 1; }
    const out = await this.session.run('lens', {
      input_ids: new ort.Tensor('int64', ids, [1, T]), valid: new ort.Tensor('float32', valid, [1, T]),
      rand_blocks: this.session.randBlocks,
      mem_in: new ort.Tensor('float32', before.mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', before.z, [L, Hkv, D]),
    }, fetches);
    this.work.lensSegments++;
    if (n === T) { // only a full segment can be a past segment or precede another one
      f.sigmaK.set(j, floats(out.sigma_k!).slice());                                 // [L, Hkv, T, 64]
      f.memory.set(j + 1, { mem: floats(out.mem_out!).slice(), z: floats(out.z_out!).slice() });
    }
    return { out, before };
  }

  /** The memory before segment k: cached, or carried by encoder-graph runs from the nearest cached boundary. */
  async memoryBefore(k: number): Promise<MemoryState> {
    const f = this.file;
    let from = k;
    while (from > 0 && !f.memory.has(from)) from--;
    let state = from > 0 ? f.memory.get(from)! : this.zeros();
    const every = this.opts.checkpointEvery, maxRun = this.session.maxSegments;
    for (let s = from; s < k;) {
      // Runs end on checkpoint boundaries so each checkpoint is a run's mem_out.
      const S = Math.min(maxRun, k - s, every - (s % every));
      state = await this.encoderRun(s, S, state);
      s += S;
      if (s % every === 0 || s === k) f.memory.set(s, state);
    }
    return state;
  }

  /** Drops what the next request is unlikely to need: σ(k) and non-checkpoint memory outside [lo, hi]. */
  trim(lo: number, hi: number): void {
    const f = this.file, every = this.opts.checkpointEvery;
    for (const j of [...f.sigmaK.keys()]) if (j < lo || j > hi) f.sigmaK.delete(j);
    for (const k of [...f.memory.keys()]) if (k % every !== 0 && (k < lo || k > hi + 1)) f.memory.delete(k);
  }

  /** Segments [s, s + S) of the file through the encoder graph as doc 0, memory carried in; the memory after them. */
  private async encoderRun(s: number, S: number, state: MemoryState): Promise<MemoryState> {
    const c = this.session.info.config, T = c.seg_len, memShape = [c.n_layers, c.n_kv_heads, c.d_head, c.d_head];
    const ids = new BigInt64Array(S * T), valid = new Float32Array(S * T); // [S, T]
    const f = this.file, end = Math.min(f.ids.length, (s + S) * T);
    for (let t = s * T; t < end; t++) { ids[t - s * T] = BigInt(f.ids[t]!); valid[t - s * T] = 1; }
    const out = await this.session.run('encoder', {
      input_ids: new ort.Tensor('int64', ids, [S, T]),
      valid: await this.session.floatTensor('encoder', 'valid', valid, [S, T]),
      seg_doc: new ort.Tensor('int64', new BigInt64Array(S), [S]),            // one doc: all segments are doc 0
      rand_blocks: this.session.randBlocks,
      mem_in: await this.session.floatTensor('encoder', 'mem_in', state.mem, memShape),
      z_in: await this.session.floatTensor('encoder', 'z_in', state.z, memShape.slice(0, 3)),
    }, ['mem_out', 'z_out']);
    this.work.encoderSegments += S;
    return { mem: floats(out.mem_out!).slice(), z: floats(out.z_out!).slice() };
  }

  private zeros(): MemoryState {
    const c = this.session.info.config, n = c.n_layers * c.n_kv_heads * c.d_head;
    return { mem: new Float32Array(n * c.d_head), z: new Float32Array(n) };
  }
}

/** How many leading entries two token streams share. */
function commonPrefix(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
