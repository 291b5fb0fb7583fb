import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, copyFixture, lineOf } from '../index/fixture.js';

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

test('modes that are not available yet fail with a clear message and exit code 2', () => {
  const set = makeSet();
  try {
    const r = run(['eval', '--set', set, '--mode', 'dense', '--out', path.join(set, 'run.jsonl'), '--index-dir', path.join(set, 'idx')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /mode 'dense' is not available yet/);
    assert.ok(!fs.existsSync(path.join(set, 'run.jsonl')));
    const bad = run(['eval', '--set', set, '--mode', 'fuzzy', '--out', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--mode must be one of/);
  } finally {
    fs.rmSync(path.dirname(set), { recursive: true, force: true });
  }
});

test('index prints a summary with counts; search --json returns hits', () => {
  const ws = copyFixture();
  try {
    const idx = path.join(ws, '..', 'idx');
    const r = run(['index', ws, '--index-dir', idx]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /indexed \d+ files, \d+ chunks; read \d+ files this run/);
    const s = run(['search', 'validate email address', '--workspace', ws, '--index-dir', idx, '--json', '--limit', '2']);
    assert.equal(s.status, 0, s.stderr);
    const hits = JSON.parse(s.stdout);
    assert.ok(hits.length >= 1 && hits.length <= 2);
    assert.equal(hits[0].path, 'ts/userRepository.ts');
  } finally {
    cleanup(ws);
  }
});
