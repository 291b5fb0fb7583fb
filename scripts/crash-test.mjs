// Crash-safety check for the index store: kill -9 the indexer (dist/cli.js index) at random moments while the
// workspace keeps changing, restart it each time, and require that
//   - every restart opens the index (digest exits 0, SQLite and FTS5 integrity checks pass), and
//   - after a final uninterrupted run the index equals a clean build of the same files (same digest).
// usage: node scripts/build.mjs && node scripts/crash-test.mjs [--kills 20] [--files 400] [--seed N]
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  kills: { type: 'string', default: '20' }, files: { type: 'string', default: '300' },
  seed: { type: 'string', default: String(Date.now() % 100000) }, keep: { type: 'boolean' },
} });
const KILLS = Number(values.kills);
const FILES = Number(values.files);
const seed = Number(values.seed);
const CLI = path.resolve('dist/cli.js');
if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run `node scripts/build.mjs` first');

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

/** Edits, adds, deletes and renames a share of the files so every restart has real work to resume. */
function mutate() {
  const files = listFiles();
  for (let i = 0; i < files.length * 0.25; i++) writeRandomFile(pick(files));
  for (let i = 0; i < 5; i++) writeRandomFile(newName());
  for (let i = 0; i < 3; i++) fs.rmSync(path.join(ws, pick(files)), { force: true });
  const from = pick(listFiles());
  fs.renameSync(path.join(ws, from), path.join(ws, newName()));
}

function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`cli ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}
const digest = (dir) => JSON.parse(cli(['digest', '--workspace', ws, '--index-dir', dir]).trim().split('\n').pop());

/** Starts the indexer and kills it with SIGKILL after `ms`; resolves whether it was still running. */
function indexAndKill(ms) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'index', ws, '--index-dir', idx], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    let exited = false;
    child.on('exit', (code, signal) => {
      exited = true;
      if (signal !== 'SIGKILL' && code !== 0) throw new Error(`indexer failed on its own (${code}): ${stderr}`);
      resolve({ killedMidRun: signal === 'SIGKILL', warnedCorrupt: /unusable/.test(stderr) });
    });
    setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, ms);
  });
}

const t0 = Date.now();
console.log(`seed ${seed}, ${FILES} files, ${KILLS} kills, workspace ${ws}`);
const tFull = Date.now();
cli(['index', ws, '--index-dir', path.join(tmp, 'probe')]);
const fullMs = Date.now() - tFull;
let midRun = 0;
// Keep going until KILLS kills have landed while the indexer was working (a run may finish before its kill).
for (let k = 0; midRun < KILLS && k < KILLS * 2; k++) {
  mutate();
  const at = Math.floor(150 + rand() * fullMs * 0.8);
  const r = await indexAndKill(at);
  if (r.killedMidRun) midRun++;
  if (r.warnedCorrupt) throw new Error(`restart ${k}: the index was reported corrupt after a kill`);
  const d = digest(idx); // must open and pass integrity checks after every kill
  if (d.integrity !== 'ok') throw new Error(`after kill ${k}: integrity ${d.integrity}`);
  console.log(`run ${String(k + 1).padStart(2)}, kill at ${String(at).padStart(4)} ms: ${r.killedMidRun ? 'killed mid-run' : 'finished first'}; reopened: ${d.files} files, ${d.chunks} chunks, integrity ${d.integrity}`);
}
cli(['index', ws, '--index-dir', idx]);
const resumed = digest(idx);
cli(['index', ws, '--index-dir', path.join(tmp, 'clean')]);
const clean = digest(path.join(tmp, 'clean'));
const same = resumed.digest === clean.digest;
console.log(`${midRun} kills landed mid-run (wanted ${KILLS}); final ${resumed.files} files/${resumed.chunks} chunks vs clean build ${clean.files}/${clean.chunks}: ${same ? 'EQUAL' : 'DIFFERENT'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
if (!values.keep) fs.rmSync(tmp, { recursive: true, force: true });
if (!same || midRun < KILLS) process.exitCode = 1;
