// The gate of every head of the chosen layer: sigmoid(β) is the share of the head's output read from the
// compressed memory, the rest came from local (block-sparse) attention. Gates stuck at 50% across all heads
// are the known failure mode (the memory is not used), so the spread over all layers is stated too.
import { el, pct, replaceChildren } from './dom.js';

export interface GatesView {
  gates: number[][]; // [L, H]
  layer: number;
  head: number;
}

export function renderGates(parent: HTMLElement, v: GatesView, chooseHead: (head: number) => void): void {
  const doc = parent.ownerDocument;
  const list = el(doc, 'div', 'gates');
  (v.gates[v.layer] ?? []).forEach((g, h) => {
    const row = el(doc, 'button', h === v.head ? 'gate selected' : 'gate');
    row.type = 'button';
    row.setAttribute('aria-pressed', String(h === v.head));
    row.appendChild(el(doc, 'span', 'gate-label', `Head ${h}`));
    const bar = el(doc, 'span', 'gate-bar');
    bar.setAttribute('aria-hidden', 'true');
    const mem = el(doc, 'span', 'gate-memory');
    mem.style.width = pct(clamp01(g), 2);
    const local = el(doc, 'span', 'gate-local');
    local.style.width = pct(1 - clamp01(g), 2);
    bar.append(mem, local);
    row.appendChild(bar);
    row.appendChild(el(doc, 'span', 'gate-text', `memory ${pct(g)} · local ${pct(1 - g)}`));
    row.addEventListener('click', () => chooseHead(h));
    list.appendChild(row);
  });
  const all = v.gates.flat();
  const spread = all.length ? `Gates over all ${all.length} heads range from ${pct(Math.min(...all))} to ${pct(Math.max(...all))}.` : '';
  replaceChildren(parent, el(doc, 'h3', undefined, `Layer ${v.layer}: memory vs local attention`), list, el(doc, 'p', 'note', spread));
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
