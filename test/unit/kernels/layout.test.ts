import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32, randomBlocks } from '../../../kernels/runtime/random.js';
import { candidateBlocks, globalBlocks, inWindow, isGlobalBlock, keyBlocks, layoutCounts } from '../../../kernels/runtime/layout.js';
import { materialiseMask } from '../../../kernels/reference/attention.js';
import { freshSeed } from './helpers.js';

const cfg = { block: 64, window: 3, global: 2, random: 2 };

test('mulberry32 is deterministic, in [0,1) and seed-sensitive', () => {
  const a = mulberry32(1234), b = mulberry32(1234), c = mulberry32(1235);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notEqual(xs[0], c());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

test('randomBlocks rows are distinct, outside window and global; global rows are -1', () => {
  const seed = freshSeed('randomBlocks');
  for (const [nb, r] of [[16, 2], [16, 3], [8, 2], [64, 3]] as const) {
    const L = 3, H = 4;
    const rb = randomBlocks(seed, L, H, nb, cfg.window, cfg.global, r); // [L, H, nb, r]
    assert.equal(rb.length, L * H * nb * r);
    for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let i = 0; i < nb; i++) {
      const row = Array.from(rb.subarray(((l * H + h) * nb + i) * r, ((l * H + h) * nb + i + 1) * r));
      if (isGlobalBlock(i, nb, cfg.global)) { assert.ok(row.every((j) => j === -1)); continue; }
      assert.equal(new Set(row).size, r, `row ${row} not distinct`);
      for (const j of row) {
        assert.ok(j >= 0 && j < nb);
        assert.ok(!inWindow(i, j, cfg.window), `block ${j} in window of ${i}`);
        assert.ok(!isGlobalBlock(j, nb, cfg.global), `block ${j} is global`);
      }
    }
    assert.deepEqual(rb, randomBlocks(seed, L, H, nb, cfg.window, cfg.global, r));
    assert.notDeepEqual(rb, randomBlocks(seed + 1, L, H, nb, cfg.window, cfg.global, r));
  }
});

test('randomBlocks draws every candidate over many seeds (the shuffle reaches the whole list)', () => {
  const nb = 16, seen = new Set<number>();
  for (let s = 0; s < 200; s++) for (const j of randomBlocks(s, 1, 1, nb, 3, 2, 2).subarray(5 * 2, 6 * 2)) seen.add(j);
  assert.deepEqual([...seen].sort((a, b) => a - b), candidateBlocks(5, nb, 3, 2));
});

test('global blocks are the first and last block; key-block slots are window, global, random', () => {
  assert.deepEqual(globalBlocks(16, 2), [0, 15]);
  assert.deepEqual(Array.from(keyBlocks(5, 16, cfg, [9, 12])), [4, 5, 6, 0, 15, 9, 12]);
  // Block 1's window already holds global block 0: the repeat becomes an empty slot.
  assert.deepEqual(Array.from(keyBlocks(1, 16, cfg, [7, 3])), [0, 1, 2, -1, 15, 7, 3]);
});

test('layout counts agree with the materialised mask', () => {
  const seed = freshSeed('layoutCounts');
  const nb = 16, T = nb * cfg.block;
  const rb = randomBlocks(seed, 1, 1, nb, cfg.window, cfg.global, cfg.random); // [1, 1, nb, r]
  const counts = layoutCounts(nb, cfg, rb);
  const mask = materialiseMask(T, cfg, rb);
  const ones = mask.reduce((s, m) => s + m, 0);
  assert.equal(counts.computed, ones);
  assert.equal(counts.computed + counts.skipped, T * T);
  // 2 global rows × 16 blocks + 14 rows × (3 window + 2 global + 2 random − repeats at the edges)
  const expectedBlocks = 2 * 16 + 14 * 7 - 2; // blocks 1 and 14 share one window block with a global block
  assert.equal(counts.computed, expectedBlocks * cfg.block * cfg.block);
});
