// Worker-thread entry that owns the WorkspaceIndex: all SQLite and chunking work happens here, off the
// extension host's event loop. Speaks the protocol in protocol.ts. Nothing here imports 'vscode'.
import { parentPort } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Cancellation, Logger, SearchOptions } from '../core/api.js';
import { WorkspaceIndex } from '../search/workspaceIndex.js';
import { Encoder } from '../../../kernels/runtime/encoder.js';
import { hasModel, modelTag } from '../../../kernels/runtime/modelFiles.js';
import { portOf } from '../../../kernels/runtime/workerThread.js';
import { Messenger, type RequestHandlers } from '../core/messenger.js';
import { checkIndexRequest, type IndexHost, type IndexWorker, type OpenParams, type WorkerMethods } from './protocol.js';

if (!parentPort) throw new Error('indexWorker must run in a worker thread');
const port = parentPort;

const logger: Logger = {
  info: (message) => messenger.notify('log', { level: 'info', message }),
  warn: (message) => messenger.notify('log', { level: 'warn', message }),
  error: (message) => messenger.notify('log', { level: 'error', message }),
  debug: (message) => messenger.notify('log', { level: 'debug', message }),
};

let index: WorkspaceIndex | undefined;
let opened: OpenParams | undefined;
// The encoder runs in its own (nested) worker thread; this thread only awaits it, so searches stay answered.
let encoder: Promise<Encoder | undefined> | undefined;
let semanticOn = false;
const warnedModes = new Set<string>();
let cancelCell = new Int32Array(new SharedArrayBuffer(4));
// Read on every check, so a cancel stored by the host is seen even while the core never yields.
const cancellation: Cancellation = {
  get isCancellationRequested() { return Atomics.load(cancelCell, 0) === 1; },
};

function requireIndex(): WorkspaceIndex {
  if (!index) throw new Error('index is not open');
  return index;
}

/** Opens the encoder on the first update (not at open: lexical must not wait for a model it may not need). */
function openEncoder(): Promise<Encoder | undefined> {
  const semantic = opened?.semantic;
  if (!semantic || !hasModel(semantic.modelDir)) return Promise.resolve(undefined);
  // One core fewer than the machine has for ONNX Runtime: background embedding must leave the extension
  // host a core (measured in docs/vscode.md: on 2 cores, both for ORT gave 68 ms event-loop stalls).
  encoder ??= Encoder.open(semantic.modelDir, {
    provider: semantic.provider, workerPath: semantic.encoderWorkerPath, log: (m) => logger.info(m),
    threads: encoderThreads(),
  }).then((enc) => {
    logger.info(`encoder for the index: ${enc.info.provider} (${enc.info.precision})`);
    return enc;
  }, (err: unknown) => {
    logger.error(`encoder could not start, search stays lexical: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  return encoder;
}

/** INFINI_LENS_INDEX_THREADS overrides (0: ONNX Runtime's default), for the side-by-side measurement only. */
function encoderThreads(): number | undefined {
  const env = Number(process.env.INFINI_LENS_INDEX_THREADS);
  if (Number.isInteger(env) && env >= 0 && process.env.INFINI_LENS_INDEX_THREADS) return env || undefined;
  return Math.max(1, availableParallelism() - 1);
}

/** Registers the dense and hybrid rankers once per opened index (idempotent). */
async function ensureSemantic(ix: WorkspaceIndex): Promise<void> {
  if (semanticOn) return;
  const enc = await openEncoder();
  if (!enc || ix !== index || !opened?.semantic) return;
  await ix.enableSemantic({ encoder: enc, modelTag: modelTag(opened.semantic.modelDir), memory: false, queryMemory: false });
  semanticOn = true;
}

/** A mode this index cannot serve yet (no model, encoder still starting) falls back to lexical, said once. */
function servedMode(ix: WorkspaceIndex, options: SearchOptions): SearchOptions {
  const mode = options.mode ?? 'lexical';
  if (mode === 'lexical' || ix.supports(mode)) return options;
  if (!warnedModes.has(mode)) {
    warnedModes.add(mode);
    logger.warn(`search mode ${mode} is not available (${opened?.semantic && hasModel(opened.semantic.modelDir) ? 'the encoder is not ready yet' : 'no encoder model'}): ranking lexically`);
  }
  return { ...options, mode: 'lexical' };
}

async function closeIndex(): Promise<void> {
  await index?.close();
  index = undefined;
  semanticOn = false;
}

async function openIndex(params: OpenParams) {
  await closeIndex();
  opened = params;
  cancelCell = new Int32Array(params.cancelFlag);
  index = await WorkspaceIndex.open(params.root, {
    storageDir: params.storageDir, excludeGlobs: params.excludeGlobs, maxFileBytes: params.maxFileBytes,
    followSymlinks: params.followSymlinks ?? false, logger,
  });
  return index.stats();
}

const handlers: RequestHandlers<WorkerMethods> = {
  open: openIndex,
  async update() {
    const ix = requireIndex();
    await ensureSemantic(ix);
    // Lexical phases first ('done' once), then 'encode' while chunks are embedded, then 'done' again.
    const stats = await ix.update((progress) => messenger.notify('progress', progress), cancellation);
    return { ...stats, semantic: ix.semanticStats() };
  },
  // Every reply that becomes the host's state carries every field of it (a save's reply once dropped `semantic`,
  // and the status bar's embedded count vanished after each save).
  applyChanges: async ({ events }) => { const ix = requireIndex(); return { ...await ix.applyChanges(events), semantic: ix.semanticStats() }; },
  search: ({ query, options }) => { const ix = requireIndex(); return ix.search(query, servedMode(ix, options)); },
  searchSimilar: ({ relPath, startLine, endLine, limit }) => requireIndex().searchSimilar(relPath, startLine, endLine, limit),
  stats: async () => { const ix = requireIndex(); return { ...ix.stats(), semantic: ix.semanticStats() }; },
  async clear() {
    // Another process writes this index, or its files are read-only: deleting it is not ours to do.
    if (index?.readOnly) throw new Error(`the index was not cleared: ${index.readOnly}`);
    const file = index?.indexPath;
    await closeIndex();
    if (file) await rm(file, { force: true });
    // SQLite side files (journal/WAL) would otherwise resurrect the old state.
    if (file) for (const suffix of ['-journal', '-wal', '-shm']) await rm(file + suffix, { force: true });
    if (opened) await openIndex(opened);
  },
  async close() {
    await closeIndex();
    const enc = await encoder;
    encoder = undefined;
    await enc?.close();
  },
};

const messenger = new Messenger<IndexWorker, IndexHost>(portOf(port), {
  requests: handlers, check: checkIndexRequest, onInvalid: (reason) => logger.warn(reason), name: 'index worker',
});
