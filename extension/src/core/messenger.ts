// One typed request/response + notification layer for every channel between two threads or windows: the host and
// the lens webview, the host and the index worker, the index worker and the encoder worker. Each channel declares
// its message types once, in a protocol file both ends import; this file knows nothing of VS Code, Node or the
// DOM (the webview bundles it too), only a `Port` that posts and listens.
//
//   const m = new Messenger<Mine, Theirs>(port, { requests: { search: (p, { signal }) => … } });
//   const hits = await m.request('search', { query }, { timeoutMs: 5000, signal });
//   m.notify('progress', { done: 3 });
//
// On the wire (structured clone): { type: 'request', id, method, params } answered by exactly one
// { type: 'response', id, ok: true, result } or { type: 'response', id, ok: false, error }; { type: 'notification',
// method, params } has no answer; { type: 'cancel', id } asks the peer to stop a request (its answer is ignored).

/** What one side answers and receives: `requests` maps a method to its params and result, `notifications` to params. */
export interface Vocabulary {
  requests: object;
  notifications: object;
}
/** A side with nothing to answer or receive. */
export interface Silent { requests: Record<never, never>; notifications: Record<never, never> }

type Method<T> = keyof T & string;
// Indexed through an intersection so a caller generic in the method (`request<M>(m: M, p: Params[M])`) type-checks.
type ParamsOf<R, M extends keyof R> = (R[M] & { params: unknown })['params'];
type ResultOf<R, M extends keyof R> = (R[M] & { result: unknown })['result'];

/** The raw channel: a worker's port, a webview, a test's fake. */
export interface Port {
  post(message: unknown): void;
  /** Subscribes to incoming messages; returns the unsubscribe function. */
  listen(handler: (message: unknown) => void): () => void;
}

export type Envelope =
  | { type: 'request'; id: number; method: string; params: unknown }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'notification'; method: string; params: unknown }
  | { type: 'cancel'; id: number };

/** The peer answered with an error, or a local rule (timeout, cancel, dead peer) ended the call. */
export class MessengerError extends Error {
  constructor(message: string, readonly code: 'remote' | 'timeout' | 'cancelled' | 'closed' | 'invalid') {
    super(message);
    this.name = 'MessengerError';
  }
}

export interface CallOptions {
  /** Reject (and tell the peer to stop) after this long; default: the messenger's `timeoutMs`, else no limit. */
  timeoutMs?: number;
  /** Aborting rejects the call at once and tells the peer to stop. */
  signal?: AbortSignal;
}

export interface HandlerContext {
  /** Aborted when the caller cancels or times out, or the channel closes. */
  signal: AbortSignal;
}

export type RequestHandlers<R> = {
  [M in Method<R>]: (params: ParamsOf<R, M>, ctx: HandlerContext) => Promise<ResultOf<R, M>> | ResultOf<R, M>;
};
export type NotificationHandlers<N> = { [M in Method<N>]?: (params: N[M]) => void };

/** Checks what a peer sent before any handler or caller sees it: undefined if fine, else why not. */
export type Check = (kind: 'request' | 'notification' | 'response', method: string, value: unknown) => string | undefined;

export interface MessengerOptions<Mine extends Vocabulary> {
  /** Every request this side answers (a request for any other method is answered with an error). */
  requests?: RequestHandlers<Mine['requests']>;
  notifications?: NotificationHandlers<Mine['notifications']>;
  /** Validates params of incoming requests and notifications and results of responses (untrusted peers). */
  check?: Check;
  /** Default limit for this side's calls. */
  timeoutMs?: number;
  /** Told about every message dropped as malformed or failing `check` (it never reaches a handler). */
  onInvalid?: (reason: string) => void;
  /** A name for messages: "index worker: timed out after 10000 ms (update)". */
  name?: string;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  done(): void;
}

export class Messenger<Mine extends Vocabulary, Theirs extends Vocabulary> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly serving = new Map<number, AbortController>();
  private readonly unlisten: () => void;
  private closed: MessengerError | undefined;

  constructor(private readonly port: Port, private readonly opts: MessengerOptions<Mine> = {}) {
    this.unlisten = port.listen((m) => this.receive(m));
  }

  /** Calls a method the peer answers. Rejects with MessengerError on a remote error, timeout, cancel or closed peer. */
  request<M extends Method<Theirs['requests']>>(method: M, params: ParamsOf<Theirs['requests'], M>,
    options: CallOptions = {}): Promise<ResultOf<Theirs['requests'], M>> {
    if (this.closed) return Promise.reject(this.closed);
    if (options.signal?.aborted) return Promise.reject(this.error(`cancelled (${method})`, 'cancelled'));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    return new Promise((resolve, reject) => {
      const stop = (e: MessengerError) => { // a local end: the peer may still be working, so tell it
        if (!this.pending.has(id)) return;
        this.settle(id).reject(e);
        this.send({ type: 'cancel', id });
      };
      const timer = timeoutMs === undefined ? undefined
        : setTimeout(() => stop(this.error(`timed out after ${timeoutMs} ms (${method})`, 'timeout')), timeoutMs);
      const onAbort = () => stop(this.error(`cancelled (${method})`, 'cancelled'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        method, resolve: resolve as (v: unknown) => void, reject,
        done: () => { if (timer !== undefined) clearTimeout(timer); options.signal?.removeEventListener('abort', onAbort); },
      });
      this.send({ type: 'request', id, method, params });
    });
  }

  notify<M extends Method<Theirs['notifications']>>(method: M, params: Theirs['notifications'][M]): void {
    if (!this.closed) this.send({ type: 'notification', method, params });
  }

  /** The peer is gone (exit, crash, panel closed) or this side is done: every pending call fails with `reason`,
   * handlers still running see their signal aborted, later calls fail at once. */
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = this.error(reason, 'closed');
    this.unlisten();
    for (const id of [...this.pending.keys()]) this.settle(id).reject(this.closed);
    for (const c of this.serving.values()) c.abort();
    this.serving.clear();
  }

  get isClosed(): boolean { return this.closed !== undefined; }

  private error(message: string, code: MessengerError['code']): MessengerError {
    return new MessengerError(this.opts.name ? `${this.opts.name}: ${message}` : message, code);
  }

  private settle(id: number): Pending {
    const p = this.pending.get(id)!;
    this.pending.delete(id);
    p.done();
    return p;
  }

  private send(message: Envelope): void {
    this.port.post(message);
  }

  private invalid(reason: string): void {
    this.opts.onInvalid?.(this.opts.name ? `${this.opts.name}: ${reason}` : reason);
  }

  private receive(raw: unknown): void {
    if (this.closed) return;
    const msg = parseEnvelope(raw);
    if (typeof msg === 'string') { this.invalid(`dropped a malformed message: ${msg}`); return; }
    switch (msg.type) {
      case 'response': return this.onResponse(msg);
      case 'notification': return this.onNotification(msg.method, msg.params);
      case 'request': void this.onRequest(msg.id, msg.method, msg.params); return;
      case 'cancel': this.serving.get(msg.id)?.abort(); return;
    }
  }

  private onResponse(msg: Extract<Envelope, { type: 'response' }>): void {
    const p = this.pending.get(msg.id);
    if (!p) return; // answered after a timeout or cancel: nobody waits for it
    if (!msg.ok) { this.settle(msg.id).reject(new MessengerError(msg.error, 'remote')); return; } // the peer's words, as they are
    const bad = this.opts.check?.('response', p.method, msg.result);
    if (bad) {
      this.invalid(`invalid result of ${p.method}: ${bad}`);
      this.settle(msg.id).reject(this.error(`invalid result of ${p.method}: ${bad}`, 'invalid'));
      return;
    }
    this.settle(msg.id).resolve(msg.result);
  }

  private onNotification(method: string, params: unknown): void {
    const handler = (this.opts.notifications as Record<string, ((p: unknown) => void) | undefined> | undefined)?.[method];
    const known = this.opts.notifications !== undefined && Object.hasOwn(this.opts.notifications, method);
    if (!known) { this.invalid(`dropped an unknown notification '${method.slice(0, 60)}'`); return; }
    const bad = this.opts.check?.('notification', method, params);
    if (bad) { this.invalid(`dropped notification ${method}: ${bad}`); return; }
    handler?.(params);
  }

  private async onRequest(id: number, method: string, params: unknown): Promise<void> {
    const handlers = this.opts.requests as Record<string, (p: unknown, ctx: HandlerContext) => unknown> | undefined;
    const handler = handlers && Object.hasOwn(handlers, method) ? handlers[method] : undefined;
    const bad = handler ? this.opts.check?.('request', method, params) : `unknown method '${method.slice(0, 60)}'`;
    if (bad) {
      this.invalid(`refused request ${method.slice(0, 60)}: ${bad}`);
      this.send({ type: 'response', id, ok: false, error: bad });
      return;
    }
    const controller = new AbortController();
    this.serving.set(id, controller);
    try {
      const result = await handler!(params, { signal: controller.signal });
      if (!controller.signal.aborted) this.send({ type: 'response', id, ok: true, result });
    } catch (e) {
      if (!controller.signal.aborted) this.send({ type: 'response', id, ok: false, error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.serving.delete(id);
    }
  }
}

/** The envelope of a message from the peer, or why it is not one. Keys are exact (an untrusted peer adds nothing);
 * `params` and `result` may be absent, as JSON (a webview's postMessage) drops keys whose value is undefined. */
export function parseEnvelope(raw: unknown): Envelope | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not an object';
  const m = raw as Record<string, unknown>;
  const keys = Object.keys(m);
  const only = (allowed: string[]): string | undefined => {
    const extra = keys.filter((k) => !allowed.includes(k));
    return extra.length ? `unexpected keys ${extra.join(',').slice(0, 80)} in a ${String(m.type)}` : undefined;
  };
  const id = (): string | undefined => Number.isSafeInteger(m.id) && (m.id as number) > 0 ? undefined : 'bad id';
  const method = (): string | undefined => typeof m.method === 'string' && m.method.length > 0 && m.method.length <= 100
    ? undefined : 'bad method';
  switch (m.type) {
    case 'request': return only(['type', 'id', 'method', 'params']) ?? id() ?? method() ?? (m as Envelope);
    case 'notification': return only(['type', 'method', 'params']) ?? method() ?? (m as Envelope);
    case 'cancel': return only(['type', 'id']) ?? id() ?? (m as Envelope);
    case 'response':
      if (m.ok === true) return only(['type', 'id', 'ok', 'result']) ?? id() ?? (m as Envelope);
      if (m.ok === false && typeof m.error === 'string') return only(['type', 'id', 'ok', 'error']) ?? id() ?? (m as Envelope);
      return 'a response without ok and result or error';
    default:
      return `unknown message type '${String(m.type).slice(0, 40)}'`;
  }
}
