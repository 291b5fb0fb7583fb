// The typed message protocol between the extension host (IndexClient) and the index worker (indexWorker.ts).
// The core runs SQLite WASM synchronously, so it lives in a worker thread and the extension host stays
// responsive. Requests and responses are correlated by id; progress and log lines are notifications.
// Nothing here imports 'vscode'.
import type { IndexProgress, IndexStats, SearchHit, SearchOptions } from '../core/api.js';
import type { FileChange } from '../index/workspaceIndex.js';

export interface OpenParams {
  root: string;
  storageDir: string;
  excludeGlobs: string[];
  maxFileBytes: number;
  /** One Int32 cell: the host stores 1 to cancel the running update; read by the worker between files. */
  cancelFlag: SharedArrayBuffer;
}

/** Every method the worker answers: its params and its result. */
export interface WorkerMethods {
  open: { params: OpenParams; result: IndexStats };
  update: { params: Record<string, never>; result: IndexStats };
  applyChanges: { params: { events: FileChange[] }; result: IndexStats };
  search: { params: { query: string; options: SearchOptions }; result: SearchHit[] };
  stats: { params: Record<string, never>; result: IndexStats };
  /** Closes the index and deletes its files: the next open starts empty. */
  clear: { params: Record<string, never>; result: void };
  close: { params: Record<string, never>; result: void };
}
export type MethodName = keyof WorkerMethods;

export interface WorkerRequest<M extends MethodName = MethodName> {
  id: number;
  method: M;
  params: WorkerMethods[M]['params'];
}

export type WorkerMessage =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'progress'; progress: IndexProgress }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

export const METHODS: readonly MethodName[] = ['open', 'update', 'applyChanges', 'search', 'stats', 'clear', 'close'];

/** The worker validates what it receives: a malformed request gets an error response, never a crash. */
export function isWorkerRequest(value: unknown): value is WorkerRequest {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'number' && typeof v.method === 'string'
    && (METHODS as readonly string[]).includes(v.method) && typeof v.params === 'object' && v.params !== null;
}
