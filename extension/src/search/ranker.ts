// The seam between the query engine and the ways of ranking chunks. Lexical (FTS5 bm25) ships now; a dense
// ranker (the encoder) plugs in through the same interface, and hybrid fuses any two of them.
import type { SearchMode } from '../core/api.js';

/** One ranked chunk: the store's chunk id and a ranker-specific score (higher is better); for a chunk packed
 * from several symbols, `member` is the index (in `Chunk.parts` order) of the member that decided its score. */
export interface RankedChunk {
  id: number;
  score: number;
  member?: number;
}

export interface Ranker {
  readonly mode: Exclude<SearchMode, 'hybrid'>;
  /** Best first, at most `limit`. */
  rank(query: string, limit: number): Promise<RankedChunk[]>;
}

// Hybrid search fuses a lexical and a dense ranking with the weighted two-sided fusion in hybrid.ts.
export type { Fusion } from './hybrid.js';
