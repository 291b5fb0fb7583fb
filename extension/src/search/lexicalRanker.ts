// Lexical ranking with the store's own FTS5 bm25(): the query is tokenised exactly like the indexed text
// (identifier splitting, whole identifiers kept), stop words dropped, terms OR-ed so partial matches rank.
import type { ColumnWeights, IndexStore } from '../index/store.js';
import type { RankedChunk, Ranker } from './ranker.js';
import { queryTokens, toMatchExpression } from './tokenize.js';

/** Column weights for bm25: a hit in the symbol name says most about the chunk, its surroundings least. */
export const LEXICAL_WEIGHTS: ColumnWeights = { name: 16, path: 4, body: 1, context: 0.6 };

/** Long pasted queries are cut: FTS5 cost grows with terms, and past this many the ranking does not improve. */
const MAX_QUERY_TERMS = 32;

export class LexicalRanker implements Ranker {
  readonly mode = 'lexical' as const;

  constructor(private readonly store: IndexStore, private readonly weights = LEXICAL_WEIGHTS) {}

  async rank(query: string, limit: number): Promise<RankedChunk[]> {
    const tokens = queryTokens(query).slice(0, MAX_QUERY_TERMS);
    if (tokens.length === 0) return [];
    return this.store.searchFts(toMatchExpression(tokens), this.weights, limit);
  }
}
