// The workspace memory wired to the index (MemorySync): after edits, deletions and a restart, the persisted
// memory equals a full rebuild of the same files in a fresh index. A fake encoder stands in for the model: a
// file's contribution is a fixed function of its tokens (here: its characters), as the real one is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import type { SemanticEncoder } from '../../../kernels/runtime/encoder.js';
import { cleanup, copyFixture, memoryLogger } from './fixture.js';

const SHAPE = { emb_dim: 4, n_layers: 1, n_kv_heads: 1, d_head: 2 }; // memory [1,1,2,2] + z [1,1,2]

function contributionOf(ids: Int32Array): { mem: Float32Array; z: Float32Array } {
  const mem = new Float32Array(4), z = new Float32Array(2);
  ids.forEach((t, i) => { mem[(t + i) % 4]! += Math.fround(Math.sin(t)); z[t % 2]! += 1; });
  return { mem, z };
}

function fakeEncoder(): SemanticEncoder & { fileCalls: number } {
  const enc = {
    fileCalls: 0,
    info: { config: SHAPE },
    async encodeChunks(texts: string[]) { return new Float32Array(texts.length * 4).fill(0.5); },
    async encodeQuery() { return Float32Array.from([0.5, 0.5, 0.5, 0.5]); },
    async encodeFiles(files: { path: string; text: string }[], contributions: boolean) {
      enc.fileCalls += files.length;
      return files.map((f) => {
        const tokenIds = Int32Array.from(f.text, (ch) => ch.codePointAt(0)!);
        return { path: f.path, tokenIds, ...(contributions ? { contribution: contributionOf(tokenIds) } : {}) };
      });
    },
    async contribution(ids: Int32Array) { return contributionOf(ids); },
  };
  return enc;
}

async function memoryOf(ws: string, storageDir: string, enc = fakeEncoder()) {
  const index = await WorkspaceIndex.open(ws, { storageDir, logger: memoryLogger() });
  await index.enableSemantic({ encoder: enc, modelTag: 'fake', memory: true });
  await index.update();
  const m = index.workspaceMemory!;
  const out = { M: Float64Array.from(m.memory.M), z: Float64Array.from(m.memory.z), files: m.fileCount, calls: enc.fileCalls };
  await index.close();
  return out;
}

function maxRelErr(a: Float64Array, b: Float64Array): number {
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { err = Math.max(err, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return err / (scale || 1);
}

test('the memory follows edits, additions and deletions, persists, and equals a full rebuild', async () => {
  const ws = copyFixture();
  const idx = path.join(ws, '..', 'idx');
  try {
    const first = await memoryOf(ws, idx);
    assert.ok(first.files >= 4 && first.calls === first.files);
    const again = await memoryOf(ws, idx);
    assert.equal(again.calls, 0, 'nothing changed: no file is encoded again after a restart');
    assert.deepEqual(again.M, first.M);

    fs.appendFileSync(path.join(ws, 'c/list.c'), '\n/* edited */\n');
    fs.rmSync(path.join(ws, 'js/server.js'));
    fs.writeFileSync(path.join(ws, 'py/added.py'), 'def added():\n    return 1\n');
    const after = await memoryOf(ws, idx);
    assert.equal(after.calls, 2, 'only the edited and the added file are encoded');
    assert.equal(after.files, first.files);

    const rebuilt = await memoryOf(ws, path.join(ws, '..', 'idx-fresh'));
    assert.equal(rebuilt.files, after.files);
    assert.ok(maxRelErr(after.M, rebuilt.M) < 1e-6, `M: ${maxRelErr(after.M, rebuilt.M)}`);
    assert.ok(maxRelErr(after.z, rebuilt.z) < 1e-6, `z: ${maxRelErr(after.z, rebuilt.z)}`);
    assert.notDeepEqual(after.M, first.M);
  } finally {
    cleanup(ws);
  }
});

test('a lost sidecar costs re-encoding, not correctness', async () => {
  const ws = copyFixture();
  const idx = path.join(ws, '..', 'idx');
  try {
    const first = await memoryOf(ws, idx);
    fs.rmSync(path.join(idx, 'memory-files.json'));
    const again = await memoryOf(ws, idx);
    assert.equal(again.files, first.files);
    assert.ok(maxRelErr(again.M, first.M) < 1e-9, 'files the memory already holds are not added twice');
  } finally {
    cleanup(ws);
  }
});
