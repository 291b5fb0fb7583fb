// Ranked lists a user can act on: the memory read (earlier segments' tokens the compressed memory recalled)
// and the heaviest local keys. Each item is a real button, so Tab/Enter work, and clicking one reveals its
// location in the editor.
import type { LensToken, MemoryRecall, SourceRange } from '../protocol.js';
import { appendLabel } from './visibleText.js';
import { el, pct, replaceChildren } from './dom.js';

/** What the start-of-file token (<doc>) shows instead of its (empty) text; the heatmap uses the same label. */
export const DOC_MARKER_LABEL = '⟨start of file⟩';

export interface ListItem {
  weight: number;
  where: string; // our own text: "segment 3 · line 12, col 5"
  text: string; // hostile token text
  range: SourceRange;
}

export const whereOf = (r: SourceRange, segment?: number): string =>
  `${segment === undefined ? '' : `segment ${segment + 1} · `}line ${r.startLine + 1}, col ${r.startChar + 1}`;

export function renderRanked(parent: HTMLElement, title: string, empty: string, items: ListItem[], reveal: (range: SourceRange) => void): void {
  const doc = parent.ownerDocument;
  const heading = el(doc, 'h3', undefined, title);
  if (items.length === 0) {
    replaceChildren(parent, heading, el(doc, 'p', 'note', empty));
    return;
  }
  const top = Math.max(...items.map((i) => i.weight));
  const ol = el(doc, 'ol', 'ranked');
  for (const item of items) {
    const li = el(doc, 'li');
    const b = el(doc, 'button', 'ranked-item');
    b.type = 'button';
    const bar = el(doc, 'span', 'ranked-bar');
    bar.setAttribute('aria-hidden', 'true');
    bar.style.setProperty('--w', top > 0 ? (item.weight / top).toFixed(3) : '0');
    const code = el(doc, 'code', 'ranked-text');
    appendLabel(code, item.text, 80);
    b.append(bar, el(doc, 'span', 'ranked-weight', pct(item.weight, 2)), code, el(doc, 'span', 'ranked-where', item.where));
    b.addEventListener('click', () => reveal(item.range));
    li.appendChild(b);
    ol.appendChild(li);
  }
  replaceChildren(parent, heading, ol);
}

export const memoryItems = (recalls: MemoryRecall[]): ListItem[] =>
  recalls.map((m) => ({ weight: m.weight, where: whereOf(m.range, m.segment), text: m.special ? DOC_MARKER_LABEL : m.text, range: m.range }));

export function topKeyItems(keys: { token: number; weight: number }[], tokens: Map<number, LensToken>, k: number): ListItem[] {
  return [...keys].sort((a, b) => b.weight - a.weight).slice(0, k).flatMap((key) => {
    const t = tokens.get(key.token);
    return t ? [{ weight: key.weight, where: whereOf(t.range), text: t.special ? DOC_MARKER_LABEL : t.text, range: t.range }] : [];
  });
}
