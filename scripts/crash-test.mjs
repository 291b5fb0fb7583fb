// Crash-safety check for the index store: kill -9 the indexer (dist/cli.js index, or index --embed) while the
// workspace keeps changing, a third of the kills at a random moment, a third inside a transaction (the journal has
// just appeared), a third while SQLite writes pages into the database file (with --embed: a quarter each, the last
// quarter while the vector index writes its files, and all of them from the embedding pass on), and after every kill
//   1. copy what it left (database + journal) and let an independent SQLite (Python's stdlib sqlite3,
//      scripts/crash-inspect.py) roll the journal back and run PRAGMA integrity_check: native SQLite's view;
//   2. reopen the index with the app (dist/cli.js digest: it takes over the dead writer's locks, SQLite rolls the
//      journal back) and require rc 0, no warning (nothing found corrupt, moved aside or rebuilt), integrity ok,
//      and the same files / chunks / vectors / keyword rows as native SQLite saw;
// then finish with an uninterrupted run and require its digest to EQUAL a clean build of the same files (and, with
// --embed, every chunk's vector within float noise of the clean build's).
// --break-journal deletes the journal before the app reopens (what node-sqlite3-wasm's unfixed VFS did in effect):
// the test must then fail.
// --hnsw (with --embed) keeps the vector index in HNSW mode at any size (INFINILENS_EXACT_MAX_ROWS=0), so the kills
// also land while its graph file is written, and the digest checks the graph the app loads. --segment-rows R (with
// --hnsw) cuts the graph into segments of R rows (INFINILENS_GRAPH_MAX_ROWS), one file each, so that the kills also
// land between the files of one save and while unchanged segments keep their files.
// usage: node scripts/build.mjs && node scripts/crash-test.mjs [--kills 20] [--files 300] [--seed N] [--embed]
//        [--hnsw [--segment-rows R]] [--break-journal] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  kills: { type: 'string', default: '20' }, files: { type: 'string', default: '300' },
  seed: { type: 'string', default: String(Date.now() % 100000) }, keep: { type: 'boolean' },
  embed: { type: 'boolean' }, hnsw: { type: 'boolean' }, 'break-journal': { type: 'boolean' }, 'segment-rows': { type: 'string' },
} });
const KILLS = Number(values.kills);
const FILES = Number(values.files);
const seed = Number(values.seed);
// The CPU provider: a GPU probe's own stderr lines (no Vulkan here) would read as complaints.
const EMBED = values.embed ? ['--embed', '--provider', 'cpu'] : [];
if (values.hnsw && !values.embed) throw new Error('--hnsw needs --embed (no vectors, no vector index)');
if (values.hnsw) process.env.INFINILENS_EXACT_MAX_ROWS = '0'; // every child (index, digest, the clean build) inherits it
if (values['segment-rows'] && !values.hnsw) throw new Error('--segment-rows needs --hnsw');
if (values['segment-rows']) process.env.INFINILENS_GRAPH_MAX_ROWS = values['segment-rows'];
const CLI = path.resolve('dist/cli.js');
const INSPECT = path.resolve('scripts/crash-inspect.py');
const PYTHON = '/usr/bin/python3'; // Debian's, with its own SQLite (not a pyenv shim)
if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run `node scripts/build.mjs` first');
if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: the native SQLite check needs Python's stdlib sqlite3`);

// Small deterministic PRNG (mulberry32) so a failing seed can be replayed.
let state = seed >>> 0;
const rand = () => { state = (state + 0x6d2b79f5) >>> 0; let t = state; t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(rand() * a.length)];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-crash-'));
const ws = path.join(tmp, 'ws');
const idx = path.join(tmp, 'idx');
const WORDS = ['parse', 'config', 'value', 'buffer', 'index', 'stream', 'token', 'render', 'cache', 'node', 'graph', 'user', 'query', 'merge'];
const ident = () => `${pick(WORDS)}${pick(WORDS)[0].toUpperCase()}${pick(WORDS).slice(1)}${Math.floor(rand() * 1000)}`;

/** One synthetic source file in a parsed language, ~150-400 lines of functions and classes. */
function sourceFile(ext) {
  const out = [];
  const n = 8 + Math.floor(rand() * 20);
  for (let i = 0; i < n; i++) {
    const name = ident();
    const body = Array.from({ length: 3 + Math.floor(rand() * 15) }, () => `${pick(WORDS)}_${pick(WORDS)} = ${ident()} + ${Math.floor(rand() * 99)}`);
    if (ext === 'py') out.push(`def ${name}(a, b):`, `    """${pick(WORDS)} the ${pick(WORDS)}."""`, ...body.map((l) => `    ${l}`), '    return a', '');
    else if (ext === 'c') out.push(`/* ${pick(WORDS)} the ${pick(WORDS)} */`, `int ${name} (int a)`, '{', ...body.map((l) => `  int ${l};`), '  return a;', '}', '');
    else out.push(`/** ${pick(WORDS)} */`, `export function ${name}(a${ext === 'ts' ? ': number' : ''}) {`, ...body.map((l) => `  const ${l};`), '  return a;', '}', '');
  }
  return `${out.join('\n')}\n`;
}

function writeRandomFile(rel) {
  fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
  fs.writeFileSync(path.join(ws, rel), sourceFile(rel.split('.').pop()));
}

let counter = 0;
const newName = () => `pkg${Math.floor(rand() * 8)}/f${counter++}.${pick(['py', 'js', 'ts', 'c'])}`;
for (let i = 0; i < FILES; i++) writeRandomFile(newName());
const listFiles = () => fs.readdirSync(ws, { recursive: true }).filter((p) => /\.(py|js|ts|c)$/.test(p));

/** Edits, adds, deletes and renames a share of the files so every restart has real work to resume (with --embed
 * less of it: every new chunk costs an encoder pass). */
function mutate() {
  const files = listFiles();
  const [edit, add, del] = EMBED.length ? [0.1, 2, 1] : [0.25, 5, 3];
  for (let i = 0; i < files.length * edit; i++) writeRandomFile(pick(files));
  for (let i = 0; i < add; i++) writeRandomFile(newName());
  for (let i = 0; i < del; i++) fs.rmSync(path.join(ws, pick(files)), { force: true });
  const from = pick(listFiles());
  const to = path.join(ws, newName());
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.renameSync(path.join(ws, from), to);
}

function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 3_600_000 });
  if (r.status !== 0) throw new Error(`cli ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
}
/** Lines of the CLI's stderr that say something went wrong (its logger's `warning:`/`error:`, a fatal `infini-lens:`),
 * as opposed to progress lines. */
const complaintsIn = (stderr) => stderr.split(/[\r\n]+/).filter((l) => /^(warning|error|infini-lens):/.test(l));

/** The pass a progress line belongs to (core/progressText.ts wording). */
const phaseOf = (stderr) => {
  const last = stderr.split(/[\r\n]+/).filter((l) => /^(finding files|keyword index|embeddings|finishing)/.test(l)).pop() ?? '';
  return /^finding/.test(last) ? 'walk' : /files done|^finishing/.test(last) ? 'keyword-done' : /^keyword/.test(last) ? 'keyword' : /^embeddings/.test(last) ? 'embed' : 'start';
};

/** The app's view: rc 0, nothing on stderr but progress lines (a warning means something was found wrong). */
function appDigest(dir) {
  const r = cli(['digest', '--workspace', ws, '--index-dir', dir]);
  const complaints = complaintsIn(r.stderr);
  const d = JSON.parse(r.stdout.trim().split('\n').pop());
  const lex = typeof d.lexical === 'object' ? d.lexical : d; // search/digest.ts: the store's counts, digest over all, vectors
  if (d.vectors?.problem) complaints.push(`the vector index disagrees with the store: ${d.vectors.problem}`);
  return { digest: d.digest, files: lex.files, chunks: lex.chunks, embeddings: lex.embeddings, fts: lex.fts, integrity: lex.integrity, complaints,
    vectorIndex: d.vectors?.index ?? '' }; // "<how it opened: loaded | rebuilt (why) | new>, <exact | hnsw>, <rows> rows"
}

/** Native SQLite's view of a copy of what the killed writer left (crash-inspect.py). */
function nativeView(round) {
  const dir = path.join(tmp, 'inspect', String(round));
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['index.sqlite', 'index.sqlite-journal']) if (fs.existsSync(path.join(idx, f))) fs.copyFileSync(path.join(idx, f), path.join(dir, f));
  const r = spawnSync(PYTHON, [INSPECT, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`crash-inspect.py failed: ${r.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return JSON.parse(r.stdout);
}

/**
 * Starts the indexer and kills it with SIGKILL: `how.at` ms after the start, or at a write: the `how.skip`+1-th time
 * the journal appears ('journal': inside a transaction) or the database file is written while a journal exists
 * ('commit': SQLite is writing pages back, the moment a lost journal costs data). Resolves whether it was still
 * running and the phase it was in.
 */
function indexAndKill(how) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, 'index', ws, '--index-dir', idx, ...EMBED], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let exited = false;
    const kill = () => { if (!exited) child.kill('SIGKILL'); };
    // With --embed the kills aim at the embedding pass: triggers count from the end of the keyword pass on (its
    // "files done" line, or the first "embeddings" line).
    let armed = EMBED.length === 0, armedAt = t0;
    let timer = how.trigger === 'time' && armed ? setTimeout(kill, how.at) : undefined;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!armed && /files done|^embeddings/m.test(stderr)) {
        armed = true;
        armedAt = Date.now();
        if (how.trigger === 'time') timer = setTimeout(kill, how.at);
      }
    });
    let seen = 0;
    // 'vectors': while the vector index writes its files (idx/vectors/: rows or graph, chunk list, meta.json)
    if (how.trigger === 'vectors') fs.mkdirSync(path.join(idx, 'vectors'), { recursive: true }); // to be watched
    const watched = how.trigger === 'vectors' ? path.join(idx, 'vectors') : idx;
    const watcher = how.trigger === 'time' ? undefined : fs.watch(watched, (event, name) => {
      const hit = how.trigger === 'vectors' ? true
        : how.trigger === 'journal' ? name === 'index.sqlite-journal' && event === 'rename' && fs.existsSync(path.join(idx, name))
          : name === 'index.sqlite' && event === 'change' && fs.existsSync(path.join(idx, 'index.sqlite-journal'));
      if (hit && armed && seen++ === how.skip) kill();
    });
    child.on('exit', (code, signal) => {
      exited = true;
      watcher?.close();
      clearTimeout(timer);
      if (signal !== 'SIGKILL' && code !== 0) return reject(new Error(`indexer failed on its own (${code}): ${stderr}`));
      const phase = phaseOf(stderr);
      const complaints = complaintsIn(stderr);
      resolve({ killedMidRun: signal === 'SIGKILL', phase, complaints, ms: Date.now() - armedAt });
    });
  });
}

const failures = [];
const fail = (msg) => { failures.push(msg); console.log(`FAIL: ${msg}`); };
const t0 = Date.now();
console.log(`seed ${seed}, ${FILES} files, ${KILLS} kills${EMBED.length ? ' during index --embed' : ''}${values['break-journal'] ? ', journal DELETED before each reopen (must fail)' : ''}, workspace ${ws}`);
const tFull = Date.now();
cli(['index', ws, '--index-dir', path.join(tmp, 'probe'), ...EMBED]);
let estimateMs = Date.now() - tFull; // how long a run takes (with --embed: its embedding pass); kills land at random inside it
const tally = { midRun: 0, phases: {}, triggers: {}, journals: 0, rolledBack: 0, brokenJournals: 0, vectorIndex: {} };
fs.mkdirSync(idx, { recursive: true });
for (let k = 0; tally.midRun < KILLS && k < KILLS * 3 && failures.length === 0; k++) {
  mutate();
  // a third each: at a random moment, inside a transaction, while SQLite writes pages back (commit or cache spill)
  // (--embed: one embedding transaction per 48 chunks, so the first one, or a random moment of that pass)
  // (--embed: a quarter also while the vector index writes its files, at the first to the fourth file event)
  const trigger = pick(EMBED.length ? ['time', 'journal', 'commit', 'vectors'] : ['time', 'journal', 'commit']);
  // (--embed: 'time' from the embedding pass's start; a write trigger at the first to third embedding transaction)
  const how = { trigger, at: Math.floor(150 + rand() * estimateMs * 0.9), skip: Math.floor(rand() * (EMBED.length && trigger !== 'vectors' ? 3 : 4)) };
  const r = await indexAndKill(how);
  if (!r.killedMidRun) estimateMs = r.ms;
  if (r.complaints.length) fail(`run ${k + 1}: the indexer complained: ${r.complaints.join(' | ')}`);
  const native = nativeView(k);
  if (r.killedMidRun) {
    tally.midRun++;
    tally.phases[r.phase] = (tally.phases[r.phase] ?? 0) + 1;
    tally.triggers[how.trigger] = (tally.triggers[how.trigger] ?? 0) + 1;
  }
  if (native.journal) tally.journals++;
  if (native.rolled_back) tally.rolledBack++;
  if (values['break-journal'] && native.journal) {
    fs.rmSync(path.join(idx, 'index.sqlite-journal'));
    tally.brokenJournals++;
  }
  let app;
  try {
    app = appDigest(idx);
  } catch (err) {
    fail(`run ${k + 1}: the app could not reopen the index: ${err.message}`);
    break;
  }
  const n = native.native;
  if (n.integrity !== 'ok') fail(`run ${k + 1}: native SQLite's integrity_check: ${n.integrity}`);
  if (app.integrity !== 'ok') fail(`run ${k + 1}: the app's integrity check: ${app.integrity}`);
  if (app.complaints.length) fail(`run ${k + 1}: the app complained on reopen: ${app.complaints.join(' | ')}`);
  // a table native SQLite does not find (null: killed before the schema's transaction committed) holds 0 rows
  const want = { files: n.files ?? 0, chunks: n.chunks ?? 0, embeddings: n.embeddings ?? 0, fts: n.fts_docs ?? 0 };
  const got = { files: app.files, chunks: app.chunks, embeddings: app.embeddings, fts: app.fts };
  if (JSON.stringify(want) !== JSON.stringify(got)) fail(`run ${k + 1}: the app sees ${JSON.stringify(got)}, native SQLite ${JSON.stringify(want)}`);
  if (EMBED.length) {
    // how the vector index opened: its saved files loaded (and the store's log replayed), or rebuilt from the store
    const opened = app.vectorIndex.replace(/ \(.*\)/, '').replace(/, \d+ rows$/, '');
    tally.vectorIndex[opened] = (tally.vectorIndex[opened] ?? 0) + 1;
    if (values.hnsw && app.embeddings > 0 && !/, hnsw$/.test(opened)) fail(`run ${k + 1}: the vector index is not in HNSW mode: ${app.vectorIndex}`);
  }
  const aside = fs.readdirSync(idx).filter((f) => f.includes('.corrupt'));
  if (aside.length) fail(`run ${k + 1}: moved aside: ${aside.join(', ')}`);
  const when = how.trigger === 'time' ? `at ${how.at} ms` : `at ${how.trigger} write #${how.skip + 1}`;
  console.log(`run ${String(k + 1).padStart(3)}, kill ${when}: ${r.killedMidRun ? `killed in ${r.phase} ${r.ms} ms ${EMBED.length ? "into the embedding pass" : "after the start"}` : 'finished first'}; ` +
    `journal ${native.journal ? (native.rolled_back ? 'left, native rollback changed the data' : 'left, nothing to undo') : 'none'}; ` +
    `reopened: ${app.files} files, ${app.chunks} chunks, ${app.embeddings} vectors, ${app.fts} keyword rows, integrity ${app.integrity}` +
    `${EMBED.length ? `; vector index ${app.vectorIndex}` : ''}`);
}
let verdict = failures.length === 0;
if (verdict) {
  cli(['index', ws, '--index-dir', idx, ...EMBED]);
  const resumed = appDigest(idx);
  cli(['index', ws, '--index-dir', path.join(tmp, 'clean'), ...EMBED]);
  const clean = appDigest(path.join(tmp, 'clean'));
  const same = resumed.digest === clean.digest;
  let vectors = '';
  if (EMBED.length) {
    const v = JSON.parse(spawnSync(PYTHON, [INSPECT, '--vectors', path.join(idx, 'index.sqlite'), path.join(tmp, 'clean', 'index.sqlite')], { encoding: 'utf8' }).stdout);
    const close = v.only_a === 0 && v.only_b === 0 && v.size_mismatch === 0 && v.max_abs_diff <= 1e-5;
    vectors = `; vectors of ${v.common} chunks vs the clean build: max |diff| ${v.max_abs_diff.toExponential(2)} (${close ? 'within float noise' : 'DIFFERENT'})`;
    if (!close) fail(`vectors differ from the clean build: ${JSON.stringify(v)}`);
  }
  if (!same) fail('the final digest differs from a clean build');
  if (values.hnsw && !/, hnsw,/.test(resumed.vectorIndex)) fail(`the final vector index is not in HNSW mode: ${resumed.vectorIndex}`);
  if (tally.midRun < KILLS) fail(`only ${tally.midRun} kills landed mid-run (wanted ${KILLS})`);
  console.log(`final ${resumed.files} files/${resumed.chunks} chunks/${resumed.embeddings} vectors vs clean build ${clean.files}/${clean.chunks}/${clean.embeddings}: ` +
    `digest ${same ? 'EQUAL' : 'DIFFERENT'}${vectors}`);
  verdict = failures.length === 0;
}
const list = (o) => Object.entries(o).map(([p, c]) => `${p} ${c}`).join(', ');
console.log(`${verdict ? 'PASS' : 'FAIL'}: ${tally.midRun} kills landed mid-run (by phase: ${list(tally.phases)}; by trigger: ${list(tally.triggers)}); ` +
  `journal left after ${tally.journals} runs, native rollback changed the data after ${tally.rolledBack}` +
  `${values['break-journal'] ? `, journal deleted before ${tally.brokenJournals} reopens` : ''}` +
  `${EMBED.length ? `; vector index on reopen: ${list(tally.vectorIndex)}` : ''}; ${failures.length} failures; 0 corrupt and 0 rebuilt required ` +
  `(${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${seed})`);
if (!values.keep && verdict) fs.rmSync(tmp, { recursive: true, force: true });
else console.log(`files kept in ${tmp}`);
if (!verdict) process.exitCode = 1;
