// Host-side pure pieces: the per-version cache, the editor highlight plan and the CSP'd HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LensCache } from '../../../extension/src/lens/lensCache.js';
import { BUCKETS, bucketOf, highlightPlan } from '../../../extension/src/lens/highlightPlan.js';
import { contentSecurityPolicy, lensHtml, newNonce } from '../../../extension/src/lens/lensHtml.js';
import { demoLens } from './demoLens.js';

test('the cache is keyed by uri + version: a new version drops the old one; capacity evicts least recent', () => {
  const c = new LensCache<string>(3);
  c.set('a', 1, 'x', 'a1x');
  c.set('a', 1, 'y', 'a1y');
  assert.equal(c.get('a', 1, 'x'), 'a1x');
  assert.equal(c.get('a', 2, 'x'), undefined);
  c.set('a', 2, 'x', 'a2x');
  assert.equal(c.get('a', 1, 'y'), undefined, 'old version dropped');
  assert.deepEqual(c.valuesFor('a', 2), ['a2x']);
  c.set('b', 1, 'x', 'b1x');
  c.set('c', 1, 'x', 'c1x');
  c.get('a', 2, 'x');
  c.set('d', 1, 'x', 'd1x');
  assert.equal(c.get('b', 1, 'x'), undefined, 'least recently used evicted');
  assert.equal(c.get('a', 2, 'x'), 'a2x');
  assert.equal(c.size, 3);
});

test('highlight plan: local keys and memory recalls bucketed by relative weight; hovers carry no file content', () => {
  const { data } = demoLens('const evil = "<img src=x onerror=alert(1)>";\nlet b = 2;\n', { selected: 4 });
  const view = { layer: 1, head: 1 };
  const plan = highlightPlan(data, view);
  const head = data.selection.heads[1 * data.config.heads + 1]!;
  assert.equal(plan.filter((p) => p.kind === 'local').length, head.keys.filter((k) => data.tokens.some((t) => t.index === k.token)).length);
  assert.equal(plan.filter((p) => p.kind === 'memory').length, head.memory.length);
  assert.equal(plan.filter((p) => p.kind === 'selected').length, 1);
  assert.ok(plan.some((p) => p.bucket === BUCKETS - 1));
  for (const p of plan) {
    assert.match(p.hover, /layer 1, head 1/);
    assert.ok(!/img|onerror|evil/.test(p.hover));
  }
  assert.equal(bucketOf(0.5, 1), 2);
  assert.equal(bucketOf(1, 1), BUCKETS - 1);
  assert.equal(bucketOf(1e-9, 1), 0);
  assert.equal(bucketOf(1, 0), 0);
});

test('webview HTML: default-src none, script only by nonce, no inline or remote code', () => {
  const nonce = newNonce();
  assert.match(nonce, /^[A-Za-z0-9]{16,}$/);
  assert.notEqual(nonce, newNonce());
  const p = { nonce, cspSource: 'https://x.vscode-cdn.net', scriptUri: 'https://x.vscode-cdn.net/dist/webview/lens.js', styleUri: 'https://x.vscode-cdn.net/dist/webview/lens.css' };
  const csp = contentSecurityPolicy(p);
  assert.match(csp, /^default-src 'none'; /);
  assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
  assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp));
  const html = lensHtml(p);
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.match(html, new RegExp(`<script type="module" nonce="${nonce}" src="${p.scriptUri}"></script>`));
  assert.ok(!/<script[^>]*>[^<]/.test(html), 'no inline script body');
  assert.throws(() => lensHtml({ ...p, nonce: '"><script>' }));
});
