// Retrieval embeddings per chunk, each chunk encoded ALONE through the `query` graph (the dense short-input
// path; model card "retrieval": {"chunk_graph": "query", "doc_token": 2, "max_chunk_tokens": 512}):
// ids = <doc> + the chunk's tokens, cut to max_chunk_tokens; embedding = the graph's L2-normalised qemb with
// zero memory. Chunks are sorted by length and batched in buckets so a batch pads little: the query graph's
// attention is dense, so a short chunk padded to 512 would cost as much as a long one.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SPECIAL } from './tokenizer.js';

export interface RetrievalConfig { chunkGraph: 'query'; docToken: number; maxChunkTokens: number }

export const DEFAULT_RETRIEVAL: RetrievalConfig = { chunkGraph: 'query', docToken: SPECIAL.doc, maxChunkTokens: 512 };

/** One batch of the plan: indexes into the input list, all padded to `width` tokens. */
export interface ChunkBatch { items: number[]; width: number }

/** The widths streams are padded to: 8 tokens, then each rung `slack` × the last (rounded up), at most `cap`
 * (the longest stream there is: max_chunk_tokens) unless the stream itself is longer. */
export function paddedWidth(n: number, slack = 1.25, cap = DEFAULT_RETRIEVAL.maxChunkTokens): number {
  let w = 8;
  while (w < n) w = Math.ceil(w * slack);
  return Math.max(n, Math.min(w, cap));
}

/**
 * Groups token streams (already cut to their final length) into batches: each stream is padded to its rung of a
 * fixed ladder (paddedWidth: at most `slack` × its length, past 8 tokens), streams of one rung go together, and a
 * batch closes when it holds `maxTokens` padded tokens. A stream's padded width thus depends on its own length
 * alone, so its vector does not depend on what else was embedded with it (on the CPU the last bits change with the
 * padded width; sharded builds must equal a single build bit for bit). Deterministic: ties keep input order.
 */
export function planChunkBatches(lengths: readonly number[], maxTokens = 8192, slack = 1.25, cap = DEFAULT_RETRIEVAL.maxChunkTokens): ChunkBatch[] {
  const width = lengths.map((n) => paddedWidth(Math.max(1, n), slack, cap));
  const order = lengths.map((n, i) => i).sort((a, b) => width[a]! - width[b]! || a - b);
  const batches: ChunkBatch[] = [];
  let cur: number[] = [];
  for (const i of order) {
    if (cur.length && (width[i] !== width[cur[0]!] || (cur.length + 1) * width[i]! > maxTokens)) {
      batches.push({ items: cur, width: width[cur[0]!]! });
      cur = [];
    }
    cur.push(i);
  }
  if (cur.length) batches.push({ items: cur, width: width[cur[0]!]! });
  return batches;
}

/** <doc> + tokens, cut to maxChunkTokens in all (the marker counts). */
export function chunkStream(tokenIds: ArrayLike<number>, cfg: RetrievalConfig = DEFAULT_RETRIEVAL): Int32Array {
  const n = Math.min(tokenIds.length, cfg.maxChunkTokens - 1);
  const ids = new Int32Array(n + 1);
  ids[0] = cfg.docToken;
  for (let i = 0; i < n; i++) ids[i + 1] = tokenIds[i]!;
  return ids;
}

/** Reads "retrieval" from model-card.json contents; the decided defaults when the card predates it. */
export function retrievalConfig(card: Record<string, unknown>): RetrievalConfig {
  const r = (typeof card.retrieval === 'object' && card.retrieval ? card.retrieval : {}) as Record<string, unknown>;
  const graph = r.chunk_graph ?? 'query';
  if (graph !== 'query') throw new Error(`model-card.json: retrieval.chunk_graph '${String(graph)}' is not supported (only 'query')`);
  return {
    chunkGraph: 'query',
    docToken: typeof r.doc_token === 'number' ? r.doc_token : DEFAULT_RETRIEVAL.docToken,
    maxChunkTokens: typeof r.max_chunk_tokens === 'number' ? r.max_chunk_tokens : DEFAULT_RETRIEVAL.maxChunkTokens,
  };
}

/** The retrieval settings of a shipped model (model-card.json). */
export function readRetrievalConfig(modelDir: string): RetrievalConfig {
  return retrievalConfig(JSON.parse(readFileSync(path.join(modelDir, 'model-card.json'), 'utf8')) as Record<string, unknown>);
}

/**
 * Text of a chunk cut before tokenizing: a token spans at least one character, so the first `chars` characters
 * hold the first max tokens unless tokens are very long (runs of spaces); the caller re-tokenizes the whole
 * text when the cut gave too few tokens, so the result is exactly the prefix of the full tokenization.
 */
export const CUT_CHARS_PER_TOKEN = 16;
