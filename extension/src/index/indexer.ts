// Brings the store in line with the files on disk. A file is read only when its mtime or size changed
// (the cheap pre-check); it is re-chunked only when its content hash changed. Work is committed in batches,
// one transaction each, so an interrupted run keeps every finished batch and the next run carries on.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Cancellation, IndexProgress, IndexStats, Logger, SkipReason } from '../core/api.js';
import { indexTokens } from '../search/tokenize.js';
import { Chunker, splitLines, type ChunkWithText } from './chunker.js';
import { classifyContent } from './content.js';
import type { IndexStore, StoredChunk } from './store.js';
import { reasonOf, statOne, type SkippedFile, type WalkOptions, type WalkResult, type WalkedFile } from './walker.js';

/** Commit after this many files or this much time, whichever comes first. */
const BATCH_FILES = 64;
const BATCH_MS = 1000;

export interface FileChangeEvent {
  type: 'created' | 'changed' | 'deleted';
  path: string;
}

interface SyncOptions {
  onProgress?: (p: IndexProgress) => void;
  cancellation?: Cancellation;
}

/** What reading one file produced, applied to the store inside the batch transaction. */
type FileOutcome =
  | { kind: 'same'; file: WalkedFile; id: number }
  | { kind: 'put'; file: WalkedFile; hash: string; chunks: StoredChunk[]; skip?: { reason: SkipReason; detail?: string } }
  | { kind: 'gone'; path: string };

export class Indexer {
  private readonly chunker = new Chunker();
  private filesRead = 0;
  private lastUpdateMs = 0;

  constructor(readonly root: string, private readonly store: IndexStore, private readonly logger: Logger) {}

  async init(): Promise<void> {
    this.lastUpdateMs = Number(this.store.getMeta('last_update_ms') ?? 0);
  }

  /** Full pass over a fresh walk: add, update, delete. Returns false when cancelled part-way. */
  async sync(walk: WalkResult, { onProgress, cancellation }: SyncOptions): Promise<boolean> {
    const t0 = Date.now();
    this.filesRead = 0;
    const known = this.store.allFiles();
    const present = new Set(walk.files.map((f) => f.path));
    const gone = [...known.keys()].filter((p) => !present.has(p));
    const todo = walk.files.filter((f) => {
      const k = known.get(f.path);
      return !k || k.mtime !== f.mtimeMs || k.size !== f.size;
    });
    this.store.transaction(() => {
      for (const p of gone) this.store.deleteFile(p);
      this.store.setMeta('walk_skips', JSON.stringify(countReasons(walk.skipped)));
    });
    onProgress?.({ phase: 'chunk', filesDone: 0, filesTotal: todo.length });
    let batch: FileOutcome[] = [];
    let batchStart = Date.now();
    for (let i = 0; i < todo.length; i++) {
      if (cancellation?.isCancellationRequested) {
        this.commit(batch);
        this.logger.info(`Indexing cancelled after ${i} of ${todo.length} files; the next update carries on.`);
        return false;
      }
      batch.push(await this.readFile(todo[i]!, known.get(todo[i]!.path)?.hash, known.get(todo[i]!.path)?.id));
      if (batch.length >= BATCH_FILES || Date.now() - batchStart >= BATCH_MS) {
        this.commit(batch);
        batch = [];
        batchStart = Date.now();
        onProgress?.({ phase: 'store', filesDone: i + 1, filesTotal: todo.length });
      }
    }
    this.commit(batch);
    this.lastUpdateMs = Date.now() - t0;
    this.store.transaction(() => this.store.setMeta('last_update_ms', String(this.lastUpdateMs)));
    onProgress?.({ phase: 'done', filesDone: todo.length, filesTotal: todo.length });
    return true;
  }

  /** Watcher events: each path is re-stated with the walk's rules; a folder event falls back to `fullSync`. */
  async applyChanges(events: readonly FileChangeEvent[], options: WalkOptions, fullSync: () => Promise<unknown>): Promise<void> {
    const t0 = Date.now();
    this.filesRead = 0;
    const known = this.store.allFiles();
    const outcomes: FileOutcome[] = [];
    for (const ev of events) {
      const rel = this.relative(ev.path);
      if (rel === undefined) continue;
      if (ev.type === 'deleted') {
        outcomes.push({ kind: 'gone', path: rel });
        for (const p of known.keys()) if (p.startsWith(`${rel}/`)) outcomes.push({ kind: 'gone', path: p });
        continue;
      }
      const abs = path.join(this.root, ...rel.split('/'));
      if ((await fs.stat(abs).catch(() => undefined))?.isDirectory()) {
        this.commit(outcomes);
        await fullSync(); // a folder appeared (moved in, checked out): the walk knows how to take it in
        return;
      }
      const st = await statOne(this.root, rel, options);
      if (!('abs' in st)) {
        outcomes.push({ kind: 'gone', path: rel });
        if (st.reason !== 'ignored') this.logger.info(`skip ${rel}: ${st.reason}${st.detail ? ` (${st.detail})` : ''}`);
        continue;
      }
      const k = known.get(rel);
      if (k && k.mtime === st.mtimeMs && k.size === st.size) continue;
      outcomes.push(await this.readFile(st, k?.hash, k?.id));
    }
    this.commit(outcomes);
    this.lastUpdateMs = Date.now() - t0;
  }

  stats(): IndexStats {
    const { files, chunks, skipped } = this.store.counts();
    const walkSkips = JSON.parse(this.store.getMeta('walk_skips') ?? '{}') as Partial<Record<SkipReason, number>>;
    for (const [r, n] of Object.entries(walkSkips) as [SkipReason, number][]) skipped[r] = (skipped[r] ?? 0) + n;
    return { files, chunks, skipped, filesReadLastUpdate: this.filesRead, lastUpdateMs: this.lastUpdateMs };
  }

  dispose(): void {
    this.chunker.dispose();
  }

  private async readFile(file: WalkedFile, knownHash?: string, knownId?: number): Promise<FileOutcome> {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file.abs);
    } catch (err) {
      const reason = reasonOf(err);
      this.logger.info(`skip ${file.path}: ${reason} while indexing`);
      if (reason === 'vanished') return { kind: 'gone', path: file.path };
      // mtime -1 so the next update tries again (permissions may be fixed without touching the file).
      return { kind: 'put', file: { ...file, mtimeMs: -1 }, hash: '', chunks: [], skip: { reason, detail: String((err as NodeJS.ErrnoException).code) } };
    }
    this.filesRead++;
    this.logger.debug?.(`read ${file.path} (new or mtime/size changed)`);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (knownId !== undefined && hash === knownHash) return { kind: 'same', file, id: knownId };
    const content = classifyContent(bytes);
    if (!content.ok) {
      this.logger.info(`skip ${file.path}: ${content.reason} (${content.detail})`);
      return { kind: 'put', file, hash, chunks: [], skip: { reason: content.reason, detail: content.detail } };
    }
    const chunks = await this.chunker.chunk(file.path, content.text);
    const pathTokens = indexTokens(file.path);
    const lines = splitLines(content.text);
    return { kind: 'put', file, hash, chunks: chunks.map((c) => toStored(c, pathTokens, lines)) };
  }

  private commit(batch: readonly FileOutcome[]): void {
    if (batch.length === 0) return;
    this.store.transaction(() => {
      for (const o of batch) {
        if (o.kind === 'gone') this.store.deleteFile(o.path);
        else if (o.kind === 'same') this.store.touchFile(o.id, o.file.mtimeMs, o.file.size);
        else this.store.putFile(o.file.path, o.hash, o.file.mtimeMs, o.file.size, o.chunks, o.skip);
      }
    });
  }

  /** Workspace-relative POSIX path, or undefined when the event is outside the root. */
  private relative(p: string): string | undefined {
    const rel = path.isAbsolute(p) ? path.relative(this.root, p) : p;
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  }
}

/** Lines on each side of a chunk indexed as its context: neighbouring code and comments often say what a
 * function is for (section comments, callers, the sibling it mirrors) when its own text does not. */
const CONTEXT_LINES = 15;

function toStored(c: ChunkWithText, pathTokens: string, lines: readonly string[]): StoredChunk {
  const { text, ...chunk } = c;
  const before = lines.slice(Math.max(0, c.startLine - 1 - CONTEXT_LINES), c.startLine - 1);
  const after = lines.slice(c.endLine, c.endLine + CONTEXT_LINES);
  return {
    ...chunk, snippet: snippetOf(text),
    tokens: { name: indexTokens(c.name ?? ''), path: pathTokens, body: indexTokens(text), context: indexTokens([...before, ...after].join('\n')) },
  };
}

/** First non-blank lines, trimmed, for a result list; never the whole chunk. */
function snippetOf(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    lines.push(line.trimEnd().slice(0, 160));
    if (lines.length === 3) break;
  }
  return lines.join('\n');
}

function countReasons(skipped: readonly SkippedFile[]): Partial<Record<SkipReason, number>> {
  const out: Partial<Record<SkipReason, number>> = {};
  for (const s of skipped) out[s.reason] = (out[s.reason] ?? 0) + 1;
  return out;
}
