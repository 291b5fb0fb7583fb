// Brings the store in line with the files on disk. A file is read only when its mtime or size changed
// (the cheap pre-check); it is re-chunked only when its content hash changed. Work is committed in batches,
// one transaction each, so an interrupted run keeps every finished batch and the next run carries on.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Cancellation, IndexProgress, IndexStats, Logger, SkipReason } from '../core/api.js';
import { ChunkPool, PoolClosedError, poolSize, type LexicalWorkers } from './chunkPool.js';
import { Chunker } from './chunker.js';
import { readFileForIndex, type FileOutcome, type ReadRequest, type ReadResult } from './fileReader.js';
import type { IndexStore } from './store.js';
import { readGuard } from './fileAccess.js';
import { statOne, type SkippedFile, type WalkOptions, type WalkResult } from './walker.js';

/** Commit after this many files or this much time, whichever comes first. */
const BATCH_FILES = 64;
const BATCH_MS = 1000;

/** Texts the indexer just read and chunked, by workspace-relative path, with the hash of their bytes. */
export type ReadTexts = ReadonlyMap<string, { hash: string; text: string }>;

export interface FileChangeEvent {
  type: 'created' | 'changed' | 'deleted';
  path: string;
}

interface SyncOptions {
  onProgress?: (p: IndexProgress) => void;
  cancellation?: Cancellation;
}

/** With a chunk pool, this many files per worker are read ahead of the one being stored (bounds memory). */
const READ_AHEAD_PER_WORKER = 8;

/** Where the last full pass spent its time (the CLI prints it with --verbose / --timings). */
export interface SyncTimings {
  lexicalMs: number;
  filesRead: number;
  workers: number;
  /** Of lexicalMs: waiting for file results (in-thread: the reading and chunking itself) and writing batches. */
  readWaitMs: number;
  storeMs: number;
}

export class Indexer {
  private readonly chunker = new Chunker();
  private filesRead = 0;
  private lastUpdateMs = 0;
  private storeMs = 0;
  /** Timings of the last full pass (sync). */
  lastSync?: SyncTimings;

  constructor(readonly root: string, private readonly store: IndexStore, private readonly logger: Logger,
    private readonly workers: LexicalWorkers = 0) {}

  async init(): Promise<void> {
    this.lastUpdateMs = Number(this.store.getMeta('last_update_ms') ?? 0);
  }

  /** Full pass over a fresh walk: add, update, delete. Returns false when cancelled part-way. */
  async sync(walk: WalkResult, { onProgress, cancellation }: SyncOptions): Promise<boolean> {
    const t0 = Date.now();
    this.filesRead = 0;
    const known = this.store.allFiles();
    const present = new Set(walk.files.map((f) => f.path));
    const gone = [...known.keys()].filter((p) => !present.has(p));
    const todo = walk.files.filter((f) => {
      const k = known.get(f.path);
      return !k || k.mtime !== f.mtimeMs || k.size !== f.size;
    });
    // Skips not stored with a file (the walk's, files that vanished before their read) are counted in the meta
    // row the summary reads, so its counts equal this run's log lines.
    const unstored = countReasons(walk.skipped);
    const saveUnstored = () => this.store.setMeta('walk_skips', JSON.stringify(unstored));
    this.store.transaction(() => {
      for (const p of gone) this.store.deleteFile(p);
      saveUnstored();
    });
    onProgress?.({ phase: 'chunk', filesDone: 0, filesTotal: todo.length });
    // Files are read in walk order; with a pool, up to `ahead` of them are read on the workers while the
    // results are applied here in the same order, batches and transactions as without one.
    const size = poolSize(this.workers, todo.length);
    const pool = size > 0 ? ChunkPool.start(size) : undefined;
    if (size > 0 && !pool) this.logger.warn('Infini Lens: the chunk worker script is missing; reading files in one thread.');
    if (pool) this.logger.info(`lexical pass: ${todo.length} files to read on ${pool.size} chunk workers`);
    const ahead = pool ? pool.size * READ_AHEAD_PER_WORKER : 1;
    const reads: (Promise<ReadResult> | undefined)[] = [];
    let started = 0, readWaitMs = 0;
    this.storeMs = 0;
    const timings = (lexicalMs: number): SyncTimings =>
      ({ lexicalMs, filesRead: this.filesRead, workers: pool?.size ?? 0, readWaitMs, storeMs: this.storeMs });
    const request = (i: number): ReadRequest => {
      const k = known.get(todo[i]!.path);
      return { file: todo[i]!, guard: walk.guard, knownHash: k?.hash, knownId: k?.id };
    };
    try {
      let batch: FileOutcome[] = [];
      let batchStart = Date.now();
      for (let i = 0; i < todo.length; i++) {
        if (cancellation?.isCancellationRequested) {
          this.commit(batch, saveUnstored);
          this.logger.info(`Indexing cancelled after ${i} of ${todo.length} files; the next update carries on.`);
          this.lastSync = timings(Date.now() - t0);
          return false;
        }
        for (; started < Math.min(todo.length, i + ahead); started++) reads[started] = this.read(request(started), pool);
        const w0 = performance.now();
        const r = await reads[i]!;
        readWaitMs += performance.now() - w0;
        batch.push(this.take(r));
        if (r.unstoredSkip) unstored[r.unstoredSkip] = (unstored[r.unstoredSkip] ?? 0) + 1;
        reads[i] = undefined;
        if (batch.length >= BATCH_FILES || Date.now() - batchStart >= BATCH_MS) {
          this.commit(batch, saveUnstored);
          batch = [];
          batchStart = Date.now();
          onProgress?.({ phase: 'store', filesDone: i + 1, filesTotal: todo.length });
        }
      }
      this.commit(batch, saveUnstored);
    } finally {
      await pool?.close();
    }
    this.lastUpdateMs = Date.now() - t0;
    this.lastSync = timings(this.lastUpdateMs);
    this.store.transaction(() => this.store.setMeta('last_update_ms', String(this.lastUpdateMs)));
    onProgress?.({ phase: 'done', filesDone: todo.length, filesTotal: todo.length });
    return true;
  }

  /** One file, on the pool when there is one; a worker that died leaves the file to this thread. */
  private read(req: ReadRequest, pool: ChunkPool | undefined): Promise<ReadResult> {
    if (!pool) return readFileForIndex(req, this.chunker);
    const p = pool.read(req).catch((err: unknown) => {
      if (err instanceof PoolClosedError) throw err;
      this.logger.warn(`Infini Lens: chunk worker failed on ${req.file.path} (${err instanceof Error ? err.message : String(err)}); reading it in this thread.`);
      return readFileForIndex(req, this.chunker);
    });
    p.catch(() => undefined); // read-ahead dropped by a cancel or an error must not surface as unhandled
    return p;
  }

  /** Watcher events: each path is re-stated with the walk's rules; a folder event falls back to `fullSync`.
   * Returns the texts of the files it re-chunked (path → hash and text), so embedding them reads nothing again. */
  async applyChanges(events: readonly FileChangeEvent[], options: WalkOptions, fullSync: () => Promise<unknown>): Promise<ReadTexts> {
    const t0 = Date.now();
    this.filesRead = 0;
    const known = this.store.allFiles();
    const outcomes: FileOutcome[] = [];
    const guard = await readGuard(this.root, options.followSymlinks, options.maxFileBytes);
    const texts = new Map<string, { hash: string; text: string }>();
    for (const ev of events) {
      const rel = this.relative(ev.path);
      if (rel === undefined) continue;
      if (ev.type === 'deleted') {
        outcomes.push({ kind: 'gone', path: rel });
        for (const p of known.keys()) if (p.startsWith(`${rel}/`)) outcomes.push({ kind: 'gone', path: p });
        continue;
      }
      const abs = path.join(this.root, ...rel.split('/'));
      if ((await fs.stat(abs).catch(() => undefined))?.isDirectory()) {
        this.commit(outcomes);
        await fullSync(); // a folder appeared (moved in, checked out): the walk knows how to take it in
        return new Map();
      }
      const st = await statOne(this.root, rel, options);
      if (!('abs' in st)) {
        outcomes.push({ kind: 'gone', path: rel });
        if (st.reason !== 'ignored') this.logger.info(`skip ${rel}: ${st.reason}${st.detail ? ` (${st.detail})` : ''}`);
        continue;
      }
      const k = known.get(rel);
      if (k && k.mtime === st.mtimeMs && k.size === st.size) continue;
      const r = await readFileForIndex({ file: st, guard, knownHash: k?.hash, knownId: k?.id, keepText: true }, this.chunker);
      if (r.text) texts.set(rel, r.text);
      outcomes.push(this.take(r));
    }
    this.commit(outcomes);
    this.lastUpdateMs = Date.now() - t0;
    return texts;
  }

  stats(): IndexStats {
    const { files, chunks, skipped } = this.store.counts();
    const walkSkips = JSON.parse(this.store.getMeta('walk_skips') ?? '{}') as Partial<Record<SkipReason, number>>;
    for (const [r, n] of Object.entries(walkSkips) as [SkipReason, number][]) skipped[r] = (skipped[r] ?? 0) + n;
    return { files, chunks, skipped, filesReadLastUpdate: this.filesRead, lastUpdateMs: this.lastUpdateMs };
  }

  dispose(): void {
    this.chunker.dispose();
  }

  /** A file's result, taken in file order: its log lines are written and it counts as read. */
  private take(r: ReadResult): FileOutcome {
    for (const l of r.logs) {
      if (l.level === 'info') this.logger.info(l.message); else this.logger.debug?.(l.message);
    }
    if (r.read) this.filesRead++;
    return r.outcome;
  }

  private commit(batch: readonly FileOutcome[], alsoInTransaction?: () => void): void {
    if (batch.length === 0) return;
    const t0 = performance.now();
    this.store.transaction(() => {
      alsoInTransaction?.();
      for (const o of batch) {
        if (o.kind === 'gone') this.store.deleteFile(o.path);
        else if (o.kind === 'same') this.store.touchFile(o.id, o.file.mtimeMs, o.file.size);
        else this.store.putFile(o.file.path, o.hash, o.file.mtimeMs, o.file.size, o.chunks, o.skip);
      }
    });
    this.storeMs += performance.now() - t0;
  }

  /** Workspace-relative POSIX path, or undefined when the event is outside the root. */
  private relative(p: string): string | undefined {
    const rel = path.isAbsolute(p) ? path.relative(this.root, p) : p;
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  }
}

function countReasons(skipped: readonly SkippedFile[]): Partial<Record<SkipReason, number>> {
  const out: Partial<Record<SkipReason, number>> = {};
  for (const s of skipped) out[s.reason] = (out[s.reason] ?? 0) + 1;
  return out;
}
