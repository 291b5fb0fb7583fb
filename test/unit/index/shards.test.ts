// Sharded builds: the partition by path hash, a merge of n shards equal (by digest) to a single build, and the
// merges that must be refused (a shard missing or given twice, shards of other counts, a target in use).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { mergeShards, parseShard, shardOf } from '../../../extension/src/index/shards.js';
import { cleanup, copyFixture, memoryLogger } from './fixture.js';

test('parseShard takes i/n with 0 <= i < n only; shardOf spreads paths and is stable', () => {
  assert.deepEqual(parseShard('1/3'), { index: 1, count: 3 });
  for (const bad of ['3/3', '0/0', '-1/2', '1', 'a/b', '1/2/3']) assert.throws(() => parseShard(bad), /--shard needs i\/n/, bad);
  const paths = Array.from({ length: 600 }, (_, i) => `src/dir${i % 7}/file${i}.ts`);
  const counts = [0, 0, 0];
  for (const p of paths) counts[shardOf(p, 3)]!++;
  assert.ok(counts.every((c) => c > 150), `spread ${counts}`);
  assert.equal(shardOf('a/b.ts', 5), shardOf('a/b.ts', 5));
});

async function build(ws: string, dir: string, shard?: { index: number; count: number }): Promise<void> {
  const index = await WorkspaceIndex.open(ws, { storageDir: dir, logger: memoryLogger(), ...(shard ? { shard } : {}) });
  await index.update();
  await index.close();
}

async function digestOf(ws: string, dir: string): Promise<string> {
  const index = await WorkspaceIndex.open(ws, { storageDir: dir, logger: memoryLogger() });
  try { return (await index.digest()).digest; } finally { await index.close(false); }
}

test('merging the shards of a folder gives the digest of a single build; bad merges are refused', async () => {
  const ws = copyFixture();
  const out = path.join(ws, '..', 'out');
  try {
    await build(ws, path.join(out, 'single'));
    for (const i of [0, 1, 2]) await build(ws, path.join(out, `s${i}`), { index: i, count: 3 });
    const shards = [0, 1, 2].map((i) => path.join(out, `s${i}`));
    const log = memoryLogger();
    await assert.rejects(mergeShards(shards.slice(0, 2), path.join(out, 'm0'), log), /shards 2\/3 missing/);
    await assert.rejects(mergeShards([shards[0]!, shards[0]!, shards[1]!], path.join(out, 'm1'), log), /shard 0\/3 given twice/);
    await assert.rejects(mergeShards([path.join(out, 'single')], path.join(out, 'm2'), log), /not built with index --shard/);
    const r = await mergeShards(shards, path.join(out, 'merged'), log);
    assert.ok(r.files > 0 && r.chunks > 0);
    assert.equal(await digestOf(ws, path.join(out, 'merged')), await digestOf(ws, path.join(out, 'single')));
    await assert.rejects(mergeShards(shards, path.join(out, 'merged'), log), /already holds an index/);
    // A shard folder refuses to become another shard, or a plain index a shard.
    await assert.rejects(build(ws, shards[0]!, { index: 1, count: 3 }), /holds shard 0\/3, not 1\/3/);
    await assert.rejects(build(ws, path.join(out, 'single'), { index: 0, count: 3 }), /already holds an index that is not shard/);
    assert.ok(fs.existsSync(path.join(out, 'merged', 'index.sqlite')));
  } finally {
    cleanup(ws);
  }
});
