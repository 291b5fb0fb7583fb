// Lexical ranking with the store's own FTS5 bm25(): the query is tokenised exactly like the indexed text
// (identifier splitting, whole identifiers kept), stop words dropped, terms OR-ed so partial matches rank.
import type { ColumnWeights, IndexStore } from '../index/store.js';
import type { RankedChunk, Ranker } from './ranker.js';
import { queryTokens, toMatchExpression } from '../index/tokenize.js';

/** Column weights for bm25: a hit in the symbol name says most about the chunk, its surroundings least. */
export const LEXICAL_WEIGHTS: ColumnWeights = { name: 16, path: 4, body: 1, context: 0.6 };

/** LEXICAL_WEIGHTS overlaid with `w`; each weight must be a finite number ≥ 0 and one at least > 0. */
export function resolveLexicalWeights(w?: Partial<ColumnWeights>): ColumnWeights {
  const out: ColumnWeights = { ...LEXICAL_WEIGHTS };
  for (const [k, v] of Object.entries(w ?? {})) {
    if (v === undefined) continue;
    if (!(k in LEXICAL_WEIGHTS)) throw new Error(`unknown lexical column '${k}' (name, path, body, context)`);
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`lexical weight ${k} must be a number ≥ 0, got ${v}`);
    out[k as keyof ColumnWeights] = v;
  }
  if (!Object.values(out).some((v) => v > 0)) throw new Error('at least one lexical weight must be > 0');
  return out;
}

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
