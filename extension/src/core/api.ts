// The seam between the headless core (index, search, memory) and its front ends (VS Code layer, CLI, eval).
// Nothing here imports 'vscode': the CLI and unit tests run the same core under plain Node.

/** A span a user can open: workspace-relative POSIX path, 1-based inclusive lines. */
export interface Location {
  path: string;
  startLine: number;
  endLine: number;
}

export interface Chunk extends Location {
  /** 'function' | 'class' | 'method' | ... from the parser, or 'window' for line windows. */
  kind: string;
  /** Symbol name where the parser gave one. */
  name?: string;
  /** UTF-16 offsets of the chunk text inside the file. */
  startOffset: number;
  endOffset: number;
  /** A chunk packed from several neighbouring symbols: each member's UTF-16 offsets [start, end) inside the file,
   * in order. The dense side embeds every member alone and scores the chunk by its best member, so a short
   * function is not averaged with its neighbours. Absent for a chunk of one symbol or window. */
  parts?: [number, number][];
  /** Each member's lines (1-based, inclusive), parallel to `parts`; absent in indexes written before it. */
  partLines?: [number, number][];
}

/** The most members a packed chunk may have (the chunker's `packLines` may not exceed it: a member is ≥ 1 line). */
export const MAX_CHUNK_MEMBERS = 1024;

export type SearchMode = 'lexical' | 'dense' | 'hybrid';

export interface SearchHit extends Location {
  score: number;
  /** A short single-line-safe preview of the chunk (first non-blank lines). */
  snippet: string;
  kind: string;
  name?: string;
  /** A chunk packed from several small symbols: the lines of the member that decided its rank (where the
   * editor opens). The hit's own lines stay the whole chunk's. */
  focus?: { startLine: number; endLine: number };
}

export interface SearchOptions {
  limit?: number;
  mode?: SearchMode;
}

/** Why a file was not indexed: surfaced as counts in the status bar, details in the output channel. */
/** Why a file was left out. not-a-file: a FIFO, socket or device; outside-workspace: a link whose real target is
 * outside the root (followed only with followSymlinks); bad-name: a name that is not valid UTF-8; broken-link: a
 * dangling or looping link; duplicate-link: a second path to a folder walked already; failed: reading or chunking
 * threw (the rest of the workspace goes on). */
export type SkipReason = 'binary' | 'too-large' | 'minified' | 'unreadable' | 'vanished' | 'invalid-utf8' | 'ignored'
  | 'not-a-file' | 'outside-workspace' | 'bad-name' | 'broken-link' | 'duplicate-link' | 'failed';

export interface IndexProgress {
  phase: 'walk' | 'chunk' | 'encode' | 'store' | 'done';
  filesDone: number;
  filesTotal: number;
  message?: string;
  /** Embedding: the execution provider that runs the encoder ('cpu', 'webgpu', …). */
  provider?: string;
}

export interface IndexStats {
  files: number;
  chunks: number;
  skipped: Partial<Record<SkipReason, number>>;
  /** Files whose content was read and re-chunked in the last update (incremental proof). */
  filesReadLastUpdate: number;
  lastUpdateMs: number;
}

/** Cooperative cancellation without importing vscode.CancellationToken. */
export interface Cancellation {
  readonly isCancellationRequested: boolean;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** Per-file detail (every file read): debug level, hidden unless the user raises the log level. */
  debug?(msg: string): void;
}
