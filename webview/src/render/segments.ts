// Which heads read the memory, segment by segment: one row per (layer, head), one column per earlier segment of
// the file. A cell is the share of that head's output that the memory read of that segment gave the selected
// token(s): gate σ(β) × the segment's part of the read (the read's weights over past tokens sum to 1, summed per
// segment). "older" holds the segments before the kept window, read but no longer attributed one by one.
// Clicking a row shows that layer and head in the other tabs.
import type { HeadAttention } from '../protocol.js';
import { el, pct, replaceChildren } from './dom.js';

export interface SegmentsView {
  segment: number; // the segment on display (0-based)
  heads: HeadAttention[]; // [L·H] layer-major
  gates: number[][]; // [L, H]
  /** How many tokens are selected: their shares are averaged, so a cell stays a share of one head's output. */
  selected: number;
  layer: number;
  head: number;
}

export interface SegmentCell { layer: number; head: number; column: number | 'older'; share: number }

/** The matrix: per head, the gate-weighted share of each earlier segment (and of the older, unattributed part). */
export function segmentMatrix(v: SegmentsView): { columns: (number | 'older')[]; rows: SegmentCell[][] } {
  const withSegs = v.heads.filter((h) => h.memorySegments);
  const first = Math.min(...withSegs.map((h) => h.memorySegments!.first));
  const older = withSegs.some((h) => h.memorySegments!.older > 0);
  const columns: (number | 'older')[] = [...(older ? ['older' as const] : []),
    ...Array.from({ length: Math.max(0, v.segment - first) }, (_, i) => first + i)];
  const n = Math.max(1, v.selected);
  const rows = withSegs.map((h) => {
    const g = v.gates[h.layer]?.[h.head] ?? 0;
    const s = h.memorySegments!;
    return columns.map((column): SegmentCell => {
      const part = column === 'older' ? s.older : (s.shares[column - s.first] ?? 0);
      return { layer: h.layer, head: h.head, column, share: (g * part) / n };
    });
  });
  return { columns, rows };
}

export function renderSegments(parent: HTMLElement, v: SegmentsView, chooseHead: (layer: number, head: number) => void): void {
  const doc = parent.ownerDocument;
  const title = el(doc, 'h3', undefined, 'Which heads read the memory, segment by segment');
  if (v.segment === 0) {
    replaceChildren(parent, title, el(doc, 'p', 'note', 'This is the first segment of the file: the memory is still empty, no head reads it.'));
    return;
  }
  const { columns, rows } = segmentMatrix(v);
  const max = Math.max(0, ...rows.flat().map((c) => c.share));
  const what = v.selected > 1 ? `the ${v.selected} selected tokens (averaged)` : 'the selected token';
  const intro = el(doc, 'p', 'note', `Each cell: the share of a head's output for ${what} that came from the memory of one earlier ` +
    'segment (the head\'s gate × that segment\'s part of its memory read). Darker reads more. Click a row to show that head.');
  const grid = el(doc, 'div', 'seg-grid');
  grid.setAttribute('role', 'grid');
  grid.setAttribute('aria-label', `Memory read by earlier segment for ${rows.length} heads and ${columns.length} columns`);
  grid.style.setProperty('--cols', String(columns.length));
  const header = el(doc, 'div', 'seg-row seg-header');
  header.setAttribute('role', 'row');
  header.appendChild(el(doc, 'span', 'seg-label', 'layer·head'));
  for (const c of columns) header.appendChild(el(doc, 'span', 'seg-col', c === 'older' ? 'older' : String(c + 1)));
  grid.appendChild(header);
  for (const row of rows) {
    const { layer, head } = row[0] ?? { layer: 0, head: 0 };
    const r = el(doc, 'button', layer === v.layer && head === v.head ? 'seg-row selected' : 'seg-row');
    r.type = 'button';
    r.setAttribute('role', 'row');
    r.setAttribute('aria-pressed', String(layer === v.layer && head === v.head));
    r.appendChild(el(doc, 'span', 'seg-label', `L${layer} H${head}`));
    for (const cell of row) {
      const c = el(doc, 'span', 'seg-cell');
      c.setAttribute('role', 'gridcell');
      c.setAttribute('aria-label', `layer ${layer} head ${head}, ${cell.column === 'older' ? 'older segments' : `segment ${cell.column + 1}`}: ${pct(cell.share, 2)}`);
      c.style.setProperty('--w', max > 0 ? (cell.share / max).toFixed(3) : '0');
      r.appendChild(c);
    }
    r.addEventListener('click', () => chooseHead(layer, head));
    grid.appendChild(r);
  }
  const top = rows.flat().sort((a, b) => b.share - a.share).slice(0, 3).filter((c) => c.share > 0)
    .map((c) => `layer ${c.layer} head ${c.head} from ${c.column === 'older' ? 'the older segments' : `segment ${c.column + 1}`} (${pct(c.share, 2)})`);
  const summary = el(doc, 'p', 'seg-summary', top.length ? `Heaviest: ${top.join('; ')}.` : 'No head reads the memory for this selection.');
  summary.setAttribute('role', 'status');
  replaceChildren(parent, title, intro, grid, summary);
}
