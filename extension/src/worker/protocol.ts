// The typed message protocol between the extension host (IndexClient) and the index worker (indexWorker.ts).
// The core runs SQLite WASM synchronously, so it lives in a worker thread and the extension host stays
// responsive. Requests and responses are correlated by id; progress and log lines are notifications.
// Nothing here imports 'vscode'.
import type { IndexProgress, IndexStats, SearchHit, SearchOptions } from '../core/api.js';
import type { FileChange, SemanticStats } from '../search/workspaceIndex.js';

/** Where the worker finds the encoder; absent: lexical search only. */
export interface SemanticParams {
  modelDir: string;
  /** The runtime's bundled worker (dist/worker.js); the encoder runs in that nested thread, not in this one. */
  encoderWorkerPath?: string;
  provider: 'auto' | 'webgpu' | 'cpu';
}

export interface OpenParams {
  root: string;
  storageDir: string;
  excludeGlobs: string[];
  maxFileBytes: number;
  /** infiniLens.followSymlinks: follow links out of the workspace (default false). */
  followSymlinks?: boolean;
  /** One Int32 cell: the host stores 1 to cancel the running update; read by the worker between files. */
  cancelFlag: SharedArrayBuffer;
  semantic?: SemanticParams;
}

/** Lexical stats plus how far chunk embedding got (undefined: no encoder in this worker). */
export interface WorkerStats extends IndexStats { semantic?: SemanticStats }

/** Every method the worker answers: its params and its result. */
export interface WorkerMethods {
  open: { params: OpenParams; result: IndexStats };
  update: { params: Record<string, never>; result: WorkerStats };
  applyChanges: { params: { events: FileChange[] }; result: IndexStats };
  search: { params: { query: string; options: SearchOptions }; result: SearchHit[] };
  /** Find Similar Code: chunks like lines startLine..endLine (1-based, inclusive) of relPath. */
  searchSimilar: { params: { relPath: string; startLine: number; endLine: number; limit: number }; result: SearchHit[] };
  stats: { params: Record<string, never>; result: WorkerStats };
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

export const METHODS: readonly MethodName[] = ['open', 'update', 'applyChanges', 'search', 'searchSimilar', 'stats', 'clear', 'close'];

/** The worker validates what it receives: a malformed request gets an error response, never a crash. */
export function isWorkerRequest(value: unknown): value is WorkerRequest {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'number' && typeof v.method === 'string'
    && (METHODS as readonly string[]).includes(v.method) && typeof v.params === 'object' && v.params !== null;
}
