// "Infini Lens: Show Attention": the lens of the token at the cursor (or the start of the selection) in a
// webview, plus editor highlights of what it attended to. extension.ts calls `registerLens(context, deps)`;
// the model side plugs in as a `LensEngine` (kernels/runtime's lens graph through lensData.ts).
import * as vscode from 'vscode';
import type { LensData, LensView, SourceRange, TokenAttention } from '../../../../webview/src/protocol.js';
import type { LensEngine } from '../../lens/lensData.js';
import { LensCache } from '../../lens/lensCache.js';
import { LensDecorations } from './decorations.js';
import { LensPanel } from './lensPanel.js';

export type { LensEngine, LensRequest, LensGraphOutputs, LensModelConfig, PastSegment } from '../../lens/lensData.js';
export { buildLensData, sumAttention, tokenAttention } from '../../lens/lensData.js';
import { sumAttention } from '../../lens/lensData.js';

export const LENS_COMMANDS = {
  show: 'infiniLens.showAttention',
  toggleHighlights: 'infiniLens.toggleAttentionHighlights',
} as const;

export interface LensDeps {
  /** The model side, or undefined while no lens-capable model is loaded (the command then says so). */
  engine(): LensEngine | undefined;
  log: vscode.LogOutputChannel;
}

/** For integration tests and other callers. */
export interface LensApi {
  show(editor?: vscode.TextEditor): Promise<LensData | undefined>;
  readonly current: LensData | undefined;
  /** Puts another engine in front of deps.engine until the returned Disposable is disposed (tests, other models). */
  useEngine(engine: LensEngine): vscode.Disposable;
}

export function registerLens(context: vscode.ExtensionContext, deps: LensDeps): LensApi {
  let override: LensEngine | undefined;
  const lens = new LensController(context.extensionUri, { ...deps, engine: () => override ?? deps.engine() });
  context.subscriptions.push(
    lens,
    vscode.commands.registerCommand(LENS_COMMANDS.show, () => lens.show()),
    vscode.commands.registerCommand(LENS_COMMANDS.toggleHighlights, () => lens.toggleHighlights()),
  );
  return {
    show: (e) => lens.show(e),
    get current() { return lens.current; },
    useEngine(engine) {
      override = engine;
      return new vscode.Disposable(() => { if (override === engine) override = undefined; });
    },
  };
}

class LensController implements vscode.Disposable {
  current: LensData | undefined;
  private panel: LensPanel | undefined;
  private view: LensView = { layer: 0, head: 0 };
  private readonly decorations = new LensDecorations();
  private readonly lensCache = new LensCache<LensData>(16);
  private readonly attentionCache = new LensCache<TokenAttention>(256);
  private pending: vscode.CancellationTokenSource | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly deps: LensDeps) {}

  async show(editor = vscode.window.activeTextEditor): Promise<LensData | undefined> {
    if (!editor) {
      void vscode.window.showInformationMessage('Infini Lens: open a file and put the cursor on a token first.');
      return undefined;
    }
    if (!vscode.workspace.isTrusted) {
      const manage = 'Manage Workspace Trust';
      void vscode.window.showInformationMessage('Infini Lens: the attention lens runs the encoder on this workspace\'s files: ' +
        'it is off in Restricted Mode until you trust the workspace.', manage)
        .then((a) => { if (a === manage) void vscode.commands.executeCommand('workbench.trust.manage'); });
      return undefined;
    }
    const engine = this.deps.engine();
    if (!engine) {
      void vscode.window.showWarningMessage('Infini Lens: the attention lens needs the encoder model, which is not loaded yet.');
      return undefined;
    }
    const doc = editor.document;
    const uri = doc.uri.toString(), version = doc.version;
    const offset = doc.offsetAt(editor.selection.isEmpty ? editor.selection.active : editor.selection.start);
    this.openPanel();
    this.pending?.cancel();
    const cts = (this.pending = new vscode.CancellationTokenSource());
    const at = editor.selection.isEmpty ? editor.selection.active : editor.selection.start;
    this.state(true, `Computing attention for the token at ${vscode.workspace.asRelativePath(doc.uri)}:${at.line + 1}:${at.character + 1}: ` +
      'the encoder runs every segment of the file up to the cursor (the first request on a large file can take minutes; later ones are cached).');
    try {
      const work = (async () => await this.fromCache(engine, doc, offset, cts.token) ?? await engine.lens(
        { uri, label: vscode.workspace.asRelativePath(doc.uri), version, text: doc.getText(), offset }, cts.token))();
      const data = await withCancelNotice(work, cts);
      if (!data || cts.token.isCancellationRequested) {
        if (this.pending === cts) this.deps.log.info('lens: Show Attention cancelled; the encoder request in flight finishes in its worker and is cached there');
        return undefined;
      }
      this.lensCache.set(uri, version, `seg:${data.segment}`, data);
      this.attentionCache.set(uri, version, `${data.segment}:${data.selection.token}`, data.selection);
      this.setCurrent(data);
      return data;
    } catch (e) {
      const message = `Infini Lens: could not compute attention: ${e instanceof Error ? e.message : String(e)}`;
      this.deps.log.error(message);
      this.panel?.notify('lens/error', { message });
      return undefined;
    } finally {
      if (this.pending === cts) { this.pending = undefined; this.state(false); }
    }
  }

  toggleHighlights(): void {
    this.decorations.toggle();
    this.state(this.pending !== undefined, this.busyMessage);
  }

  dispose(): void {
    this.pending?.cancel();
    this.panel?.dispose();
    this.decorations.dispose();
  }

  /** A cached segment of this file version that holds the cursor, re-centred on the token there. */
  private async fromCache(engine: LensEngine, doc: vscode.TextDocument, offset: number,
    cancel: vscode.CancellationToken): Promise<LensData | undefined> {
    for (const data of this.lensCache.valuesFor(doc.uri.toString(), doc.version)) {
      const tok = data.tokens.find((t) => offset >= doc.offsetAt(pos(t.range, 'start')) && offset < doc.offsetAt(pos(t.range, 'end')));
      if (!tok) continue;
      const key = `${data.segment}:${tok.index}`;
      const selection = this.attentionCache.get(data.uri, data.version, key)
        ?? await engine.attention({ uri: data.uri, version: data.version, segment: data.segment, token: tok.index }, cancel);
      return { ...data, selection };
    }
    return undefined;
  }

  private setCurrent(data: LensData): void {
    this.current = data;
    this.view = { layer: Math.min(this.view.layer, data.config.layers - 1), head: Math.min(this.view.head, data.config.heads - 1) };
    this.panel?.notify('lens/didChangeData', { data });
    this.decorations.show(data, this.view);
  }

  /** One token's attention, or several tokens' summed (each from the cache or the engine, one at a time). */
  private async selectToken(segment: number, tokens: number[]): Promise<TokenAttention> {
    const data = this.current;
    const engine = this.deps.engine();
    if (!data || !engine || segment !== data.segment || !tokens.every((tok) => data.tokens.some((t) => t.index === tok))) {
      throw new Error('That token is not part of the segment on display.');
    }
    this.pending?.cancel();
    const cts = (this.pending = new vscode.CancellationTokenSource());
    const uncached = tokens.filter((t) => !this.attentionCache.get(data.uri, data.version, `${segment}:${t}`)).length;
    if (uncached > 0) this.state(true, tokens.length > 1
      ? `Computing attention for ${tokens.length} selected tokens (${uncached} not computed yet), summed.`
      : 'Computing attention for the selected token.');
    try {
      const parts: TokenAttention[] = [];
      for (const token of tokens) {
        const key = `${segment}:${token}`;
        const one = this.attentionCache.get(data.uri, data.version, key)
          ?? await engine.attention({ uri: data.uri, version: data.version, segment, token }, cts.token);
        if (cts.token.isCancellationRequested) throw new Error('Cancelled: the selection on display did not change.');
        this.attentionCache.set(data.uri, data.version, key, one);
        parts.push(one);
      }
      const selection = sumAttention(parts);
      if (this.current === data) {
        this.current = { ...data, selection };
        this.decorations.show(this.current, this.view);
      }
      return selection;
    } finally {
      if (this.pending === cts) { this.pending = undefined; this.state(false); }
    }
  }

  private openPanel(): void {
    if (this.panel) { this.panel.reveal(); return; }
    this.panel = new LensPanel(this.extensionUri, {
      reveal: (uri, range) => void this.reveal(uri, range),
      setView: (view) => {
        this.view = view;
        if (this.current) this.decorations.show(this.current, view);
      },
      toggleDecorations: () => this.toggleHighlights(),
      cancel: () => this.pending?.cancel(),
      selectToken: (segment, tokens) => this.selectToken(segment, tokens),
      ready: () => {
        if (this.current) this.panel?.notify('lens/didChangeData', { data: this.current });
        this.state(this.pending !== undefined, this.busyMessage);
      },
      closed: () => { this.panel = undefined; this.decorations.clear(); },
    }, this.deps.log);
  }

  private busyMessage: string | undefined;

  private state(busy: boolean, message?: string): void {
    if (busy && message) this.busyMessage = message;
    if (!busy) this.busyMessage = undefined;
    this.panel?.notify('lens/didChangeState', { busy, cancellable: busy, decorations: this.decorations.isEnabled, ...(message ? { message } : {}) });
  }

  /** Reveals a location the webview asked for; only documents the lens itself is showing are accepted. */
  private async reveal(uri: string, range: SourceRange): Promise<void> {
    if (!this.current || uri !== this.current.uri) {
      this.deps.log.warn('lens: ignored a reveal request for a document the lens is not showing');
      return;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
    const r = doc.validateRange(new vscode.Range(range.startLine, range.startChar, range.endLine, range.endChar));
    await vscode.window.showTextDocument(doc, { selection: r, viewColumn: vscode.ViewColumn.One, preserveFocus: false });
  }
}

/** Requests quicker than this never show the notification (a cached segment answers in well under it). */
const NOTICE_DELAY_MS = 700;

/**
 * Awaits `work`; if it takes longer than NOTICE_DELAY_MS, a notification with Cancel shows meanwhile (the first
 * lens on a deep cursor can take minutes on a small CPU, docs/lens.md). Cancel (there, or a newer Show
 * Attention cancelling `cts`) resolves undefined at once: the result is dropped. The engine checks `cts` only
 * between encoder requests, so a request in flight still finishes in the encoder worker, which caches it.
 */
function withCancelNotice<T>(work: Promise<T>, cts: vscode.CancellationTokenSource): Promise<T | undefined> {
  work.catch(() => undefined); // after a cancel nobody awaits it: its 'cancelled' error is expected
  const cancelled = new Promise<undefined>((resolve) => {
    if (cts.token.isCancellationRequested) resolve(undefined);
    cts.token.onCancellationRequested(() => resolve(undefined));
  });
  const outcome = Promise.race([work, cancelled]);
  const timer = setTimeout(() => void vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification, title: 'Infini Lens: computing attention (the first request on a large file can take minutes)', cancellable: true,
  }, (_progress, token) => {
    token.onCancellationRequested(() => cts.cancel());
    return outcome.catch(() => undefined);
  }), NOTICE_DELAY_MS);
  return outcome.finally(() => clearTimeout(timer));
}

const pos = (r: SourceRange, end: 'start' | 'end'): vscode.Position =>
  end === 'start' ? new vscode.Position(r.startLine, r.startChar) : new vscode.Position(r.endLine, r.endChar);
