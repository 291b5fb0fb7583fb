// STUB (being filled in): incremental indexer.
import type { Cancellation, IndexProgress, IndexStats, Logger } from '../core/api.js';
import type { IndexStore } from './store.js';
import type { WalkOptions, WalkResult } from './walker.js';
import type { FileChange } from './workspaceIndex.js';
export class Indexer {
  constructor(readonly root: string, readonly store: IndexStore, readonly logger: Logger) {}
  async init(): Promise<void> {}
  async sync(_walk: WalkResult, _o: { onProgress?: (p: IndexProgress) => void; cancellation?: Cancellation }): Promise<void> {}
  async applyChanges(_e: readonly FileChange[], _o: WalkOptions): Promise<void> {}
  stats(): IndexStats { return { files: 0, chunks: 0, skipped: {}, filesReadLastUpdate: 0, lastUpdateMs: 0 }; }
}
