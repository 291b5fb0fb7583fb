// The lens WebviewPanel: strict CSP, scripts only from dist/webview, and a validator in front of every
// message the webview sends (it renders hostile file content, so its messages are untrusted input).
// Messages wait until the webview says 'lens/ready'; then the owner re-sends its current data and state.
import * as vscode from 'vscode';
import type {
  HostNotifications, HostToWebview, LensView, NotificationMethod, RequestMessage, SourceRange, TokenAttention,
} from '../../../../webview/src/protocol.js';
import { parseWebviewMessage } from '../../../../webview/src/protocol.js';
import { lensHtml, newNonce } from '../../lens/lensHtml.js';

export interface LensPanelHandlers {
  reveal(uri: string, range: SourceRange): void;
  setView(view: LensView): void;
  toggleDecorations(): void;
  /** The busy panel's Cancel. */
  cancel(): void;
  selectToken(segment: number, tokens: number[]): Promise<TokenAttention>;
  /** The webview (re)started: send it the current data and state. */
  ready(): void;
  closed(): void;
}

export class LensPanel implements vscode.Disposable {
  static readonly viewType = 'infiniLens.attention';
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private queue: HostToWebview[] = [];
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(extensionUri: vscode.Uri, private readonly handlers: LensPanelHandlers, private readonly log: vscode.LogOutputChannel) {
    const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel(LensPanel.viewType, 'Infini Lens: Attention',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, enableCommandUris: false, enableForms: false, localResourceRoots: [root] });
    const webview = this.panel.webview;
    webview.html = lensHtml({
      nonce: newNonce(), cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(root, 'lens.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(root, 'lens.css')).toString(),
    });
    this.subscriptions.push(
      webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      // A hidden panel's webview is torn down (no retainContextWhenHidden): wait for its next 'lens/ready'.
      this.panel.onDidChangeViewState((e) => { if (!e.webviewPanel.visible) this.ready = false; }),
      this.panel.onDidDispose(() => { this.dispose(); handlers.closed(); }),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  notify<M extends NotificationMethod>(method: M, params: HostNotifications[M]): void {
    this.post({ type: 'notification', method, params } as HostToWebview);
  }

  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.panel.dispose();
  }

  private post(msg: HostToWebview): void {
    if (!this.ready) {
      // Only the latest data/state matter to a webview that has not started yet.
      this.queue = this.queue.filter((q) => !(q.type === 'notification' && msg.type === 'notification' && q.method === msg.method));
      this.queue.push(msg);
      return;
    }
    void this.panel.webview.postMessage(msg);
  }

  private receive(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`lens: dropped a message from the webview: ${parsed.error}`);
      return;
    }
    const msg = parsed.value;
    if (msg.type === 'request') { void this.answer(msg); return; }
    switch (msg.method) {
      case 'lens/ready': {
        // The handler re-sends the current data and state, so what was queued is superseded.
        this.ready = true;
        this.queue = [];
        this.handlers.ready();
        return;
      }
      case 'lens/reveal': this.handlers.reveal(msg.params.uri, msg.params.range); return;
      case 'lens/setView': this.handlers.setView(msg.params); return;
      case 'lens/toggleDecorations': this.handlers.toggleDecorations(); return;
      case 'lens/cancel': this.handlers.cancel(); return;
    }
  }

  private async answer(msg: RequestMessage): Promise<void> {
    try {
      const result = await this.handlers.selectToken(msg.params.segment, msg.params.tokens);
      this.post({ type: 'response', id: msg.id, ok: true, result });
    } catch (e) {
      this.post({ type: 'response', id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
