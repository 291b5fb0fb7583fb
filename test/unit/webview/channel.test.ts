// The lens channel end to end over the one messenger: the host side (as lensPanel.ts builds it) checks every
// message from the webview; the webview's Host checks what the host answers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Messenger, type Port } from '../../../extension/src/core/messenger.js';
import { Host } from '../../../webview/src/host.js';
import { checkFromWebview, type LensHost, type LensWebview, type TokenAttention } from '../../../webview/src/protocol.js';

function pipe(): { host: Port; webview: Port; toHost: (m: unknown) => void } {
  const listeners: [Set<(m: unknown) => void>, Set<(m: unknown) => void>] = [new Set(), new Set()];
  const port = (me: 0 | 1): Port => ({
    post: (m) => { const copy = JSON.parse(JSON.stringify(m)) as unknown; queueMicrotask(() => listeners[1 - me]!.forEach((h) => h(copy))); },
    listen: (h) => { listeners[me].add(h); return () => listeners[me].delete(h); },
  });
  return { host: port(0), webview: port(1), toHost: (m) => listeners[0].forEach((h) => h(m)) };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test('the host answers selectToken, takes valid commands and drops what fails its check', async () => {
  const { host, webview, toHost } = pipe();
  const seen: string[] = [], invalid: string[] = [];
  let answer: unknown = { segment: 1, token: 2, heads: [] } satisfies TokenAttention;
  new Messenger<LensHost, LensWebview>(host, {
    requests: { 'lens/selectToken': async () => answer as TokenAttention },
    notifications: {
      'lens/ready': () => seen.push('ready'),
      'lens/reveal': ({ uri }) => seen.push(`reveal ${uri}`),
      'lens/setView': ({ layer, head }) => seen.push(`view ${layer}/${head}`),
      'lens/toggleDecorations': () => seen.push('toggle'),
      'lens/cancel': () => seen.push('cancel'),
    },
    check: checkFromWebview, onInvalid: (r) => invalid.push(r),
  });
  const app = new Host(webview, {});
  app.command('lens/ready', {});
  app.command('lens/setView', { layer: 1, head: 3 });
  assert.deepEqual(await app.request('lens/selectToken', { segment: 1, tokens: [2] }), answer);
  // A compromised webview: a range ending before it starts, an extra field, a NaN token.
  toHost({ type: 'notification', method: 'lens/reveal', params: { uri: 'file:///a', range: { startLine: 3, startChar: 0, endLine: 1, endChar: 0 } } });
  toHost({ type: 'notification', method: 'lens/setView', params: { layer: 1, head: 0, evil: true } });
  await assert.rejects(app.request('lens/selectToken', { segment: 0, tokens: [Number.NaN] }), /segment must be an index and tokens 1 to 32 indices/);
  await tick();
  assert.deepEqual(seen, ['ready', 'view 1/3']);
  assert.equal(invalid.length, 3, invalid.join('\n'));
  // The webview drops a result that does not fit the request.
  answer = { segment: 'x' };
  await assert.rejects(app.request('lens/selectToken', { segment: 1, tokens: [2] }), /unexpected result of lens\/selectToken/);
  app.dispose();
  await assert.rejects(app.request('lens/selectToken', { segment: 1, tokens: [2] }), /lens closed/);
});
