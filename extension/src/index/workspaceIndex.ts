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
import * as path from 'node:path';
import type {
  Cancellation, IndexProgress, IndexStats, Logger, SearchHit, SearchOptions,
} from '../core/api.js';
import { IndexStore } from './store.js';
import { walkWorkspace, type WalkOptions } from './walker.js';
import { Indexer, type FileChangeEvent } from './indexer.js';
import { SearchEngine } from '../search/engine.js';
import type { Ranker } from '../search/ranker.js';

export type { Ranker, RankedChunk } from '../search/ranker.js';
export { ModeUnavailableError } from '../search/engine.js';

export interface WorkspaceIndexOptions {
  /** Folder that holds the index file (created if missing). VS Code: storageUri; CLI: <root>/.infinilens. */
  storageDir: string;
  /** Extra exclude globs relative to root (VS Code passes files.exclude + search.exclude keys that are true). */
  excludeGlobs?: readonly string[];
  /** Files above this size are skipped as 'too-large'. Default 1 MiB. */
  maxFileBytes?: number;
  /** Follow symbolic links (cycles are detected by realpath). Default true. */
  followSymlinks?: boolean;
  logger?: Logger;
}

/** A file-watcher event, path relative to the root (POSIX) or absolute inside it. */
export type FileChange = FileChangeEvent;

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export class WorkspaceIndex {
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(
    readonly root: string,
    private readonly options: Required<Omit<WorkspaceIndexOptions, 'logger'>> & { logger: Logger },
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
      followSymlinks: options.followSymlinks ?? true,
      logger: options.logger ?? silentLogger,
    };
    const store = await IndexStore.open(path.join(full.storageDir, 'index.sqlite'), full.logger);
    const indexer = new Indexer(abs, store, full.logger);
    await indexer.init();
    return new WorkspaceIndex(abs, full, store, indexer, new SearchEngine(store));
  }

  /** Full incremental pass: walks the folder, re-reads files whose mtime/size changed, drops deleted ones. */
  update(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation): Promise<IndexStats> {
    return this.serial(async () => {
      await this.fullSync(onProgress, cancellation);
      return this.indexer.stats();
    });
  }

  private async fullSync(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation): Promise<void> {
    onProgress?.({ phase: 'walk', filesDone: 0, filesTotal: 0 });
    const walk = await walkWorkspace(this.root, this.walkOptions());
    await this.indexer.sync(walk, { onProgress, cancellation });
  }

  /** Applies watcher events without a full walk. Paths outside the root or excluded are ignored. */
  applyChanges(events: readonly FileChange[]): Promise<IndexStats> {
    return this.serial(async () => {
      await this.indexer.applyChanges(events, this.walkOptions(), () => this.fullSync());
      return this.indexer.stats();
    });
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

  /** Where the index file lives (for "reveal index" / diagnostics). */
  get indexPath(): string {
    return this.store.file;
  }

  close(): Promise<void> {
    return this.serial(async () => {
      this.indexer.dispose();
      this.store.close();
    });
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
