// The selected token's attention over the segment's source text: every token on its own line, shaded by the
// weight it received (relative to the heaviest key, so one head's pattern is readable whatever its spread).
// Rows are virtualised: only the rows in view have DOM nodes. Keyboard: one tab stop; arrows move a cursor
// token, Enter selects it (the lens re-centres on it), Ctrl/Cmd+Enter adds it to the selection (attention
// summed), Shift+Enter reveals it in the editor.
// The box fills the webview's height below it and redraws whenever its size changes (a ResizeObserver): data
// often arrives while the Attention tab is hidden (zero height), so the rows and the scroll to the selected
// token are done again when the tab is shown or the panel resized.
import type { LensToken } from '../protocol.js';
import { rowWindow, scrollToReveal } from '../model/virtual.js';
import { rowOfToken, type SourceRow } from '../model/rows.js';
import { appendVisible } from './visibleText.js';
import { DOC_MARKER_LABEL } from './lists.js';
import { el, num, replaceChildren } from './dom.js';

export const ROW_HEIGHT = 20; // px; lens.css draws rows at exactly this height
const MIN_HEIGHT = 200; // px: the box never shrinks below ten rows
const BELOW_PX = 48; // px kept under the box for the cursor line (the heaviest keys sit beside it or below)
export { DOC_MARKER_LABEL };

export interface HeatmapEvents {
  select(token: number): void;
  /** Ctrl/Cmd+click or Ctrl/Cmd+Enter: add the token to the selection, or take it out. */
  toggle(token: number): void;
  reveal(token: number): void;
  /** The cursor moved: the app shows the token's details. */
  cursor(token: number): void;
}

export class Heatmap {
  readonly element: HTMLElement;
  private readonly content: HTMLElement;
  private rows: SourceRow[] = [];
  private tokens: LensToken[] = [];
  private rowOf = new Map<number, number>();
  private weights = new Map<number, number>();
  private maxWeight = 0;
  private selected = new Set<number>();
  private active = -1;
  /** The selected token still has to be scrolled into view (the box had no height when it arrived). */
  private revealPending = -1;
  private drawnHeight = -1;
  private lastSelected = -1;
  /** Whether the last selected token's row was inside the box at the last draw (a resize keeps it there). */
  private selectionWasInView = false;
  /** Tokens drawn as a marker instead of text (the model's <doc> start-of-file token). */
  private special = new Set<number>();

  constructor(private readonly doc: Document, private readonly events: HeatmapEvents) {
    this.element = el(doc, 'div', 'heatmap');
    this.element.tabIndex = 0;
    this.element.setAttribute('role', 'listbox');
    this.element.setAttribute('aria-label', 'Attention of the selected token over the segment text');
    this.element.style.setProperty('--row-h', `${ROW_HEIGHT}px`);
    this.content = el(doc, 'div', 'heatmap-content');
    this.element.appendChild(this.content);
    this.element.addEventListener('scroll', () => this.draw());
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.element.addEventListener('click', (e) => this.onClick(e));
    const win = doc.defaultView as (Window & typeof globalThis) | null;
    if (win?.ResizeObserver) new win.ResizeObserver(() => this.onResize()).observe(this.element);
    win?.addEventListener('resize', () => this.onResize());
  }

  setText(tokens: LensToken[], rows: SourceRow[]): void {
    this.tokens = tokens;
    this.rows = rows;
    this.rowOf = rowOfToken(rows);
    // The scroll height first: a scroll to the selection made before draw() would be clamped to the old rows' height.
    this.content.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.special = new Set(tokens.filter((t) => t.special).map((t) => t.index));
  }

  /** `selected`: the tokens whose attention is shown (summed); the last one is scrolled into view. */
  setWeights(weights: Map<number, number>, selected: readonly number[]): void {
    this.weights = weights;
    this.maxWeight = Math.max(0, ...weights.values());
    this.selected = new Set(selected);
    const last = selected.at(-1) ?? -1;
    this.lastSelected = last;
    if (this.active < 0 || !this.rowOf.has(this.active)) this.active = last;
    this.revealPending = last;
    this.fit();
    this.revealIfSized();
    this.draw();
  }

  /**
   * Sizes the box to the webview's height below its top (at least MIN_HEIGHT), so the rows fill the pane at
   * any panel size. Skipped while hidden: a hidden tab has no layout to measure.
   */
  fit(): void {
    const win = this.doc.defaultView;
    if (!win || this.element.getClientRects().length === 0) return;
    const top = this.element.getBoundingClientRect().top + win.scrollY;
    const h = Math.max(MIN_HEIGHT, Math.floor(win.innerHeight - top - BELOW_PX));
    if (Number.isFinite(h) && this.element.style.height !== `${h}px`) this.element.style.height = `${h}px`;
  }

  /** Draws the rows in view; called on scroll, resize and data changes. */
  draw(): void {
    this.drawnHeight = this.element.clientHeight;
    const selRow = this.rowOf.get(this.lastSelected);
    this.selectionWasInView = selRow !== undefined && this.drawnHeight > 0 &&
      scrollToReveal(this.element.scrollTop, this.drawnHeight, ROW_HEIGHT, selRow) === undefined;
    const win = rowWindow(this.element.scrollTop, this.element.clientHeight, ROW_HEIGHT, this.rows.length);
    this.content.style.height = `${win.height}px`;
    const frag = this.doc.createDocumentFragment();
    for (let i = win.first; i < win.last; i++) frag.appendChild(this.drawRow(this.rows[i]!, i));
    replaceChildren(this.content, frag);
    const activeEl = this.active >= 0 ? this.doc.getElementById(`tok-${this.active}`) : null;
    if (activeEl) this.element.setAttribute('aria-activedescendant', activeEl.id);
    else this.element.removeAttribute('aria-activedescendant');
  }

  private drawRow(row: SourceRow, i: number): HTMLElement {
    const r = el(this.doc, 'div', 'row');
    r.style.top = `${i * ROW_HEIGHT}px`;
    r.appendChild(el(this.doc, 'span', 'gutter', String(row.line + 1)));
    const seen = new Set<number>();
    for (const p of row.pieces) {
      const w = this.weights.get(p.token);
      const span = el(this.doc, 'span', w === undefined ? 'tok unattended' : 'tok attended');
      if (this.special.has(p.token)) span.classList.add('special');
      if (!seen.has(p.token) && this.rowOf.get(p.token) === i) span.id = `tok-${p.token}`;
      seen.add(p.token);
      span.dataset.token = String(p.token);
      span.setAttribute('role', 'option');
      if (w !== undefined && this.maxWeight > 0) span.style.setProperty('--w', (w / this.maxWeight).toFixed(3));
      if (this.selected.has(p.token)) span.classList.add('selected');
      if (p.token === this.active) span.classList.add('active');
      span.setAttribute('aria-selected', String(this.selected.has(p.token)));
      if (this.special.has(p.token)) span.textContent = DOC_MARKER_LABEL;
      else appendVisible(span, p.text);
      r.appendChild(span);
    }
    if (row.hidden > 0) r.appendChild(el(this.doc, 'span', 'note', ` … ${num(row.hidden)} more characters on this line not shown`));
    return r;
  }

  private reveal(token: number): void {
    const row = this.rowOf.get(token);
    if (row === undefined) return;
    const top = scrollToReveal(this.element.scrollTop, this.element.clientHeight, ROW_HEIGHT, row);
    if (top !== undefined) this.element.scrollTop = top;
  }

  /** Centres the pending selected token once the box has a height; until then the reveal waits. */
  private revealIfSized(): void {
    const row = this.rowOf.get(this.revealPending);
    if (row === undefined) { this.revealPending = -1; return; }
    const h = this.element.clientHeight;
    if (h <= 0) return;
    // Centred unless it already sits comfortably inside (two rows from either edge), so context shows around it.
    const top = this.element.scrollTop, y = row * ROW_HEIGHT;
    if (y < top + 2 * ROW_HEIGHT || y + 3 * ROW_HEIGHT > top + h) {
      this.element.scrollTop = Math.max(0, y - Math.floor((h - ROW_HEIGHT) / 2));
    }
    this.revealPending = -1;
  }

  /** The webview or the box changed size: refit, keep the selection in view, redraw. */
  private onResize(): void {
    // A selection that was in view stays in view when the panel shrinks or grows (unless the user scrolled away).
    // Decided before fit() changes the height: a draw() at the new height would no longer see it.
    const before = this.drawnHeight, keep = this.selectionWasInView && this.revealPending < 0;
    this.fit();
    if (keep && this.element.clientHeight !== before) this.revealPending = this.lastSelected;
    this.revealIfSized();
    if (this.element.clientHeight !== this.drawnHeight) this.draw();
  }

  private moveTo(token: number): void {
    if (!this.rowOf.has(token)) return;
    this.active = token;
    this.reveal(token);
    this.draw();
    this.events.cursor(token);
  }

  private onKey(e: KeyboardEvent): void {
    const order = this.tokens.map((t) => t.index).filter((t) => this.rowOf.has(t));
    const at = Math.max(0, order.indexOf(this.active));
    const row = this.rowOf.get(this.active) ?? 0;
    // The first token that starts on row r (a row may begin with the tail of a token from the line above).
    const firstOnRow = (r: number): number | undefined =>
      this.rows[r]?.pieces.find((p) => this.rowOf.get(p.token) === r)?.token ?? this.rows[r]?.pieces[0]?.token;
    let to: number | undefined;
    if (e.key === 'ArrowRight') to = order[at + 1];
    else if (e.key === 'ArrowLeft') to = order[at - 1];
    else if (e.key === 'ArrowDown') for (let r = row + 1; r < this.rows.length && to === undefined; r++) to = firstOnRow(r);
    else if (e.key === 'ArrowUp') for (let r = row - 1; r >= 0 && to === undefined; r--) to = firstOnRow(r);
    else if (e.key === 'Home') to = order[0];
    else if (e.key === 'End') to = order[order.length - 1];
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (this.active >= 0) (e.shiftKey ? this.events.reveal : e.ctrlKey || e.metaKey ? this.events.toggle : this.events.select)(this.active);
      return;
    } else return;
    e.preventDefault();
    if (to !== undefined) this.moveTo(to);
  }

  private onClick(e: MouseEvent): void {
    const target = (e.target as HTMLElement | null)?.closest?.('.tok') as HTMLElement | null;
    const token = Number(target?.dataset.token);
    if (!Number.isInteger(token)) return;
    this.moveTo(token);
    (e.altKey ? this.events.reveal : e.ctrlKey || e.metaKey ? this.events.toggle : this.events.select)(token);
  }
}
