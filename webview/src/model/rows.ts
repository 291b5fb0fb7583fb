// Source rows for the heatmap: the segment's tokens laid out on the lines they came from. A token that spans
// lines (a newline plus indentation) is split so each line shows its own part; every part keeps its token index.
import type { LensToken } from '../protocol.js';

export interface RowPiece { token: number; text: string }
export interface SourceRow {
  line: number; // 0-based source line
  pieces: RowPiece[];
  /** UTF-16 units of this line not shown (very long lines are cut for display). */
  hidden: number;
}

/** Longest part of a line drawn; the rest is summarised in a note (a minified 10 MB line must not be laid out). */
export const MAX_ROW_CHARS = 2000;

export function buildRows(tokens: readonly LensToken[], maxRowChars = MAX_ROW_CHARS): SourceRow[] {
  if (tokens.length === 0) return [];
  const first = tokens[0]!.range.startLine;
  const rows: SourceRow[] = [];
  const rowAt = (line: number): SourceRow => {
    while (first + rows.length <= line) rows.push({ line: first + rows.length, pieces: [], hidden: 0 });
    return rows[line - first]!;
  };
  const shown = new Map<number, number>(); // line → units drawn so far
  for (const t of tokens) {
    const parts = t.text.split('\n');
    parts.forEach((raw, k) => {
      // CRLF files: the \r belongs to the line break, not to the visible text.
      const text = k < parts.length - 1 && raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const row = rowAt(t.range.startLine + k);
      const used = shown.get(row.line) ?? 0;
      const room = Math.max(0, maxRowChars - used);
      if (text.length > room) row.hidden += text.length - room;
      const kept = text.slice(0, room);
      if (kept.length > 0 || (text.length === 0 && k === 0 && parts.length === 1)) row.pieces.push({ token: t.index, text: kept });
      shown.set(row.line, used + kept.length);
    });
  }
  return rows;
}

/** Row index of each token's first part, for keyboard moves and reveal. */
export function rowOfToken(rows: readonly SourceRow[]): Map<number, number> {
  const m = new Map<number, number>();
  rows.forEach((r, i) => r.pieces.forEach((p) => { if (!m.has(p.token)) m.set(p.token, i); }));
  return m;
}
