// Dense embeddings for every chunk the lexical indexer stored, computed after it (lexical search works while
// this runs). The encoder does the work in its worker thread; here we only page through chunks that have no
// vector yet, read their text, and store the vectors. The store lock is held only around the reads and
// writes, so searches and watcher events interleave with a long first embedding pass.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Cancellation, IndexProgress, Logger } from '../core/api.js';
import { vectorsOf, type EmbedJob, type IndexStore } from './store.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import type { ReadTexts } from './indexer.js';

/** Runs `fn` under the index's one-writer lock. */
export type Locked = <T>(fn: () => Promise<T> | T) => Promise<T>;

/** Chunks a request on the CPU: small enough that a search waiting on the worker waits a second or two, not ten. */
export const EMBED_BATCH = 48;
/** Chunks a request on a GPU provider (webgpu, cuda): the encoder plans runs of ≤ 8,192 padded tokens inside a
 * request, so a larger request only gives it more chunks of similar length to fill those runs with, and fewer
 * round trips; a search waits behind at most one such request (≈ 220k tokens: about a second there, tokenizing
 * included). */
export const EMBED_BATCH_GPU = 512;

/** Request size, and whether requests overlap the work around them: on a GPU provider the next request is paged
 * and read while one runs, sent the moment it finishes, and the finished one is stored while the next runs (the
 * encoder never holds more than one of ours, so a search still waits behind one request at most). The CPU keeps
 * small requests, one step after the other, as measured for the extension host's responsiveness. */
export function embedPlan(provider: string | undefined, batch?: number): { batch: number; overlap: boolean } {
  const gpu = provider !== undefined && provider !== 'cpu';
  return { batch: batch ?? (gpu ? EMBED_BATCH_GPU : EMBED_BATCH), overlap: gpu };
}

const utf8 = new TextDecoder('utf-8');

export interface EmbedResult { embedded: number; skipped: number; cancelled: boolean }

export class ChunkEmbedder {
  constructor(private readonly root: string, private readonly store: IndexStore, private readonly encoder: SemanticEncoder,
    private readonly lock: Locked, private readonly logger: Logger, private readonly onStored: (stored: number) => void,
    private readonly batchSize?: number) {}

  /** Embeds every chunk that has no vector yet. Cancellation is checked between requests. `texts`: files the
   * indexer has just read (a save), used instead of reading them again where the stored hash still matches. */
  async run(onProgress?: (p: IndexProgress) => void, cancellation?: Cancellation, texts?: ReadTexts): Promise<EmbedResult> {
    const dim = this.encoder.info.config.emb_dim;
    const { embedded: had, chunks: total } = await this.lock(() => this.store.embeddingCounts());
    let after = 0, embedded = 0, skipped = 0;
    const { batch, overlap } = embedPlan(this.encoder.info.provider, this.batchSize);
    const store = async (jobs: EmbedJob[], vecs: Float32Array) => { // vecs: [texts, dim], jobs' texts in order
      const perJob: Float32Array[] = [];
      let row = 0;
      for (const j of jobs) {
        const n = vectorsOf(j);
        perJob.push(vecs.subarray(row * dim, (row + n) * dim));
        row += n;
      }
      if (row * dim !== vecs.length) throw new Error(`the encoder returned ${vecs.length / dim} vectors for ${row} texts`);
      const stored = await this.lock(() => this.store.putEmbeddings(jobs, perJob, dim));
      embedded += stored;
      this.onStored(stored);
      onProgress?.({ phase: 'encode', filesDone: Math.min(total, had + embedded), filesTotal: total, message: 'embedding chunks', provider: this.encoder.info.provider });
    };
    const send = (jobs: EmbedJob[], texts: string[]) => {
      const vecs = this.encoder.encodeChunks(texts);
      vecs.catch(() => undefined); // awaited below; a failure must not also surface as unhandled
      return { jobs, vecs };
    };
    let running: { jobs: EmbedJob[]; vecs: Promise<Float32Array> } | undefined; // only with overlap
    onProgress?.({ phase: 'encode', filesDone: had, filesTotal: total, message: 'embedding chunks', provider: this.encoder.info.provider });
    for (;;) {
      if (cancellation?.isCancellationRequested) {
        if (running) await store(running.jobs, await running.vecs); // already being computed: keep it
        this.logger.info(`Embedding cancelled after ${embedded} chunks; the next update carries on.`);
        return { embedded, skipped, cancelled: true };
      }
      const jobs = await this.lock(() => this.store.chunksToEmbed(after, batch));
      if (jobs.length === 0) break;
      after = jobs[jobs.length - 1]!.id;
      const ready = await this.readTexts(jobs, texts);
      skipped += jobs.length - ready.jobs.length;
      if (ready.jobs.length === 0) continue;
      if (!overlap) {
        await store(ready.jobs, await this.encoder.encodeChunks(ready.texts));
        continue;
      }
      const done = running;
      const doneVecs = done ? await done.vecs : undefined;
      running = send(ready.jobs, ready.texts);
      if (done) await store(done.jobs, doneVecs!);
    }
    if (running) await store(running.jobs, await running.vecs);
    return { embedded, skipped, cancelled: false };
  }

  /** Chunk texts from the files as they are now (a packed chunk gives one text per member, in order); a file whose
   * content no longer matches the stored hash is left for the next lexical pass (it re-chunks the file, and its new
   * chunks are embedded then). */
  private async readTexts(jobs: readonly EmbedJob[], known?: ReadTexts): Promise<{ jobs: EmbedJob[]; texts: string[] }> {
    const byPath = new Map<string, EmbedJob[]>();
    for (const j of jobs) byPath.set(j.path, [...(byPath.get(j.path) ?? []), j]);
    const out = { jobs: [] as EmbedJob[], texts: [] as string[] };
    for (const [p, list] of byPath) {
      const text = known?.get(p)?.hash === list[0]!.hash ? known.get(p)!.text : await this.readText(p, list[0]!.hash);
      if (text === undefined) continue;
      for (const j of list) {
        out.jobs.push(j);
        for (const [a, b] of j.parts ?? [[j.startOffset, j.endOffset]]) out.texts.push(text.slice(a, b));
      }
    }
    return out;
  }

  /** The file's text as the chunker decoded it (offsets are UTF-16 into this string), if its bytes still hash to
   * what the store holds. */
  private async readText(relPath: string, hash: string): Promise<string | undefined> {
    const bytes = await fs.readFile(path.join(this.root, ...relPath.split('/'))).catch(() => undefined);
    if (!bytes || createHash('sha256').update(bytes).digest('hex') !== hash) return undefined;
    const text = utf8.decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}
