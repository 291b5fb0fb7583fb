// The lens app: a toolbar (layer, head, segment badges, editor-highlight toggle) over four tabs — block
// layout, attention heatmap, gates, memory read. It owns the view state and re-renders the panes from
// LensData; it talks to the host only through `Host`, so tests drive it with a fake channel.
import type { HostNotifications, LensData, LensToken, SourceRange, TokenAttention } from './protocol.js';
import { Host, type HostChannel } from './host.js';
import { blockOf, classifyBlocks, countScores } from './model/layout.js';
import { buildRows } from './model/rows.js';
import { el, replaceChildren } from './render/dom.js';
import { renderLayout } from './render/layoutGrid.js';
import { Heatmap } from './render/heatmap.js';
import { renderGates } from './render/gates.js';
import { memoryItems, renderRanked, topKeyItems, whereOf } from './render/lists.js';
import { appendLabel } from './render/visibleText.js';

const TOP_KEYS = 12;

export class LensApp {
  private readonly host: Host;
  private data: LensData | undefined;
  private tokens = new Map<number, LensToken>();
  private layer = 0;
  private head = 0;
  private requestSeq = 0;
  private readonly ui;
  private readonly heatmap: Heatmap;

  constructor(private readonly root: HTMLElement, channel: HostChannel) {
    const doc = root.ownerDocument;
    this.heatmap = new Heatmap(doc, {
      select: (t) => void this.selectToken(t),
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
    const status = el(doc, 'div', 'status', 'Put the cursor on a token and run "Infini Lens: Show Attention".');
    status.setAttribute('role', 'status');
    const panes = { layout: el(doc, 'div', 'pane layout'), attention: el(doc, 'div', 'pane attention'),
      gates: el(doc, 'div', 'pane gates-pane'), memory: el(doc, 'div', 'pane memory') };
    const cursorInfo = el(doc, 'div', 'cursor-info');
    cursorInfo.setAttribute('aria-live', 'polite');
    const topKeys = el(doc, 'div', 'top-keys');
    panes.attention.append(this.heatmap.element, cursorInfo, topKeys);
    const tabs = el(doc, 'vscode-tabs');
    for (const [name, pane] of [['Layout', panes.layout], ['Attention', panes.attention], ['Gates', panes.gates], ['Memory read', panes.memory]] as const) {
      const header = el(doc, 'vscode-tab-header', undefined, name);
      header.setAttribute('slot', 'header');
      const panel = el(doc, 'vscode-tab-panel');
      panel.appendChild(pane);
      tabs.append(header, panel);
    }
    layerSelect.addEventListener('change', () => this.setView(Number((layerSelect as HTMLElement & { value: string }).value), this.head));
    headSelect.addEventListener('change', () => this.setView(this.layer, Number((headSelect as HTMLElement & { value: string }).value)));
    deco.addEventListener('click', () => this.host.command('lens/toggleDecorations', {}));
    replaceChildren(this.root, toolbar, title, status, tabs);
    return { layerSelect, headSelect, segment, dense, deco, title, status, panes, cursorInfo, topKeys };
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
    this.ui.status.textContent = '';
    this.render();
  }

  private setState(p: HostNotifications['lens/didChangeState']): void {
    this.ui.deco.setAttribute('aria-pressed', String(p.decorations));
    this.ui.deco.textContent = p.decorations ? 'Highlight in editor: on' : 'Highlight in editor: off';
    this.root.classList.toggle('busy', p.busy);
    if (p.message !== undefined) this.ui.status.textContent = p.message;
  }

  private showError(message: string): void {
    this.root.classList.remove('busy');
    this.ui.status.textContent = message;
  }

  private setView(layer: number, head: number): void {
    if (!this.data || !Number.isInteger(layer) || !Number.isInteger(head)) return;
    this.layer = Math.max(0, Math.min(layer, this.data.config.layers - 1));
    this.head = Math.max(0, Math.min(head, this.data.config.heads - 1));
    (this.ui.headSelect as HTMLElement & { value: string }).value = String(this.head);
    this.host.command('lens/setView', { layer: this.layer, head: this.head });
    this.render();
  }

  private async selectToken(token: number): Promise<void> {
    const data = this.data;
    if (!data) return;
    const seq = ++this.requestSeq;
    this.ui.status.textContent = 'Computing attention…';
    try {
      const selection: TokenAttention = await this.host.request('lens/selectToken', { segment: data.segment, token });
      if (seq !== this.requestSeq || this.data !== data) return; // a newer selection or file won
      data.selection = selection;
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
    const selTok = this.tokens.get(sel.token);
    replaceChildren(this.ui.title);
    appendLabel(this.ui.title, d.label, 160);
    this.ui.title.appendChild(this.root.ownerDocument.createTextNode(' — token “'));
    const code = el(this.root.ownerDocument, 'code');
    appendLabel(code, selTok?.text ?? '', 60);
    this.ui.title.append(code, this.root.ownerDocument.createTextNode(selTok ? `” at ${whereOf(selTok.range)}` : '”'));

    const kinds = classifyBlocks(d.config, d.keyBlocks[layer]?.[head], d.dense);
    renderLayout(this.ui.panes.layout, { config: d.config, kinds, counts: countScores(d.config, kinds, d.tokens.length),
      selectedRow: blockOf(d.config, sel.token), layer, head });
    this.heatmap.setWeights(new Map((attn?.keys ?? []).map((k) => [k.token, k.weight])), sel.token);
    renderRanked(this.ui.topKeys, `Heaviest keys, layer ${layer}, head ${head}`, 'No keys.', topKeyItems(attn?.keys ?? [], this.tokens, TOP_KEYS),
      (r) => this.reveal(r));
    renderGates(this.ui.panes.gates, { gates: d.gates, layer, head }, (h) => this.setView(layer, h));
    renderRanked(this.ui.panes.memory, `Memory read, layer ${layer}, head ${head}: tokens of earlier segments`,
      d.segment === 0 ? 'This is the first segment of the file: the memory is still empty.' : 'The memory recalled nothing for this token.',
      memoryItems(attn?.memory ?? []), (r) => this.reveal(r));
  }

  private describeCursor(token: number): void {
    const t = this.tokens.get(token);
    const w = this.data?.selection.heads[this.layer * (this.data?.config.heads ?? 0) + this.head]?.keys.find((k) => k.token === token);
    replaceChildren(this.ui.cursorInfo);
    if (!t) return;
    const code = el(this.root.ownerDocument, 'code');
    appendLabel(code, t.text, 60);
    this.ui.cursorInfo.append(code, this.root.ownerDocument.createTextNode(
      ` ${whereOf(t.range)} · ${w ? `weight ${(w.weight * 100).toFixed(2)}%` : 'not attended'} · Enter: select, Shift+Enter: reveal`));
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
