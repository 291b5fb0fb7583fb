// The one messenger under every channel: ids, ordering, errors, timeouts, cancellation, a dead peer, validation.
// Two ends over an in-memory pair of ports that deliver asynchronously, in order, like a worker's postMessage.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Messenger, MessengerError, parseEnvelope, type Port, type Silent } from '../../../extension/src/core/messenger.js';

interface Server {
  requests: {
    echo: { params: { text: string }; result: string };
    wait: { params: { ms: number; tag: string }; result: string };
    fail: { params: Record<string, never>; result: never };
    hang: { params: Record<string, never>; result: void };
  };
  notifications: { log: string };
}
interface Client { requests: Record<never, never>; notifications: { progress: number } }

/** Two connected ports; `sent` records what each side posted (to see cancels on the wire). */
function pipe() {
  const sides = [new Set<(m: unknown) => void>(), new Set<(m: unknown) => void>()];
  const sent: unknown[][] = [[], []];
  const port = (me: 0 | 1): Port => ({
    post(m) {
      sent[me]!.push(m);
      const copy = structuredClone(m);
      setImmediate(() => { for (const h of sides[1 - me]!) h(copy); });
    },
    listen(h) { sides[me]!.add(h); return () => sides[me]!.delete(h); },
  });
  return { a: port(0), b: port(1), sent };
}

// Delivery is one setImmediate per message, in order: waiting two of those hops sees every message posted before
// (a timer could fire first on a loaded machine).
const delivered = async () => { for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r)); };

function connect(opts: { timeoutMs?: number } = {}) {
  const { a, b, sent } = pipe();
  const seen: { aborted: string[]; progress: number[]; invalid: string[] } = { aborted: [], progress: [], invalid: [] };
  let server!: Messenger<Server, Client>;
  server = new Messenger<Server, Client>(b, {
    requests: {
      echo: ({ text }) => text.toUpperCase(),
      wait: ({ ms, tag }, { signal }) => new Promise((resolve) => {
        signal.addEventListener('abort', () => seen.aborted.push(tag));
        setTimeout(() => { server.notify('progress', ms); resolve(tag); }, ms);
      }),
      fail: () => { throw new Error('the index is not open'); },
      hang: (_p, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => { seen.aborted.push('hang'); resolve(); })),
    },
    check: (kind, method, value) => method === 'echo' && typeof (value as { text?: unknown })?.text !== 'string' ? 'text must be a string' : undefined,
    onInvalid: (r) => seen.invalid.push(r),
  });
  const client = new Messenger<Client, Server>(a, {
    notifications: { progress: (n) => seen.progress.push(n) }, onInvalid: (r) => seen.invalid.push(r), name: 'peer', ...opts,
  });
  return { client, server, sent, seen, rawToServer: a, rawToClient: b };
}

test('requests resolve by id, whatever order the answers come in; notifications arrive in order before the answer they precede', async () => {
  const { a, b } = pipe();
  const release = new Map<string, () => void>(); // the test decides the order the server answers in
  const server: Messenger<Server, Client> = new Messenger<Server, Client>(b, { requests: {
    echo: ({ text }) => text.toUpperCase(),
    wait: ({ ms, tag }) => new Promise((resolve) => release.set(tag, () => { server.notify('progress', ms); resolve(tag); })),
    fail: () => { throw new Error('no'); }, hang: () => undefined,
  } });
  const progress: number[] = [];
  const client = new Messenger<Client, Server>(a, { notifications: { progress: (n) => progress.push(n) } });
  const order: string[] = [];
  const calls = [client.request('wait', { ms: 40, tag: 'slow' }), client.request('wait', { ms: 5, tag: 'fast' }), client.request('echo', { text: 'x' })]
    .map((c) => c.then((r) => { order.push(r); }));
  await delivered();
  release.get('fast')!();
  await delivered();
  release.get('slow')!();
  await Promise.all(calls);
  assert.deepEqual(order, ['X', 'fast', 'slow']);
  assert.deepEqual(progress, [5, 40]); // each was posted before its own response and seen before it resolved
});

test('a handler error rejects the call with its message; the channel keeps working', async () => {
  const { client } = connect();
  await assert.rejects(client.request('fail', {}), (e: unknown) => e instanceof MessengerError && e.code === 'remote' && /^the index is not open$/.test(e.message));
  assert.equal(await client.request('echo', { text: 'ok' }), 'OK');
});

test('a timeout rejects the call, tells the peer to stop (its handler sees the abort) and ignores the late answer', async () => {
  const { client, sent, seen } = connect({ timeoutMs: 30 });
  const started = Date.now();
  await assert.rejects(client.request('hang', {}), (e: unknown) => e instanceof MessengerError && e.code === 'timeout' && /timed out after 30 ms \(hang\)/.test(e.message));
  assert.ok(Date.now() - started >= 25);
  await delivered();
  assert.deepEqual(seen.aborted, ['hang']);
  assert.ok(sent[0]!.some((m) => (m as { type: string }).type === 'cancel'));
  assert.equal(await client.request('wait', { ms: 1, tag: 'per-call' }, { timeoutMs: 20_000 }), 'per-call'); // per call beats the default
});

test('cancellation: aborting rejects at once and aborts the handler; an already aborted signal sends nothing', async () => {
  const { client, sent, seen } = connect();
  const ac = new AbortController();
  const call = client.request('hang', {}, { signal: ac.signal });
  await delivered();
  ac.abort();
  await assert.rejects(call, (e: unknown) => e instanceof MessengerError && e.code === 'cancelled');
  await delivered();
  assert.deepEqual(seen.aborted, ['hang']);
  const before = sent[0]!.length;
  await assert.rejects(client.request('echo', { text: 'a' }, { signal: ac.signal }), /cancelled/);
  assert.equal(sent[0]!.length, before);
});

test('a dead peer fails every pending call with the reason, and every later call at once', async () => {
  const { client } = connect();
  const calls = [client.request('hang', {}), client.request('hang', {}, { timeoutMs: 60_000 })];
  await delivered();
  client.close('index worker exited (code 1)');
  for (const c of calls) await assert.rejects(c, (e: unknown) => e instanceof MessengerError && e.code === 'closed' && /exited \(code 1\)/.test(e.message));
  await assert.rejects(client.request('echo', { text: 'late' }), /exited \(code 1\)/);
  assert.ok(client.isClosed);
});

test('closing the serving side aborts its running handlers', async () => {
  const { client, server, seen } = connect();
  const ac = new AbortController();
  const call = client.request('hang', {}, { signal: ac.signal });
  await delivered();
  server.close('shutting down');
  assert.deepEqual(seen.aborted, ['hang']);
  ac.abort(); // the caller's own cancel (or limit) still ends its wait: a closed server answers nothing
  await assert.rejects(call, /cancelled \(hang\)/);
});

test('incoming messages are validated: malformed, unknown or failing the check never reach a handler', async () => {
  const { client, seen, rawToServer, rawToClient } = connect();
  // A request whose params fail the channel's check is answered with the reason.
  await assert.rejects(client.request('echo', { text: 42 as unknown as string }), /text must be a string/);
  // An unknown method is answered with an error, not a crash.
  await assert.rejects((client as unknown as Messenger<Client, { requests: { nope: { params: object; result: void } }; notifications: object }>)
    .request('nope', {}), /unknown method 'nope'/);
  // Malformed envelopes and unknown notifications are dropped and reported.
  for (const m of [null, 'x', [], { type: 'request', id: 0, method: 'echo', params: {} }, { type: 'request', id: 1, method: 'echo', params: {}, extra: 1 },
    { type: 'response', id: 1, ok: 'yes' }, { type: 'event' }]) rawToServer.post(m);
  rawToClient.post({ type: 'notification', method: 'nonsense', params: 1 });
  await delivered();
  assert.equal(seen.invalid.filter((r) => r.includes('malformed')).length, 7);
  assert.ok(seen.invalid.some((r) => r.includes("unknown notification 'nonsense'")));
  assert.deepEqual(seen.progress, []);
});

test('a result failing the check rejects the call as invalid', async () => {
  const { a, b } = pipe();
  new Messenger<Server, Client>(b, { requests: {
    echo: () => 7 as unknown as string, wait: () => '', fail: () => { throw new Error(); }, hang: () => undefined,
  } });
  const invalid: string[] = [];
  const client = new Messenger<Silent, Server>(a, {
    check: (kind, method, v) => kind === 'response' && method === 'echo' && typeof v !== 'string' ? 'not a string' : undefined,
    onInvalid: (r) => invalid.push(r),
  });
  await assert.rejects(client.request('echo', { text: 'a' }), (e: unknown) => e instanceof MessengerError && e.code === 'invalid');
  assert.equal(invalid.length, 1);
});

test('envelopes: exact keys; params and result may be absent (JSON drops undefined)', () => {
  assert.equal(typeof parseEnvelope({ type: 'response', id: 3, ok: true }), 'object');
  assert.equal(typeof parseEnvelope({ type: 'notification', method: 'lens/ready' }), 'object');
  assert.equal(typeof parseEnvelope({ type: 'cancel', id: 2 }), 'object');
  for (const bad of [{ type: 'cancel', id: 1.5 }, { type: 'request', id: 1, method: '', params: {} }, { type: 'request', id: 1, method: 'x'.repeat(101) },
    { type: 'response', id: 1, ok: false }, { type: 'notification', method: 'a', params: 1, id: 3 }]) assert.equal(typeof parseEnvelope(bad), 'string', JSON.stringify(bad));
});
