import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyFixture, inFixture, lineOf } from '../index/fixture.js';
import { parseSizes } from '../../../extension/src/cliBench.js';
import { hasModel } from '../../../kernels/runtime/modelFiles.js';

const MODEL = path.resolve(__dirname, '../../../kernels/model');

const CLI = path.resolve(__dirname, '../../../extension/src/cli.ts');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });

/** An eval set shaped like shared/eval/dev: corpus/ plus queries.jsonl with targets. */
function makeSet(): string {
  const ws = copyFixture();
  const set = path.join(path.dirname(ws), 'set');
  fs.mkdirSync(set);
  fs.renameSync(ws, path.join(set, 'corpus'));
  const queries = [
    { id: 'q1', query: 'Read key value lines into a dict', language: 'python', path: 'py/geometry.py', start_line: lineOf('py/geometry.py', 'def parse_config_file'), end_line: lineOf('py/geometry.py', 'return settings') },
    { id: 'q2', query: 'Append a value at the end of the list', language: 'c', path: 'c/list.c', start_line: lineOf('c/list.c', 'list_append ('), end_line: lineOf('c/list.c', 'list_append (') + 13 },
  ];
  fs.writeFileSync(path.join(set, 'queries.jsonl'), queries.map((q) => JSON.stringify(q)).join('\n'));
  return set;
}

test('eval writes one valid run line per query in the scorer format', () => {
  const set = makeSet();
  try {
    const out = path.join(set, 'run.jsonl');
    const r = run(['eval', '--set', set, '--mode', 'lexical', '--out', out, '--index-dir', path.join(set, 'idx')]);
    assert.equal(r.status, 0, r.stderr);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.id), ['q1', 'q2']);
    for (const l of lines) {
      assert.ok(l.results.length > 0 && l.results.length <= 10);
      for (const h of l.results) {
        assert.deepEqual(Object.keys(h).sort(), ['end_line', 'path', 'start_line']);
        assert.ok(fs.existsSync(path.join(set, 'corpus', h.path)), `path relative to corpus/: ${h.path}`);
        assert.ok(Number.isInteger(h.start_line) && h.end_line >= h.start_line);
      }
    }
    assert.equal(lines[0].results[0].path, 'py/geometry.py');
  } finally {
    fs.rmSync(path.dirname(set), { recursive: true, force: true });
  }
});

test('dense/hybrid without a model, and bad modes or flags, fail with a clear message and exit code 2', () => {
  const set = makeSet();
  try {
    const noModel = path.join(set, 'no-model');
    const r = run(['eval', '--set', set, '--mode', 'dense', '--out', path.join(set, 'run.jsonl'), '--index-dir', path.join(set, 'idx'), '--model', noModel]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no encoder model in .*no-model/);
    assert.ok(!fs.existsSync(path.join(set, 'run.jsonl')));
    const bad = run(['eval', '--set', set, '--mode', 'fuzzy', '--out', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--mode must be one of/);
    const flag = run(['eval', '--set', set, '--mode', 'dense', '--out', 'x', '--memory', 'maybe']);
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /--memory must be on or off/);
    const qm = run(['eval', '--set', set, '--mode', 'dense', '--out', 'x', '--query-memory', 'on']);
    assert.equal(qm.status, 2);
    assert.match(qm.stderr, /--query-memory on needs --memory on/);
    for (const [arg, msg] of [['name=x', /lexical weight name must be a number/], ['title=2', /'title=2' is not name\|path\|body\|context=NUMBER/],
      ['name=0,path=0,body=0,context=0', /at least one lexical weight must be > 0/], ['name=', /'name=' is not name/]] as const) {
      const w = run(['eval', '--set', set, '--mode', 'lexical', '--out', 'x', '--lexical-weights', arg]);
      assert.equal(w.status, 2, arg);
      assert.match(w.stderr, msg);
    }
  } finally {
    fs.rmSync(path.dirname(set), { recursive: true, force: true });
  }
});

test('eval in dense and hybrid mode writes valid run lines, reusing one index (embedded once)', { skip: hasModel(MODEL) ? false : 'kernels/model/ is absent' }, () => {
  const set = makeSet();
  try {
    const idx = path.join(set, 'idx');
    for (const mode of ['dense', 'hybrid']) {
      const out = path.join(set, `run-${mode}.jsonl`);
      const r = run(['eval', '--set', set, '--mode', mode, '--out', out, '--index-dir', idx]);
      assert.equal(r.status, 0, r.stderr);
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.id), ['q1', 'q2']);
      for (const l of lines) {
        assert.ok(l.results.length > 0 && l.results.length <= 10);
        for (const h of l.results) assert.ok(typeof h.path === 'string' && h.start_line >= 1 && h.end_line >= h.start_line);
      }
      // The second mode finds every chunk already embedded: nothing is encoded again.
      assert.match(r.stderr, mode === 'dense' ? /embeddings (\d+)\/\1 chunks \([1-9]\d* new this run\)/ : /embeddings (\d+)\/\1 chunks \(0 new this run\)/);
    }
  } finally {
    fs.rmSync(path.dirname(set), { recursive: true, force: true });
  }
});

test('bench --sizes reads k and M suffixes', () => {
  assert.deepEqual(parseSizes('4k,64k,1M,1000'), [4096, 65536, 1048576, 1000]);
  assert.throws(() => parseSizes('4q'), /cannot read '4q'/);
});

test('index prints a summary with counts; search --json returns hits', async () => {
  await inFixture(async (ws) => {
    const idx = path.join(ws, '..', 'idx');
    const r = run(['index', ws, '--index-dir', idx]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /indexed \d+ files, \d+ chunks; read \d+ files this run/);
    const s = run(['search', 'validate email address', '--workspace', ws, '--index-dir', idx, '--json', '--limit', '2']);
    assert.equal(s.status, 0, s.stderr);
    const hits = JSON.parse(s.stdout);
    assert.ok(hits.length >= 1 && hits.length <= 2);
    assert.equal(hits[0].path, 'ts/userRepository.ts');
  });
});
