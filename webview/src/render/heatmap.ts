// The selected token's attention over the segment's source text: every token on its own line, shaded by the
// weight it received (relative to the heaviest key, so one head's pattern is readable whatever its spread).
// Rows are virtualised: only the rows in view have DOM nodes. Keyboard: one tab stop; arrows move a cursor
// token, Enter selects it (the lens re-centres on it), Shift+Enter reveals it in the editor.
import type { LensToken } from '../protocol.js';
import { rowWindow, scrollToReveal } from '../model/virtual.js';
import { rowOfToken, type SourceRow } from '../model/rows.js';
import { appendVisible } from './visibleText.js';
import { el, num, replaceChildren } from './dom.js';

export const ROW_HEIGHT = 20; // px; lens.css draws rows at exactly this height

export interface HeatmapEvents {
  select(token: number): void;
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
  private selected = -1;
  private active = -1;

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
  }

  setText(tokens: LensToken[], rows: SourceRow[]): void {
    this.tokens = tokens;
    this.rows = rows;
    this.rowOf = rowOfToken(rows);
  }

  setWeights(weights: Map<number, number>, selected: number): void {
    this.weights = weights;
    this.maxWeight = Math.max(0, ...weights.values());
    this.selected = selected;
    if (this.active < 0 || !this.rowOf.has(this.active)) this.active = selected;
    this.reveal(selected);
    this.draw();
  }

  /** Draws the rows in view; called on scroll, resize and data changes. */
  draw(): void {
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
      if (!seen.has(p.token) && this.rowOf.get(p.token) === i) span.id = `tok-${p.token}`;
      seen.add(p.token);
      span.dataset.token = String(p.token);
      span.setAttribute('role', 'option');
      if (w !== undefined && this.maxWeight > 0) span.style.setProperty('--w', (w / this.maxWeight).toFixed(3));
      if (p.token === this.selected) span.classList.add('selected');
      if (p.token === this.active) span.classList.add('active');
      span.setAttribute('aria-selected', String(p.token === this.selected));
      appendVisible(span, p.text);
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
      if (this.active >= 0) (e.shiftKey ? this.events.reveal : this.events.select)(this.active);
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
    (e.altKey ? this.events.reveal : this.events.select)(token);
  }
}
