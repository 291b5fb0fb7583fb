// probe-memory's trials (kernels/runtime/memoryProbe.ts): each answer is written in full in an earlier segment
// and masked where it is asked; passkey depths spread over the input; the same seed gives the same trials; bad
// arguments fail with a clear message (exit 2) before any model is opened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { buildTrials, fillerFiles, readFiller, type ProbeOptions } from '../../../kernels/runtime/memoryProbe.js';
import { CodeTokenizer, SPECIAL } from '../../../kernels/runtime/tokenizer.js';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = path.join(ROOT, 'kernels/model');
const noTokenizer = existsSync(path.join(MODEL, 'tokenizer.json')) ? false : 'kernels/model/tokenizer.json not shipped';
const T = 1024;

function opts(task: 'passkey' | 'code', segments: number, trials: number, seed = 24): ProbeOptions {
  return { task, segments, trials, seed, ablate: true, maxSegments: 8 };
}

function filler(tok: CodeTokenizer) {
  return readFiller(tok, fillerFiles(path.join(ROOT, 'kernels/runtime')));
}

test('each answer is written in full earlier and masked where asked', { skip: noTokenizer }, () => {
  const tok = CodeTokenizer.load(MODEL), f = filler(tok);
  for (const task of ['passkey', 'code'] as const) {
    const trials = buildTrials(tok, T, f, opts(task, 6, 4));
    for (const tr of trials) {
      assert.equal(tr.ids.length, 6 * T);
      assert.equal(tr.asks.length, task === 'passkey' ? 1 : 4);
      for (const a of tr.asks) {
        const seg = Math.floor(a.positions[0]! / T);
        if (task === 'passkey') assert.equal(seg, 5, 'the passkey is asked in the last segment');
        else assert.ok(seg >= 3, 'a code value is asked at least N/2 segments after the first half');
        for (const p of a.positions) assert.equal(tr.ids[p], SPECIAL.mask);
        const before = Array.from(tr.ids.subarray(0, seg * T));
        const at = before.findIndex((_, i) => a.answer.every((x, k) => before[i + k] === x));
        assert.ok(at >= 0, 'the answer is written in full in an earlier segment');
      }
    }
  }
});

test('passkey depths spread over the segments before the last; a seed gives the same trials', { skip: noTokenizer }, () => {
  const tok = CodeTokenizer.load(MODEL), f = filler(tok);
  const trials = buildTrials(tok, T, f, opts('passkey', 16, 5));
  const key = (tr: (typeof trials)[number]) => tr.asks[0]!.answer;
  const depth = (tr: (typeof trials)[number]) => {
    const ids = Array.from(tr.ids), k = key(tr);
    return Math.floor(ids.findIndex((_, i) => k.every((x, j) => ids[i + j] === x)) / T);
  };
  assert.deepEqual(trials.map(depth), [0, 4, 7, 11, 14]);
  const again = buildTrials(tok, T, f, opts('passkey', 16, 5));
  assert.deepEqual(again.map((t) => Array.from(t.ids)), trials.map((t) => Array.from(t.ids)));
  const other = buildTrials(tok, T, f, opts('passkey', 16, 5, 25));
  assert.notDeepEqual(other.map(key), trials.map(key));
});

const CLI = path.join(ROOT, 'extension/src/cli.ts');
const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI, 'probe-memory', ...args], { encoding: 'utf8' });

test('probe-memory refuses bad arguments with a clear message', () => {
  for (const [args, msg] of [
    [['--task', 'story', '--segments', '16', '--trials', '4'], /--task: expected passkey or code/],
    [['--task', 'passkey', '--segments', '1', '--trials', '4'], /--segments: expected an integer >= 2/],
    [['--task', 'passkey', '--segments', '16'], /probe-memory needs --trials/],
    [['--task', 'code', '--segments', '16', '--trials', '2', '--filler', '/nonexistent/x'], /--filler: .* is not a folder/],
    [['--task', 'code', '--segments', '16', '--trials', '2', '--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    const r = run([...args]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});
