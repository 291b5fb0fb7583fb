// The host seam: the one place that touches acquireVsCodeApi. Everything else talks to a `Host`, so tests
// pass a fake one and the renderers never know whether a real VS Code is behind it.
import { Messenger, type NotificationHandlers, type Port } from '../../extension/src/core/messenger.js';
import {
  checkFromHost, type CommandMethod, type HostNotifications, type LensHost, type LensWebview, type RequestMethod,
  type WebviewCommands, type WebviewRequests,
} from './protocol.js';

/** The raw channel: what acquireVsCodeApi gives, reduced to the two directions (the messenger's Port). */
export type HostChannel = Port;

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

/** Typed commands, id-correlated requests and notification dispatch over a channel (the one messenger). */
export class Host {
  private readonly messenger: Messenger<LensWebview, LensHost>;

  constructor(channel: HostChannel, handlers: NotificationHandlers<HostNotifications>) {
    this.messenger = new Messenger<LensWebview, LensHost>(channel, { notifications: handlers, check: checkFromHost, name: 'lens' });
  }

  command<M extends CommandMethod>(method: M, params: WebviewCommands[M]): void {
    this.messenger.notify(method, params);
  }

  request<M extends RequestMethod>(method: M, params: WebviewRequests[M]['params']): Promise<WebviewRequests[M]['result']> {
    return this.messenger.request(method, params);
  }

  dispose(): void {
    this.messenger.close('lens closed');
  }
}
