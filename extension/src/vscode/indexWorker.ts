// Worker-thread entry that owns the WorkspaceIndex: all SQLite and chunking work happens here, off the
// extension host's event loop. Speaks the protocol in workerProtocol.ts. Nothing here imports 'vscode'.
import { parentPort } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import type { Cancellation, Logger } from '../core/api.js';
import { WorkspaceIndex } from '../index/workspaceIndex.js';
import {
  isWorkerRequest, type MethodName, type OpenParams, type WorkerMessage, type WorkerMethods, type WorkerRequest,
} from './workerProtocol.js';

if (!parentPort) throw new Error('indexWorker must run in a worker thread');
const port = parentPort;
const post = (message: WorkerMessage) => port.postMessage(message);

const logger: Logger = {
  info: (message) => post({ type: 'log', level: 'info', message }),
  warn: (message) => post({ type: 'log', level: 'warn', message }),
  error: (message) => post({ type: 'log', level: 'error', message }),
  debug: (message) => post({ type: 'log', level: 'debug', message }),
};

let index: WorkspaceIndex | undefined;
let opened: OpenParams | undefined;
let cancelCell = new Int32Array(new SharedArrayBuffer(4));
// Read on every check, so a cancel stored by the host is seen even while the core never yields.
const cancellation: Cancellation = {
  get isCancellationRequested() { return Atomics.load(cancelCell, 0) === 1; },
};

function requireIndex(): WorkspaceIndex {
  if (!index) throw new Error('index is not open');
  return index;
}

type Handlers = { [M in MethodName]: (params: WorkerMethods[M]['params']) => Promise<WorkerMethods[M]['result']> };
const handlers: Handlers = {
  async open(params) {
    await index?.close();
    opened = params;
    cancelCell = new Int32Array(params.cancelFlag);
    index = await WorkspaceIndex.open(params.root, {
      storageDir: params.storageDir, excludeGlobs: params.excludeGlobs, maxFileBytes: params.maxFileBytes, logger,
    });
    return index.stats();
  },
  update: () => requireIndex().update((progress) => post({ type: 'progress', progress }), cancellation),
  applyChanges: ({ events }) => requireIndex().applyChanges(events),
  search: ({ query, options }) => requireIndex().search(query, options),
  stats: async () => requireIndex().stats(),
  async clear() {
    const file = index?.indexPath;
    await index?.close();
    index = undefined;
    if (file) await rm(file, { force: true });
    // SQLite side files (journal/WAL) would otherwise resurrect the old state.
    if (file) for (const suffix of ['-journal', '-wal', '-shm']) await rm(file + suffix, { force: true });
    if (opened) await handlers.open(opened);
  },
  async close() {
    await index?.close();
    index = undefined;
  },
};

port.on('message', async (message: unknown) => {
  if (!isWorkerRequest(message)) {
    const id = typeof (message as { id?: unknown })?.id === 'number' ? (message as { id: number }).id : -1;
    post({ type: 'response', id, ok: false, error: 'malformed request' });
    return;
  }
  const { id, method, params } = message as WorkerRequest;
  try {
    const handler = handlers[method] as (p: unknown) => Promise<unknown>;
    post({ type: 'response', id, ok: true, result: await handler(params) });
  } catch (err) {
    post({ type: 'response', id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
