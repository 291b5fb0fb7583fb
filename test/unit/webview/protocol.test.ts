import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWebviewMessage } from '../../../webview/src/protocol.js';

const range = { startLine: 3, startChar: 1, endLine: 3, endChar: 9 };

test('valid commands and requests pass and come back as fresh objects', () => {
  const reveal = { type: 'notification', method: 'lens/reveal', params: { uri: 'file:///a.ts', range } };
  const r = parseWebviewMessage(reveal);
  assert.ok(r.ok);
  assert.deepEqual(r.value, reveal);
  assert.notEqual(r.value, reveal);
  assert.ok(parseWebviewMessage({ type: 'notification', method: 'lens/ready', params: {} }).ok);
  assert.ok(parseWebviewMessage({ type: 'notification', method: 'lens/setView', params: { layer: 3, head: 1 } }).ok);
  assert.ok(parseWebviewMessage({ type: 'notification', method: 'lens/cancel', params: {} }).ok);
  const req = parseWebviewMessage({ type: 'request', id: 7, method: 'lens/selectToken', params: { segment: 2, tokens: [100] } });
  assert.ok(req.ok && req.value.type === 'request' && req.value.id === 7);
  // Several tokens (attention summed); a token named twice counts once.
  const many = parseWebviewMessage({ type: 'request', id: 8, method: 'lens/selectToken', params: { segment: 2, tokens: [4, 9, 4] } });
  assert.ok(many.ok && many.value.type === 'request');
  assert.deepEqual(many.ok && many.value.params, { segment: 2, tokens: [4, 9] });
});

test('malformed, unknown and smuggling messages are rejected with a reason', () => {
  const bad: unknown[] = [
    null, 'lens/ready', [], { type: 'notification', method: 'lens/ready' },
    { type: 'notification', method: 'lens/ready', params: { extra: 1 } },
    { type: 'notification', method: 'lens/ready', params: {}, __proto__x: 1 },
    { type: 'notification', method: 'lens/runCommand', params: {} },
    { type: 'event', method: 'lens/ready', params: {} },
    { type: 'notification', method: 'lens/reveal', params: { uri: '', range } },
    { type: 'notification', method: 'lens/reveal', params: { uri: 'file:///a', range: { ...range, startLine: -1 } } },
    { type: 'notification', method: 'lens/reveal', params: { uri: 'file:///a', range: { ...range, endLine: 2 } } },
    { type: 'notification', method: 'lens/reveal', params: { uri: 'file:///a', range: { ...range, startChar: 1.5 } } },
    { type: 'notification', method: 'lens/reveal', params: { uri: 'x'.repeat(5000), range } },
    { type: 'notification', method: 'lens/setView', params: { layer: '1', head: 0 } },
    { type: 'request', id: -1, method: 'lens/selectToken', params: { segment: 0, tokens: [0] } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0, tokens: [Number.NaN] } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0, token: 0 } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0, tokens: [] } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0, tokens: Array.from({ length: 33 }, (_, i) => i) } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0, tokens: '1' } },
    { type: 'request', id: 1, method: 'lens/selectToken', params: { segment: 0 } },
    { type: 'notification', method: 'lens/cancel', params: { now: true } },
    { type: 'request', id: 1, method: 'lens/eval', params: {} },
  ];
  for (const m of bad) {
    const r = parseWebviewMessage(m);
    assert.equal(r.ok, false, JSON.stringify(m));
    assert.ok(!r.ok && r.error.length > 0);
  }
});
