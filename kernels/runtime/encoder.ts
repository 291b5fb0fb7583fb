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
import { Messenger } from '../../extension/src/core/messenger.js';
import { portOf, startWorker } from './workerThread.js';
import { checkEncoderMessage, type EncoderHost, type EncoderWorker, type Stats } from './protocol.js';
import type { ProviderSetting } from './providers.js';
import type { ModelConfig } from './modelFiles.js';
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

/** What the index needs of an encoder (embedding chunks, files, queries, memory contributions): the Encoder below
 * implements it, unit tests fake it. */
export interface SemanticEncoder {
  readonly info: { provider?: string; config: Pick<ModelConfig, 'emb_dim' | 'n_layers' | 'n_kv_heads' | 'd_head'> };
  encodeChunks(texts: string[]): Promise<Float32Array>;
  encodeQuery(text: string, memory?: Contribution): Promise<Float32Array>;
  encodeFiles(files: FileInput[], contributions: boolean): Promise<Pick<FileResult, 'path' | 'tokenIds' | 'contribution'>[]>;
  contribution(tokenIds: Int32Array): Promise<Contribution>;
}

/** How long close() waits for the worker to release its sessions before it is terminated anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

export class Encoder implements SemanticEncoder {
  private constructor(private readonly worker: Worker, private readonly messenger: Messenger<EncoderHost, EncoderWorker>,
    public info: SessionInfo) {}

  static async open(modelDir: string, opts: OpenOptions = {}): Promise<Encoder> {
    const script = path.resolve(opts.workerPath ?? defaultWorkerPath());
    const worker = startWorker(script);
    const log = opts.log ?? (() => {});
    const messenger = new Messenger<EncoderHost, EncoderWorker>(portOf(worker), {
      notifications: { log }, check: checkEncoderMessage, onInvalid: log, name: 'encoder worker',
    });
    // A dead worker fails every pending call, and every later one at once, instead of leaving them hanging.
    worker.on('error', (e) => messenger.close(e.message));
    worker.on('exit', (code) => messenger.close(`encoder worker exited (code ${code})`));
    try {
      const info = await messenger.request('open', { modelDir: path.resolve(modelDir), provider: opts.provider ?? 'auto',
        maxSegments: opts.maxSegments, threads: opts.threads });
      return new Encoder(worker, messenger, info);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
  }

  /** Chunk embeddings per file; `contributions` adds each file's memory contribution (one file per run). */
  encodeFiles(files: FileInput[], contributions = false): Promise<FileResult[]> {
    return this.messenger.request('encodeFiles', { files, contributions });
  }
  /** Retrieval embeddings of chunks each encoded alone (query graph, <doc> marker): [n, E], rows L2-normalised. */
  encodeChunks(texts: string[]): Promise<Float32Array> {
    return this.messenger.request('encodeChunks', { texts });
  }
  /** A file's memory contribution from its token ids (the memory module's encodeContribution). */
  contribution(tokenIds: Int32Array): Promise<Contribution> {
    return this.messenger.request('contribution', { tokenIds });
  }
  encodeQueries(texts: string[], memory?: Contribution): Promise<Float32Array[]> {
    return this.messenger.request('encodeQueries', { texts, memory });
  }
  async encodeQuery(text: string, memory?: Contribution): Promise<Float32Array> {
    return (await this.encodeQueries([text], memory))[0]!;
  }
  /** The lens of one segment: by index, or `{ offset }` for the segment holding the token at a UTF-16 offset. */
  lens(text: string, segment: LensTarget): Promise<LensResult> {
    return this.messenger.request('lens', { text, segment });
  }
  recall(layer: number, head: number, token: number, topK = 10): Promise<RecallResult> {
    return this.messenger.request('recall', { layer, head, token, topK });
  }
  stats(): Promise<Stats> { return this.messenger.request('stats', {}); }

  async close(): Promise<void> {
    if (this.messenger.isClosed) return;
    try { await this.messenger.request('close', {}, { timeoutMs: CLOSE_TIMEOUT_MS }); } finally {
      this.messenger.close('encoder is closed');
      await this.worker.terminate();
    }
  }
}

function defaultWorkerPath(): string {
  const js = path.join(__dirname, 'worker.js');
  return existsSync(js) ? js : path.join(__dirname, 'worker.ts');
}
