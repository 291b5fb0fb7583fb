// Peak memory of `dist/cli.js index --embed` over N generated small source files (issue 26, item 12): samples the
// indexer's VmRSS and VmHWM (/proc, every 200 ms; worker threads share the process) and reports the peak of each
// phase (walk, lexical pass, embedding) and RSS along the embedding pass, so growing N shows whether memory is
// flat. Needs only node and a built dist/ (no extra packages), so it runs on a GPU machine as it is here.
// usage: node scripts/build.mjs && node scripts/embed-rss.mjs [--files 10000] [--dir D] [--provider cpu|cuda|webgpu|auto]
//          [--embed-batch N] [--workers N|auto] [--lexical-only] [--stop-after S] [--nice 10] [--keep]
// --dir D keeps the tree and the index in D and reuses them: `--lexical-only` once, then the same command without
// it measures the embedding pass alone (its walk finds nothing changed), e.g. for 1M files in two shorter runs.
// --stop-after S stops the indexer (SIGTERM) S seconds into the embedding pass: a partial pass where a whole one
// takes hours (the CPU here); the report then says how far it got.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  files: { type: 'string', default: '10000' }, dir: { type: 'string' }, provider: { type: 'string' },
  'embed-batch': { type: 'string' }, workers: { type: 'string', default: 'auto' }, 'lexical-only': { type: 'boolean' },
  'stop-after': { type: 'string' },
  nice: { type: 'string', default: '10' }, keep: { type: 'boolean' },
} });
const N = Number(values.files);
if (!Number.isInteger(N) || N < 1) throw new Error(`--files needs a positive integer, got ${values.files}`);
const CLI = path.resolve('dist/cli.js');
if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run `node scripts/build.mjs` first');
if (process.platform !== 'linux') throw new Error('embed-rss reads /proc: Linux only');

const base = values.dir ? path.resolve(values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-rss-'));
const ws = path.join(base, 'ws');
const idx = path.join(base, 'idx');

// ---- N small files: one to three short functions each, about one chunk per file, 1,000 files a folder ----------
const WORDS = ['parse', 'config', 'value', 'buffer', 'index', 'stream', 'token', 'render', 'cache', 'node', 'graph', 'user', 'query', 'merge'];
let state = 7;
const rand = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648; };
const pick = (a) => a[Math.floor(rand() * a.length)];
function file(i) {
  const n = 1 + (i % 3);
  let s = '';
  for (let k = 0; k < n; k++) {
    const f = `${pick(WORDS)}_${pick(WORDS)}_${i}_${k}`;
    s += `def ${f}(${pick(WORDS)}, ${pick(WORDS)}):\n    """${pick(WORDS)} the ${pick(WORDS)} of a ${pick(WORDS)}."""\n`;
    s += `    result = ${pick(WORDS)}(${pick(WORDS)}) + ${Math.floor(rand() * 1000)}\n    if result > ${Math.floor(rand() * 99)}:\n`;
    s += `        return ${pick(WORDS)}_${pick(WORDS)}(result)\n    return None\n\n`;
  }
  return s;
}
const marker = path.join(base, `generated-${N}`);
if (!fs.existsSync(marker)) {
  const t0 = Date.now();
  fs.rmSync(ws, { recursive: true, force: true });
  for (let i = 0; i < N; i++) {
    const dir = path.join(ws, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}.py`), file(i));
  }
  fs.writeFileSync(marker, '');
  console.log(`embed-rss: wrote ${N} files to ${ws} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---- index, sampling memory by phase ------------------------------------------------------------------------------
const args = [CLI, 'index', ws, '--index-dir', idx, '--timings', '--workers', values.workers,
  ...(values['lexical-only'] ? [] : ['--embed']), ...(values.provider ? ['--provider', values.provider] : []),
  ...(values['embed-batch'] ? ['--embed-batch', values['embed-batch']] : [])];
console.log(`embed-rss: node ${args.map((a) => path.relative('.', a) || a).join(' ')}`);
const t0 = Date.now();
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
try { os.setPriority(child.pid, Number(values.nice)); } catch { /* not allowed: run at normal priority */ }
let phase = 'start', stdout = '', stderr = '', hwm = 0, lastPct = -10, stopped = false, lastEncode = '';
const peak = {}; // phase → max VmRSS (MB)
const timeline = [];
const mb = (kb) => kb / 1024;
const sample = () => {
  let status;
  try { status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'); } catch { return; }
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
  peak[phase] = Math.max(peak[phase] ?? 0, mb(rss));
  return rss;
};
const sampler = setInterval(sample, 200);
child.stdout.on('data', (d) => { stdout += d; });
child.stderr.on('data', (d) => {
  stderr += d;
  for (const line of String(d).split('\n')) {
    // Progress lines, plain as stderr is a pipe: "keyword index: 5 of 1,000 files", "embeddings: 48 of 1,000 chunks"
    // (or the older "[chunk] 5/1000", "[encode] 48/1000").
    const p = /^(keyword index|embeddings): ([\d,]+) of ([\d,]+)/.exec(line);
    const m = p ? [line, p[1] === 'embeddings' ? 'encode' : 'chunk', p[2].replace(/,/g, ''), p[3].replace(/,/g, '')] : /^\[(\w+)\] (\d+)\/(\d+)/.exec(line);
    if (!m) continue;
    const was = phase;
    phase = m[1] === 'store' ? 'chunk' : m[1] === 'done' ? phase : m[1];
    if (phase === 'encode' && was !== 'encode' && values['stop-after']) {
      setTimeout(() => { stopped = true; child.kill('SIGTERM'); }, Number(values['stop-after']) * 1000);
    }
    if (m[1] === 'encode') lastEncode = `${m[2]}/${m[3]}`;
    if (m[1] === 'encode' && Number(m[3]) > 0) {
      const pct = (100 * Number(m[2])) / Number(m[3]);
      if (pct >= lastPct + 10) { lastPct = Math.floor(pct / 10) * 10; timeline.push(`${m[2]}/${m[3]} chunks: ${mb(sample() ?? 0).toFixed(0)} MB`); }
    }
  }
});
const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
clearInterval(sampler);
const wall = (Date.now() - t0) / 1000;
const ok = code === 0 || (stopped && code === 143);
if (!ok) console.log(`embed-rss: the indexer failed (${code}):\n${stderr.slice(-3000)}`);
if (stopped) console.log(`embed-rss: stopped ${values['stop-after']} s into the embedding pass at ${lastEncode} chunks (--stop-after)`);
console.log(stdout.trim());
const names = { start: 'start', walk: 'walk', chunk: 'lexical pass', encode: 'embedding' };
console.log(`embed-rss: ${N} files, rc ${code}, ${wall.toFixed(1)} s wall; peak RSS ${Object.entries(peak).map(([p, v]) => `${names[p] ?? p} ${v.toFixed(0)} MB`).join(', ')}; ` +
  `VmHWM ${mb(hwm).toFixed(0)} MB`);
if (timeline.length) console.log(`embed-rss: RSS along the embedding pass: ${timeline.join('; ')}`);
if (!values.keep && !values.dir) fs.rmSync(base, { recursive: true, force: true });
else console.log(`embed-rss: tree and index kept in ${base}`);
process.exit(ok ? 0 : 1);
