// Hostile-tree check for the indexer (issue 26): builds a workspace of --entries entries that a careless or
// malicious tree may hold (binaries, invalid UTF-8, minified and 10 MB one-line files, CR-only files, deep code and
// deep folders, FIFOs, sockets, devices, names that are not UTF-8, dangling and looping links, links out of the
// workspace, ignored trees) and swaps files for FIFOs, links to /dev/zero, folders, bigger files or nothing while
// `dist/cli.js index --verbose` runs. It requires
//   - exit code 0 within --timeout seconds (no hang, no crash),
//   - peak RSS (VmHWM of the indexer, sampled every 100 ms) at most --max-rss-mb,
//   - every entry indexed or skipped with the reason expected for it (log line and index row), nothing else,
//   - the summary's counts equal to the log's skip lines per reason ('ignored' is counted, not logged).
// usage: node scripts/build.mjs && node scripts/fuzz-tree.mjs [--entries 10000] [--seed N] [--workers N|auto]
//          [--follow-symlinks] [--max-rss-mb 1024] [--timeout 1800] [--keep]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sqlite from 'node-sqlite3-wasm';

const { values } = parseArgs({ options: {
  entries: { type: 'string', default: '10000' }, seed: { type: 'string', default: '26' }, workers: { type: 'string', default: '2' },
  'follow-symlinks': { type: 'boolean' }, 'max-rss-mb': { type: 'string', default: '1024' }, timeout: { type: 'string', default: '1800' },
  keep: { type: 'boolean' },
} });
const ENTRIES = Number(values.entries);
const FOLLOW = values['follow-symlinks'] ?? false;
const CLI = path.resolve('dist/cli.js');
if (!fs.existsSync(CLI)) throw new Error('dist/cli.js is missing: run `node scripts/build.mjs` first');
if (process.platform !== 'linux') throw new Error('fuzz-tree needs Linux (FIFOs, sockets, /proc for RSS)');
const isRoot = process.getuid?.() === 0;

let state = Number(values.seed) >>> 0; // mulberry32: a failing seed can be replayed
const rand = () => { state = (state + 0x6d2b79f5) >>> 0; let t = state; t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const pick = (a) => a[Math.floor(rand() * a.length)];
const WORDS = ['parse', 'config', 'value', 'buffer', 'index', 'stream', 'token', 'render', 'cache', 'node', 'graph', 'user'];
const ident = () => `${pick(WORDS)}_${pick(WORDS)}${Math.floor(rand() * 1000)}`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-fuzz-'));
const ws = path.join(tmp, 'ws');
const outside = path.join(tmp, 'outside');
const idx = path.join(tmp, 'idx');
fs.mkdirSync(ws);
fs.mkdirSync(outside);
fs.writeFileSync(path.join(outside, 'secret.py'), 'def outside_only_zebracorn():\n    return 1\n');

/** path (relative, as the log prints it) → 'indexed' | 'ignored' | a skip reason. */
const expect = new Map();
let entries = 0;
const abs = (rel) => (Buffer.isBuffer(rel) ? Buffer.concat([Buffer.from(`${ws}/`), rel]) : path.join(ws, rel));
const put = (rel, bytes, outcome) => { fs.mkdirSync(path.dirname(abs(rel)), { recursive: true }); fs.writeFileSync(abs(rel), bytes); expect.set(rel, outcome); entries++; };
const link = (target, rel, outcome) => { fs.mkdirSync(path.dirname(abs(rel)), { recursive: true }); fs.symlinkSync(target, abs(rel)); expect.set(rel, outcome); entries++; };
const scaled = (full) => Math.max(1, Math.round((full * ENTRIES) / 10000));

function source(ext) {
  const n = 3 + Math.floor(rand() * 8);
  const fns = Array.from({ length: n }, () => ident());
  if (ext === 'py') return fns.map((f) => `def ${f}(x):\n    return x + ${Math.floor(rand() * 99)}\n\n`).join('');
  if (ext === 'c') return fns.map((f) => `int ${f}(int x) {\n  return x * ${Math.floor(rand() * 99)};\n}\n`).join('');
  return fns.map((f) => `export function ${f}(x) {\n  return x - ${Math.floor(rand() * 99)};\n}\n`).join('');
}

// ---- content that is read and judged -------------------------------------------------------------------------
for (let i = 0; i < scaled(300); i++) put(`bin/blob${i}.py`, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, ...Array(200).fill(7)]), 'binary');
for (let i = 0; i < scaled(300); i++) put(`latin1/l${i}.py`, Buffer.from(`name = "caf\xe9 ${i}"\n`, 'latin1'), 'invalid-utf8');
for (let i = 0; i < scaled(200); i++) put(`min/m${i}.min.js`, `var a${i}=${'1+'.repeat(2000)}1;`, 'minified');
for (let i = 0; i < scaled(5); i++) put(`min/big${i}.js`, `var b=${'x+'.repeat(450_000)}1;`, 'minified'); // 900 KB, one line
for (let i = 0; i < scaled(5); i++) put(`huge/line${i}.js`, 'y'.repeat(10 * 1024 * 1024), 'too-large'); // a 10 MB line
for (let i = 0; i < scaled(15); i++) put(`huge/big${i}.py`, 'x = 1\n'.repeat(260_000), 'too-large');
for (let i = 0; i < scaled(100); i++) put(`cr/mac${i}.py`, Array.from({ length: 12 }, () => source('py')).join('').replace(/\n/g, '\r'), 'indexed'); // > 2 KB: judged for minified
for (let i = 0; i < scaled(50); i++) put(`crlf/w${i}.ts`, source('ts').replace(/\n/g, '\r\n'), 'indexed');
for (let i = 0; i < scaled(50); i++) put(`empty/e${i}.py`, '', 'indexed');
for (let i = 0; i < scaled(20); i++) put(`bom/b${i}.py`, `\ufeff${source('py')}`, 'indexed');
// Deep code (the chunker overflowed its stack on these) and a deep folder chain.
put('deep/classes.ts', Array.from({ length: 2000 }, (_, i) => `class C${i} { m${i}() {\n`).join('') + '}}\n'.repeat(2000), 'indexed');
if (ENTRIES >= 5000) {
  put('deep/funcs.js', Array.from({ length: 5000 }, (_, i) => `function f${i}() {\n`).join('') + '}\n'.repeat(5000), 'indexed');
  put('deep/structs.c', Array.from({ length: 3000 }, (_, i) => `struct S${i} { int a${i};\n`).join('') + '};\n'.repeat(3000), 'indexed');
}
put(`${'d/'.repeat(300)}bottom.py`, 'def at_the_bottom():\n    return 300\n', 'indexed');

// ---- entries the walk leaves out ------------------------------------------------------------------------------
const { execFileSync } = await import('node:child_process');
for (let i = 0; i < scaled(50); i++) { fs.mkdirSync(abs('special'), { recursive: true }); execFileSync('mkfifo', [abs(`special/fifo${i}.py`)]); expect.set(`special/fifo${i}.py`, 'not-a-file'); entries++; }
const servers = [];
for (let i = 0; i < scaled(10); i++) {
  // A socket file exists while its server listens (node unlinks it on close): kept open for the run.
  servers.push(await new Promise((resolve) => { const s = net.createServer(); s.listen(abs(`special/sock${i}`), () => resolve(s)); }));
  expect.set(`special/sock${i}`, 'not-a-file'); entries++;
}
let devices = 0;
for (let i = 0; i < scaled(5); i++) {
  try { execFileSync('mknod', [abs(`special/zero${i}.py`), 'c', '1', '5'], { stdio: 'ignore' }); } catch { break; } // root only
  expect.set(`special/zero${i}.py`, 'not-a-file'); entries++; devices++;
}
// Names that are not UTF-8: a file, and a folder (its contents are not listed at all).
fs.mkdirSync(abs('names'));
const badName = (prefix, tail) => Buffer.concat([Buffer.from(prefix), Buffer.from(tail)]);
for (let i = 0; i < scaled(50); i++) {
  const name = badName(`names/n${i}-`, [0xff, 0xfe, 0x2e, 0x70, 0x79]); // "n…-\xff\xfe.py"
  fs.writeFileSync(abs(name), 'x = 1\n');
  expect.set(name.toString('utf8'), 'bad-name'); entries++;
}
for (let i = 0; i < scaled(20); i++) {
  const dir = badName(`names/dir${i}-`, [0xc3]);
  fs.mkdirSync(abs(dir));
  fs.writeFileSync(Buffer.concat([abs(dir), Buffer.from('/inside.py')]), 'y = 2\n');
  expect.set(dir.toString('utf8'), 'bad-name'); entries++;
}
for (let i = 0; i < scaled(30); i++) link(`missing${i}.py`, `links/dangling${i}.py`, 'broken-link');
for (let i = 0; i < scaled(10); i++) link(`self${i}`, `links/self${i}`, 'broken-link');
for (let i = 0; i < scaled(10); i++) { link(`b${i}`, `links/a${i}`, 'broken-link'); link(`a${i}`, `links/b${i}`, 'broken-link'); }
for (let i = 0; i < scaled(20); i++) link('..', `loops/up${i}`, 'duplicate-link');
for (let i = 0; i < scaled(5); i++) link(ws, `loops/root${i}`, 'duplicate-link');
for (let i = 0; i < scaled(10); i++) link('../cr', `loops/cr${i}`, 'duplicate-link');
for (let i = 0; i < scaled(50); i++) link(`../cr/mac${i % scaled(100)}.py`, `links/inside${i}.py`, 'indexed');
for (let i = 0; i < scaled(30); i++) link(path.join(outside, 'secret.py'), `out/file${i}.py`, FOLLOW ? 'indexed' : 'outside-workspace');
// With --follow-symlinks the first link to the outside folder is walked (its file is indexed), the rest are duplicates.
for (let i = 0; i < scaled(10); i++) link(outside, `out/dir${i}`, FOLLOW ? (i === 0 ? 'walked' : 'duplicate-link') : 'outside-workspace');
if (FOLLOW) expect.set('out/dir0/secret.py', 'indexed');
for (let i = 0; i < scaled(10); i++) link('/dev/zero', `out/zero${i}.py`, FOLLOW ? 'not-a-file' : 'outside-workspace');
for (let i = 0; i < scaled(5); i++) link('/etc/passwd', `out/passwd${i}.txt`, FOLLOW ? 'indexed' : 'outside-workspace');
// Ignored: a dependency tree and .gitignore'd files (counted as 'ignored', not logged).
put('.gitignore', '*.log\n', 'indexed');
for (let i = 0; i < scaled(50); i++) put(`node_modules/pkg/f${i}.js`, source('js'), undefined);
for (const p of [...expect.keys()]) if (p.startsWith('node_modules/')) expect.delete(p); // not listed: the folder is ignored
expect.set('node_modules', 'ignored');
for (let i = 0; i < scaled(30); i++) put(`logs/run${i}.log`, 'log line\n', 'ignored');
if (!isRoot) for (let i = 0; i < scaled(20); i++) { put(`locked/l${i}.py`, 'x = 1\n', 'unreadable'); fs.chmodSync(abs(`locked/l${i}.py`), 0); }

// ---- files swapped while the indexer runs (read last: zzzz/ sorts after everything) ----------------------------
const SWAPS = {
  fifo: [(p) => { fs.rmSync(p); execFileSync('mkfifo', [p]); }, 'not-a-file'],
  zero: [(p) => { fs.rmSync(p); fs.symlinkSync('/dev/zero', p); }, FOLLOW ? 'not-a-file' : 'outside-workspace'],
  dir: [(p) => { fs.rmSync(p); fs.mkdirSync(p); }, 'not-a-file'],
  gone: [(p) => fs.rmSync(p), 'vanished'],
  grown: [(p) => fs.writeFileSync(p, 'z = 3\n'.repeat(200_000)), 'too-large'],
  relinked: [(p) => { fs.rmSync(p); fs.symlinkSync('../cr/mac0.py', p); }, 'indexed'],
};
const swaps = [];
for (const [kind, [swap, outcome]] of Object.entries(SWAPS)) {
  for (let i = 0; i < scaled(10); i++) { put(`zzzz/${kind}${i}.py`, source('py'), outcome); swaps.push(() => swap(abs(`zzzz/${kind}${i}.py`))); }
}

// ---- ordinary source files fill the rest -----------------------------------------------------------------------
const exts = ['py', 'ts', 'js', 'c'];
for (let i = 0; entries < ENTRIES; i++) put(`src/m${i % 97}/f${i}.${pick(exts)}`, source(pick(exts)), 'indexed');

// ---- index it, swapping files once the walk is done ------------------------------------------------------------
const expectedIndexed = [...expect.values()].filter((v) => v === 'indexed').length;
console.log(`fuzz-tree: ${entries} entries in ${ws} (seed ${values.seed}, ${devices} devices${isRoot ? ', root: no unreadable files' : ''}), followSymlinks ${FOLLOW}`);
const args = [CLI, 'index', ws, '--index-dir', idx, '--verbose', '--workers', values.workers, ...(FOLLOW ? ['--follow-symlinks'] : [])];
const t0 = Date.now();
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '', stderr = '', swapped = false, peakKb = 0;
const sample = () => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (m) peakKb = Math.max(peakKb, Number(m[1]));
  } catch { /* exited */ }
};
const sampler = setInterval(sample, 100);
child.stdout.on('data', (d) => { stdout += d; });
child.stderr.on('data', (d) => {
  stderr += d;
  // The keyword pass begins (the walk is over): its first progress line, plain as stderr is a pipe.
  if (!swapped && /^(\[chunk\] 0\/|keyword index: 0 of )/m.test(stderr)) { swapped = true; for (const s of swaps) s(); }
});
const killer = setTimeout(() => { console.log(`FAIL: no exit after ${values.timeout} s (a hang)`); child.kill('SIGKILL'); }, Number(values.timeout) * 1000);
const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
clearTimeout(killer);
clearInterval(sampler);
const wallS = (Date.now() - t0) / 1000;
for (const s of servers) s.close();

// ---- check ------------------------------------------------------------------------------------------------------
const failures = [];
const fail = (m) => { if (failures.length < 40) failures.push(m); else if (failures.length === 40) failures.push('…'); };
if (code !== 0) fail(`exit code ${code}; stderr tail:\n${stderr.slice(-2000)}`);
if (!swapped) fail('the swaps never ran (no progress line for the keyword pass)');
const maxRss = Number(values['max-rss-mb']);
if (peakKb / 1024 > maxRss) fail(`peak RSS ${(peakKb / 1024).toFixed(0)} MB > ${maxRss} MB`);
for (const l of stderr.split('\n').filter((x) => x.startsWith('error:') || x.startsWith('warning:'))) fail(`unexpected: ${l}`);

const logged = new Map(); // path → reasons logged
for (const line of stderr.split('\n')) {
  const m = /^skip (.*?): ([a-z0-9-]+)(?: \(|$)/.exec(line);
  if (m) logged.set(m[1], [...(logged.get(m[1]) ?? []), m[2]]);
}
const db = new sqlite.Database(path.join(idx, 'index.sqlite'), { readOnly: true });
const rows = new Map(db.all('SELECT path, skip FROM files').map((r) => [r.path, r.skip]));
db.close();
for (const [p, want] of expect) {
  const got = logged.get(p) ?? [];
  if (want === 'indexed') {
    if (got.length) fail(`${p}: expected indexed, logged ${got.join(', ')}`);
    if (!rows.has(p) || rows.get(p) !== null) fail(`${p}: expected indexed, index row ${rows.has(p) ? `skip ${rows.get(p)}` : 'missing'}`);
  } else if (want === 'ignored' || want === 'walked') {
    if (got.length) fail(`${p}: expected ${want}, logged ${got.join(', ')}`);
  } else {
    if (got.length !== 1 || got[0] !== want) fail(`${p}: expected one '${want}' line, logged [${got.join(', ')}]`);
    if (rows.has(p) && rows.get(p) !== want) fail(`${p}: expected ${want}, index row skip ${rows.get(p)}`);
  }
}
for (const [p, reasons] of logged) if (!expect.has(p)) fail(`${p}: unexpected skip line(s) ${reasons.join(', ')}`);
for (const p of rows.keys()) if (!expect.has(p)) fail(`${p}: unexpected index row`);

// Summary: "indexed N files, C chunks; read R files this run; skipped: reason n, …; …"
const sm = /indexed (\d+) files, (\d+) chunks; read (\d+) files this run; skipped: ([^;]*);/.exec(stdout);
const logCounts = {};
for (const reasons of logged.values()) for (const r of reasons) logCounts[r] = (logCounts[r] ?? 0) + 1;
if (!sm) fail(`no summary line in stdout: ${stdout}`);
else {
  if (Number(sm[1]) !== expectedIndexed) fail(`summary says ${sm[1]} files indexed, expected ${expectedIndexed}`);
  const summaryCounts = Object.fromEntries(sm[4] === 'none' ? [] : sm[4].split(', ').map((x) => { const [r, n] = x.split(' '); return [r, Number(n)]; }));
  const ignored = summaryCounts.ignored ?? 0;
  delete summaryCounts.ignored;
  const key = (o) => JSON.stringify(Object.entries(o).sort());
  if (key(summaryCounts) !== key(logCounts)) fail(`summary counts ${key(summaryCounts)} != log lines ${key(logCounts)}`);
  const wantIgnored = [...expect.values()].filter((v) => v === 'ignored').length;
  if (ignored !== wantIgnored) fail(`summary says ignored ${ignored}, expected ${wantIgnored}`);
}
console.log(stdout.trim());
console.log(`fuzz-tree: rc ${code}, ${wallS.toFixed(1)} s, peak RSS ${(peakKb / 1024).toFixed(0)} MB (VmHWM), ${expectedIndexed} indexed, ` +
  `skip lines ${JSON.stringify(logCounts)}, ${failures.length ? 'FAILED' : 'all checks passed'}`);
for (const f of failures) console.log(`  - ${f}`);
if (!values.keep) {
  // chmod 000 files and deep chains go with the folder; FIFOs and sockets are plain entries to rm.
  fs.rmSync(tmp, { recursive: true, force: true });
} else console.log(`kept ${tmp}`);
process.exit(failures.length ? 1 : 0);
