// STUB (being filled in): the SQLite index store.
import type { Logger } from '../core/api.js';
export class IndexStore {
  private constructor(readonly file: string, private readonly logger: Logger) {}
  static async open(file: string, logger: Logger): Promise<IndexStore> { return new IndexStore(file, logger); }
  close(): void {}
}
