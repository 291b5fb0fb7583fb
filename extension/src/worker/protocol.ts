// The index channel between the extension host (IndexClient) and the index worker (indexWorker.ts), both ends
// importing these types; the messenger (extension/src/core/messenger.ts) carries them. The core runs SQLite WASM
// synchronously, so it lives in a worker thread and the extension host stays responsive. Progress and log lines
// are notifications.
import type { IndexProgress, IndexStats, SearchHit, SearchOptions } from '../core/api.js';
import type { Check } from '../core/messenger.js';
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
  applyChanges: { params: { events: FileChange[] }; result: WorkerStats };
  search: { params: { query: string; options: SearchOptions }; result: SearchHit[] };
  /** Find Similar Code: chunks like lines startLine..endLine (1-based, inclusive) of relPath. */
  searchSimilar: { params: { relPath: string; startLine: number; endLine: number; limit: number }; result: SearchHit[] };
  stats: { params: Record<string, never>; result: WorkerStats };
  /** Closes the index and deletes its files: the next open starts empty. */
  clear: { params: Record<string, never>; result: void };
  close: { params: Record<string, never>; result: void };
}
export type MethodName = keyof WorkerMethods;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The worker's side of the channel (the messenger in extension/src/core carries it). */
export interface IndexWorker { requests: WorkerMethods; notifications: Record<never, never> }
/** The host's side: progress of a running update and the worker's log lines. */
export interface IndexHost {
  requests: Record<never, never>;
  notifications: { progress: IndexProgress; log: { level: LogLevel; message: string } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const PHASES = new Set(['walk', 'chunk', 'encode', 'store', 'done']);
const LEVELS = new Set(['debug', 'info', 'warn', 'error']);
const isStats = (v: unknown) => isObject(v) && count(v.files) && count(v.chunks) && isObject(v.skipped)
  && (v.semantic === undefined || (isObject(v.semantic) && count(v.semantic.embedded) && count(v.semantic.chunks)));
const isHits = (v: unknown) => Array.isArray(v) && v.every((h) => isObject(h) && typeof h.path === 'string'
  && typeof h.score === 'number' && Number.isInteger(h.startLine) && Number.isInteger(h.endLine));
const RESULTS: Record<MethodName, (v: unknown) => boolean> = {
  open: isStats, update: isStats, applyChanges: isStats, stats: isStats, search: isHits, searchSimilar: isHits,
  clear: (v) => v === undefined || v === null, close: (v) => v === undefined || v === null,
};

/** The host's check of everything the worker sends: results by method, progress and log lines by shape. */
export const checkFromIndexWorker: Check = (kind, method, v) => {
  if (kind === 'response') return (RESULTS as Record<string, (v: unknown) => boolean>)[method]?.(v) ? undefined : `unexpected shape for ${method}`;
  if (kind === 'notification' && method === 'progress') {
    return isObject(v) && PHASES.has(v.phase as string) && count(v.filesDone) && count(v.filesTotal)
      && (v.message === undefined || typeof v.message === 'string') ? undefined : 'malformed progress';
  }
  if (kind === 'notification' && method === 'log') {
    return isObject(v) && LEVELS.has(v.level as string) && typeof v.message === 'string' ? undefined : 'malformed log line';
  }
  return 'the index worker sends no requests';
};

/** The worker's check of a request's params: an object (each handler reads only the fields its method declares). */
export const checkIndexRequest: Check = (_kind, _method, v) => isObject(v) ? undefined : 'params must be an object';
