// STUB (being filled in): query engine over rankers.
import type { SearchHit, SearchOptions } from '../core/api.js';
import type { IndexStore } from '../index/store.js';
export class SearchEngine {
  constructor(readonly store: IndexStore) {}
  async search(_q: string, _o: SearchOptions): Promise<SearchHit[]> { return []; }
}
