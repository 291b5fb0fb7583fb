// Progress wording users read: percentage and time left from the measured rate of the running phase, plain
// words for the passes and the chunk kinds, and when to ask before embedding on a CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aboutDuration, describeRate, MIN_SAMPLE_MS, PhaseRate } from '../../../extension/src/core/progressRate.js';
import { ASK_ABOVE_S, describeProgress, shouldAsk } from '../../../extension/src/core/progressText.js';
import { kindLabel } from '../../../extension/src/core/labels.js';

test('PhaseRate: a percentage at once, a time left only after the rate was measured, restarted per phase', () => {
  let now = 0;
  const r = new PhaseRate(() => now);
  assert.deepEqual(r.update('encode', 100, 1000), { percent: 10 });
  now = MIN_SAMPLE_MS - 1;
  assert.deepEqual(r.update('encode', 150, 1000), { percent: 15 }, 'too early for a rate');
  now = 10_000;
  const v = r.update('encode', 300, 1000); // 200 items in 10 s = 20/s; 700 left = 35 s
  assert.equal(v.percent, 30);
  assert.ok(Math.abs(v.perS! - 20) < 1e-9 && Math.abs(v.etaS! - 35) < 1e-9, JSON.stringify(v));
  now = 11_000;
  assert.deepEqual(r.update('store', 5, 10), { percent: 50 }, 'a new phase measures its own rate');
  assert.deepEqual(r.update('walk', 0, 0), {}, 'no total: nothing to say');
});

test('durations and rates in words', () => {
  assert.equal(aboutDuration(3), 'about 5 s');
  assert.equal(aboutDuration(42), 'about 40 s');
  assert.equal(aboutDuration(200), 'about 3 min');
  assert.equal(aboutDuration(2 * 3600 + 20 * 60), 'about 2 h 20 min');
  assert.equal(describeRate({ percent: 40, etaS: 180 }), '40% · about 3 min left');
  assert.equal(describeRate({ percent: 40 }), '40%');
});

test('describeProgress names the pass in plain words, with counts, percentage and time left', () => {
  assert.equal(describeProgress({ phase: 'walk', filesDone: 0, filesTotal: 0 }), 'finding files…');
  assert.equal(describeProgress({ phase: 'store', filesDone: 1200, filesTotal: 3000 }, { percent: 40, etaS: 20 }),
    'keyword index: 1,200 of 3,000 files · 40% · about 20 s left');
  assert.equal(describeProgress({ phase: 'encode', filesDone: 3000, filesTotal: 12000, message: 'embedding chunks' }, { percent: 25, etaS: 360 }),
    'embeddings: 3,000 of 12,000 chunks · 25% · about 6 min left');
});

test('ask before embedding only on the CPU, with a measured estimate above the threshold, once', () => {
  const long = { percent: 1, etaS: ASK_ABOVE_S + 1, perS: 10 };
  assert.equal(shouldAsk('cpu', undefined, long), true);
  assert.equal(shouldAsk('webgpu', undefined, long), false, 'a GPU is fast enough');
  assert.equal(shouldAsk('cpu', 'yes', long), false, 'answered before');
  assert.equal(shouldAsk('cpu', 'no', long), false);
  assert.equal(shouldAsk('cpu', undefined, { percent: 1 }), false, 'no estimate yet');
  assert.equal(shouldAsk('cpu', undefined, { ...long, etaS: ASK_ABOVE_S - 1 }), false, 'a small workspace just goes on');
});

test('chunk kinds in words users know', () => {
  assert.equal(kindLabel('window'), 'lines');
  assert.equal(kindLabel('block'), 'top-level code');
  assert.equal(kindLabel('group'), 'several small parts');
  assert.equal(kindLabel('function'), 'function');
});
