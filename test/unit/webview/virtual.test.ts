/// <reference lib="dom" />
// Virtualisation: a 100,000-line view draws only the rows in sight, wherever it is scrolled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Window } from 'happy-dom';
import { rowWindow, scrollToReveal } from '../../../webview/src/model/virtual.js';
import { buildRows } from '../../../webview/src/model/rows.js';
import { Heatmap, ROW_HEIGHT } from '../../../webview/src/render/heatmap.js';
import type { LensToken } from '../../../webview/src/protocol.js';

test('rowWindow covers the viewport plus overscan and clamps at both ends', () => {
  assert.deepEqual(rowWindow(0, 100, 20, 1000, 2), { first: 0, last: 7, offset: 0, height: 20000 });
  assert.deepEqual(rowWindow(1000, 100, 20, 1000, 2), { first: 48, last: 57, offset: 960, height: 20000 });
  assert.equal(rowWindow(1e9, 100, 20, 1000, 2).last, 1000);
  assert.deepEqual(rowWindow(0, 100, 20, 0), { first: 0, last: 0, offset: 0, height: 0 });
  assert.equal(scrollToReveal(0, 100, 20, 2), undefined);
  assert.equal(scrollToReveal(0, 100, 20, 10), 120);
  assert.equal(scrollToReveal(500, 100, 20, 3), 60);
});

test('buildRows splits multi-line tokens, drops CR of CRLF, and caps very long lines', () => {
  const tok = (index: number, text: string, line: number, ch: number): LensToken =>
    ({ index, text, range: { startLine: line, startChar: ch, endLine: line + text.split('\n').length - 1, endChar: 0 } });
  const rows = buildRows([tok(0, 'a', 0, 0), tok(1, '\r\n  ', 0, 1), tok(2, 'b'.repeat(50), 1, 2)], 20);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0]!.pieces, [{ token: 0, text: 'a' }]); // nothing of token 1 is visible on line 0
  assert.deepEqual(rows[1]!.pieces, [{ token: 1, text: '  ' }, { token: 2, text: 'b'.repeat(18) }]);
  assert.equal(rows[1]!.hidden, 32);
});

test('a 100,000-line heatmap draws only the visible rows, also after scrolling', () => {
  const win = new Window();
  const doc = win.document as unknown as Document;
  const tokens: LensToken[] = Array.from({ length: 100_000 }, (_, i) =>
    ({ index: i, text: `line${i}`, range: { startLine: i, startChar: 0, endLine: i, endChar: 5 } }));
  const heat = new Heatmap(doc, { select() {}, toggle() {}, reveal() {}, cursor() {} });
  doc.body.appendChild(heat.element);
  Object.defineProperty(heat.element, 'clientHeight', { value: 400 });
  heat.setText(tokens, buildRows(tokens));
  heat.setWeights(new Map([[10, 0.5], [60_000, 0.25]]), [10]);
  const drawn = () => [...heat.element.querySelectorAll('.row .gutter')].map((g) => Number(g.textContent));
  let rows = drawn();
  assert.ok(rows.length > 0 && rows.length <= 400 / ROW_HEIGHT + 2 * 8 + 1, `drew ${rows.length} rows`);
  assert.ok(rows.includes(11));
  heat.element.scrollTop = 60_000 * ROW_HEIGHT;
  heat.element.dispatchEvent(new win.Event('scroll') as unknown as Event);
  rows = drawn();
  assert.ok(rows.includes(60_001) && rows.length <= 400 / ROW_HEIGHT + 2 * 8 + 1, `drew ${rows.length} rows around ${rows[0]}`);
  assert.equal(heat.element.querySelector('.heatmap-content')!.getBoundingClientRect !== undefined, true);
  assert.equal((heat.element.querySelector('.heatmap-content') as HTMLElement).style.height, `${100_000 * ROW_HEIGHT}px`);
});

test('data that arrives while the heatmap is hidden is drawn, and the selected row shown, once it has a height', async () => {
  const win = new Window();
  const doc = win.document as unknown as Document;
  const tokens: LensToken[] = Array.from({ length: 1_000 }, (_, i) =>
    ({ index: i, text: `line${i}`, range: { startLine: 200 + i, startChar: 0, endLine: 200 + i, endChar: 5 } }));
  const heat = new Heatmap(doc, { select() {}, toggle() {}, reveal() {}, cursor() {} });
  doc.body.appendChild(heat.element);
  // Hidden tab: no height. The Attention tab of the real lens gets its data in this state.
  let height = 0;
  Object.defineProperty(heat.element, 'clientHeight', { get: () => height });
  heat.setText(tokens, buildRows(tokens));
  heat.setWeights(new Map([[100, 1]]), [100]);
  const drawn = () => [...heat.element.querySelectorAll('.row .gutter')].map((g) => Number(g.textContent));
  assert.ok(!drawn().includes(301), 'nothing near the selected row can be drawn without a height');
  // The tab is shown: the size changes and the ResizeObserver redraws, scrolled to the selected token.
  height = 600;
  (heat as unknown as { onResize(): void }).onResize();
  let rows = drawn();
  assert.ok(rows.includes(301), `the selected token's line is drawn (rows ${rows[0]}..${rows.at(-1)})`);
  assert.ok(rows.length >= 600 / ROW_HEIGHT, `the pane is filled: ${rows.length} rows for ${600 / ROW_HEIGHT} in view`);
  const top = heat.element.scrollTop;
  assert.ok(top <= 100 * ROW_HEIGHT && top + 600 >= 101 * ROW_HEIGHT, `row 100 in view at scrollTop ${top}`);
  // A larger panel: more rows, still around the selection.
  height = 1_200;
  (heat as unknown as { onResize(): void }).onResize();
  rows = drawn();
  assert.ok(rows.length >= 1_200 / ROW_HEIGHT && rows.includes(301), `resized: ${rows.length} rows`);
  // Smaller again: the selection, in view before, stays in view.
  height = 300;
  (heat as unknown as { onResize(): void }).onResize();
  const t2 = heat.element.scrollTop;
  assert.ok(t2 <= 100 * ROW_HEIGHT && t2 + 300 >= 101 * ROW_HEIGHT, `row 100 still in view at scrollTop ${t2} after shrinking`);
  // Scrolled away by the user: a resize does not pull the view back.
  heat.element.scrollTop = 900 * ROW_HEIGHT;
  heat.element.dispatchEvent(new win.Event('scroll') as unknown as Event);
  height = 500;
  (heat as unknown as { onResize(): void }).onResize();
  assert.ok(heat.element.scrollTop > 500 * ROW_HEIGHT, 'the user\'s scroll is kept');
  // A real ResizeObserver is wired to the element (happy-dom provides one).
  assert.ok(typeof (win as unknown as { ResizeObserver: unknown }).ResizeObserver === 'function');
});
