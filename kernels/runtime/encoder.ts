// The encoder as the rest of the extension sees it. All inference runs in a worker thread (worker.ts), never on
// the caller's event loop:
//
//   const enc = await Encoder.open(modelDir, { provider: 'auto' });      // info(): which provider runs
//   const files = await enc.encodeFiles([{ path, text, chunks }]);        // chunk embeddings [chunks, E]
//   const [q] = await enc.encodeQueries(['parse config'], memory);       // query embeddings [E]
//   await enc.close();
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from './workerThread.js';
import type { Request, RequestBody, Response, ResultOf, Stats } from './protocol.js';
import type { ProviderSetting } from './providers.js';
import type { Contribution, FileInput, FileResult, SessionInfo } from './session.js';
import type { LensResult, LensTarget, RecallResult } from './lens.js';

export interface OpenOptions {
  provider?: ProviderSetting;
  maxSegments?: number;
  threads?: number;
  /** The worker script; default: worker.js beside this bundle (dist/), or worker.ts when run from source. */
  workerPath?: string;
  log?: (msg: string) => void;
}

export class Encoder {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private dead?: Error; // set when the worker is gone: later calls fail at once instead of hanging
  private constructor(private readonly worker: Worker, private readonly log: (msg: string) => void, public info: SessionInfo) {}

  static async open(modelDir: string, opts: OpenOptions = {}): Promise<Encoder> {
    const script = path.resolve(opts.workerPath ?? defaultWorkerPath());
    const worker = startWorker(script);
    const enc = new Encoder(worker, opts.log ?? (() => {}), undefined as unknown as SessionInfo);
    worker.on('message', (r: Response) => enc.onMessage(r));
    worker.on('error', (e) => enc.failAll(e));
    worker.on('exit', (code) => enc.failAll(new Error(`encoder worker exited (code ${code})`)));
    try {
      enc.info = await enc.call('open', { type: 'open', modelDir: path.resolve(modelDir), provider: opts.provider ?? 'auto',
        maxSegments: opts.maxSegments, threads: opts.threads });
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return enc;
  }

  /** Chunk embeddings per file; `contributions` adds each file's memory contribution (one file per run). */
  encodeFiles(files: FileInput[], contributions = false): Promise<FileResult[]> {
    return this.call('encodeFiles', { type: 'encodeFiles', files, contributions });
  }
  /** Retrieval embeddings of chunks each encoded alone (query graph, <doc> marker): [n, E], rows L2-normalised. */
  encodeChunks(texts: string[]): Promise<Float32Array> {
    return this.call('encodeChunks', { type: 'encodeChunks', texts });
  }
  /** A file's memory contribution from its token ids (the memory module's encodeContribution). */
  contribution(tokenIds: Int32Array): Promise<Contribution> {
    return this.call('contribution', { type: 'contribution', tokenIds });
  }
  encodeQueries(texts: string[], memory?: Contribution): Promise<Float32Array[]> {
    return this.call('encodeQueries', { type: 'encodeQueries', texts, memory });
  }
  async encodeQuery(text: string, memory?: Contribution): Promise<Float32Array> {
    return (await this.encodeQueries([text], memory))[0]!;
  }
  /** The lens of one segment: by index, or `{ offset }` for the segment holding the token at a UTF-16 offset. */
  lens(text: string, segment: LensTarget): Promise<LensResult> {
    return this.call('lens', { type: 'lens', text, segment });
  }
  recall(layer: number, head: number, token: number, topK = 10): Promise<RecallResult> {
    return this.call('recall', { type: 'recall', layer, head, token, topK });
  }
  stats(): Promise<Stats> { return this.call('stats', { type: 'stats' }); }

  async close(): Promise<void> {
    if (this.dead) return;
    try { await this.call('close', { type: 'close' }); } finally {
      this.dead = new Error('encoder is closed');
      await this.worker.terminate();
    }
  }

  private call<K extends Request['type']>(_kind: K, body: RequestBody<K>): Promise<ResultOf[K]> {
    const id = this.nextId++;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      if (this.dead) { reject(this.dead); return; }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...body, id } as Request);
    });
  }

  private onMessage(r: Response): void {
    if ('log' in r) { this.log(r.log); return; }
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.result); else p.reject(new Error(r.error));
  }

  private failAll(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

function defaultWorkerPath(): string {
  const js = path.join(__dirname, 'worker.js');
  return existsSync(js) ? js : path.join(__dirname, 'worker.ts');
}
