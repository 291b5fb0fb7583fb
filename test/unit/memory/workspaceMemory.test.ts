import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { WorkspaceMemory, type Contribution } from '../../../extension/src/memory/workspaceMemory.js';
import { encoderForward, randomWeights, type EncoderConfig } from '../../../kernels/reference/encoder.js';
import { mulberry32, randomBlocks } from '../../../kernels/runtime/random.js';
import { freshSeed, relError } from '../kernels/helpers.js';

// The memory module only sees encodeContribution: here the float64 reference encoder with small random
// weights, its output rounded to float32 as the ONNX graphs return it.
const cfg: EncoderConfig = {
  vocab: 40, d_model: 16, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_head: 8, d_ff: 24, seg_len: 32, block: 8,
  window: 3, global: 2, random: 1, memory_rule: 'linear', emb_dim: 8,
};
const shape = { layers: cfg.n_layers, kvHeads: cfg.n_kv_heads, dk: cfg.d_head, dv: cfg.d_head };

function referenceEncoder(seed: number, float32 = true): (tokens: Int32Array) => Promise<Contribution> {
  const w = randomWeights(cfg, seed, 0.3);
  const rb = randomBlocks(1234, cfg.n_layers, cfg.n_heads, cfg.seg_len / cfg.block, cfg.window, cfg.global, cfg.random);
  return async (tokens) => {
    const T = cfg.seg_len, stream = [2, ...tokens], S = Math.ceil(stream.length / T);
    const ids = new Array<number>(S * T).fill(0), valid = new Array<number>(S * T).fill(0);
    stream.forEach((id, i) => { ids[i] = id; valid[i] = 1; });
    const out = encoderForward(cfg, w, { ids, valid, segDoc: new Array<number>(S).fill(0), randBlocks: rb });
    return float32 ? { mem: Float32Array.from(out.memSum), z: Float32Array.from(out.zSum) } : { mem: out.memSum, z: out.zSum };
  };
}

async function fullRebuild(files: Map<string, Int32Array>, encode: (t: Int32Array) => Promise<Contribution>) {
  const M = new Float64Array(shape.layers * shape.kvHeads * shape.dk * shape.dv), z = new Float64Array(shape.layers * shape.kvHeads * shape.dk);
  for (const ids of files.values()) {
    const c = await encode(ids);
    for (let i = 0; i < M.length; i++) M[i]! += c.mem[i]!;
    for (let i = 0; i < z.length; i++) z[i]! += c.z[i]!;
  }
  return { M, z };
}

test('random add/edit/rename/delete sequences stay equal to a full rebuild', async () => {
  const seed = freshSeed('memory sequence');
  // The memory gets float32 contributions (as from ONNX); the rebuild it is checked against sums the float64
  // reference, so the error measured includes the float32 rounding of every contribution.
  const rand = mulberry32(seed), encode = referenceEncoder(seed), exact = referenceEncoder(seed, false);
  const randTokens = (n: number) => Int32Array.from({ length: n }, () => 4 + Math.floor(rand() * (cfg.vocab - 4)));
  const mem = WorkspaceMemory.create({ shape, tag: 'test', encode });
  const truth = new Map<string, Int32Array>();
  let worst = 0, nextName = 0;
  for (let step = 0; step < 60; step++) {
    const paths = [...truth.keys()], r = rand();
    const pick = () => paths[Math.floor(rand() * paths.length)]!;
    if (paths.length < 3 || r < 0.35) {                   // add a file of 1..200 tokens
      const p = `f${nextName++}.ts`, ids = randTokens(1 + Math.floor(rand() * 200));
      truth.set(p, ids); await mem.setFile(p, ids);
    } else if (r < 0.65) {                                // edit: change, insert or cut tokens
      const p = pick(), ids = Array.from(truth.get(p)!), at = Math.floor(rand() * ids.length);
      if (rand() < 0.5) ids.splice(at, Math.floor(rand() * 20)); else ids.splice(at, 0, ...randTokens(1 + Math.floor(rand() * 40)));
      if (ids.length === 0) ids.push(5);
      const next = Int32Array.from(ids);
      truth.set(p, next); await mem.setFile(p, next);
    } else if (r < 0.8) {                                 // rename
      const p = pick(), q = `r${nextName++}.ts`;
      truth.set(q, truth.get(p)!); truth.delete(p); mem.renameFile(p, q);
    } else {                                              // delete
      const p = pick();
      truth.delete(p); await mem.removeFile(p);
    }
    if (step % 10 === 9 || step === 59) {
      const ref = await fullRebuild(truth, exact);
      worst = Math.max(worst, relError(mem.M, ref.M), relError(mem.z, ref.z));
      assert.equal(mem.fileCount, truth.size);
    }
  }
  console.log(`# largest relative error against a full rebuild: ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-4, `relative error ${worst}`);
  // Deleting everything brings the sums back to (numerically) zero.
  for (const p of [...truth.keys()]) await mem.removeFile(p);
  const scale = Math.max(...Array.from((await encode(randTokens(50))).z, Math.abs));
  assert.ok(Math.max(...Array.from(mem.z, Math.abs)) < 1e-4 * scale);
});

test('an unchanged file is not re-encoded; a rename never encodes', async () => {
  let calls = 0;
  const inner = referenceEncoder(7);
  const mem = WorkspaceMemory.create({ shape, tag: 't', encode: async (t) => { calls++; return inner(t); } });
  await mem.setFile('a', Int32Array.of(5, 6, 7));
  await mem.setFile('a', Int32Array.of(5, 6, 7));
  mem.renameFile('a', 'b');
  assert.equal(calls, 1);
  await mem.setFile('b', Int32Array.of(5, 6));           // old version recomputed and subtracted, new added
  assert.equal(calls, 3);
  await mem.setFile('c', Int32Array.of(9));
  assert.throws(() => mem.renameFile('b', 'c'), /already in the memory/);
});

test('persistence: round trip, atomic write, corruption and model change detected', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ilmem-')), file = path.join(dir, 'memory.bin');
  const encode = referenceEncoder(11);
  const opts = { shape, tag: 'model-a', encode };
  const a = WorkspaceMemory.open(file, opts);
  assert.ok(a.needsRebuild);
  await a.setFile('x.ts', Int32Array.of(4, 5, 6, 7, 8));
  await a.setFile('y.ts', Int32Array.from({ length: 300 }, (_, i) => 4 + (i % 30)));
  a.save();
  assert.deepEqual(readdirSync(dir), ['memory.bin'], 'no temp file left behind');
  const b = WorkspaceMemory.open(file, opts);
  assert.ok(!b.needsRebuild);
  assert.deepEqual(b.M, a.M); assert.deepEqual(b.z, a.z);
  await b.removeFile('x.ts'); await b.removeFile('y.ts');   // needs the stored tokens
  assert.ok(Math.max(...Array.from(b.M, Math.abs)) < 1e-6 * Math.max(...Array.from(a.M, Math.abs)));

  const logs: string[] = [];
  const other = WorkspaceMemory.open(file, { ...opts, tag: 'model-b', log: (m) => logs.push(m) });
  assert.ok(other.needsRebuild && other.fileCount === 0 && /another model/.test(logs[0]!));
  const bytes = readFileSync(file);
  bytes[bytes.length - 20]! ^= 0xff;                         // flip a bit in the token section
  writeFileSync(file, bytes);
  const c = WorkspaceMemory.open(file, { ...opts, log: (m) => logs.push(m) });
  assert.ok(c.needsRebuild && c.fileCount === 0 && /checksum/.test(logs[1]!));
  writeFileSync(file, bytes.subarray(0, 30));                 // torn write
  assert.ok(WorkspaceMemory.open(file, { ...opts, log: (m) => logs.push(m) }).needsRebuild);
});
