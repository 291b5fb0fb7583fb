// Host-side handle on the index worker: typed calls that return promises, a progress callback, and
// cancellation through a shared memory cell. If the worker dies, pending calls fail with a clear message
// and the next open() starts a fresh worker. Nothing here imports 'vscode', so unit tests run it under Node.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../../kernels/runtime/workerThread.js';
import type { IndexProgress } from '../core/api.js';
import type { MethodName, OpenParams, WorkerMessage, WorkerMethods } from './protocol.js';

export interface IndexClientEvents {
  onProgress?(progress: IndexProgress): void;
  onLog?(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  onExit?(code: number): void;
}

interface Pending { resolve(value: unknown): void; reject(error: Error): void }

export class IndexClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly cancelCell = new Int32Array(new SharedArrayBuffer(4));

  constructor(private readonly workerFile: string, private readonly events: IndexClientEvents = {}) {}

  /** Starts the worker if needed and opens the index. Returns the stats stored from earlier sessions. */
  open(params: Omit<OpenParams, 'cancelFlag'>) {
    return this.call('open', { ...params, cancelFlag: this.cancelCell.buffer as SharedArrayBuffer });
  }

  /** Full incremental pass. Only one at a time: the caller cancels and awaits the previous one first. */
  update() {
    Atomics.store(this.cancelCell, 0, 0);
    return this.call('update', {});
  }

  /** Asks the running update to stop at the next file; its promise still settles. */
  cancelUpdate(): void {
    Atomics.store(this.cancelCell, 0, 1);
  }

  applyChanges(events: WorkerMethods['applyChanges']['params']['events']) { return this.call('applyChanges', { events }); }
  search(query: string, options: WorkerMethods['search']['params']['options']) { return this.call('search', { query, options }); }
  searchSimilar(params: WorkerMethods['searchSimilar']['params']) { return this.call('searchSimilar', params); }
  stats() { return this.call('stats', {}); }
  clear() { return this.call('clear', {}); }

  /** Closes the index and ends the worker. Safe to call twice. */
  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.cancelUpdate();
    await this.call('close', {}).catch(() => undefined);
    this.worker = undefined;
    await worker.terminate();
  }

  private call<M extends MethodName>(method: M, params: WorkerMethods[M]['params']): Promise<WorkerMethods[M]['result']> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, method, params });
    });
  }

  private start(): Worker {
    const worker = startWorker(this.workerFile);
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    worker.on('error', (err) => this.events.onLog?.('error', `index worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(`index worker exited (code ${code})`);
      this.events.onExit?.(code);
    });
    this.worker = worker;
    return worker;
  }

  private receive(message: WorkerMessage): void {
    switch (message.type) {
      case 'progress': this.events.onProgress?.(message.progress); return;
      case 'log': this.events.onLog?.(message.level, message.message); return;
      case 'response': {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        if (message.ok) pending.resolve(message.result);
        else pending.reject(new Error(message.error));
      }
    }
  }

  private failAll(reason: string): void {
    for (const { reject } of this.pending.values()) reject(new Error(reason));
    this.pending.clear();
  }
}
