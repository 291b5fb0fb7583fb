// A pool of chunk workers (chunkWorker.ts) for the lexical pass of a large update: the CPU work of reading a file
// (hash, classify, tree-sitter chunking, FTS token strings) runs on several cores; the indexer still applies the
// results to the store on its own thread, in walk order, in the same batch transactions.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../../kernels/runtime/workerThread.js';
import type { ReadRequest, ReadResult } from './fileReader.js';

export interface PoolRequest { id: number; read: ReadRequest }
export type PoolResponse = { id: number; ok: true; result: ReadResult } | { id: number; ok: false; error: string };

/** `'auto'`: a pool only where it pays (see poolSize); a number: that many workers (0 = read in the indexer's thread). */
export type LexicalWorkers = number | 'auto';

/** Below this many files to read, starting workers (each loads the bundle and tree-sitter) costs more than it saves. */
export const MIN_POOL_FILES = 128;
/** More workers than this gain little: the indexer's own thread (structured clone in, SQLite writes) is then the limit. */
export const MAX_AUTO_WORKERS = 12;

/**
 * How many chunk workers an update of `files` files to read gets. 'auto' keeps the in-thread path (0) on ≤ 2 cores
 * (the VS Code extension host and the small dev machines: one core stays for everything else) and for small jobs;
 * otherwise cores − 1, at most MAX_AUTO_WORKERS. An explicit number is used as given, whatever the size.
 */
export function poolSize(setting: LexicalWorkers, files: number, cores = availableParallelism()): number {
  if (setting !== 'auto') return Math.max(0, Math.floor(setting));
  if (cores <= 2 || files < MIN_POOL_FILES) return 0;
  return Math.min(MAX_AUTO_WORKERS, cores - 1);
}

/** Thrown into requests still pending when the pool is closed (a cancelled update drops them). */
export class PoolClosedError extends Error {}

interface Slot { worker: Worker; pending: Map<number, { resolve: (r: ReadResult) => void; reject: (e: Error) => void }>; dead?: Error }

export class ChunkPool {
  private nextId = 1;
  private closed = false;
  private constructor(private readonly slots: Slot[]) {}

  /** Starts `size` workers; undefined when the worker script is not there (then the caller reads in-thread). */
  static start(size: number, script = defaultWorkerScript()): ChunkPool | undefined {
    if (size < 1 || !script) return undefined;
    const slots: Slot[] = [];
    for (let i = 0; i < size; i++) {
      const worker = startWorker(script);
      const slot: Slot = { worker, pending: new Map() };
      worker.on('message', (r: PoolResponse) => {
        const p = slot.pending.get(r.id);
        if (!p) return;
        slot.pending.delete(r.id);
        if (r.ok) p.resolve(r.result); else p.reject(new Error(r.error));
      });
      const fail = (e: Error) => {
        slot.dead ??= e;
        for (const p of slot.pending.values()) p.reject(e);
        slot.pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`chunk worker exited (code ${code})`)));
      slots.push(slot);
    }
    return new ChunkPool(slots);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Reads one file on the least busy live worker. Rejects if that worker dies (the caller may read in-thread). */
  read(req: ReadRequest): Promise<ReadResult> {
    if (this.closed) return Promise.reject(new PoolClosedError('chunk pool is closed'));
    const live = this.slots.filter((s) => !s.dead);
    if (live.length === 0) return Promise.reject(this.slots[0]?.dead ?? new Error('no chunk workers'));
    const slot = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<ReadResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, read: req } satisfies PoolRequest);
    });
  }

  /** Stops the workers; requests still pending reject with PoolClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PoolClosedError('chunk pool is closed');
    for (const s of this.slots) {
      s.dead ??= err;
      for (const p of s.pending.values()) p.reject(err);
      s.pending.clear();
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** chunkWorker.js beside this bundle (dist/, next to cli.js), or chunkWorker.ts beside this file from source. */
function defaultWorkerScript(): string | undefined {
  for (const name of ['chunkWorker.js', 'chunkWorker.ts']) {
    const p = path.join(__dirname, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}
