// Model files are checked against model-card.json's sha256 list before the encoder loads them, and an encoder that
// cannot start (altered weights, a broken graph) turns embeddings off with the reason while keywords are indexed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasModel, ModelFileError, verifyModelFiles } from '../../../kernels/runtime/modelFiles.js';
import { inFixture } from '../index/fixture.js';

const MODEL = path.resolve(__dirname, '../../../kernels/model');
const CLI = path.resolve(__dirname, '../../../extension/src/cli.ts');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
const skip = hasModel(MODEL) ? false : 'kernels/model/ is absent';

/** A copy of the shipped model with 2,000 bytes of weights.bin flipped (same size, valid-looking). */
function alteredModel(root: string): string {
  const dir = path.join(root, 'model');
  fs.cpSync(MODEL, dir, { recursive: true });
  const w = fs.readFileSync(path.join(dir, 'weights.bin'));
  for (let i = 0; i < 2000; i++) w[4096 + i * 97] = w[4096 + i * 97]! ^ 0xff;
  fs.writeFileSync(path.join(dir, 'weights.bin'), w);
  return dir;
}

test('the shipped model matches its card; 2,000 flipped bytes in weights.bin, a missing or truncated file do not', { skip }, async () => {
  verifyModelFiles(MODEL);
  await inFixture(async (ws) => {
    const dir = alteredModel(path.dirname(ws));
    assert.throws(() => verifyModelFiles(dir), (e: Error) => e instanceof ModelFileError && /weights\.bin has sha256 [0-9a-f]{16}…, the card says 8fe4e981/.test(e.message));
    fs.truncateSync(path.join(dir, 'lens.fp32.onnx'), 1000);
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    assert.throws(() => verifyModelFiles(dir), /lens\.fp32\.onnx has 1000 bytes, the card says \d+; tokenizer\.json is missing/);
  });
});

test('index --embed with altered weights: keywords indexed, the encoder off with the reason, no vectors stored; search --mode hybrid says why', { skip }, async () => {
  await inFixture(async (ws) => {
    const model = alteredModel(path.dirname(ws));
    const idx = path.join(path.dirname(ws), 'idx');
    const r = run(['index', ws, '--embed', '--model', model, '--index-dir', idx]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the encoder could not start: .*weights\.bin has sha256 .*Indexing keywords only: no embeddings are computed or stored/);
    assert.match(r.stdout, /^indexed \d+ files, \d+ chunks/);
    const d = JSON.parse(run(['digest', '--workspace', ws, '--index-dir', idx]).stdout); // search/digest.ts: the store's counts at the top
    assert.ok(d.chunks > 0);
    assert.equal(d.embeddings, 0, 'nothing stored under the model tag');
    const s = run(['search', 'parse config', '--workspace', ws, '--index-dir', idx, '--mode', 'hybrid', '--model', model]);
    assert.equal(s.status, 1);
    assert.match(s.stderr, /^infini-lens: the encoder could not start: .*does not match its model-card\.json.*\(--mode lexical works without it\)/);
    assert.doesNotMatch(s.stderr, /\n\s+at /);
  });
});

test('a broken ONNX graph (hashes updated to match): index --embed still indexes keywords and says why the encoder is off', { skip }, async () => {
  await inFixture(async (ws) => {
    const model = path.join(path.dirname(ws), 'model');
    fs.cpSync(MODEL, model, { recursive: true });
    fs.writeFileSync(path.join(model, 'encoder.fp32.onnx'), 'not an onnx graph');
    const card = JSON.parse(fs.readFileSync(path.join(model, 'model-card.json'), 'utf8'));
    delete card.files; // a card that lists no files: nothing to compare, so the graph itself fails
    fs.writeFileSync(path.join(model, 'model-card.json'), JSON.stringify(card));
    const idx = path.join(path.dirname(ws), 'idx');
    const r = run(['index', ws, '--embed', '--model', model, '--index-dir', idx, '--provider', 'cpu']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the encoder could not start: .*Indexing keywords only/);
    assert.match(r.stdout, /^indexed \d+ files, \d+ chunks/);
  });
});
