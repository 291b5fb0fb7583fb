// The host seam: the one place that touches acquireVsCodeApi. Everything else talks to a `Host`, so tests
// pass a fake one and the renderers never know whether a real VS Code is behind it.
import type {
  CommandMethod, HostNotifications, HostToWebview, NotificationMethod, RequestMethod, WebviewCommands, WebviewRequests,
} from './protocol.js';

/** The raw channel: what acquireVsCodeApi gives, reduced to the two directions. */
export interface HostChannel {
  post(message: unknown): void;
  /** Subscribes to messages from the host; returns an unsubscribe function. */
  listen(handler: (message: unknown) => void): () => void;
}

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

let vscodeChannel: HostChannel | undefined;

/** acquireVsCodeApi may be called only once per webview: cache the channel. */
export function vscodeHostChannel(win: Window = window): HostChannel {
  if (!vscodeChannel) {
    const api = acquireVsCodeApi();
    vscodeChannel = {
      post: (m) => api.postMessage(m),
      listen(handler) {
        const fn = (e: MessageEvent): void => handler(e.data);
        win.addEventListener('message', fn);
        return () => win.removeEventListener('message', fn);
      },
    };
  }
  return vscodeChannel;
}

type NotificationHandlers = { [K in NotificationMethod]?: (params: HostNotifications[K]) => void };

/** Typed commands, id-correlated requests and notification dispatch over a channel. */
export class Host {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly unlisten: () => void;

  constructor(private readonly channel: HostChannel, private readonly handlers: NotificationHandlers) {
    this.unlisten = channel.listen((m) => this.receive(m));
  }

  command<M extends CommandMethod>(method: M, params: WebviewCommands[M]): void {
    this.channel.post({ type: 'command', method, params });
  }

  request<M extends RequestMethod>(method: M, params: WebviewRequests[M]['params']): Promise<WebviewRequests[M]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.channel.post({ type: 'request', id, method, params });
    });
  }

  dispose(): void {
    this.unlisten();
    for (const p of this.pending.values()) p.reject(new Error('lens closed'));
    this.pending.clear();
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const msg = raw as HostToWebview;
    if (msg.type === 'response') {
      const p = this.pending.get(msg.id);
      if (!p) return; // an answer to a request we no longer wait for
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    } else if (msg.type === 'notification') {
      const handler = this.handlers[msg.method] as ((p: unknown) => void) | undefined;
      handler?.(msg.params);
    }
  }
}
