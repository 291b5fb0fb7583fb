// The lens WebviewPanel: strict CSP, scripts only from dist/webview, and a validator in front of every
// message the webview sends (it renders hostile file content, so its messages are untrusted input).
// Messages wait until the webview says 'lens/ready'; then the owner re-sends its current data and state.
import * as vscode from 'vscode';
import { Messenger } from '../../core/messenger.js';
import {
  checkFromWebview, type HostNotifications, type LensHost, type LensView, type LensWebview, type NotificationMethod,
  type SourceRange, type TokenAttention,
} from '../../../../webview/src/protocol.js';
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
  private readonly messenger: Messenger<LensHost, LensWebview>;
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
    // Every message from the webview passes checkFromWebview before a handler sees it (it renders hostile file
    // content, so its messages are untrusted input); what fails is dropped with a warning.
    this.messenger = new Messenger<LensHost, LensWebview>({
      // Until the webview says 'lens/ready' nothing is sent: its ready handler re-sends the current data and state.
      post: (m) => { if (this.ready) void webview.postMessage(m); },
      listen: (handler) => { const d = webview.onDidReceiveMessage(handler); return () => d.dispose(); },
    }, {
      // A token named twice counts once (as parseWebviewMessage returns it).
      requests: { 'lens/selectToken': ({ segment, tokens }) => handlers.selectToken(segment, [...new Set(tokens)]) },
      notifications: {
        'lens/ready': () => { this.ready = true; handlers.ready(); },
        'lens/reveal': ({ uri, range }) => handlers.reveal(uri, range),
        'lens/setView': (view) => handlers.setView(view),
        'lens/toggleDecorations': () => handlers.toggleDecorations(),
        'lens/cancel': () => handlers.cancel(),
      },
      check: checkFromWebview,
      onInvalid: (reason) => this.log.warn(`lens: dropped a message from the webview: ${reason}`),
    });
    this.subscriptions.push(
      // A hidden panel's webview is torn down (no retainContextWhenHidden): wait for its next 'lens/ready'.
      this.panel.onDidChangeViewState((e) => { if (!e.webviewPanel.visible) this.ready = false; }),
      this.panel.onDidDispose(() => { this.dispose(); handlers.closed(); }),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  notify<M extends NotificationMethod>(method: M, params: HostNotifications[M]): void {
    this.messenger.notify(method, params);
  }

  dispose(): void {
    this.messenger.close('lens closed');
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.panel.dispose();
  }
}
