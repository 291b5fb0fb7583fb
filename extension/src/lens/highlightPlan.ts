// What the editor highlights for one lens view: the tokens the selected token attended to (this segment,
// by softmax weight) and the earlier-segment tokens its memory read recalled (by share of the read), each in
// an intensity bucket relative to the heaviest of its kind. No 'vscode': the decorations module applies it.
import type { LensData, LensView, SourceRange } from '../../../webview/src/protocol.js';

export const BUCKETS = 5;

export interface Highlight {
  range: SourceRange;
  kind: 'local' | 'memory' | 'selected';
  bucket: number; // 0 (faint) .. BUCKETS-1 (strong)
  /** Our own words and numbers only: never file content (hover markdown would render it). */
  hover: string;
}

export const bucketOf = (w: number, max: number): number =>
  max <= 0 ? 0 : Math.min(BUCKETS - 1, Math.max(0, Math.ceil((w / max) * BUCKETS) - 1));

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

export function highlightPlan(d: LensData, view: LensView): Highlight[] {
  const head = d.selection.heads[view.layer * d.config.heads + view.head];
  if (!head) return [];
  const where = `layer ${view.layer}, head ${view.head}`;
  const gate = d.gates[view.layer]?.[view.head];
  const ranges = new Map(d.tokens.map((t) => [t.index, t.range]));
  const out: Highlight[] = [];
  const maxLocal = Math.max(0, ...head.keys.map((k) => k.weight));
  for (const k of head.keys) {
    const range = ranges.get(k.token);
    if (range) out.push({ range, kind: 'local', bucket: bucketOf(k.weight, maxLocal),
      hover: `Infini Lens: attention weight ${pct(k.weight)} (${where}, segment ${d.segment + 1})` });
  }
  const maxMem = Math.max(0, ...head.memory.map((m) => m.weight));
  for (const m of head.memory) {
    out.push({ range: m.range, kind: 'memory', bucket: bucketOf(m.weight, maxMem),
      hover: `Infini Lens: memory read ${pct(m.weight)} of the recall from segment ${m.segment + 1} (${where}` +
        `${gate === undefined ? '' : `, gate ${pct(gate)} memory`})` });
  }
  const sel = ranges.get(d.selection.token);
  if (sel) out.push({ range: sel, kind: 'selected', bucket: BUCKETS - 1, hover: `Infini Lens: selected token (${where})` });
  return out;
}
