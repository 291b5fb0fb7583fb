// The store's keyword rows: a packed chunk has one FTS5 row per member, and bm25 scores it by its best member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IndexStore, type StoredChunk } from '../../../extension/src/index/store.js';
import { LEXICAL_WEIGHTS } from '../../../extension/src/search/lexicalRanker.js';
import { toMatchExpression } from '../../../extension/src/index/tokenize.js';
import { memoryLogger } from './fixture.js';

type Row = StoredChunk['tokens'][number];
const row = (name: string, body: string): Row => ({ name, path: 'src mod', body, context: '' });
const ROWS = [
  row('parse header', 'parse header line split colon'),
  row('render footer', 'render footer html escape escape escape'),
  row('parse body', 'parse body chunked transfer encoding header'),
];

function chunk(startLine: number, tokens: Row[]): StoredChunk {
  const parts = tokens.length > 1 ? tokens.map((_, k): [number, number] => [startLine * 100 + k * 10, startLine * 100 + k * 10 + 9]) : undefined;
  return { path: 'src/mod.py', startLine, endLine: startLine + tokens.length, kind: 'function', startOffset: startLine * 100,
    endOffset: startLine * 100 + tokens.length * 10 - 1, snippet: 's', tokens, ...(parts ? { parts } : {}) };
}

test('a packed chunk scores as its best member: the same rows as separate chunks give the same bm25, the max wins', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-store-'));
  const logger = memoryLogger();
  const packed = await IndexStore.open(path.join(dir, 'packed.sqlite'), logger);
  const apart = await IndexStore.open(path.join(dir, 'apart.sqlite'), logger);
  try {
    packed.putFile('src/mod.py', 'h', 0, 1, [chunk(1, ROWS.slice(0, 2)), chunk(10, ROWS.slice(2))]);
    apart.putFile('src/mod.py', 'h', 0, 1, ROWS.map((r, k) => chunk(1 + 10 * k, [r])));
    for (const q of [['parse', 'header'], ['escape'], ['footer', 'body'], ['transfer', 'html']]) {
      const match = toMatchExpression(q);
      const alone = apart.searchFts(match, LEXICAL_WEIGHTS, 10);
      const byStart = new Map([...apart.chunksByIds(alone.map((h) => h.id)).values()].map((c) => [c.startLine, c.id]));
      const scoreOf = (startLine: number) => alone.find((h) => h.id === byStart.get(startLine))?.score;
      const got = packed.searchFts(match, LEXICAL_WEIGHTS, 10);
      const rows = [...packed.chunksByIds(got.map((h) => h.id)).values()];
      const first = rows.find((c) => c.startLine === 1), second = rows.find((c) => c.startLine === 10);
      const want = new Map<number, number>();
      const best = Math.max(...[scoreOf(1), scoreOf(11)].filter((s): s is number => s !== undefined));
      if (Number.isFinite(best)) want.set(first!.id, best);
      if (scoreOf(21) !== undefined) want.set(second!.id, scoreOf(21)!);
      assert.equal(got.length, want.size, `${q}: each chunk once`);
      for (const h of got) assert.ok(Math.abs(h.score - want.get(h.id)!) < 1e-9, `${q}: chunk ${h.id} ${h.score} vs ${want.get(h.id)}`);
      assert.deepEqual(got.map((h) => h.score), [...got.map((h) => h.score)].sort((a, b) => b - a), 'best first');
      // the member reported is the row that scored: for the first chunk the better of rows 0 and 1
      if (got.some((h) => h.id === first?.id)) {
        const m = got.find((h) => h.id === first!.id)!.member;
        assert.equal(scoreOf(1 + 10 * m), want.get(first!.id), `${q}: member ${m}`);
      }
    }
    packed.deleteFile('src/mod.py');
    const d = packed.digest();
    assert.equal(d.integrity, 'ok');
    assert.deepEqual(packed.searchFts(toMatchExpression(['parse', 'escape', 'body']), LEXICAL_WEIGHTS, 10), [], 'every member row deleted');
  } finally {
    packed.close();
    apart.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the bm25 row window grows when the members of one chunk fill it: the next chunk is still found', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-store-'));
  const store = await IndexStore.open(path.join(dir, 'index.sqlite'), memoryLogger());
  try {
    // chunk A: 12 members, each a short row about "alpha"; chunk B: one long row that mentions it once
    const many = Array.from({ length: 12 }, (_, k) => row(`alpha ${k}`, 'alpha alpha'));
    store.putFile('src/mod.py', 'h', 0, 1, [chunk(1, many), chunk(100, [row('other', `alpha ${'filler '.repeat(40)}`)])]);
    const got = store.searchFts(toMatchExpression(['alpha']), LEXICAL_WEIGHTS, 2); // first window: 8 rows, all A's
    const rows = store.chunksByIds(got.map((h) => h.id));
    assert.deepEqual(got.map((h) => rows.get(h.id)!.startLine), [1, 100]);
    assert.ok(got[0]!.score > got[1]!.score);
    assert.equal(store.searchFts(toMatchExpression(['alpha']), LEXICAL_WEIGHTS, 5).length, 2, 'only two chunks match');
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an index written by another schema version (an older build) is rebuilt in place, with a log line', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-store-'));
  const file = path.join(dir, 'index.sqlite');
  try {
    const old = await IndexStore.open(file, memoryLogger());
    old.putFile('src/mod.py', 'h', 0, 1, [chunk(1, ROWS.slice(0, 2))]);
    old.setMeta('schema_version', '4'); // what the build before per-member keyword rows wrote
    old.close();
    const logger = memoryLogger();
    const store = await IndexStore.open(file, logger);
    try {
      assert.ok(logger.lines.some((l) => l.startsWith('info ') && /schema version 4, this build needs \d+; rebuilding it/.test(l)), logger.lines.join('\n'));
      assert.equal(store.counts().chunks, 0, 'starts empty');
      assert.ok(!fs.existsSync(`${file}.corrupt`), 'not treated as damage');
      store.putFile('src/mod.py', 'h', 0, 1, [chunk(1, ROWS.slice(0, 2))]);
      assert.equal(store.searchFts(toMatchExpression(['footer']), LEXICAL_WEIGHTS, 5).length, 1);
    } finally {
      store.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
