// The entry point of the headless core: one WorkspaceIndex per workspace folder.
// The VS Code layer and the CLI both drive it the same way:
//
//   const index = await WorkspaceIndex.open(root, { storageDir, excludeGlobs, logger });
//   await index.update(p => report(p), token);        // walk + chunk + store, incremental by content hash
//   const hits = await index.search('parse config', { limit: 20 });
//   index.stats();                                     // counts for the status bar
//   await index.applyChanges([{ type: 'changed', path: 'src/a.ts' }]);   // from a file watcher
//   await index.close();
//
// Nothing here imports 'vscode'. Calls are serialised internally (one writer per index), so a watcher event
// that arrives during update() waits its turn instead of racing it.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type {
  Cancellation, IndexProgress, IndexStats, Logger, SearchHit, SearchOptions,
} from '../core/api.js';
import { IndexStore, type ColumnWeights } from '../index/store.js';
import { walkWorkspace, type WalkOptions } from '../index/walker.js';
import { Indexer, type FileChangeEvent, type ReadTexts } from '../index/indexer.js';
import type { LexicalWorkers } from '../index/chunkPool.js';
import { SearchEngine } from './engine.js';
import type { Fusion, Ranker } from './ranker.js';
import type { EmbeddingMatrix } from '../core/embeddingMatrix.js';
import { DenseRanker, matrixSpace, rerankedSpace, type DenseSpace } from './denseRanker.js';
import { loadUsearch } from './vectorIndex.js';
import { VectorSync } from './vectorSync.js';
import { shardWalk, type Shard } from '../index/shards.js';
import { indexDigest, type IndexDigest } from './digest.js';
import { ChunkEmbedder } from '../index/embedder.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import { MemorySync } from '../index/memorySync.js';
import { RowChecker } from '../index/rowCheck.js';

export type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';

/** Turns on dense/hybrid search for an index (see enableSemantic). */
export interface SemanticOptions {
  /** The running encoder (kernels/runtime Encoder); the caller owns it and closes it after the index. */
  encoder: SemanticEncoder;
  /** Model identity (kernels/runtime modelTag): vectors and memory of another model are rebuilt. */
  modelTag: string;
  /** Build the per-workspace compressed memory (whole-file encoder pass: slow on a small CPU). Default false. */
  memory?: boolean;
  /** Queries read the workspace memory (needs memory). Default false: measured not to help, see docs/search.md. */
  queryMemory?: boolean;
  /** Chunks per encode request; default by provider (embedder.ts embedPlan: 48 on the CPU, 512 on a GPU). */
  embedBatch?: number;
}

export interface SemanticStats { embedded: number; chunks: number; embeddedLastUpdate: number; memoryFiles?: number }

export type { Ranker, RankedChunk } from './ranker.js';
import { ModeUnavailableError } from './engine.js';
export { ModeUnavailableError };

export interface WorkspaceIndexOptions {
  /** Folder that holds the index file (created if missing). VS Code: storageUri; CLI: <root>/.infinilens. */
  storageDir: string;
  /** Extra exclude globs relative to root (VS Code passes files.exclude + search.exclude keys that are true). */
  excludeGlobs?: readonly string[];
  /** Files above this size are skipped as 'too-large'. Default 1 MiB. */
  maxFileBytes?: number;
  /** Follow symbolic links whose real target is outside the root (links inside it are always followed; cycles are
   * cut by realpath). Default false: nothing outside the workspace is read (VS Code: infiniLens.followSymlinks). */
  followSymlinks?: boolean;
  logger?: Logger;
  /** Lexical pass on a pool of chunk worker threads (chunkPool.ts): 'auto' = cores − 1 (at most 12) for a full
   * pass of ≥ 128 files on > 2 cores, else in this thread; a number forces that many (0 = never). Default 0: the
   * watcher and the extension's index worker read in their own thread unless told otherwise. */
  lexicalWorkers?: LexicalWorkers;
  /** Hybrid fusion: overrides of HYBRID_DEFAULTS (search/hybrid.ts: method, dense weight, RRF k, dense-only cap) or a method name. */
  fusion?: Fusion;
  /** bm25 column weights over LEXICAL_WEIGHTS (search/lexicalRanker.ts): name, path, body, context. */
  lexicalWeights?: Partial<ColumnWeights>;
  /** 'write': fail when another process updates this index or it is read-only; 'shared' (default): then search
   * it read-only instead (update() and applyChanges() leave it as it is). See store.ts StoreOpenOptions. */
  access?: 'write' | 'shared';
  /** Index only the files of this shard of the folder (shards.ts; `merge` joins the shards). */
  shard?: Shard;
}

/** A file-watcher event, path relative to the root (POSIX) or absolute inside it. */
export type FileChange = FileChangeEvent;

/** Where the last update() spent its time (the CLI prints it with --verbose / --timings). */
export interface UpdateTimings {
  /** The pass running now, or 'done' (a stopped run reports where it was). */
  phase: 'walk' | 'lexical' | 'embed' | 'done';
  walkMs: number;
  /** The lexical pass: reading, chunking and storing the files that changed. */
  lexicalMs: number;
  filesRead: number;
  /** Of lexicalMs: waiting for file results (in-thread: reading and chunking them) and writing the batches. */
  readWaitMs: number;
  storeMs: number;
  /** Chunk workers of the lexical pass (0 = read in the index's own thread). */
  lexicalWorkers: number;
  /** The embedding pass (only with enableSemantic): wall time and chunks stored. */
  embedMs?: number;
  embedded?: number;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export class WorkspaceIndex {
  private queue: Promise<unknown> = Promise.resolve();
  private semanticQueue: Promise<unknown> = Promise.resolve();
  private embedStart?: number;
  private timings: UpdateTimings = { phase: 'done', walkMs: 0, lexicalMs: 0, filesRead: 0, readWaitMs: 0, storeMs: 0, lexicalWorkers: 0 };
  private semantic?: { opts: SemanticOptions; embedder: ChunkEmbedder; dense: DenseRanker; memory?: MemorySync; matrix?: EmbeddingMatrix; vectors?: VectorSync; lastEmbedded: number };
  private constructor(
    readonly root: string,
    private readonly options: Required<Omit<WorkspaceIndexOptions, 'logger' | 'fusion' | 'lexicalWorkers' | 'lexicalWeights' | 'access' | 'shard'>> & { logger: Logger; shard?: Shard },
    private readonly store: IndexStore,
    private readonly indexer: Indexer,
    private readonly engine: SearchEngine,
  ) {}

  /** Opens (or creates, or rebuilds after corruption) the index for `root`. Does not walk yet. */
  static async open(root: string, options: WorkspaceIndexOptions): Promise<WorkspaceIndex> {
    const abs = path.resolve(root);
    const full = {
      storageDir: path.resolve(options.storageDir),
      excludeGlobs: options.excludeGlobs ?? [],
      maxFileBytes: options.maxFileBytes ?? 1024 * 1024,
      followSymlinks: options.followSymlinks ?? false,
      logger: options.logger ?? silentLogger,
      ...(options.shard ? { shard: options.shard } : {}),
    };
    const store = await IndexStore.open(path.join(full.storageDir, 'index.sqlite'), full.logger, { access: options.access });
    if (options.shard) {
      try { store.markShard(`${options.shard.index}/${options.shard.count}`); } catch (err) { store.close(); throw err; }
    }
    const indexer = new Indexer(abs, store, full.logger, options.lexicalWorkers ?? 0);
    await indexer.init();
    const rows = new RowChecker(abs, store, full.logger); // results are checked against their files (rowCheck.ts)
    return new WorkspaceIndex(abs, full, store, indexer, new SearchEngine(store, options.fusion, options.lexicalWeights, (r) => rows.bad(r)));
  }

  /** Full incremental pass: walks the folder, re-reads files whose mtime/size changed, drops deleted ones. */
  update(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation): Promise<IndexStats> {
    return (async () => {
      if (this.store.readOnly) return this.indexer.stats(); // said once at open: searching what is committed
      await this.serial(() => this.fullSync(onProgress, cancellation));
      await this.semanticPass(onProgress, cancellation, true);
      return this.indexer.stats();
    })();
  }

  private async fullSync(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation): Promise<void> {
    onProgress?.({ phase: 'walk', filesDone: 0, filesTotal: 0 });
    const t0 = Date.now();
    this.timings = { phase: 'walk', walkMs: 0, lexicalMs: 0, filesRead: 0, readWaitMs: 0, storeMs: 0, lexicalWorkers: 0 };
    const all = await walkWorkspace(this.root, this.walkOptions());
    const walk = this.options.shard ? shardWalk(all, this.options.shard) : all;
    const walkMs = Date.now() - t0;
    this.timings = { ...this.timings, phase: 'lexical', walkMs };
    await this.indexer.sync(walk, { onProgress, cancellation });
    const sync = this.indexer.lastSync;
    this.timings = { phase: 'done', walkMs, lexicalMs: sync?.lexicalMs ?? 0, filesRead: sync?.filesRead ?? 0, readWaitMs: sync?.readWaitMs ?? 0,
      storeMs: sync?.storeMs ?? 0, lexicalWorkers: sync?.workers ?? 0 };
    const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    this.options.logger.info(`lexical pass done: walk ${sec(walkMs)}, ${this.timings.filesRead} files read in ${sec(this.timings.lexicalMs)} ` +
      `(${this.timings.lexicalWorkers ? `${this.timings.lexicalWorkers} chunk workers` : 'main thread'}; sqlite writes ${sec(this.timings.storeMs)})`);
    if (this.semantic) this.semantic.matrix = undefined; // chunk ids may have gone or been reused
  }

  /**
   * Turns on 'dense' and 'hybrid' search: chunks get embeddings after each lexical pass (update/applyChanges),
   * and, with `memory`, the workspace memory follows the files. Stored vectors of another model are dropped here
   * and re-embedded by the next update.
   */
  enableSemantic(opts: SemanticOptions): Promise<void> {
    return this.serial(async () => {
      if (this.store.readOnly && this.store.getMeta('embedding_model') !== opts.modelTag) {
        this.options.logger.warn(`Infini Lens: the read-only index at ${this.store.file} holds no embeddings of model ${opts.modelTag}; dense search is off.`);
        return;
      }
      if (this.store.readOnly) opts = { ...opts, memory: false };
      if (!this.store.readOnly && this.store.useEmbeddingModel(opts.modelTag)) this.options.logger.info(`Infini Lens: embeddings are (re)built for model ${opts.modelTag}.`);
      const lock = <T>(fn: () => Promise<T> | T) => this.serial(async () => fn());
      const embedder = new ChunkEmbedder(this.root, this.store, opts.encoder, lock, this.options.logger, (stored) => {
        if (this.semantic) this.semantic.matrix = undefined;
        // The vector index takes each batch as it lands, so the first query after a long pass has nothing to add.
        const vectors = this.semantic?.vectors;
        if (vectors) void this.serial(async () => { vectors.catchUp(); });
        // Live, so a run stopped part-way (the CLI on SIGTERM) can still say how far embedding got and how fast.
        if (this.embedStart !== undefined) {
          this.timings.embedMs = Date.now() - this.embedStart;
          this.timings.embedded = (this.timings.embedded ?? 0) + stored;
        }
      }, opts.embedBatch);
      const memory = opts.memory ? MemorySync.open(this.options.storageDir, opts.encoder, opts.modelTag, this.options.logger) : undefined;
      const useMemory = opts.queryMemory === true && memory !== undefined;
      const dense = new DenseRanker(() => this.denseSpace(),
        (q) => opts.encoder.encodeQuery(q, useMemory ? memory!.state() : undefined));
      const vectors = this.openVectors(opts.modelTag, opts.encoder.info.config.emb_dim);
      this.semantic = { opts, embedder, dense, memory, vectors, lastEmbedded: 0 };
      this.engine.register(dense);
    });
  }

  /** Embeds chunks without a vector, then brings the memory up to date; the lock is taken per step inside. */
  private semanticPass(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation, full = false,
    texts?: ReadTexts): Promise<void> {
    // One pass at a time: two overlapping memory passes could add the same file twice.
    const next = this.semanticQueue.then(() => this.semanticPassNow(onProgress, cancellation, full, texts));
    this.semanticQueue = next.catch(() => undefined);
    return next;
  }

  private async semanticPassNow(onProgress: ((p: IndexProgress) => void) | undefined, cancellation: Cancellation | undefined, full: boolean,
    texts?: ReadTexts): Promise<void> {
    const s = this.semantic;
    if (!s) return;
    this.embedStart = Date.now();
    this.timings.phase = 'embed';
    this.timings.embedMs = 0;
    this.timings.embedded = 0;
    const r = await s.embedder.run(onProgress, cancellation, texts).finally(() => {
      this.timings.embedMs = Date.now() - this.embedStart!;
      this.timings.phase = 'done';
      this.embedStart = undefined;
    });
    s.lastEmbedded = r.embedded;
    this.timings.embedded = r.embedded;
    if (r.cancelled) return;
    if (s.memory) await s.memory.run(this.root, this.store, s.opts.encoder, (fn) => this.serial(async () => fn()), onProgress, cancellation);
    // A full pass ends with the vector index on disk; between saves the store's log keeps it recoverable.
    if (s.vectors && full) await this.serial(async () => s.vectors!.save());
    onProgress?.({ phase: 'done', filesDone: 0, filesTotal: 0 });
  }

  /** The vector index of this store (loaded or rebuilt, search/vectorIndex.ts), or undefined where usearch does
   * not load: dense search then scans the stored vectors in JS (denseRanker.topKByDot), exact but slower. */
  private openVectors(tag: string, dim: number): VectorSync | undefined {
    const u = loadUsearch();
    if (!u.mod) {
      this.options.logger.info(`Infini Lens: ${u.why}; dense search scans every stored vector instead (exact, slower on large workspaces).`);
      return undefined;
    }
    const t0 = Date.now();
    const v = VectorSync.open(this.options.storageDir, this.store, u.mod, tag, dim, this.options.logger);
    this.options.logger.info(`Infini Lens: vector index ${v.origin}: ${v.index.members.size} chunks, ${v.index.rows} vectors, ${v.index.mode} search, ${Date.now() - t0} ms.`);
    return v;
  }

  /** Where dense ranking looks now: the vector index brought up to date, else the stored embeddings as one matrix. */
  private denseSpace(): DenseSpace {
    const s = this.semantic!;
    if (s.vectors) {
      s.vectors.catchUp();
      return rerankedSpace(s.vectors.index, (ids) => this.store.vectorsOf(ids));
    }
    return matrixSpace(this.embeddingMatrix());
  }

  /** Checks the vector index against the store (undefined when it agrees, or when there is no vector index). */
  vectorCheck(): { origin: string; chunks: number; rows: number; mode: string; problem?: string } | undefined {
    const v = this.semantic?.vectors;
    if (!v) return undefined;
    v.catchUp();
    const problem = v.check();
    return { origin: v.origin, chunks: v.index.members.size, rows: v.index.rows, mode: v.index.mode, ...(problem ? { problem } : {}) };
  }

  /** The digest of the whole index (digest.ts). Without semantic search attached, the vector index of the
   * store's own model is opened for it (`dim`: the model's embedding width) and not saved. */
  digest(dim?: number): Promise<IndexDigest> {
    return this.serial(async () => {
      let vectors = this.semantic?.vectors;
      const tag = this.store.getMeta('embedding_model'), u = loadUsearch();
      if (!this.semantic && tag && dim && u.mod) vectors = VectorSync.open(this.options.storageDir, this.store, u.mod, tag, dim, this.options.logger);
      return indexDigest(this.store, this.options.storageDir, vectors);
    });
  }

  /** The stored embeddings as one matrix, reloaded after the store changed. */
  private embeddingMatrix(): EmbeddingMatrix {
    const s = this.semantic!;
    if (!s.matrix) {
      const dim = s.opts.encoder.info.config.emb_dim;
      s.matrix = { ...this.store.loadEmbeddings(dim), dim };
    }
    return s.matrix;
  }

  /**
   * Chunks most similar to a span of a file (Find Similar Code): the span's text is embedded as a chunk, and
   * chunks of that file overlapping the span are left out. Needs enableSemantic.
   */
  searchSimilar(relPath: string, startLine: number, endLine: number, limit = 20): Promise<SearchHit[]> {
    const s = this.semantic;
    if (!s) return Promise.reject(new ModeUnavailableError('dense'));
    return (async () => {
      const rel = relPath.split(path.sep).join('/');
      const text = (await readFile(path.join(this.root, ...rel.split('/')), 'utf8')).split('\n').slice(startLine - 1, endLine).join('\n');
      const vec = (await s.opts.encoder.encodeChunks([text])).subarray(0, s.opts.encoder.info.config.emb_dim);
      return this.serial(async () => {
        const own = new Set(this.store.chunksInRange(rel, startLine, endLine).map((c) => c.id));
        return this.engine.hits(s.dense.rankVector(vec, limit, own));
      });
    })();
  }

  /** How far embedding (and the memory) got: for the status bar. undefined when semantic search is off. */
  semanticStats(): SemanticStats | undefined {
    const s = this.semantic;
    if (!s) return undefined;
    return { ...this.store.embeddingCounts(), embeddedLastUpdate: s.lastEmbedded, ...(s.memory ? { memoryFiles: s.memory.fileCount } : {}) };
  }

  /** The workspace memory (undefined unless enabled), e.g. for the lens's recall view. */
  get workspaceMemory(): MemorySync | undefined {
    return this.semantic?.memory;
  }

  /** Applies watcher events without a full walk. Paths outside the root or excluded are ignored. */
  applyChanges(events: readonly FileChange[]): Promise<IndexStats> {
    return (async () => {
      if (this.store.readOnly) return this.indexer.stats();
      const texts = await this.serial(async () => {
        const read = await this.indexer.applyChanges(events, this.walkOptions(), () => this.fullSync());
        if (this.semantic) this.semantic.matrix = undefined; // deleted chunks' ids must not match reused ones
        return read;
      });
      await this.semanticPass(undefined, undefined, false, texts);
      return this.indexer.stats();
    })();
  }

  /** Ranked chunks for a query. mode 'lexical' (default) is always available. */
  search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    return this.serial(async () => this.engine.search(query, options));
  }

  /** Plugs in another ranker (the encoder runtime registers mode 'dense'; 'hybrid' then works too). */
  registerRanker(ranker: Ranker): void {
    this.engine.register(ranker);
  }

  /** Whether a search mode can be served now (the CLI fails clearly for modes that are not). */
  supports(mode: SearchOptions['mode'] & string): boolean {
    return this.engine.available(mode);
  }

  /** The store, for rankers that need every chunk (dense embedding) and for diagnostics. */
  get indexStore(): IndexStore {
    return this.store;
  }

  stats(): IndexStats {
    return this.indexer.stats();
  }

  /** Where the last full update spent its time (walk, lexical pass, embedding pass; the embedding figures grow
   * while that pass runs). */
  lastTimings(): UpdateTimings {
    return { ...this.timings };
  }

  /** Why this process only reads the index (another process updates it, or it is read-only), else undefined. */
  get readOnly(): string | undefined {
    return this.store.readOnly;
  }

  /** Where the index file lives (for "reveal index" / diagnostics). */
  get indexPath(): string {
    return this.store.file;
  }

  /** Waits for a running embedding/memory pass (cancel it first through its Cancellation to stop it sooner), and
   * saves the vector index unless `saveVectors` is false (a read-only look such as the CLI's digest). */
  close(saveVectors = true): Promise<void> {
    return this.semanticQueue.then(() => this.serial(async () => {
      if (saveVectors) this.semantic?.vectors?.save();
      this.indexer.dispose();
      this.store.close();
    }));
  }

  private walkOptions(): WalkOptions {
    const { excludeGlobs, maxFileBytes, followSymlinks, logger } = this.options;
    return { excludeGlobs, maxFileBytes, followSymlinks, logger };
  }

  /** One writer at a time: chains every call on the previous one, errors do not poison the chain. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
