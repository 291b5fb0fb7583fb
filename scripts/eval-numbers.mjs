// One source for the search-quality numbers users read. `docs/numbers/dev.json` holds the dev set's figures as
// measured through the CLI (what VS Code runs); the README's table, the walkthrough's search page and the
// `infiniLens.search.mode` setting's description are rendered from it.
//
//   node scripts/eval-numbers.mjs measure --index-dir DIR [--set /tmp/evaldev] [--scorer FILE]
//       runs `dist/cli.js eval --mode lexical|dense|hybrid` over the set (DIR: an index of its corpus, built with
//       --embed, or built on the way), scores each run file with the eval kit's scorer and writes docs/numbers/dev.json
//   node scripts/eval-numbers.mjs write     renders the numbers into every place that shows them
//   node scripts/eval-numbers.mjs check     exit 1 when a place disagrees with dev.json
//
// test/unit/architecture/numbers.test.ts runs `check` in `npm test`.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(import.meta.dirname, '..');
export const NUMBERS = 'docs/numbers/dev.json';
const MODES = ['lexical', 'dense', 'hybrid'];
const f3 = (x) => x.toFixed(3);
const pct = (x) => `${Math.round(x * 100)} %`;

/** The places that show the numbers: each renders its text from the numbers and finds its old text. */
export const PLACES = [
  {
    file: 'README.md',
    find: /<!-- numbers:dev-table -->[\s\S]*?<!-- \/numbers:dev-table -->/,
    render: (n) => {
      const row = (label, m) => `| ${label} | ${f3(m['R@1'])} | ${f3(m['R@10'])} | ${f3(m['MRR@10'])} |`;
      return ['<!-- numbers:dev-table -->',
        '| Ranking (`infiniLens.search.mode`) | found first (R@1) | in the top 10 (R@10) | MRR@10 |',
        '| --- | ---: | ---: | ---: |',
        row('BM25 baseline, for reference', n.bm25),
        row('`lexical`: keywords', n.modes.lexical.overall),
        row('`dense`: the encoder\'s embeddings alone', n.modes.dense.overall),
        row('`hybrid` (default): keywords re-ordered by the embeddings', n.modes.hybrid.overall),
        '',
        `Keywords and embeddings together find the right code first in ${pct(n.modes.hybrid.overall['R@1'])} of the queries, against ` +
        `${pct(n.modes.lexical.overall['R@1'])} for keywords alone (measured ${n.measured}: \`${n.command}\`).`,
        '<!-- /numbers:dev-table -->'].join('\n');
    },
  },
  {
    file: 'media/walkthrough/search.md',
    find: /Measured on the project's development set of \d+ queries: MRR@10 [0-9.]+ for hybrid, [0-9.]+ for keywords alone\./,
    render: (n) => `Measured on the project's development set of ${n.queries} queries: MRR@10 ${f3(n.modes.hybrid.overall['MRR@10'])} for hybrid, ` +
      `${f3(n.modes.lexical.overall['MRR@10'])} for keywords alone.`,
  },
  {
    file: 'package.json',
    find: /on the dev evaluation set \(\d+ queries\) MRR@10 [0-9.]+, against [0-9.]+ for keywords alone and [0-9.]+ for the embeddings alone/,
    render: (n) => `on the dev evaluation set (${n.queries} queries) MRR@10 ${f3(n.modes.hybrid.overall['MRR@10'])}, against ` +
      `${f3(n.modes.lexical.overall['MRR@10'])} for keywords alone and ${f3(n.modes.dense.overall['MRR@10'])} for the embeddings alone`,
  },
];

export function readNumbers(repo = REPO) {
  return JSON.parse(fs.readFileSync(path.join(repo, NUMBERS), 'utf8'));
}

/** What disagrees with the numbers: each place whose text differs from its rendering. (The model card keeps the
 * figures measured when the model was made; its own generator, kernels/train/lens_train/card.py, writes them.) */
export function disagreements(repo = REPO) {
  const n = readNumbers(repo), out = [];
  for (const p of PLACES) {
    const text = fs.readFileSync(path.join(repo, p.file), 'utf8'), m = p.find.exec(text);
    if (!m) out.push(`${p.file}: the numbers' place is missing (${p.find})`);
    else if (m[0] !== p.render(n)) out.push(`${p.file}: "${m[0].slice(0, 120)}…" is not what ${NUMBERS} renders`);
  }
  return out;
}

function write() {
  const n = readNumbers();
  for (const p of PLACES) {
    const file = path.join(REPO, p.file), text = fs.readFileSync(file, 'utf8');
    if (!p.find.test(text)) throw new Error(`${p.file}: the numbers' place is missing (${p.find})`);
    fs.writeFileSync(file, text.replace(p.find, p.render(n)));
  }
}

function measure(a) {
  const set = path.resolve(a.set), dir = path.resolve(a['index-dir']);
  const runs = path.join(dir, 'eval-runs');
  fs.mkdirSync(runs, { recursive: true });
  const modes = {};
  for (const mode of MODES) {
    const run = path.join(runs, `${mode}.jsonl`), scored = path.join(runs, `${mode}.json`);
    console.log(`eval --mode ${mode}`);
    execFileSync(process.execPath, ['dist/cli.js', 'eval', '--set', set, '--mode', mode, '--out', run, '--index-dir', dir],
      { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync('/usr/bin/python3', [a.scorer, '--set', set, '--score', run, '--json-out', scored], { stdio: ['ignore', 'ignore', 'inherit'] });
    const s = JSON.parse(fs.readFileSync(scored, 'utf8'));
    modes[mode] = { overall: s.overall, by_language: s.by_language };
    console.log(`  ${mode}: ${JSON.stringify(s.overall)}`);
  }
  const bm25 = JSON.parse(fs.readFileSync(path.join(path.dirname(a.scorer), 'dev', 'bm25_w60.json'), 'utf8')).overall;
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  const out = {
    set: 'shared/eval/dev', queries: modes.lexical.overall.queries, measured: new Date().toISOString().slice(0, 10), commit,
    command: 'node scripts/eval-numbers.mjs measure --index-dir DIR',
    bm25: { 'R@1': bm25['R@1'], 'R@10': bm25['R@10'], 'MRR@10': bm25['MRR@10'] }, modes,
  };
  fs.mkdirSync(path.join(REPO, path.dirname(NUMBERS)), { recursive: true });
  fs.writeFileSync(path.join(REPO, NUMBERS), `${JSON.stringify(out, null, 1)}\n`);
  console.log(`wrote ${NUMBERS}; now: node scripts/eval-numbers.mjs write`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: a, positionals } = parseArgs({ allowPositionals: true, options: {
    set: { type: 'string', default: '/tmp/evaldev' }, 'index-dir': { type: 'string' },
    scorer: { type: 'string', default: '/work/shared/eval/bm25_baseline.py' } } });
  const cmd = positionals[0];
  if (cmd === 'measure') {
    if (!a['index-dir']) throw new Error('measure needs --index-dir DIR');
    measure(a);
  } else if (cmd === 'write') write();
  else if (cmd === 'check') {
    const bad = disagreements();
    for (const b of bad) console.error(b);
    console.log(bad.length ? `${bad.length} places disagree with ${NUMBERS}` : `every place agrees with ${NUMBERS}`);
    process.exit(bad.length ? 1 : 0);
  } else {
    console.error('usage: node scripts/eval-numbers.mjs measure --index-dir DIR [--set DIR] | write | check');
    process.exit(2);
  }
}
