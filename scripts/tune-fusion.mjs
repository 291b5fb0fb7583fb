#!/usr/bin/env node
// Tunes the hybrid fusion on the VAL set (kernels/train/data/val_set.json), never on dev: one index of the val
// corpus with embeddings of whatever model is in kernels/model (or --model), then a small grid of fusion settings
// ranked from that one index in one process (`cli.js eval-fusion`: each query's lexical and dense rankings are
// fetched once and fused per setting), each run scored with the shared kit's scorer.
//
//   node scripts/tune-fusion.mjs [--set /tmp/evalval] [--index-dir /tmp/idx-val] [--out /tmp/tune-fusion]
//                                [--model DIR] [--no-check]
//
// Builds the val set first when --set has no queries.jsonl (kernels/train/data/build_val_set.sh), builds dist/,
// embeds only chunks without a vector of this model (a new model re-embeds everything, once). Prints a Markdown
// table and the chosen setting, and writes OUT/{table.md,summary.json,runs/}. The chosen setting is the one with
// the best MRR@10 among those whose R@1, R@10 and MRR@10 are each at least the better of lexical and dense alone
// (issue #4's bar, here on val); ties go to the smaller dense weight. Copy it into HYBRID_DEFAULTS by hand
// (extension/src/search/hybrid.ts): this script never edits code.
// --check (default on) also runs `cli.js eval --mode hybrid` with the chosen flags and checks its run file is the
// grid's run file for that setting line by line (eval-fusion fuses hit lists; hybrid search fuses chunk ids).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    set: { type: 'string', default: '/tmp/evalval' }, 'index-dir': { type: 'string', default: '/tmp/idx-val' },
    out: { type: 'string', default: '/tmp/tune-fusion' }, model: { type: 'string' }, 'no-check': { type: 'boolean' },
    kit: { type: 'string', default: process.env.LENS_SHARED_EVAL ?? '/work/shared/eval' },
  },
});
const set = path.resolve(values.set), indexDir = path.resolve(values['index-dir']), out = path.resolve(values.out);
const scorer = path.join(values.kit, 'bm25_baseline.py');
const modelArgs = values.model ? ['--model', path.resolve(values.model)] : [];

// The grid (30 settings): weighted RRF at two k, weighted min-max scores; dense-only candidates none, 5 or all.
const W = [0.1, 0.2, 0.3, 0.5];
const grid = [];
for (const k of [10, 60]) for (const w of W) for (const d of [0, 'all']) grid.push({ method: 'rrf', denseWeight: w, rrfK: k, denseOnly: d });
for (const w of W) for (const d of [0, 'all']) grid.push({ method: 'score', denseWeight: w, denseOnly: d });
for (const w of [0.1, 0.2, 0.3]) {
  grid.push({ method: 'rrf', denseWeight: w, rrfK: 60, denseOnly: 5 });
  grid.push({ method: 'score', denseWeight: w, denseOnly: 5 });
}
for (const g of grid) g.name = `${g.method}-w${g.denseWeight}${g.method === 'rrf' ? `-k${g.rrfK}` : ''}-d${g.denseOnly}`;

const run = (cmd, args, opts = {}) => {
  process.stderr.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: repo, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal})`);
};
const nice = (args) => run('nice', ['-n', '10', ...args]);
const score = (file) => {
  const text = execFileSync('python3', [scorer, '--set', set, '--score', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(text.slice(text.indexOf('{')));
};

if (!fs.existsSync(path.join(set, 'queries.jsonl'))) nice(['bash', path.join(repo, 'kernels/train/data/build_val_set.sh'), set]);
run('node', ['scripts/build.mjs', '--quiet']);
const cli = path.join(repo, 'dist/cli.js');
nice(['node', cli, 'index', path.join(set, 'corpus'), '--index-dir', indexDir, '--embed', ...modelArgs]);
fs.mkdirSync(out, { recursive: true });
const runs = path.join(out, 'runs');
fs.rmSync(runs, { recursive: true, force: true });
fs.writeFileSync(path.join(out, 'grid.json'), JSON.stringify(grid, null, 1));
nice(['node', cli, 'eval-fusion', '--set', set, '--grid', path.join(out, 'grid.json'), '--out-dir', runs, '--index-dir', indexDir, ...modelArgs]);

const model = JSON.parse(fs.readFileSync(path.join(values.model ? path.resolve(values.model) : path.join(repo, 'kernels/model'), 'model-card.json'), 'utf8'));
const rows = [];
for (const name of ['lexical', 'dense', ...grid.map((g) => g.name)]) {
  const s = score(path.join(runs, `${name}.jsonl`));
  rows.push({ name, setting: grid.find((g) => g.name === name) ?? null, overall: s.overall, byLanguage: s.by_language });
}
const kitBm25 = (() => {
  const text = execFileSync('python3', [scorer, '--set', set], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(text.slice(text.indexOf('{'))).overall;
})();
const M = ['R@1', 'R@10', 'MRR@10'];
const lex = rows[0].overall, dense = rows[1].overall;
const bar = Object.fromEntries(M.map((m) => [m, Math.max(lex[m], dense[m])]));
const passes = (o) => M.every((m) => o[m] >= bar[m]);
const fused = rows.slice(2);
const ranked = [...fused].sort((a, b) => b.overall['MRR@10'] - a.overall['MRR@10'] || b.overall['R@10'] - a.overall['R@10']
  || a.setting.denseWeight - b.setting.denseWeight);
const best = ranked.find((r) => passes(r.overall)) ?? ranked[0];

const f3 = (x) => x.toFixed(3);
const langs = Object.keys(rows[0].byLanguage).sort();
const lines = [
  `Val set ${set} (${lex.queries} queries), model ${model.name} v${model.version}; fusion grid from one index (${indexDir}).`,
  '',
  `| run | R@1 | R@10 | MRR@10 | ${langs.map((l) => `${l} MRR@10`).join(' | ')} | meets bar |`,
  `|---|---:|---:|---:|${langs.map(() => '---:|').join('')}---|`,
  `| kit BM25 baseline | ${M.map((m) => f3(kitBm25[m])).join(' | ')} | ${langs.map(() => '').join(' | ')} | |`,
  ...[...rows.slice(0, 2), ...ranked].map((r) => `| ${r === best ? '**' + r.name + '**' : r.name} | ${M.map((m) => f3(r.overall[m])).join(' | ')} | ${
    langs.map((l) => f3(r.byLanguage[l]['MRR@10'])).join(' | ')} | ${r.setting ? (passes(r.overall) ? 'yes' : 'no') : ''} |`),
];
const table = lines.join('\n');
fs.writeFileSync(path.join(out, 'table.md'), `${table}\n`);
const flags = ['--fusion', best.setting.method, '--dense-weight', String(best.setting.denseWeight), '--dense-only', String(best.setting.denseOnly),
  ...(best.setting.method === 'rrf' ? ['--rrf-k', String(best.setting.rrfK)] : [])];
let check = 'skipped';
if (!values['no-check']) {
  const file = path.join(out, 'check-hybrid.jsonl');
  nice(['node', cli, 'eval', '--set', set, '--mode', 'hybrid', '--out', file, '--index-dir', indexDir, ...flags, ...modelArgs]);
  const a = fs.readFileSync(file, 'utf8').trim().split('\n'), b = fs.readFileSync(path.join(runs, `${best.name}.jsonl`), 'utf8').trim().split('\n');
  const same = a.filter((l, i) => l === b[i]).length;
  check = `${same}/${b.length} run lines identical between 'eval --mode hybrid ${flags.join(' ')}' and eval-fusion`;
}
fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ set, model: { name: model.name, version: model.version }, bar, best: best.name,
  setting: best.setting, meetsBar: passes(best.overall), flags, check, rows, kitBm25 }, null, 1));
console.log(table);
console.log(`\nbar (better of lexical and dense): ${M.map((m) => `${m} ${f3(bar[m])}`).join(', ')}`);
console.log(`chosen: ${best.name} (${passes(best.overall) ? 'meets' : 'does NOT meet'} the bar): ${M.map((m) => `${m} ${f3(best.overall[m])}`).join(', ')}`);
console.log(`CLI flags: ${flags.join(' ')}`);
console.log(`HYBRID_DEFAULTS: { method: '${best.setting.method}', denseWeight: ${best.setting.denseWeight}, rrfK: ${best.setting.rrfK ?? 60}, denseOnly: ${best.setting.denseOnly === 'all' ? 'Infinity' : best.setting.denseOnly} }`);
console.log(`check: ${check}`);
console.log(`wrote ${out}/table.md and summary.json`);
