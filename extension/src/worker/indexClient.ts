// Host-side handle on the index worker: typed calls that return promises, a progress callback, and
// cancellation through a shared memory cell. If the worker dies, pending calls fail with a clear message
// and the next open() starts a fresh worker. Nothing here imports 'vscode', so unit tests run it under Node.
import type { Worker } from 'node:worker_threads';
import { portOf, startWorker } from '../../../kernels/runtime/workerThread.js';
import type { IndexProgress } from '../core/api.js';
import { Messenger } from '../core/messenger.js';
import { checkFromIndexWorker, type IndexHost, type IndexWorker, type LogLevel, type OpenParams,
  type WorkerMethods } from './protocol.js';

export interface IndexClientEvents {
  onProgress?(progress: IndexProgress): void;
  onLog?(level: LogLevel, message: string): void;
  onExit?(code: number): void;
}

/** How long dispose() waits for the worker to close the index before it is terminated anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

export class IndexClient {
  private worker: { thread: Worker; messenger: Messenger<IndexHost, IndexWorker> } | undefined;
  private readonly cancelCell = new Int32Array(new SharedArrayBuffer(4));

  constructor(private readonly workerFile: string, private readonly events: IndexClientEvents = {}) {}

  /** Starts the worker if needed and opens the index. Returns the stats stored from earlier sessions. */
  open(params: Omit<OpenParams, 'cancelFlag'>) {
    return this.messenger().request('open', { ...params, cancelFlag: this.cancelCell.buffer as SharedArrayBuffer });
  }

  /** Full incremental pass. Only one at a time: the caller cancels and awaits the previous one first. */
  update() {
    Atomics.store(this.cancelCell, 0, 0);
    return this.messenger().request('update', {});
  }

  /** Asks the running update to stop at the next file; its promise still settles. */
  cancelUpdate(): void {
    Atomics.store(this.cancelCell, 0, 1);
  }

  applyChanges(events: WorkerMethods['applyChanges']['params']['events']) { return this.messenger().request('applyChanges', { events }); }
  search(query: string, options: WorkerMethods['search']['params']['options']) { return this.messenger().request('search', { query, options }); }
  searchSimilar(params: WorkerMethods['searchSimilar']['params']) { return this.messenger().request('searchSimilar', params); }
  stats() { return this.messenger().request('stats', {}); }
  clear() { return this.messenger().request('clear', {}); }

  /** Closes the index and ends the worker. Safe to call twice. */
  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.cancelUpdate();
    await worker.messenger.request('close', {}, { timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => undefined);
    this.worker = undefined;
    await worker.thread.terminate();
  }

  /** The running worker's messenger, starting a worker if there is none (first call, or the last one died). */
  private messenger(): Messenger<IndexHost, IndexWorker> {
    return (this.worker ?? this.start()).messenger;
  }

  private start(): NonNullable<IndexClient['worker']> {
    const thread = startWorker(this.workerFile);
    const messenger = new Messenger<IndexHost, IndexWorker>(portOf(thread), {
      notifications: {
        progress: (p) => this.events.onProgress?.(p),
        log: ({ level, message }) => this.events.onLog?.(level, message),
      },
      check: checkFromIndexWorker,
      onInvalid: (reason) => this.events.onLog?.('warn', reason),
      name: 'index worker',
    });
    const worker = { thread, messenger };
    thread.on('error', (err) => this.events.onLog?.('error', `index worker failed: ${err.message}`));
    thread.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      messenger.close(`index worker exited (code ${code})`);
      this.events.onExit?.(code);
    });
    this.worker = worker;
    return worker;
  }
}
