// The nb×nb block grid of one segment for one (layer, head): which key blocks each query block attended to,
// coloured by why (window, global, random), with the computed-vs-skipped score counts. Keyboard: the grid is
// one tab stop; arrow keys move a cursor cell whose meaning is spoken in a live region.
import type { LensConfig } from '../protocol.js';
import { type BlockKind, type LayoutCounts } from '../model/layout.js';
import { el, num, pct, replaceChildren } from './dom.js';

export interface LayoutView {
  config: LensConfig;
  kinds: BlockKind[][];
  counts: LayoutCounts;
  /** The query block of the selected token: its row is outlined. */
  selectedRow: number;
  layer: number;
  head: number;
}

const LABEL: Record<BlockKind, string> = {
  window: 'window (neighbours)', global: 'global', random: 'random', dense: 'dense (short segment)', skipped: 'skipped',
};

export function renderLayout(parent: HTMLElement, v: LayoutView): void {
  const doc = parent.ownerDocument;
  const nb = v.kinds.length;
  const grid = el(doc, 'div', 'block-grid');
  grid.setAttribute('role', 'grid');
  grid.setAttribute('aria-label', `Block layout, layer ${v.layer}, head ${v.head}: ${nb} by ${nb} blocks`);
  grid.tabIndex = 0;
  grid.style.setProperty('--nb', String(nb));
  const cells: HTMLElement[] = [];
  v.kinds.forEach((row, i) => {
    const r = el(doc, 'div', i === v.selectedRow ? 'block-row selected' : 'block-row');
    r.setAttribute('role', 'row');
    row.forEach((kind, j) => {
      const c = el(doc, 'div', `cell ${kind}`);
      c.setAttribute('role', 'gridcell');
      c.id = `cell-${i}-${j}`;
      c.setAttribute('aria-label', `query block ${i}, key block ${j}: ${LABEL[kind]}`);
      cells.push(c);
      r.appendChild(c);
    });
    grid.appendChild(r);
  });
  const status = el(doc, 'div', 'cell-status');
  status.setAttribute('role', 'status');
  const focus = (i: number, j: number): void => {
    const k = v.kinds[i]?.[j];
    if (!k) return;
    cursor = [i, j];
    cells.forEach((c) => c.classList.remove('cursor'));
    const cell = cells[i * nb + j];
    cell?.classList.add('cursor');
    if (cell) grid.setAttribute('aria-activedescendant', cell.id);
    const b = v.config.block;
    status.textContent = `Query block ${i} (tokens ${i * b}–${i * b + b - 1}) → key block ${j} (tokens ${j * b}–${j * b + b - 1}): ${LABEL[k]}`;
  };
  let cursor: [number, number] = [Math.max(0, v.selectedRow), Math.max(0, v.selectedRow)];
  grid.addEventListener('focus', () => focus(...cursor));
  grid.addEventListener('keydown', (e) => {
    const [i, j] = cursor;
    const moves: Record<string, [number, number]> = {
      ArrowUp: [i - 1, j], ArrowDown: [i + 1, j], ArrowLeft: [i, j - 1], ArrowRight: [i, j + 1],
      Home: [i, 0], End: [i, nb - 1], PageUp: [0, j], PageDown: [nb - 1, j],
    };
    const to = moves[e.key];
    if (!to) return;
    e.preventDefault();
    focus(Math.min(nb - 1, Math.max(0, to[0])), Math.min(nb - 1, Math.max(0, to[1])));
  });
  grid.addEventListener('click', (e) => {
    const m = /^cell-(\d+)-(\d+)$/.exec((e.target as HTMLElement | null)?.id ?? '');
    if (m) focus(Number(m[1]), Number(m[2]));
  });
  replaceChildren(parent, legend(doc, v), grid, status);
}

function legend(doc: Document, v: LayoutView): HTMLElement {
  const box = el(doc, 'div', 'legend');
  const present = new Set(v.kinds.flat());
  for (const kind of ['window', 'global', 'random', 'dense', 'skipped'] as const) {
    if (!present.has(kind)) continue;
    const n = v.kinds.flat().filter((k) => k === kind).length;
    const item = el(doc, 'span', 'legend-item');
    item.append(el(doc, 'span', `swatch ${kind}`), doc.createTextNode(`${LABEL[kind]}: ${n} blocks`));
    box.appendChild(item);
  }
  const { computed, skipped, total } = v.counts;
  const frac = total > 0 ? computed / total : 0;
  box.appendChild(el(doc, 'div', 'counts',
    `Computed ${num(computed)} of ${num(total)} query·key scores (${pct(frac)}); skipped ${num(skipped)}.`));
  return box;
}
