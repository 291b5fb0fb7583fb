// Reading one file for the index: bytes → content hash → text/skip classification → chunks → FTS token strings.
// The one implementation of that CPU work, run either in the indexer's own thread or in a chunk worker
// (chunkWorker.ts); its result is plain data (structured-clone safe) that the indexer applies to the store.
// Log lines are returned, not written, so the indexer emits them in file order whichever thread did the work.
import { createHash } from 'node:crypto';
import type { SkipReason } from '../core/api.js';
import { indexTokens } from './tokenize.js';
import { splitLines, type Chunker, type ChunkWithText } from './chunker.js';
import { classifyContent } from './content.js';
import type { StoredChunk } from './store.js';
import { readBounded, type ReadGuard } from './fileAccess.js';
import type { WalkedFile } from './walker.js';

/** What reading one file produced, applied to the store inside the batch transaction. */
export type FileOutcome =
  | { kind: 'same'; file: WalkedFile; id: number }
  | { kind: 'put'; file: WalkedFile; hash: string; chunks: StoredChunk[]; skip?: { reason: SkipReason; detail?: string } }
  | { kind: 'gone'; path: string };

/** One file to read, with what the store knows of it (an unchanged hash only touches the row) and what the read
 * may touch (the walk's guard: root, links, size limit). `keepText`: the result carries the decoded text (the save
 * path hands it to the embedder, so a saved file is read once). */
export interface ReadRequest { file: WalkedFile; guard: ReadGuard; knownHash?: string; knownId?: number; keepText?: boolean }

export interface ReadLog { level: 'info' | 'debug'; message: string }

export interface ReadResult {
  outcome: FileOutcome;
  /** Whether the bytes were read (counts toward filesReadLastUpdate). */
  read: boolean;
  logs: ReadLog[];
  /** A skip that is not stored with the file (it vanished): the indexer still counts it for the summary. */
  unstoredSkip?: SkipReason;
  /** With `keepText`, for a file stored with chunks: the text they were cut from, and its bytes' hash. */
  text?: { hash: string; text: string };
}

export async function readFileForIndex({ file, guard, knownHash, knownId, keepText }: ReadRequest, chunker: Chunker): Promise<ReadResult> {
  const logs: ReadLog[] = [];
  const skipLog = (reason: SkipReason, detail?: string) =>
    logs.push({ level: 'info', message: `skip ${file.path}: ${reason} (${detail ? `${detail}; ` : ''}found while indexing)` });
  const r = await readBounded(file.abs, guard);
  if (!r.ok) {
    skipLog(r.reason, r.detail);
    if (r.reason === 'vanished') return { outcome: { kind: 'gone', path: file.path }, read: false, logs, unstoredSkip: 'vanished' };
    // mtime -1 so the next update tries again (permissions fixed, the file swapped back, the limit raised).
    return {
      outcome: { kind: 'put', file: { ...file, mtimeMs: -1 }, hash: '', chunks: [], skip: { reason: r.reason, detail: r.detail } },
      read: false, logs,
    };
  }
  const { bytes } = r;
  const read: WalkedFile = { ...file, size: r.size, mtimeMs: r.mtimeMs }; // what was read, not what the walk saw
  logs.push({ level: 'debug', message: `read ${file.path} (new or mtime/size changed)` });
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (knownId !== undefined && hash === knownHash) return { outcome: { kind: 'same', file: read, id: knownId }, read: true, logs };
  const content = classifyContent(bytes);
  if (!content.ok) {
    logs.push({ level: 'info', message: `skip ${file.path}: ${content.reason} (${content.detail})` });
    return { outcome: { kind: 'put', file: read, hash, chunks: [], skip: { reason: content.reason, detail: content.detail } }, read: true, logs };
  }
  try {
    const chunks = await chunker.chunk(file.path, content.text, (m) => logs.push({ level: 'info', message: `${file.path}: ${m}` }));
    const pathTokens = indexTokens(file.path);
    const lines = splitLines(content.text);
    return { outcome: { kind: 'put', file: read, hash, chunks: chunks.map((c) => toStored(c, pathTokens, lines)) }, read: true, logs,
      ...(keepText ? { text: { hash, text: content.text } } : {}) };
  } catch (err) {
    // One file the chunker cannot take costs only itself. It is tried again at the next update (mtime -1: read
    // again; no hash: not 'same'), since a failure may be passing (one was: a parse stopped by its timeout under
    // load left the parser to garble the next file), and a file kept as failed until it is edited would be lost.
    const detail = `${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`.slice(0, 300);
    logs.push({ level: 'info', message: `skip ${file.path}: failed (${detail})` });
    return { outcome: { kind: 'put', file: { ...read, mtimeMs: -1 }, hash: '', chunks: [], skip: { reason: 'failed', detail } }, read: true, logs };
  }
}

/** Lines on each side of a chunk indexed as its context: neighbouring code and comments often say what a
 * function is for (section comments, callers, the sibling it mirrors) when its own text does not. */
const CONTEXT_LINES = 15;

/** Keyword tokens of a chunk: one row per member of a packed chunk (its own name, lines and surroundings, so
 * bm25 scores each small symbol on its own and the chunk by its best member), else one for the whole chunk. */
function toStored(c: ChunkWithText, pathTokens: string, lines: readonly string[]): StoredChunk {
  const { text, members, ...chunk } = c;
  const row = (startLine: number, endLine: number, name: string | undefined, body: string) => {
    const before = lines.slice(Math.max(0, startLine - 1 - CONTEXT_LINES), startLine - 1);
    const after = lines.slice(endLine, endLine + CONTEXT_LINES);
    return { name: indexTokens(name ?? ''), path: pathTokens, body: indexTokens(body), context: indexTokens([...before, ...after].join('\n')) };
  };
  const tokens = members
    ? members.map((m) => row(m.startLine, m.endLine, m.name, lines.slice(m.startLine - 1, m.endLine).join('\n')))
    : [row(c.startLine, c.endLine, c.name, text)];
  const stored: StoredChunk = { ...chunk, snippet: snippetOf(text), tokens };
  if (members) stored.partLines = members.map((m) => [m.startLine, m.endLine]);
  return stored;
}

/** First non-blank lines, trimmed, for a result list; never the whole chunk. */
export function snippetOf(text: string): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    lines.push(line.trimEnd().slice(0, 160));
    if (lines.length === 3) break;
  }
  return lines.join('\n');
}
