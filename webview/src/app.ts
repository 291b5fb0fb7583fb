// The lens app: a toolbar (layer, head, segment badges, editor-highlight toggle) over five tabs — block
// layout, attention heatmap, gates, memory read, memory by segment. It owns the view state (layer, head, the
// selected tokens) and re-renders the panes from LensData; it talks to the host only through `Host`, so tests
// drive it with a fake channel. While the host computes, a busy panel says what for, how long, and offers Cancel.
import type { HostNotifications, LensData, LensToken, SourceRange, TokenAttention } from './protocol.js';
import { Host, type HostChannel } from './host.js';
import { blockOf, classifyBlocks, countScores } from './model/layout.js';
import { buildRows } from './model/rows.js';
import { el, replaceChildren } from './render/dom.js';
import { renderLayout } from './render/layoutGrid.js';
import { Heatmap } from './render/heatmap.js';
import { renderGates } from './render/gates.js';
import { memoryItems, renderRanked, topKeyItems, whereOf } from './render/lists.js';
import { renderSegments } from './render/segments.js';
import { appendLabel } from './render/visibleText.js';
import { DOC_MARKER_LABEL } from './render/heatmap.js';
import { MAX_SELECTED } from './protocol.js';

const TOP_KEYS = 12;
const INTRO = 'Put the cursor on a token in an editor and run "Infini Lens: Show Attention".';

export class LensApp {
  private readonly host: Host;
  private data: LensData | undefined;
  private tokens = new Map<number, LensToken>();
  private layer = 0;
  private head = 0;
  private requestSeq = 0;
  /** The tokens whose attention is shown (summed when several); the last is the one the lens centres on. */
  private selected: number[] = [];
  private busySince = 0;
  private busyTimer: ReturnType<typeof setInterval> | undefined;
  private readonly ui;
  private readonly heatmap: Heatmap;

  constructor(private readonly root: HTMLElement, channel: HostChannel) {
    const doc = root.ownerDocument;
    this.heatmap = new Heatmap(doc, {
      select: (t) => void this.selectTokens([t]),
      toggle: (t) => this.toggleToken(t),
      reveal: (t) => { const tok = this.tokens.get(t); if (tok) this.reveal(tok.range); },
      cursor: (t) => this.describeCursor(t),
    });
    this.ui = this.skeleton(doc);
    this.host = new Host(channel, {
      'lens/didChangeData': (p) => this.setData(p.data),
      'lens/didChangeState': (p) => this.setState(p),
      'lens/error': (p) => this.showError(p.message),
    });
    this.host.command('lens/ready', {});
  }

  dispose(): void {
    if (this.busyTimer) clearInterval(this.busyTimer);
    this.host.dispose();
  }

  private skeleton(doc: Document) {
    const layerSelect = el(doc, 'vscode-single-select', 'layer-select');
    layerSelect.setAttribute('aria-label', 'Layer');
    const headSelect = el(doc, 'vscode-single-select', 'head-select');
    headSelect.setAttribute('aria-label', 'Head');
    const segment = el(doc, 'vscode-badge', 'segment-badge');
    const dense = el(doc, 'vscode-badge', 'dense-badge', 'dense');
    dense.hidden = true;
    const deco = el(doc, 'vscode-button', 'deco-toggle', 'Highlight in editor');
    deco.setAttribute('secondary', '');
    deco.setAttribute('aria-pressed', 'false');
    const toolbar = el(doc, 'div', 'toolbar');
    toolbar.setAttribute('role', 'toolbar');
    toolbar.append(el(doc, 'vscode-label', undefined, 'Layer'), layerSelect, el(doc, 'vscode-label', undefined, 'Head'), headSelect,
      segment, dense, deco);
    const title = el(doc, 'div', 'title');
    const status = el(doc, 'div', 'status', INTRO);
    status.setAttribute('role', 'status');
    // The busy panel: a spinner, what is being computed, for how long, and Cancel.
    const busy = el(doc, 'div', 'busy-panel');
    busy.hidden = true;
    busy.setAttribute('role', 'status');
    busy.setAttribute('aria-live', 'polite');
    const ring = el(doc, 'vscode-progress-ring', 'busy-ring');
    ring.setAttribute('aria-label', 'Computing');
    const busyText = el(doc, 'div', 'busy-text');
    const busyElapsed = el(doc, 'div', 'busy-elapsed note');
    const cancel = el(doc, 'vscode-button', 'busy-cancel', 'Cancel');
    cancel.setAttribute('secondary', '');
    cancel.addEventListener('click', () => this.host.command('lens/cancel', {}));
    const busyBody = el(doc, 'div', 'busy-body');
    busyBody.append(busyText, busyElapsed);
    busy.append(ring, busyBody, cancel);
    const panes = { layout: el(doc, 'div', 'pane layout'), attention: el(doc, 'div', 'pane attention'),
      gates: el(doc, 'div', 'pane gates-pane'), memory: el(doc, 'div', 'pane memory'), segments: el(doc, 'div', 'pane segments') };
    const cursorInfo = el(doc, 'div', 'cursor-info');
    cursorInfo.setAttribute('aria-live', 'polite');
    const topKeys = el(doc, 'div', 'top-keys');
    const side = el(doc, 'div', 'attention-side');
    side.append(cursorInfo, el(doc, 'div', 'note hint', 'Click a token to select it; Ctrl/Cmd+click adds it to the selection (attention summed); Alt+click reveals it.'), topKeys);
    panes.attention.append(this.heatmap.element, side);
    const tabs = el(doc, 'vscode-tabs');
    tabs.hidden = true;
    toolbar.hidden = true;
    for (const [name, pane] of [['Layout', panes.layout], ['Attention', panes.attention], ['Gates', panes.gates], ['Memory read', panes.memory],
      ['Memory by segment', panes.segments]] as const) {
      const header = el(doc, 'vscode-tab-header', undefined, name);
      header.setAttribute('slot', 'header');
      const panel = el(doc, 'vscode-tab-panel');
      panel.appendChild(pane);
      tabs.append(header, panel);
    }
    layerSelect.addEventListener('change', () => this.setView(Number((layerSelect as HTMLElement & { value: string }).value), this.head));
    headSelect.addEventListener('change', () => this.setView(this.layer, Number((headSelect as HTMLElement & { value: string }).value)));
    deco.addEventListener('click', () => this.host.command('lens/toggleDecorations', {}));
    replaceChildren(this.root, toolbar, title, status, busy, tabs);
    return { toolbar, tabs, layerSelect, headSelect, segment, dense, deco, title, status, busy, busyText, busyElapsed, cancel, panes, cursorInfo, topKeys };
  }

  private setData(data: LensData): void {
    this.data = data;
    this.tokens = new Map(data.tokens.map((t) => [t.index, t]));
    this.layer = Math.min(this.layer, data.config.layers - 1);
    this.head = Math.min(this.head, data.config.heads - 1);
    fillOptions(this.ui.layerSelect, data.config.layers, 'Layer', this.layer);
    fillOptions(this.ui.headSelect, data.config.heads, 'Head', this.head);
    this.ui.segment.textContent = `segment ${data.segment + 1} of ${data.segmentCount}${data.moreSegments ? '+' : ''}`;
    this.ui.dense.hidden = !data.dense;
    this.heatmap.setText(data.tokens, buildRows(data.tokens));
    this.selected = data.selection.tokens ?? [data.selection.token];
    this.ui.status.textContent = '';
    this.ui.toolbar.hidden = false;
    this.ui.tabs.hidden = false;
    this.render();
  }

  private setState(p: HostNotifications['lens/didChangeState']): void {
    this.ui.deco.setAttribute('aria-pressed', String(p.decorations));
    this.ui.deco.textContent = p.decorations ? 'Highlight in editor: on' : 'Highlight in editor: off';
    this.setBusy(p.busy, p.message, p.cancellable ?? false);
  }

  /** Shows or hides the busy panel; before the first data the intro text gives way to it. */
  private setBusy(busy: boolean, message: string | undefined, cancellable: boolean): void {
    const was = this.root.classList.contains('busy');
    this.root.classList.toggle('busy', busy);
    this.ui.busy.hidden = !busy;
    this.ui.cancel.hidden = !cancellable;
    if (busy) {
      this.ui.busyText.textContent = message ?? 'Computing attention…';
      if (!was) this.busySince = Date.now();
      const tick = (): void => { this.ui.busyElapsed.textContent = `${Math.round((Date.now() - this.busySince) / 1000)} s`; };
      tick();
      if (!this.busyTimer) this.busyTimer = setInterval(tick, 1000);
      if (!this.data) this.ui.status.textContent = '';
    } else {
      if (this.busyTimer) clearInterval(this.busyTimer);
      this.busyTimer = undefined;
      if (!this.data && !this.ui.status.textContent) this.ui.status.textContent = INTRO;
    }
  }

  private showError(message: string): void {
    this.setBusy(false, undefined, false);
    this.ui.status.textContent = message;
  }

  private setView(layer: number, head: number): void {
    if (!this.data || !Number.isInteger(layer) || !Number.isInteger(head)) return;
    this.layer = Math.max(0, Math.min(layer, this.data.config.layers - 1));
    this.head = Math.max(0, Math.min(head, this.data.config.heads - 1));
    (this.ui.layerSelect as HTMLElement & { value: string }).value = String(this.layer);
    (this.ui.headSelect as HTMLElement & { value: string }).value = String(this.head);
    this.host.command('lens/setView', { layer: this.layer, head: this.head });
    this.render();
  }

  /** Ctrl/Cmd+click: adds the token to the selection or takes it out (one token always stays selected). */
  private toggleToken(token: number): void {
    const has = this.selected.includes(token);
    if (has && this.selected.length === 1) return;
    if (!has && this.selected.length >= MAX_SELECTED) {
      this.ui.status.textContent = `At most ${MAX_SELECTED} tokens can be selected at once.`;
      return;
    }
    void this.selectTokens(has ? this.selected.filter((t) => t !== token) : [...this.selected, token]);
  }

  private async selectTokens(tokens: number[]): Promise<void> {
    const data = this.data;
    if (!data) return;
    const seq = ++this.requestSeq;
    this.ui.status.textContent = '';
    try {
      const selection: TokenAttention = await this.host.request('lens/selectToken', { segment: data.segment, tokens });
      if (seq !== this.requestSeq || this.data !== data) return; // a newer selection or file won
      data.selection = selection;
      this.selected = selection.tokens ?? [selection.token];
      this.ui.status.textContent = '';
      this.render();
    } catch (e) {
      if (seq === this.requestSeq) this.showError(e instanceof Error ? e.message : String(e));
    }
  }

  private reveal(range: SourceRange): void {
    if (this.data) this.host.command('lens/reveal', { uri: this.data.uri, range });
  }

  private render(): void {
    const d = this.data;
    if (!d) return;
    const { layer, head } = this;
    const sel = d.selection;
    const attn = sel.heads[layer * d.config.heads + head];
    const doc = this.root.ownerDocument;
    const selected = sel.tokens ?? [sel.token];
    replaceChildren(this.ui.title);
    appendLabel(this.ui.title, d.label, 160);
    if (selected.length === 1) {
      const selTok = this.tokens.get(sel.token);
      this.ui.title.appendChild(doc.createTextNode(' — token “'));
      this.ui.title.append(this.tokenCode(sel.token, 60), doc.createTextNode(selTok ? `” at ${whereOf(selTok.range)}` : '”'));
    } else {
      this.ui.title.appendChild(doc.createTextNode(` — ${selected.length} tokens selected, attention summed: `));
      selected.slice(0, 6).forEach((t, i) => {
        if (i > 0) this.ui.title.appendChild(doc.createTextNode(', '));
        this.ui.title.append(doc.createTextNode('“'), this.tokenCode(t, 24), doc.createTextNode('”'));
      });
      if (selected.length > 6) this.ui.title.appendChild(doc.createTextNode(`, … (${selected.length - 6} more)`));
    }

    const kinds = classifyBlocks(d.config, d.keyBlocks[layer]?.[head], d.dense);
    renderLayout(this.ui.panes.layout, { config: d.config, kinds, counts: countScores(d.config, kinds, d.tokens.length),
      selectedRow: blockOf(d.config, sel.token), layer, head });
    this.heatmap.setWeights(new Map((attn?.keys ?? []).map((k) => [k.token, k.weight])), [...selected.filter((t) => t !== sel.token), sel.token]);
    const summed = selected.length > 1 ? ` (summed over ${selected.length} tokens)` : '';
    renderRanked(this.ui.topKeys, `Heaviest keys, layer ${layer}, head ${head}${summed}`, 'No keys.', topKeyItems(attn?.keys ?? [], this.tokens, TOP_KEYS),
      (r) => this.reveal(r));
    renderGates(this.ui.panes.gates, { gates: d.gates, layer, head }, (h) => this.setView(layer, h));
    renderRanked(this.ui.panes.memory, `Memory read, layer ${layer}, head ${head}: tokens of earlier segments`,
      d.segment === 0 ? 'This is the first segment of the file: the memory is still empty.' : 'The memory recalled nothing for this token.',
      memoryItems(attn?.memory ?? []), (r) => this.reveal(r));
    renderSegments(this.ui.panes.segments, { segment: d.segment, heads: sel.heads, gates: d.gates, selected: selected.length, layer, head },
      (l, h) => this.setView(l, h));
  }

  /** A token's text as a <code> label; the start-of-file marker as its marker label, never as text. */
  private tokenCode(token: number, max: number): HTMLElement {
    const code = el(this.root.ownerDocument, 'code');
    const t = this.tokens.get(token);
    if (t?.special) code.textContent = DOC_MARKER_LABEL;
    else appendLabel(code, t?.text ?? '', max);
    return code;
  }

  private describeCursor(token: number): void {
    const t = this.tokens.get(token);
    const w = this.data?.selection.heads[this.layer * (this.data?.config.heads ?? 0) + this.head]?.keys.find((k) => k.token === token);
    replaceChildren(this.ui.cursorInfo);
    if (!t) return;
    const n = this.selected.length;
    this.ui.cursorInfo.append(this.tokenCode(token, 60), this.root.ownerDocument.createTextNode(
      ` ${whereOf(t.range)} · ${w ? `weight ${(w.weight * 100).toFixed(2)}%${n > 1 ? ` summed over ${n} tokens` : ''}` : 'not attended'}` +
      ' · Enter: select, Ctrl+Enter: add to the selection, Shift+Enter: reveal'));
  }
}

function fillOptions(select: HTMLElement, n: number, label: string, selected: number): void {
  const doc = select.ownerDocument;
  const options: HTMLElement[] = [];
  for (let i = 0; i < n; i++) {
    const o = el(doc, 'vscode-option', undefined, `${label} ${i}`);
    o.setAttribute('value', String(i));
    if (i === selected) o.setAttribute('selected', '');
    options.push(o);
  }
  replaceChildren(select, ...options);
}
