// Rows altered with valid SQL are not shown as true: results are checked against their files (rowCheck.ts), and a
// vector that is not a unit vector is left out of dense search. No false alarms on a real index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { IndexStore } from '../../../extension/src/index/store.js';
import { rowProblem } from '../../../extension/src/index/rowCheck.js';
import { classifyContent } from '../../../extension/src/index/content.js';
import { inFixture, memoryLogger } from './fixture.js';

const ROOT = path.resolve(__dirname, '../../..');

async function indexed(ws: string) {
  const logger = memoryLogger();
  const index = await WorkspaceIndex.open(ws, { storageDir: path.join(path.dirname(ws), 'idx'), logger });
  await index.update();
  return { index, logger };
}

/** Runs `sql` on the closed index file with a connection of its own (what any SQLite client could do). */
function alter(ws: string, sql: string, args: unknown[] = []): number {
  const db = new Database(path.join(path.dirname(ws), 'idx', 'index.sqlite'));
  try {
    return db.run(sql, args as never).changes;
  } finally {
    db.close();
  }
}

const hitFor = async (index: WorkspaceIndex) => (await index.search('parse config file', { limit: 20 })).find((h) => h.name?.includes('parse_config_file'));

for (const [what, sql, why] of [
  ['an end line past the end of the file', 'UPDATE chunks SET end_line = end_line + 1000, start_line = start_line + 1000 WHERE id = ?', /lines \d+-\d+ outside its \d+ lines/],
  ['lines shifted inside the file', 'UPDATE chunks SET start_line = start_line + 1 WHERE id = ?', /lines \d+-\d+ do not match offsets/],
  ['another snippet', "UPDATE chunks SET snippet = 'def steal_tokens():' WHERE id = ?", /its snippet is not the text at its offsets/],
  ['offsets past the end', 'UPDATE chunks SET end_offset = end_offset + 100000 WHERE id = ?', /offsets \d+-\d+ outside the file/],
  ['the file\'s content hash', "UPDATE files SET hash = 'f00d' WHERE id = (SELECT file_id FROM chunks WHERE id = ?)", /content hash/],
] as const) {
  test(`a chunk row altered with valid SQL (${what}) is left out with a warning, and the next update repairs it`, async () => {
    await inFixture(async (ws) => {
      const { index } = await indexed(ws);
      const before = await hitFor(index);
      assert.ok(before, 'found before');
      const id = [...index.indexStore.iterateChunks()].find((c) => c.name === before.name && c.startLine === before.startLine)!.id;
      await index.close();
      assert.equal(alter(ws, sql, [id]), 1);
      const logger = memoryLogger();
      const again = await WorkspaceIndex.open(ws, { storageDir: path.join(path.dirname(ws), 'idx'), logger });
      assert.equal(await hitFor(again), undefined, 'the altered row is not shown');
      assert.ok(logger.lines.some((l) => l.startsWith('warn') && /does not match the file/.test(l) && why.test(l)), logger.lines.join('\n'));
      await again.update();
      const { score: _s, ...after } = (await hitFor(again))!; // bm25 statistics move with the re-inserted rows
      const { score: _b, ...was } = before;
      assert.deepEqual(after, was, 'read again: the same hit as before the change');
      await again.close();
    });
  });
}

test('a file edited after indexing is not flagged: its hits are stale, not altered', async () => {
  await inFixture(async (ws) => {
    const { index, logger } = await indexed(ws);
    const file = path.join(ws, 'py/geometry.py');
    fs.writeFileSync(file, `# a new first line\n${fs.readFileSync(file, 'utf8')}`);
    assert.ok(await hitFor(index));
    assert.ok(!logger.lines.some((l) => l.includes('does not match')), logger.lines.join('\n'));
    await index.close();
  });
});

test('no false alarm: every chunk of an index of this repository\'s sources matches its file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-rowcheck-'));
  const ws = path.join(ROOT, 'extension/src');
  try {
    const index = await WorkspaceIndex.open(ws, { storageDir: dir });
    await index.update();
    let n = 0;
    for (const c of index.indexStore.iterateChunks()) {
      const content = classifyContent(fs.readFileSync(path.join(ws, c.path)));
      assert.ok(content.ok);
      assert.equal(rowProblem(c, content.text), undefined, `${c.path}:${c.startLine}-${c.endLine}`);
      n++;
    }
    assert.ok(n > 100, `${n} chunks`);
    await index.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a stored vector that is not a unit vector is left out of dense search, said once, and dropped for re-embedding', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-rowcheck-'));
  try {
    const file = path.join(dir, 'index.sqlite');
    const logger = memoryLogger();
    const store = await IndexStore.open(file, logger);
    const chunk = (k: number) => ({ path: 'a.py', startLine: k, endLine: k, kind: 'function', startOffset: k * 10, endOffset: k * 10 + 9, snippet: 's',
      tokens: [{ name: 'f', path: 'a', body: 'b', context: '' }] });
    store.transaction(() => store.putFile('a.py', 'h', 1, 100, [chunk(1), chunk(2), chunk(3)]));
    const jobs = store.chunksToEmbed(0, 10);
    const unit = (x: number) => Float32Array.from([x, Math.sqrt(1 - x * x), 0, 0]);
    store.putEmbeddings(jobs, [unit(0.6), Float32Array.from([3, 4, 0, 0]), unit(0.8)], 4); // the second: length 5
    const m = store.loadEmbeddings(4);
    assert.deepEqual([...m.ids], [jobs[0]!.id, jobs[2]!.id]);
    assert.equal(logger.lines.filter((l) => l.startsWith('warn') && l.includes('not unit vectors')).length, 1);
    assert.deepEqual(store.embeddingCounts(), { embedded: 2, chunks: 3 }, 'dropped: the next pass embeds it again');
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
