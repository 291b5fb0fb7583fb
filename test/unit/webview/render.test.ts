/// <reference lib="dom" />
// Hostile content through the real renderers and the whole app, in happy-dom: file text must come out as
// text only — no element or attribute is made from it — and bidi/invisible characters must be visible marks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Window } from 'happy-dom';
import { LensApp } from '../../../webview/src/app.js';
import type { HostChannel } from '../../../webview/src/host.js';
import type { LensData } from '../../../webview/src/protocol.js';
import { appendVisible, toVisible } from '../../../webview/src/render/visibleText.js';
import { renderRanked } from '../../../webview/src/render/lists.js';
import { demoLens } from './demoLens.js';

const XSS = '</script><img src=x onerror=alert(1)>';
const RLO = '\u202E', LRI = '\u2066', ZWSP = '\u200B';
const HOSTILE = `const a = "${XSS}";\n// ${RLO}evil${LRI} admin${ZWSP}\nlet b = 1;\n`;

/** The elements and attributes our renderers may create; anything else came from content. */
const OUR_TAGS = new Set(['MAIN', 'DIV', 'SPAN', 'CODE', 'BUTTON', 'OL', 'LI', 'H3', 'P', 'VSCODE-SINGLE-SELECT', 'VSCODE-OPTION',
  'VSCODE-BADGE', 'VSCODE-BUTTON', 'VSCODE-LABEL', 'VSCODE-TABS', 'VSCODE-TAB-HEADER', 'VSCODE-TAB-PANEL', 'VSCODE-PROGRESS-RING']);
const OUR_ATTRS = new Set(['class', 'id', 'role', 'tabindex', 'style', 'aria-label', 'aria-live', 'aria-hidden', 'aria-selected',
  'aria-pressed', 'aria-activedescendant', 'data-token', 'type', 'value', 'selected', 'slot', 'secondary', 'hidden']);

function assertOnlyOurDom(root: Element): void {
  for (const e of [root, ...root.querySelectorAll('*')]) {
    assert.ok(OUR_TAGS.has(e.tagName), `unexpected element <${e.tagName}>`);
    for (const a of e.getAttributeNames()) {
      assert.ok(OUR_ATTRS.has(a), `unexpected attribute ${a} on <${e.tagName}>`);
      const v = e.getAttribute(a) ?? '';
      assert.ok(!/[<>"]|alert|onerror|evil/.test(v), `content leaked into ${a}="${v.slice(0, 60)}"`);
    }
  }
}

function fakeHost(): { channel: HostChannel; sent: unknown[]; deliver(m: unknown): void } {
  const sent: unknown[] = [];
  let handler: ((m: unknown) => void) | undefined;
  return { sent, deliver: (m) => handler?.(m), channel: { post: (m) => sent.push(m), listen: (h) => { handler = h; return () => { handler = undefined; }; } } };
}

function mount(): { doc: Document; root: HTMLElement } {
  const win = new Window();
  const doc = win.document as unknown as Document;
  const root = doc.createElement('main');
  doc.body.appendChild(root);
  return { doc, root };
}

test('bidi, zero-width and control characters become visible marks; plain text is untouched', () => {
  const v = toVisible(`a${RLO}b${LRI}c${ZWSP}d\u0007e\tf`);
  const shown = v.pieces.map((p) => p.text).join('');
  assert.equal(shown, 'a⟨U+202E⟩b⟨U+2066⟩c⟨U+200B⟩d⟨U+0007⟩e\tf');
  assert.deepEqual(v.pieces.filter((p) => p.kind === 'mark').length, 4);
  assert.equal(toVisible('plain ascii + ünïcödé 😀').pieces.length, 1);
});

test('a 10 MB single line is cut for display and says how much is hidden', () => {
  const { doc, root } = mount();
  const big = 'x'.repeat(10 * 1024 * 1024);
  const cut = appendVisible(root, big, 500);
  assert.equal(cut, big.length - 500);
  assert.equal(root.textContent?.length, 500);
  // A cut never splits a surrogate pair.
  assert.equal(toVisible('a😀b', 2).pieces.map((p) => p.text).join(''), 'a');
  assert.equal(doc.body.querySelectorAll('*').length, 1);
});

test('hostile token text in a ranked list stays text and reveals by range', () => {
  const { root } = mount();
  const revealed: unknown[] = [];
  const range = { startLine: 0, startChar: 0, endLine: 0, endChar: 5 };
  renderRanked(root, 'Memory', 'none', [{ weight: 0.5, where: 'segment 1', text: XSS + RLO, range }], (r) => revealed.push(r));
  assertOnlyOurDom(root);
  assert.equal(root.querySelectorAll('img, script').length, 0);
  assert.ok(root.textContent?.includes(XSS), 'the markup is shown literally');
  assert.ok(root.textContent?.includes('⟨U+202E⟩') && !root.textContent.includes(RLO));
  (root.querySelector('button') as HTMLButtonElement).click();
  assert.deepEqual(revealed, [range]);
});

test('the whole lens app renders a hostile file as text only and talks to a fake host', async () => {
  const { root } = mount();
  const host = fakeHost();
  const app = new LensApp(root, host.channel);
  assert.deepEqual(host.sent[0], { type: 'notification', method: 'lens/ready', params: {} });
  const text = `${HOSTILE}${'x'.repeat(3000)} y\n`;
  const { data } = demoLens(text, { selected: 3, label: `evil${RLO}name<img>.ts` });
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } });

  assertOnlyOurDom(root);
  assert.equal(root.querySelectorAll('img, script, iframe').length, 0);
  const all = root.textContent ?? '';
  assert.ok(all.includes(XSS), 'the markup is shown literally in the heatmap');
  for (const ch of [RLO, LRI, ZWSP]) assert.ok(!all.includes(ch), `raw U+${ch.codePointAt(0)!.toString(16)} reached the DOM`);
  assert.ok(all.includes('⟨U+202E⟩') && all.includes('⟨U+2066⟩') && all.includes('⟨U+200B⟩'));
  assert.match(root.querySelector('.row .note')?.textContent ?? '', / 1,002 more characters on this line not shown/);
  assert.ok(root.querySelector('.title')!.textContent!.includes('evil⟨U+202E⟩name<img>.ts'));
  // The selected token is outlined and attended tokens are shaded through a CSS variable only.
  assert.equal(root.querySelector('.tok.selected')?.getAttribute('data-token'), '3');
  assert.ok(root.querySelectorAll('.tok.attended').length > 0);

  // Selecting a token is a request correlated by id; the response re-renders; a stale id is ignored.
  const tok = root.querySelector('.tok[data-token="5"]') as HTMLElement;
  tok.click();
  const req = host.sent.at(-1) as { type: string; id: number; method: string; params: unknown };
  assert.deepEqual({ type: req.type, method: req.method, params: req.params }, { type: 'request', method: 'lens/selectToken', params: { segment: 1, tokens: [5] } });
  const next = demoLens(text, { selected: 5 }).data.selection;
  host.deliver({ type: 'response', id: req.id + 100, ok: true, result: data.selection });
  host.deliver({ type: 'response', id: req.id, ok: true, result: next });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(root.querySelector('.tok.selected')?.getAttribute('data-token'), '5');

  // Memory items reveal their location through a validated-shape command.
  const item = root.querySelector('.memory .ranked-item') as HTMLButtonElement;
  item.click();
  const reveal = host.sent.at(-1) as { method: string; params: { uri: string } };
  assert.equal(reveal.method, 'lens/reveal');
  assert.equal(reveal.params.uri, data.uri);
  app.dispose();
});

test('keyboard: arrows move the cursor token, Enter selects it, Shift+Enter reveals it', () => {
  const { doc, root } = mount();
  const host = fakeHost();
  new LensApp(root, host.channel);
  const { data } = demoLens('function f(a, b) {\n  return a + b;\n}\n', { selected: 0 });
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } });
  const heat = root.querySelector('.heatmap') as HTMLElement;
  const key = (k: string, shiftKey = false) => heat.dispatchEvent(new (doc.defaultView as unknown as typeof globalThis).KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true }));
  key('ArrowRight'); key('ArrowRight');
  assert.equal(root.querySelector('.tok.active')?.getAttribute('data-token'), '2');
  key('ArrowDown');
  const active = root.querySelector('.tok.active')!;
  const onRow1 = Number(active.getAttribute('data-token'));
  assert.equal(active.parentElement!.querySelector('.gutter')!.textContent, '2', 'moved to the second source line');
  assert.ok(onRow1 > 2);
  key('Enter');
  assert.deepEqual((host.sent.at(-1) as { params: unknown }).params, { segment: 1, tokens: [onRow1] });
  key('ArrowRight');
  const next = Number(root.querySelector('.tok.active')!.getAttribute('data-token'));
  heat.dispatchEvent(new (doc.defaultView as unknown as typeof globalThis).KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, bubbles: true }));
  assert.deepEqual((host.sent.at(-1) as { params: unknown }).params, { segment: 1, tokens: [0, next] }, 'Ctrl+Enter adds to the selection');
  key('Enter', true);
  assert.equal((host.sent.at(-1) as { method: string }).method, 'lens/reveal');
});

test('the block grid is keyboard-navigable and states computed vs skipped counts', () => {
  const { doc, root } = mount();
  const host = fakeHost();
  new LensApp(root, host.channel);
  const { data } = demoLens('x '.repeat(40), { selected: 20 });
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } satisfies { data: LensData } });
  const grid = root.querySelector('.block-grid') as HTMLElement;
  assert.equal(grid.querySelectorAll('.cell').length, 64);
  assert.match(root.querySelector('.counts')!.textContent!, /Computed [\d,]+ of [\d,]+ query·key scores .*skipped [\d,]+/);
  grid.dispatchEvent(new (doc.defaultView as unknown as typeof globalThis).FocusEvent('focus'));
  grid.dispatchEvent(new (doc.defaultView as unknown as typeof globalThis).KeyboardEvent('keydown', { key: 'ArrowRight' }));
  assert.equal(grid.getAttribute('aria-activedescendant'), 'cell-2-3');
  assert.match(root.querySelector('.cell-status')!.textContent!, /Query block 2 .* key block 3/);
});

test('labels show line breaks and all-blank tokens visibly', async () => {
  const { appendLabel } = await import('../../../webview/src/render/visibleText.js');
  const { root } = mount();
  appendLabel(root, '\n  \t');
  assert.equal(root.textContent, '⏎··→');
  const other = mount().root;
  appendLabel(other, 'a b');
  assert.equal(other.textContent, 'a b');
});

test('busy: before the first data only a busy panel with what it computes, the elapsed time and Cancel', () => {
  const { root } = mount();
  const host = fakeHost();
  const app = new LensApp(root, host.channel);
  const toolbar = root.querySelector('.toolbar') as HTMLElement, tabs = root.querySelector('vscode-tabs') as HTMLElement;
  const busy = root.querySelector('.busy-panel') as HTMLElement;
  assert.ok(toolbar.hidden && tabs.hidden && busy.hidden, 'no empty dropdowns before there is data');
  assert.match(root.querySelector('.status')!.textContent!, /Put the cursor on a token/);
  host.deliver({ type: 'notification', method: 'lens/didChangeState',
    params: { busy: true, cancellable: true, decorations: false, message: 'Computing attention for the token at huge.ts:301:11' } });
  assert.ok(!busy.hidden && root.classList.contains('busy'));
  assert.equal(root.querySelector('.status')!.textContent, '', 'the intro gives way to the busy panel');
  assert.match(busy.querySelector('.busy-text')!.textContent!, /huge\.ts:301:11/);
  assert.match(busy.querySelector('.busy-elapsed')!.textContent!, /^\d+ s$/);
  assert.ok(busy.querySelector('vscode-progress-ring'));
  (busy.querySelector('.busy-cancel') as HTMLElement).click();
  assert.deepEqual(host.sent.at(-1), { type: 'notification', method: 'lens/cancel', params: {} });
  host.deliver({ type: 'notification', method: 'lens/didChangeState', params: { busy: false, decorations: false } });
  assert.ok(busy.hidden && !root.classList.contains('busy'));
  assert.match(root.querySelector('.status')!.textContent!, /Put the cursor on a token/);
  const { data } = demoLens('let a = 1;\n', { selected: 1 });
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } });
  assert.ok(!toolbar.hidden && !tabs.hidden);
  app.dispose();
});

test('several tokens selected at once: Ctrl+click adds, the title lists them, every one is outlined, the memory view sums', async () => {
  const { doc, root } = mount();
  const host = fakeHost();
  const app = new LensApp(root, host.channel);
  const text = 'function add(a, b) {\n  return a + b;\n}\n';
  const { data } = demoLens(text, { selected: 2, segment: 2 });
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } });
  const click = (t: number, ctrlKey: boolean) => (root.querySelector(`.tok[data-token="${t}"]`) as HTMLElement)
    .dispatchEvent(new (doc.defaultView as unknown as typeof globalThis).MouseEvent('click', { ctrlKey, bubbles: true }));
  click(4, true);
  const req = host.sent.at(-1) as { id: number; params: { tokens: number[] } };
  assert.deepEqual(req.params.tokens, [2, 4]);
  // The host answers with the summed attention (as sumAttention does).
  const { sumAttention } = await import('../../../extension/src/lens/lensData.js');
  const one = demoLens(text, { selected: 2, segment: 2 }).data.selection, three = demoLens(text, { selected: 4, segment: 2 }).data.selection;
  host.deliver({ type: 'response', id: req.id, ok: true, result: sumAttention([one, three]) });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual([...root.querySelectorAll('.tok.selected')].map((e) => e.getAttribute('data-token')).sort(), ['2', '4']);
  assert.match(root.querySelector('.title')!.textContent!, /2 tokens selected, attention summed: “add”, “a”/);
  assert.match(root.querySelector('.top-keys h3')!.textContent!, /summed over 2 tokens/);
  // Memory by segment: one row per head, one column per earlier segment; a cell is gate × share, averaged over the tokens.
  const rows = root.querySelectorAll('.segments .seg-row:not(.seg-header)');
  assert.equal(rows.length, data.config.layers * data.config.heads);
  assert.equal(rows[0]!.querySelectorAll('.seg-cell').length, 2);
  const label = rows[0]!.querySelector('.seg-cell')!.getAttribute('aria-label')!;
  const want = data.gates[0]![0]! * (one.heads[0]!.memorySegments!.shares[0]! + three.heads[0]!.memorySegments!.shares[0]!) / 2;
  assert.match(label, new RegExp(`layer 0 head 0, segment 1: ${(want * 100).toFixed(2)}%`));
  assert.match(root.querySelector('.seg-summary')!.textContent!, /^Heaviest: layer \d head \d from segment \d/);
  // Ctrl+click on a selected token takes it out again.
  click(2, true);
  assert.deepEqual((host.sent.at(-1) as { params: { tokens: number[] } }).params.tokens, [4]);
  assertOnlyOurDom(root);
  app.dispose();
});

test('the start-of-file token is drawn as a marker, not as text', () => {
  const { root } = mount();
  const host = fakeHost();
  new LensApp(root, host.channel);
  const { data } = demoLens('x = 1\n', { selected: 0, segment: 0 });
  data.tokens[0] = { ...data.tokens[0]!, text: '', special: 'doc', range: { startLine: 0, startChar: 0, endLine: 0, endChar: 0 } };
  host.deliver({ type: 'notification', method: 'lens/didChangeData', params: { data } });
  const marker = root.querySelector('.tok[data-token="0"]')!;
  assert.ok(marker.classList.contains('special'));
  assert.equal(marker.textContent, '⟨start of file⟩');
  assert.ok(!root.textContent!.includes('<doc>'));
  assert.match(root.querySelector('.title')!.textContent!, /token “⟨start of file⟩”/);
  assert.match(root.querySelector('.segments')!.textContent!, /first segment of the file: the memory is still empty/);
});
