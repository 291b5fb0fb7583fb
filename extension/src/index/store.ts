// The index store: one SQLite file per workspace folder (node-sqlite3-wasm: WASM SQLite with a real file
// VFS, so it loads in Electron and plain Node without a native rebuild; FTS5 and bm25() built in).
//
// Crash safety: that VFS has no shared memory, so WAL is out; we use the rollback journal with
// synchronous=FULL (its xSync is fsync), and the indexer commits one transaction per batch of files, so a
// kill -9 at any moment leaves the last committed batch: SQLite rolls the hot journal back on the next open
// (with the VFS fix of scripts/patch-sqlite-vfs.mjs). Who may write, stale locks, read-only indexes and what
// counts as damage: storeFiles.ts.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { Database } from 'node-sqlite3-wasm';
import { MAX_CHUNK_MEMBERS, type Chunk, type Logger, type SkipReason } from '../core/api.js';
import { quantizeRows } from '../core/embeddingMatrix.js';
import type { WriterLock } from './fileLock.js';
import { IndexUnusableError, openDatabase } from './storeFiles.js';

export { IndexBusyError, IndexUnusableError } from './storeFiles.js';

/** Bump when the schema, the chunker or the tokeniser changes: stored chunks are derived data, and an index
 * built by other rules would silently mix with new ones (unchanged files are never re-read). */
export const SCHEMA_VERSION = 5;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, hash TEXT NOT NULL, mtime REAL NOT NULL, size INTEGER NOT NULL,
  skip TEXT, skip_detail TEXT);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL,
  kind TEXT NOT NULL, name TEXT, snippet TEXT NOT NULL, parts TEXT);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  name, path, body, context, content='', contentless_delete=1, tokenize="porter unicode61 tokenchars '_'");
CREATE TABLE IF NOT EXISTS embeddings (chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, vec BLOB NOT NULL);
-- chunks.parts: JSON [[startOffset, endOffset, startLine, endLine], ...] of a packed chunk's members (Chunk.parts,
-- Chunk.partLines; indexes written before partLines hold [startOffset, endOffset] only), else NULL.
-- embeddings.vec: one float32 vector per member of a packed chunk, back to back; one vector for any other chunk.
`;

export interface FileRow {
  id: number;
  path: string;
  hash: string;
  mtime: number;
  size: number;
  skip: SkipReason | null;
}

/** What the store keeps of a chunk besides its location; token strings are FTS5 input only: one row per member
 * of a packed chunk (in `parts` order), else one. */
export interface StoredChunk extends Chunk {
  snippet: string;
  tokens: { name: string; path: string; body: string; context: string }[];
}

/** FTS5 rowid of member k of chunk `id`: `id * MEMBER_SLOTS + k` (a chunk has at most MAX_CHUNK_MEMBERS). */
const MEMBER_SLOTS = MAX_CHUNK_MEMBERS;

/** bm25 weight per FTS column: symbol name, file path, chunk text, the lines around the chunk. */
export interface ColumnWeights {
  name: number;
  path: number;
  body: number;
  context: number;
}

/** A chunk waiting for its embedding; hash and span let the writer check it did not change meanwhile. A packed
 * chunk's members (`parts`) are embedded one by one, in order. */
export interface EmbedJob { id: number; path: string; hash: string; startOffset: number; endOffset: number; parts?: [number, number][] }

/** How many texts (and vectors) one chunk gives: one per member of a packed chunk, else one. */
export const vectorsOf = (j: Pick<EmbedJob, 'parts'>): number => j.parts?.length ?? 1;

export interface ChunkRow extends Chunk {
  id: number;
  snippet: string;
}

export interface StoreOpenOptions {
  /** 'write': this process must update the index (throws IndexBusyError while another process does, and
   * IndexUnusableError when the files are read-only). 'shared' (default): writes when it can, else opens the
   * index read-only (`readOnly` says why) and never changes its files. */
  access?: 'write' | 'shared';
  /** What this process is doing, told to another one that finds the index locked. */
  purpose?: string;
}

export class IndexStore {
  private constructor(readonly file: string, private db: Database, private readonly logger: Logger,
    /** Why this process only reads the index (another process writes it, or its files are read-only). */
    readonly readOnly: string | undefined, private readonly lock: WriterLock | undefined) {}

  /** Opens `file`, repairing what a crash or corruption left behind (unless read-only: see StoreOpenOptions). */
  static async open(file: string, logger: Logger, options: StoreOpenOptions = {}): Promise<IndexStore> {
    const { db, lock, readOnly } = openDatabase(file, logger, options.access ?? 'shared',
      options.purpose ?? `${path.basename(process.argv[1] ?? 'node')} ${process.argv[2] ?? ''}`.trim(), checkDatabase);
    const store = new IndexStore(file, db, logger, readOnly, lock);
    try {
      store.init();
    } catch (err) {
      store.close();
      throw err;
    }
    if (readOnly) logger.warn(`Infini Lens: reading the index at ${file} without updating it: ${readOnly}.`);
    return store;
  }

  private init(): void {
    if (this.readOnly) {
      if (!this.db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'meta'")) {
        throw new IndexUnusableError(`the index at ${this.file} is empty, and this process cannot build it: ${this.readOnly}`);
      }
      return;
    }
    this.db.exec('PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;');
    // One transaction: a kill leaves no schema or all of it, never half (each CREATE would commit alone).
    this.transaction(() => {
      this.db.exec(SCHEMA);
      this.db.run('INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)', ['schema_version', String(SCHEMA_VERSION)]);
    });
    this.installVectorLog();
  }

  /** Runs `fn` in one transaction: all of it is committed (and fsynced) or none. */
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  allFiles(): Map<string, FileRow> {
    const rows = this.db.all('SELECT id, path, hash, mtime, size, skip FROM files') as unknown as FileRow[];
    return new Map(rows.map((r) => [r.path, r]));
  }

  /** Marks an unchanged-content file as seen at a new mtime/size (touch without edit). */
  touchFile(id: number, mtime: number, size: number): void {
    this.db.run('UPDATE files SET mtime = ?, size = ? WHERE id = ?', [mtime, size, id]);
  }

  /** Replaces everything known about one file (its row and its chunks). */
  putFile(p: string, hash: string, mtime: number, size: number, chunks: readonly StoredChunk[],
    skip?: { reason: SkipReason; detail?: string }): void {
    this.deleteFile(p);
    const { lastInsertRowid } = this.db.run(
      'INSERT INTO files(path, hash, mtime, size, skip, skip_detail) VALUES (?, ?, ?, ?, ?, ?)',
      [p, hash, mtime, size, skip?.reason ?? null, skip?.detail ?? null]);
    const fileId = Number(lastInsertRowid);
    if (chunks.length === 0) return;
    const insChunk = this.db.prepare('INSERT INTO chunks(file_id, start_line, end_line, start_offset, end_offset, kind, name, snippet, parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insFts = this.db.prepare('INSERT INTO chunks_fts(rowid, name, path, body, context) VALUES (?, ?, ?, ?, ?)');
    try {
      for (const c of chunks) {
        if (c.tokens.length === 0 || c.tokens.length > MEMBER_SLOTS) throw new Error(`chunk ${c.path}:${c.startLine} has ${c.tokens.length} keyword rows`);
        const info = insChunk.run([fileId, c.startLine, c.endLine, c.startOffset, c.endOffset, c.kind, c.name ?? null, c.snippet,
          c.parts ? JSON.stringify(c.parts.map((p, k) => (c.partLines?.[k] ? [...p, ...c.partLines[k]] : p))) : null]);
        const id = Number(info.lastInsertRowid);
        c.tokens.forEach((t, k) => insFts.run([id * MEMBER_SLOTS + k, t.name, t.path, t.body, t.context]));
        if (this.keepsFtsSource()) c.tokens.forEach((t, k) => this.db.run('INSERT INTO fts_source(rowid, name, path, body, context) VALUES (?, ?, ?, ?, ?)',
          [id * MEMBER_SLOTS + k, t.name, t.path, t.body, t.context]));
      }
    } finally {
      insChunk.finalize();
      insFts.finalize();
    }
  }

  deleteFile(p: string): void {
    const row = this.db.get('SELECT id FROM files WHERE path = ?', p) as { id: number } | null;
    if (!row) return;
    const delFts = this.db.prepare('DELETE FROM chunks_fts WHERE rowid >= ? AND rowid < ?'); // a chunk's member rows
    try {
      for (const { id } of this.db.all('SELECT id FROM chunks WHERE file_id = ?', row.id) as { id: number }[]) {
        delFts.run([id * MEMBER_SLOTS, (id + 1) * MEMBER_SLOTS]);
        if (this.keepsFtsSource()) this.db.run('DELETE FROM fts_source WHERE rowid >= ? AND rowid < ?', [id * MEMBER_SLOTS, (id + 1) * MEMBER_SLOTS]);
      }
    } finally {
      delFts.finalize();
    }
    this.db.run('DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE file_id = ?)', row.id);
    this.db.run('DELETE FROM chunks WHERE file_id = ?', row.id);
    this.db.run('DELETE FROM files WHERE id = ?', row.id);
  }

  setMeta(key: string, value: string): void {
    this.db.run('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  getMeta(key: string): string | undefined {
    const row = this.db.get('SELECT value FROM meta WHERE key = ?', key) as { value: string } | null;
    return row?.value;
  }

  counts(): { files: number; chunks: number; skipped: Partial<Record<SkipReason, number>> } {
    const files = (this.db.get('SELECT count(*) AS n FROM files WHERE skip IS NULL') as { n: number }).n;
    const chunks = (this.db.get('SELECT count(*) AS n FROM chunks') as { n: number }).n;
    const skipped: Partial<Record<SkipReason, number>> = {};
    for (const r of this.db.all('SELECT skip, count(*) AS n FROM files WHERE skip IS NOT NULL GROUP BY skip') as { skip: SkipReason; n: number }[]) {
      skipped[r.skip] = r.n;
    }
    return { files, chunks, skipped };
  }

  /** FTS5 bm25 over the four columns, per keyword row; a chunk scores as its best row (a packed chunk: its best
   * member). Lower bm25 is better in SQLite, so we negate. Equal scores go by ascending chunk id. Exact: rows come
   * best first, so a chunk's first row is its best, and once `limit` chunks have appeared no later row can place
   * another chunk above them; the row window grows only when members of the same chunks fill it. */
  /** Best first; `member`: which keyword row (member of a packed chunk, in `parts` order) scored best. */
  searchFts(match: string, weights: ColumnWeights, limit: number): { id: number; score: number; member: number }[] {
    const k = Math.max(0, Math.floor(limit));
    if (k === 0) return [];
    for (let take = k * 4; ; take *= 4) {
      const rows = this.db.all(
        'SELECT rowid AS r, bm25(chunks_fts, ?, ?, ?, ?) AS score FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY score, rowid LIMIT ?',
        [weights.name, weights.path, weights.body, weights.context, match, take]) as { r: number; score: number }[];
      const best = new Map<number, { score: number; member: number }>(); // chunk id → its best (first) row, in rank order
      for (const row of rows) {
        const id = Math.floor(row.r / MEMBER_SLOTS);
        if (!best.has(id)) best.set(id, { score: row.score, member: row.r % MEMBER_SLOTS });
      }
      if (best.size >= k || rows.length < take) return [...best].slice(0, k).map(([id, b]) => ({ id, score: -b.score, member: b.member }));
    }
  }

  chunksByIds(ids: readonly number[]): Map<number, ChunkRow> {
    const out = new Map<number, ChunkRow>();
    if (ids.length === 0) return out;
    const rows = this.db.all(
      `SELECT c.id, f.path, c.start_line, c.end_line, c.start_offset, c.end_offset, c.kind, c.name, c.snippet, c.parts
       FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN (${ids.map(() => '?').join(',')})`, [...ids]) as Record<string, unknown>[];
    for (const r of rows) out.set(r.id as number, toChunkRow(r));
    return out;
  }

  /** Every chunk in path/line order: for a dense ranker that embeds chunks, and for equality checks. */
  *iterateChunks(): Generator<ChunkRow> {
    const stmt = this.db.prepare(`SELECT c.id, f.path, c.start_line, c.end_line, c.start_offset, c.end_offset, c.kind, c.name, c.snippet,
      c.parts FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY f.path, c.start_line, c.end_line, c.id`);
    try {
      for (const r of stmt.iterate() as Iterable<Record<string, unknown>>) yield toChunkRow(r);
    } finally {
      stmt.finalize();
    }
  }

  // ---- Dense embeddings: one float32 blob per chunk (a packed chunk's blob holds one vector per member). A
  // chunk's row goes with the chunk (a content change re-chunks the file, so only that file re-embeds); a
  // different model tag drops them all.

  /** Makes the stored embeddings belong to `tag` (model identity): another model's vectors are dropped. */
  useEmbeddingModel(tag: string): boolean {
    if (this.getMeta('embedding_model') === tag) return false;
    this.transaction(() => {
      this.db.run('DELETE FROM embeddings');
      this.setMeta('embedding_model', tag);
    });
    return true;
  }

  /** Chunks with no embedding yet, by ascending id after `afterId` (paging that always advances). */
  chunksToEmbed(afterId: number, limit: number): EmbedJob[] {
    const rows = this.db.all(
      `SELECT c.id, f.path, f.hash, c.start_offset, c.end_offset, c.parts FROM chunks c JOIN files f ON f.id = c.file_id
       LEFT JOIN embeddings e ON e.chunk_id = c.id WHERE e.chunk_id IS NULL AND c.id > ? ORDER BY c.id LIMIT ?`,
      [afterId, limit]) as Record<string, unknown>[];
    return rows.map((r) => {
      const job: EmbedJob = { id: r.id as number, path: r.path as string, hash: r.hash as string,
        startOffset: r.start_offset as number, endOffset: r.end_offset as number };
      const parts = partsOf(r.parts);
      if (parts) job.parts = parts.parts;
      return job;
    });
  }

  embeddingCounts(): { embedded: number; chunks: number } {
    const embedded = (this.db.get('SELECT count(*) AS n FROM embeddings') as { n: number }).n;
    return { embedded, chunks: (this.db.get('SELECT count(*) AS n FROM chunks') as { n: number }).n };
  }

  /** Stores vectors for jobs read earlier, in one transaction: `vecs[k]` holds job k's vectors back to back (one,
   * or one per member of a packed chunk). A job whose chunk changed meanwhile (gone, or its file re-hashed or
   * re-chunked) is skipped: ids can be reused, so the file hash and span must still match. */
  putEmbeddings(jobs: readonly EmbedJob[], vecs: readonly Float32Array[], dim: number): number {
    let stored = 0;
    this.transaction(() => {
      const ins = this.db.prepare(`INSERT OR REPLACE INTO embeddings(chunk_id, vec) SELECT c.id, ? FROM chunks c
        JOIN files f ON f.id = c.file_id WHERE c.id = ? AND f.hash = ? AND c.start_offset = ? AND c.end_offset = ?`);
      try {
        jobs.forEach((j, k) => {
          const v = vecs[k]!;
          const want = vectorsOf(j) * dim;
          if (v.length !== want) throw new Error(`chunk ${j.id}: ${v.length} floats for ${want}`);
          stored += ins.run([new Uint8Array(v.slice().buffer), j.id, j.hash, j.startOffset, j.endOffset]).changes;
        });
      } finally {
        ins.finalize();
      }
    });
    return stored;
  }

  /** Every stored vector as one int8 matrix with a scale per row (the dense ranker's brute-force search space,
   * `quantizeRows`): one row per vector, so a packed chunk has one row per member, its rows next to each other
   * (ordered by chunk id). Rows are quantised as they are read; no float32 copy of the whole matrix is made.
   * The encoder's vectors have unit length: a chunk with any other vector (altered or damaged) is left out, said
   * once, and its vector dropped where this process may write, so the next pass embeds it again. */
  loadEmbeddings(dim: number): { ids: Int32Array; q: Int8Array; scale: Float32Array } {
    const bytes = (this.db.get('SELECT coalesce(sum(length(vec)), 0) AS n FROM embeddings') as { n: number }).n;
    const n = Math.floor(bytes / (dim * 4));
    const ids = new Int32Array(n), q = new Int8Array(n * dim), scale = new Float32Array(n); // [n, dim], [n]
    let i = 0;
    const bad: number[] = [];
    const stmt = this.db.prepare('SELECT chunk_id, vec FROM embeddings ORDER BY chunk_id');
    try {
      for (const r of stmt.iterate() as Iterable<{ chunk_id: number; vec: Uint8Array }>) {
        const rows = r.vec.byteLength / (dim * 4);
        if (!Number.isInteger(rows) || rows === 0 || i + rows > n) continue; // vectors of another width cannot be compared
        const v = new Float32Array(r.vec.buffer.slice(r.vec.byteOffset, r.vec.byteOffset + rows * dim * 4)); // [rows, dim]
        if (!unitRows(v, dim)) {
          bad.push(r.chunk_id);
          continue;
        }
        ids.fill(r.chunk_id, i, i + rows);
        quantizeRows(v, dim, q, scale, i);
        i += rows;
      }
    } finally {
      stmt.finalize();
    }
    if (bad.length) {
      this.logger.warn(`Infini Lens: ${bad.length} stored vector(s) in ${this.file} are not unit vectors (altered or damaged), e.g. chunk ${bad[0]}; ` +
        `left out of dense search${this.readOnly ? '' : ' and dropped, so the next embedding pass computes them again'}.`);
      if (!this.readOnly) this.transaction(() => { for (const id of bad) this.db.run('DELETE FROM embeddings WHERE chunk_id = ?', id); });
    }
    return { ids: ids.subarray(0, i), q: q.subarray(0, i * dim), scale: scale.subarray(0, i) };
  }

  // ---- The vector log (search/vectorIndex.ts keeps an in-memory index of the embeddings): SQLite triggers record
  // every chunk whose embedding row was inserted or deleted, and keep counters of the table, all in the writing
  // transaction, so a saved vector index can prove it matches the store (same generation = last log seq, same
  // counts) and catch up from the log instead of reloading every vector. REPLACE must fire the delete trigger.

  private installVectorLog(): void {
    this.db.exec('PRAGMA recursive_triggers=ON;');
    if (this.db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'trigger' AND name = 'vector_log_del'")) return;
    this.transaction(() => {
      this.db.exec(`CREATE TABLE IF NOT EXISTS vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER NOT NULL);
        CREATE TRIGGER vector_log_ins AFTER INSERT ON embeddings BEGIN
          INSERT INTO vector_log(chunk_id) VALUES (new.chunk_id);
          UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vector_chunks';
          UPDATE meta SET value = CAST(value AS INTEGER) + length(new.vec) WHERE key = 'vector_bytes';
          UPDATE meta SET value = CAST(value AS INTEGER) + new.chunk_id WHERE key = 'vector_idsum'; END;
        CREATE TRIGGER vector_log_del AFTER DELETE ON embeddings BEGIN
          INSERT INTO vector_log(chunk_id) VALUES (old.chunk_id);
          UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'vector_chunks';
          UPDATE meta SET value = CAST(value AS INTEGER) - length(old.vec) WHERE key = 'vector_bytes';
          UPDATE meta SET value = CAST(value AS INTEGER) - old.chunk_id WHERE key = 'vector_idsum'; END;`);
      // An index written before the log: the counters start from what is there.
      const c = this.db.get('SELECT count(*) AS n, coalesce(sum(length(vec)), 0) AS b, coalesce(sum(chunk_id), 0) AS s FROM embeddings') as { n: number; b: number; s: number };
      this.setMeta('vector_chunks', String(c.n));
      this.setMeta('vector_bytes', String(c.b));
      this.setMeta('vector_idsum', String(c.s));
    });
  }

  /** What a saved vector index must agree with: the last log seq, the embedding rows' count, bytes and id sum,
   * the model tag, and the oldest seq the log still holds (an index saved before `floor` cannot catch up). */
  vectorState(): { gen: number; floor: number; chunks: number; bytes: number; idsum: number; model: string | undefined } {
    if (!this.hasVectorLog()) { // a read-only index written before the log: count what is there
      const c = this.db.get('SELECT count(*) AS n, coalesce(sum(length(vec)), 0) AS b, coalesce(sum(chunk_id), 0) AS s FROM embeddings') as { n: number; b: number; s: number };
      return { gen: 0, floor: 0, chunks: c.n, bytes: c.b, idsum: c.s, model: this.getMeta('embedding_model') };
    }
    const gen = (this.db.get("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'") as { seq: number } | null)?.seq ?? 0;
    const num = (k: string) => Number(this.getMeta(k) ?? 0);
    return { gen, floor: num('vector_log_floor'), chunks: num('vector_chunks'), bytes: num('vector_bytes'), idsum: num('vector_idsum'),
      model: this.getMeta('embedding_model') };
  }

  /** Chunk ids whose embedding changed after log seq `since` (each once), with the seq they bring the reader to. */
  vectorChangesSince(since: number): { gen: number; ids: number[] } {
    if (!this.hasVectorLog()) return { gen: since, ids: [] };
    const rows = this.db.all('SELECT seq, chunk_id FROM vector_log WHERE seq > ? ORDER BY seq', [since]) as { seq: number; chunk_id: number }[];
    return { gen: rows.length ? rows[rows.length - 1]!.seq : since, ids: [...new Set(rows.map((r) => r.chunk_id))] };
  }

  /** The stored vectors of these chunks (absent: no embedding now). */
  vectorsOf(ids: readonly number[]): Map<number, Float32Array> {
    const out = new Map<number, Float32Array>();
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const rows = this.db.all(`SELECT chunk_id, vec FROM embeddings WHERE chunk_id IN (${part.map(() => '?').join(',')})`, part) as { chunk_id: number; vec: Uint8Array }[];
      for (const r of rows) out.set(r.chunk_id, new Float32Array(r.vec.buffer.slice(r.vec.byteOffset, r.vec.byteOffset + r.vec.byteLength)));
    }
    return out;
  }

  /** Every stored vector blob by ascending chunk id, in pages (a full rebuild of the vector index). */
  *iterateVectors(page = 2000): Generator<{ id: number; vec: Float32Array }[]> {
    for (let after = -1; ;) {
      const rows = this.db.all('SELECT chunk_id, vec FROM embeddings WHERE chunk_id > ? ORDER BY chunk_id LIMIT ?', [after, page]) as { chunk_id: number; vec: Uint8Array }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.chunk_id;
      yield rows.map((r) => ({ id: r.chunk_id, vec: new Float32Array(r.vec.buffer.slice(r.vec.byteOffset, r.vec.byteOffset + r.vec.byteLength)) }));
    }
  }

  private vectorLog?: boolean;

  private hasVectorLog(): boolean {
    this.vectorLog ??= !!this.db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'vector_log'");
    return this.vectorLog;
  }

  /** Drops log entries up to `gen` once a vector index saved at `gen` is on disk. */
  trimVectorLog(gen: number): void {
    this.transaction(() => {
      this.db.run('DELETE FROM vector_log WHERE seq <= ?', [gen]);
      if (gen > Number(this.getMeta('vector_log_floor') ?? 0)) this.setMeta('vector_log_floor', String(gen));
    });
  }

  // ---- Sharded builds (index --shard i/n, then merge): FTS5 here is contentless, so a shard also keeps the
  // keyword rows it indexed (fts_source) for the merge to index again under the merged chunk ids.

  private ftsSource?: boolean;

  private keepsFtsSource(): boolean {
    this.ftsSource ??= this.getMeta('shard') !== undefined;
    return this.ftsSource;
  }

  /** Marks this store as shard `shard` ("i/n") of a sharded build: from now on it keeps its keyword rows. */
  markShard(shard: string): void {
    const had = this.getMeta('shard');
    if (had !== undefined && had !== shard) throw new Error(`${this.file} holds shard ${had}, not ${shard}`);
    if (had === undefined && this.counts().files > 0) throw new Error(`${this.file} already holds an index that is not shard ${shard}; use an empty --index-dir`);
    this.db.exec('CREATE TABLE IF NOT EXISTS fts_source (rowid INTEGER PRIMARY KEY, name, path, body, context)');
    this.setMeta('shard', shard);
    this.ftsSource = true;
  }

  /** Copies every file, chunk, keyword row and embedding of the shard store at `file` into this store (one
   * transaction; chunk ids shifted past this store's). The caller checks the shards fit together. */
  absorbShard(file: string): { files: number; chunks: number } {
    this.db.run('ATTACH DATABASE ? AS shard', [file]);
    try {
      return this.transaction(() => {
        const off = (this.db.get('SELECT coalesce(max(id), 0) AS n FROM chunks') as { n: number }).n;
        const files = this.db.run('INSERT INTO files(path, hash, mtime, size, skip, skip_detail) SELECT path, hash, mtime, size, skip, skip_detail FROM shard.files').changes;
        const chunks = this.db.run(`INSERT INTO chunks(id, file_id, start_line, end_line, start_offset, end_offset, kind, name, snippet, parts)
          SELECT c.id + ?, f.id, c.start_line, c.end_line, c.start_offset, c.end_offset, c.kind, c.name, c.snippet, c.parts
          FROM shard.chunks c JOIN shard.files sf ON sf.id = c.file_id JOIN main.files f ON f.path = sf.path`, [off]).changes;
        this.db.run(`INSERT INTO chunks_fts(rowid, name, path, body, context) SELECT rowid + ? * ${MEMBER_SLOTS}, name, path, body, context
          FROM shard.fts_source`, [off]);
        this.db.run('INSERT INTO embeddings(chunk_id, vec) SELECT chunk_id + ?, vec FROM shard.embeddings', [off]);
        return { files, chunks };
      });
    } finally {
      this.db.run('DETACH DATABASE shard');
    }
  }

  /** Chunks of one file overlapping a line range (Find Similar Code excludes the selection itself). */
  chunksInRange(p: string, startLine: number, endLine: number): ChunkRow[] {
    const rows = this.db.all(
      `SELECT c.id, f.path, c.start_line, c.end_line, c.start_offset, c.end_offset, c.kind, c.name, c.snippet
       FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ? AND c.start_line <= ? AND c.end_line >= ?`,
      [p, endLine, startLine]) as Record<string, unknown>[];
    return rows.map(toChunkRow);
  }

  /** What the index recorded of one file (rowCheck.ts compares it with the file on disk). */
  fileState(p: string): { mtime: number; size: number; hash: string } | undefined {
    return (this.db.get('SELECT mtime, size, hash FROM files WHERE path = ?', p) as { mtime: number; size: number; hash: string } | null) ?? undefined;
  }

  /** Forgets what is known of a file's content, so the next update reads and chunks it again. */
  markForReread(p: string): void {
    this.db.run("UPDATE files SET mtime = -1, hash = '' WHERE path = ?", p);
  }

  /** Indexed (not skipped) files with their content hash: the workspace memory follows these. */
  indexedFiles(): Map<string, string> {
    const rows = this.db.all('SELECT path, hash FROM files WHERE skip IS NULL') as { path: string; hash: string }[];
    return new Map(rows.map((r) => [r.path, r.hash]));
  }

  /** A fingerprint of the logical content (files, chunks, FTS rows, which chunks have a vector of which model),
   * independent of row ids and write order: two indexes of the same files have the same digest. Vectors enter by
   * their presence and size only: the encoder's float results differ in the last bits with its batch make-up.
   * Also runs SQLite's and FTS5's integrity checks. */
  digest(): { digest: string; files: number; chunks: number; embeddings: number; fts: number; integrity: string } {
    const integrity = Object.values(this.db.get('PRAGMA integrity_check') as Record<string, string>)[0] ?? 'no answer';
    this.db.exec("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"); // throws on a broken FTS index
    const h = createHash('sha256');
    const files = this.db.all('SELECT path, hash, size, skip FROM files ORDER BY path') as Record<string, unknown>[];
    for (const f of files) h.update(`F\t${f.path}\t${f.hash}\t${f.size}\t${f.skip ?? ''}\n`);
    let chunks = 0;
    for (const c of this.iterateChunks()) {
      chunks++;
      h.update(`C\t${c.path}\t${c.startLine}\t${c.endLine}\t${c.startOffset}\t${c.endOffset}\t${c.kind}\t${c.name ?? ''}\t${c.snippet}\t${JSON.stringify(c.parts ?? null)}\n`);
    }
    const vecs = this.db.all(`SELECT f.path, c.start_offset AS s, c.end_offset AS e, length(v.vec) AS n FROM embeddings v
      JOIN chunks c ON c.id = v.chunk_id JOIN files f ON f.id = c.file_id ORDER BY f.path, c.start_offset, c.end_offset, c.id`) as Record<string, unknown>[];
    if (vecs.length) h.update(`M\t${this.getMeta('embedding_model') ?? ''}\n`);
    for (const v of vecs) h.update(`E\t${v.path}\t${v.s}\t${v.e}\t${v.n}\n`);
    const fts = (this.db.get('SELECT count(*) AS n FROM chunks_fts') as { n: number }).n;
    h.update(`FTS\t${fts}\n`);
    return { digest: h.digest('hex'), files: files.length, chunks, embeddings: vecs.length, fts, integrity };
  }

  close(): void {
    if (!this.db.isOpen) return;
    this.db.close();
    this.lock?.release();
  }
}

/** Whether every row of `v` ([rows, dim]) is finite with length 1 (float32 noise allowed). */
function unitRows(v: Float32Array, dim: number): boolean {
  for (let r = 0; r < v.length; r += dim) {
    let ss = 0;
    for (let d = r; d < r + dim; d++) ss += v[d]! * v[d]!;
    if (!(Math.abs(Math.sqrt(ss) - 1) <= 1e-3)) return false;
  }
  return true;
}

function toChunkRow(r: Record<string, unknown>): ChunkRow {
  const row: ChunkRow = {
    id: r.id as number, path: r.path as string, startLine: r.start_line as number, endLine: r.end_line as number,
    startOffset: r.start_offset as number, endOffset: r.end_offset as number, kind: r.kind as string,
    name: (r.name as string | null) ?? undefined, snippet: r.snippet as string,
  };
  const parts = partsOf(r.parts); // selected where needed
  if (parts) Object.assign(row, parts);
  return row;
}

/** The `chunks.parts` column (JSON, or NULL for a chunk of one member) as Chunk.parts, and Chunk.partLines where
 * the index stored each member's lines after its offsets. */
function partsOf(v: unknown): Required<Pick<Chunk, 'parts'>> & Pick<Chunk, 'partLines'> | undefined {
  if (typeof v !== 'string') return undefined;
  const rows = JSON.parse(v) as number[][];
  const out: Required<Pick<Chunk, 'parts'>> & Pick<Chunk, 'partLines'> = { parts: rows.map(([s, e]) => [s!, e!]) };
  if (rows.every((p) => p.length === 4)) out.partLines = rows.map((p) => [p[2]!, p[3]!]);
  return out;
}

/** undefined when healthy, else why not. */
function checkDatabase(db: Database): string | undefined {
  const check = db.get('PRAGMA quick_check') as Record<string, string> | null;
  const verdict = check ? Object.values(check)[0] : 'no answer';
  if (verdict !== 'ok') return `quick_check: ${verdict}`;
  const hasMeta = db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (!hasMeta) {
    const anyTable = db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table'");
    return anyTable ? 'not an Infini Lens index' : undefined; // empty file: a fresh index
  }
  const v = db.get("SELECT value FROM meta WHERE key = 'schema_version'") as { value: string } | null;
  if (v && v.value !== String(SCHEMA_VERSION)) return `schema version ${v.value}, this build needs ${SCHEMA_VERSION}`;
  return undefined;
}
