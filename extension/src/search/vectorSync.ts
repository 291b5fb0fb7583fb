// Keeps the in-memory vector index (search/vectorIndex.ts) in step with the store's embeddings, and persists it
// beside the SQLite file (<storageDir>/vectors/) so a restart does not re-read every vector.
//
// The store is the truth. Its triggers log every chunk whose embedding changed and keep counters (store.ts
// vectorState), in the same transaction as the change. catchUp() applies the log since the index's generation:
// per file saved or embedding batch, only those chunks are re-read. A saved index is used only when its stamp
// (model tag, dimension, generation at or after the log's floor) and every file's SHA-1 check out, and, after
// replaying the log, its chunk count, row bytes and id sum equal the store's counters; anything else is rebuilt
// from the store's vectors, never trusted. Saving writes new files, then meta.json (temp + fsync + rename), then
// trims the log: a crash at any point leaves either the old or the new stamp, each with its own files.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../core/api.js';
import { MEMBER_SLOTS, quantize, VectorIndex, type Usearch } from './vectorIndex.js';
import type { IndexStore } from '../index/store.js';

/** 2: the graph in segments (hnsw-<gen>-<i>.usearch, listed in `graphs`); a saved index of format 1 is rebuilt. */
const FORMAT = 2;

interface Stamp {
  format: number; model: string; dim: number; gen: number; mode: 'exact' | 'hnsw';
  /** file name → SHA-1: chunks-<gen>.bin (Int32 pairs id, rows) and rows-<gen>.bin (exact) or the graph segments. */
  files: Record<string, string>;
  /** HNSW mode: the graph segments' files, oldest first (a segment unchanged since an earlier save keeps its file,
   * named after the generation that wrote it). */
  graphs?: string[];
}

export class VectorSync {
  private gen = 0;
  private savedGen = -1;
  /** How the index came to be at open: 'loaded' (saved file, then the log), 'rebuilt' (from the store) or 'new'. */
  origin: string = 'new';

  private constructor(private readonly dir: string, private readonly store: IndexStore, readonly index: VectorIndex,
    private readonly model: string, private readonly logger: Logger) {}

  /** Loads the saved index if it agrees with the store, else rebuilds it from the store's vectors. */
  static open(storageDir: string, store: IndexStore, u: Usearch, model: string, dim: number, logger: Logger): VectorSync {
    const dir = path.join(storageDir, 'vectors');
    let sync = new VectorSync(dir, store, new VectorIndex(u, dim), model, logger);
    const why = sync.tryLoad();
    if (why !== undefined) {
      if (why) logger.info(`Infini Lens: vector index rebuilt from the store (${why}).`);
      sync = new VectorSync(dir, store, new VectorIndex(u, dim), model, logger);
      sync.rebuild();
      sync.origin = why ? `rebuilt (${why})` : 'new';
    }
    return sync;
  }

  /** Follows the store's log from now on over an index filled elsewhere (bench:scale puts a million synthetic
   * chunks behind a small real store to time one file's save → searchable). Never saved over a real index. */
  static follow(store: IndexStore, index: VectorIndex, model: string, logger: Logger): VectorSync {
    const sync = new VectorSync('', store, index, model, logger);
    sync.gen = store.vectorState().gen;
    sync.origin = 'followed';
    return sync;
  }

  /** Applies the chunks whose embeddings changed since the last call; cheap (one indexed query) when none did. */
  catchUp(): number {
    const { gen, ids } = this.store.vectorChangesSince(this.gen);
    if (ids.length === 0) return 0;
    const vecs = this.store.vectorsOf(ids);
    for (const id of ids) {
      const v = vecs.get(id);
      if (v) this.index.set(id, v); else this.index.remove(id);
    }
    this.gen = gen;
    return ids.length;
  }

  /** Whether the index equals the store's counters (after catchUp); the reason when not. */
  check(): string | undefined {
    const s = this.store.vectorState();
    if (s.model !== this.model) return `model ${s.model ?? 'none'}, index ${this.model}`;
    let rows = 0, idsum = 0;
    for (const [id, n] of this.index.members) { rows += n; idsum += id; }
    const bytes = rows * this.index.dim * 4;
    if (this.index.members.size !== s.chunks || bytes !== s.bytes || idsum !== s.idsum || rows !== this.index.rows) {
      return `${this.index.members.size} chunks / ${bytes} bytes / id sum ${idsum} against the store's ${s.chunks} / ${s.bytes} / ${s.idsum}`;
    }
    return undefined;
  }

  /** Writes the index if it changed since the last save, then lets the store trim the log up to it. */
  save(): void {
    if (!this.dir) throw new Error('this vector index has no folder to be saved in');
    this.catchUp();
    if (this.gen === this.savedGen) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const gen = this.gen, files: Record<string, string> = {};
    const put = (name: string, write: (file: string) => void) => {
      const tmp = path.join(this.dir, `${name}.tmp`);
      write(tmp);
      fsyncFile(tmp);
      fs.renameSync(tmp, path.join(this.dir, name));
      files[name] = sha1File(path.join(this.dir, name));
    };
    const pairs = new Int32Array(this.index.members.size * 2);
    let i = 0;
    for (const [id, n] of this.index.members) { pairs[i++] = id; pairs[i++] = n; }
    put(`chunks-${gen}.bin`, (f) => fs.writeFileSync(f, pairs));
    this.index.fold(); // the fresh segment into the graph (HNSW mode), so that the files hold every row
    const exact = this.index.exactRows(), graphs: string[] = [];
    if (exact) put(`rows-${gen}.bin`, (f) => fs.writeFileSync(f, Buffer.concat([Buffer.from(exact.keys.buffer, exact.keys.byteOffset, exact.keys.byteLength),
      Buffer.from(exact.q.buffer, exact.q.byteOffset, exact.q.byteLength)])));
    else {
      this.index.graphs.forEach((seg, i) => {
        if (seg.saved && fs.existsSync(path.join(this.dir, seg.saved.name))) { // unchanged since that save: keep its file
          files[seg.saved.name] = seg.saved.sha1;
          graphs.push(seg.saved.name);
          return;
        }
        const name = `hnsw-${gen}-${i}.usearch`;
        put(name, (f) => seg.g.save(f));
        seg.saved = { name, sha1: files[name]! };
        graphs.push(name);
      });
    }
    const stamp: Stamp = { format: FORMAT, model: this.model, dim: this.index.dim, gen, mode: this.index.mode, files, ...(exact ? {} : { graphs }) };
    const meta = path.join(this.dir, 'meta.json');
    fs.writeFileSync(`${meta}.tmp`, JSON.stringify(stamp));
    fsyncFile(`${meta}.tmp`);
    fs.renameSync(`${meta}.tmp`, meta);
    for (const f of fs.readdirSync(this.dir)) if (f !== 'meta.json' && !(f in files)) fs.rmSync(path.join(this.dir, f), { force: true });
    this.store.trimVectorLog(gen);
    this.savedGen = gen;
  }

  /** undefined when the saved index was loaded and agrees with the store; '' when there is none; else why not. */
  private tryLoad(): string | undefined {
    let stamp: Stamp;
    try { stamp = JSON.parse(fs.readFileSync(path.join(this.dir, 'meta.json'), 'utf8')) as Stamp; } catch { return ''; }
    const s = this.store.vectorState();
    if (stamp.format !== FORMAT || stamp.model !== this.model || stamp.dim !== this.index.dim) return 'saved for another model or format';
    if (stamp.gen < s.floor || stamp.gen > s.gen) return `saved at generation ${stamp.gen}, the store's log holds ${s.floor}..${s.gen}`;
    for (const [name, sum] of Object.entries(stamp.files)) {
      const f = path.join(this.dir, name);
      if (!fs.existsSync(f) || sha1File(f) !== sum) return `${name} missing or its checksum differs`;
    }
    try {
      const raw = fs.readFileSync(path.join(this.dir, `chunks-${stamp.gen}.bin`));
      const pairs = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)); // a small read sits in a shared pool
      const members = new Map<number, number>();
      for (let i = 0; i < pairs.length; i += 2) members.set(pairs[i]!, pairs[i + 1]!);
      if (stamp.mode === 'hnsw') {
        const graphs = stamp.graphs ?? [];
        for (const name of graphs) if (!(name in stamp.files)) throw new Error(`graph segment ${name} is not among the checked files`);
        this.index.loadGraphs(graphs.map((name) => ({ file: path.join(this.dir, name), name, sha1: stamp.files[name]! })), members);
      }
      else this.loadExact(path.join(this.dir, `rows-${stamp.gen}.bin`), members);
    } catch (err) {
      return `unreadable: ${(err as Error).message}`;
    }
    this.gen = this.savedGen = stamp.gen;
    this.catchUp();
    const bad = this.check();
    if (bad) return `disagrees with the store: ${bad}`;
    this.origin = 'loaded';
    return undefined;
  }

  private loadExact(file: string, members: Map<number, number>): void {
    const buf = fs.readFileSync(file), dim = this.index.dim;
    const rows = buf.length / (8 + dim);
    if (!Number.isInteger(rows)) throw new Error(`${file}: ${buf.length} bytes is not whole rows`);
    const keys = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + rows * 8));
    const q = new Int8Array(buf.buffer.slice(buf.byteOffset + rows * 8, buf.byteOffset + buf.length));
    // Rows of one chunk may sit apart (removals fill holes from the end): gather them per chunk.
    const at = new Map<number, number>(); // key → row
    for (let r = 0; r < rows; r++) at.set(keys[r]!, r);
    const ids: number[] = [], ns: number[] = [], out = new Int8Array(rows * dim);
    let o = 0;
    for (const [id, n] of members) {
      for (let m = 0; m < n; m++) {
        const r = at.get(id * MEMBER_SLOTS + m);
        if (r === undefined) throw new Error(`${file}: chunk ${id} row ${m} missing`);
        out.set(q.subarray(r * dim, (r + 1) * dim), o++ * dim);
      }
      ids.push(id);
      ns.push(n);
    }
    if (o !== rows) throw new Error(`${file}: ${rows} rows, its chunk list ${o}`);
    this.index.addRows(ids, ns, out);
  }

  /** Every stored vector into a fresh index, in pages (bulk adds use every core). */
  private rebuild(): void {
    const dim = this.index.dim;
    this.gen = this.store.vectorState().gen; // read before the vectors: a later change is replayed, never lost
    for (const page of this.store.iterateVectors()) {
      const ids: number[] = [], ns: number[] = [];
      let rows = 0;
      for (const { vec } of page) rows += vec.length / dim;
      const q = new Int8Array(rows * dim);
      let o = 0;
      for (const { id, vec } of page) {
        const n = vec.length / dim;
        if (!Number.isInteger(n) || n < 1) continue; // a vector of another width cannot be compared
        for (let m = 0; m < n; m++) quantize(vec.subarray(m * dim, (m + 1) * dim), q.subarray((o + m) * dim, (o + m + 1) * dim));
        o += n;
        ids.push(id);
        ns.push(n);
      }
      this.index.addRows(ids, ns, q.subarray(0, o * dim));
    }
  }
}

function sha1File(file: string): string {
  const h = createHash('sha1');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
