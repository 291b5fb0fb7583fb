// The query engine: picks the ranker(s) for a mode, fuses for hybrid, and turns chunk ids into SearchHits.
import type { SearchHit, SearchMode, SearchOptions } from '../core/api.js';
import type { ChunkRow, IndexStore } from '../index/store.js';
import { LexicalRanker, resolveLexicalWeights } from './lexicalRanker.js';
import type { ColumnWeights } from '../index/store.js';
import type { RankedChunk, Ranker } from './ranker.js';
import { fuseHybrid, hybridDepths, resolveFusion, type Fusion, type FusionSettings } from './hybrid.js';

export const DEFAULT_LIMIT = 20;

export class ModeUnavailableError extends Error {
  constructor(readonly mode: SearchMode) {
    super(`Search mode '${mode}' is not available: the encoder is not running for this index (no model, or semantic search is off). Use mode 'lexical'.`);
    this.name = 'ModeUnavailableError';
  }
}

/** Ids of rows that must not be shown (index/rowCheck.ts: rows that do not match their files). */
export type RowVerifier = (rows: Iterable<ChunkRow>) => Promise<ReadonlySet<number>>;

export class SearchEngine {
  private readonly rankers = new Map<Exclude<SearchMode, 'hybrid'>, Ranker>();

  private readonly fusion: FusionSettings;

  /** How hybrid fuses: HYBRID_DEFAULTS (hybrid.ts) overlaid with `fusion`; bm25 column weights: LEXICAL_WEIGHTS
   * (lexicalRanker.ts) overlaid with `lexicalWeights`. */
  constructor(private readonly store: IndexStore, fusion?: Fusion, lexicalWeights?: Partial<ColumnWeights>, private readonly verify?: RowVerifier) {
    this.fusion = resolveFusion(fusion);
    this.register(new LexicalRanker(store, resolveLexicalWeights(lexicalWeights)));
  }

  /** Adds or replaces a ranker (the runtime registers 'dense' here). */
  register(ranker: Ranker): void {
    this.rankers.set(ranker.mode, ranker);
  }

  unregister(mode: Exclude<SearchMode, 'hybrid' | 'lexical'>): void {
    this.rankers.delete(mode);
  }

  available(mode: SearchMode): boolean {
    return mode === 'hybrid' ? this.rankers.has('dense') && this.rankers.has('lexical') : this.rankers.has(mode);
  }

  async search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const limit = Math.max(1, options.limit ?? DEFAULT_LIMIT);
    const mode = options.mode ?? 'lexical';
    if (!this.available(mode)) throw new ModeUnavailableError(mode);
    let ranked: RankedChunk[];
    if (mode === 'hybrid') {
      // Each side is asked for more than is returned, so fusion has candidates that only one side found.
      const depth = hybridDepths(limit);
      const [lex, dense] = await Promise.all([this.rankers.get('lexical')!.rank(query, depth.lexical), this.rankers.get('dense')!.rank(query, depth.dense)]);
      ranked = fuseHybrid(lex, dense, limit, this.fusion);
    } else {
      ranked = await this.rankers.get(mode)!.rank(query, limit);
    }
    return this.hits(ranked);
  }

  /** Ranked chunk ids → hits a user can open (ids deleted meanwhile, and rows the verifier rejects, are dropped); a
   * packed chunk's hit is focused on the member that ranked it. */
  async hits(ranked: readonly RankedChunk[]): Promise<SearchHit[]> {
    const rows = this.store.chunksByIds(ranked.map((r) => r.id));
    const bad = this.verify ? await this.verify(rows.values()) : new Set<number>();
    const hits: SearchHit[] = [];
    for (const r of ranked) {
      const c = rows.get(r.id);
      if (!c || bad.has(r.id)) continue; // deleted between ranking and lookup (dense index lagging behind the store)
      const hit: SearchHit = { path: c.path, startLine: c.startLine, endLine: c.endLine, score: r.score, snippet: c.snippet, kind: c.kind, name: c.name };
      const lines = r.member === undefined ? undefined : c.partLines?.[r.member];
      if (lines) hit.focus = { startLine: lines[0], endLine: lines[1] };
      hits.push(hit);
    }
    return hits;
  }
}
