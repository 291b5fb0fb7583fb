// npm run bench:scale -- --chunks N [--json] [--queries Q] [--noise C] [--dev-index DIR] [--set DIR] [--crossover]
//                        [--ef-sweep 128,256,512] [--segment-rows R] [--workers W] [--real FILE] [--exact-block-rows B]
//
// The vector index (extension/src/search/vectorIndex.ts) at N chunks, measured side by side in one run:
//   - the search space: the dev corpus' real chunk embeddings (embedded once with the shipped model; cached under
//     .test-cache/bench-scale/) and, past those, near-duplicates of them (each member vector plus its own Gaussian
//     noise that leaves cosine C with its original, default 0.9, seeded by the chunk), with the dev corpus' own
//     members per chunk, so N chunks hold ~2.5 N int8 vectors of 256 dims as the extension stores them;
//   - queries: the dev set's real queries, embedded by the shipped model;
//   - p50/p99 query ms (one thread, top 10 chunks), recall@10 against the exact int8 scan of the same rows,
//     RSS after the build, and save → searchable: one file's chunks and vectors committed to a real store, the
//     store's log applied to the N-chunk index (VectorSync.catchUp) and the first query finding them (the encoder
//     time is not included: it is the same at any N).
// --crossover [--sizes 25,100,4k] times the exact scan and HNSW over 35 to ~80k vectors instead (EXACT_MAX_ROWS).
// --ef-sweep E1,E2,… builds the graph once, saves it, and loads it again under each search beam (usearch's
// expansion_search) in turn: p50/p99 and recall@10 per beam, against the same exact truth, in one run.
// --segment-rows R: rows per graph segment (default GRAPH_MAX_ROWS). --workers W builds the segments W at a time,
// each in a worker thread exactly as the index folds rows into it (one thread, the same rows in the same order:
// the same graph, byte for byte; vectorIndex.test.ts checks that a batched fold equals one add), then loads them
// as a saved index is loaded; without it the index is built through VectorIndex.addRows as the extension does.
// It also prints how many of 2,000 sampled chunks are in the top 10 for their own vector (rows a graph cannot reach
// are not found even so).
// --no-truth skips the exact scan and recall (latency, RSS and save → searchable only); the exact scan reads the
// rows in blocks of --exact-block-rows (default 2M), all queries at once a block.
// --real FILE reads the real data from FILE: the cache's format, or with `.i8.bin` its vectors as int8 rows (the
// GPU machine's copy: `--write-i8 FILE` writes it from the cache), each made a unit vector again. --bundle only
// writes dist/bench-scale.mjs, the one-file bundle (scripts/gpu/scale.sh pack).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { EXACT_MAX_ROWS, GRAPH_MAX_ROWS, HNSW, loadUsearch, MEMBER_SLOTS, quantize, VectorIndex } from '../extension/src/search/vectorIndex.ts';
import { IndexStore } from '../extension/src/index/store.ts';
import { VectorSync } from '../extension/src/search/vectorSync.ts';
import { mulberry32 } from '../kernels/runtime/random.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const DIM = 256;
let t0 = Date.now(), built = 0;
const a = isMainThread ? parseArgs({ options: {
  chunks: { type: 'string', default: '100k' }, json: { type: 'boolean' }, queries: { type: 'string', default: '800' },
  noise: { type: 'string', default: '0.9' }, 'dev-index': { type: 'string' }, set: { type: 'string', default: '/tmp/evaldev' },
  crossover: { type: 'boolean' }, sizes: { type: 'string' }, 'max-build-s': { type: 'string' },
  // to explore HNSW settings (the defaults are the shipped ones, vectorIndex.ts HNSW)
  ef: { type: 'string' }, 'ef-add': { type: 'string' }, m: { type: 'string' }, 'ef-sweep': { type: 'string' },
  'segment-rows': { type: 'string' }, workers: { type: 'string' }, real: { type: 'string' }, 'write-i8': { type: 'string' }, 'exact-block-rows': { type: 'string', default: '2M' }, 'no-truth': { type: 'boolean' },
  bundle: { type: 'boolean' } } }).values : workerData;
if (a['no-truth'] && a['ef-sweep']) throw new Error('--ef-sweep measures recall against the exact truth: not with --no-truth');
if (a.ef) HNSW.expansionSearch = Number(a.ef);
if (a['ef-add']) HNSW.expansionAdd = Number(a['ef-add']);
if (a.m) HNSW.connectivity = Number(a.m);
const count = (s) => { const m = /^(\d+(?:\.\d+)?)([kM]?)$/.exec(s); if (!m) throw new Error(`not a count: ${s}`); return Math.round(Number(m[1]) * { '': 1, k: 1e3, M: 1e6 }[m[2]]); };
const u = loadUsearch().mod;
if (!u) throw new Error(loadUsearch().why);
const log = (m) => { if (!a.json) console.log(m); else process.stderr.write(`${m}\n`); };

const EXACT_BLOCK_ROWS = count(a['exact-block-rows']);
const segmentRows = a['segment-rows'] ? count(a['segment-rows']) : GRAPH_MAX_ROWS;
const real = loadReal();
if (!isMainThread) workerMain();
else log(`real data: ${real.members.length} dev chunks, ${real.rows} vectors (${(real.rows / real.members.length).toFixed(2)} a chunk), ${real.queries.length / DIM} queries`);

/** Chunk j's int8 rows: the real chunk j (mod R), past R with noise; handed to `emit` one chunk at a time. Each
 * near-duplicate row gets its own Gaussian noise (seeded by the chunk): a noise table shared between rows, as this
 * bench first used (4,096 vectors, two summed per row), gave unrelated chunks a common random component (rows
 * sharing a table vector had cosine ~0.1 more) that the exact top 10 then rewarded, a structure real code does not
 * have (docs/scale.md). */
function makeChunks(from, to, emit) {
  const R = real.members.length, cos = Number(a.noise);
  const sigma = Math.sqrt((1 / (cos * cos) - 1) / DIM); // |noise|^2 = DIM sigma^2 on a unit vector gives cosine `cos`
  const w = new Float32Array(DIM);
  for (let j = from; j < to; j++) {
    const b = j % R, n = real.members[b], rand = mulberry32(j + 1), q = new Int8Array(n * DIM);
    for (let m = 0; m < n; m++) {
      const v = real.vecs.subarray((real.start[b] + m) * DIM, (real.start[b] + m + 1) * DIM);
      if (j < R) w.set(v);
      else {
        for (let d = 0; d < DIM; d += 2) { // Box-Muller: two normal deviates a pair of uniforms
          const r = sigma * Math.sqrt(-2 * Math.log(1 - rand())), t = 2 * Math.PI * rand();
          w[d] = v[d] + r * Math.cos(t);
          w[d + 1] = v[d + 1] + r * Math.sin(t);
        }
      }
      quantize(w, q.subarray(m * DIM, (m + 1) * DIM));
    }
    emit(j + 1, n, q); // chunk ids from 1
  }
}

/** Chunks a build() batch: each batch (~49k rows) is more than the fresh segment holds, so each is folded into the
 * graph as it comes, one add a batch and segment (buildSegment replays that). */
const BATCH_CHUNKS = 20000;

/** Builds a VectorIndex of chunks [0, n) in batches. */
function build(n, exactMaxRows = EXACT_MAX_ROWS) {
  if (a.workers && rowsBefore(n) > exactMaxRows) return buildInWorkers(n);
  const index = new VectorIndex(u, DIM, exactMaxRows, segmentRows);
  for (let from = 0; from < n; from += BATCH_CHUNKS) {
    const ids = [], ns = [], parts = [];
    makeChunks(from, Math.min(n, from + BATCH_CHUNKS), (id, k, q) => { ids.push(id); ns.push(k); parts.push(q); });
    const q = new Int8Array(ns.reduce((s, k) => s + k, 0) * DIM);
    let o = 0;
    for (const p of parts) { q.set(p, o); o += p.length; }
    index.addRows(ids, ns, q);
    built = from + ids.length;
    if (a['max-build-s'] && Date.now() - t0 > Number(a['max-build-s']) * 1000) { log(`  build stopped by --max-build-s at ${built} chunks`); break; }
    if (n >= 200000 && (from / BATCH_CHUNKS) % 10 === 0) log(`  built ${from + ids.length} / ${n} chunks (${index.rows} vectors) at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  index.fold(); // the last rows too into the graph (HNSW mode): the queries time the graph, not its fresh segment
  return index;
}

function timeQueries(index, nq) {
  const times = [];
  for (let i = 0; i < nq; i++) {
    const q = query(i);
    const t = process.hrtime.bigint();
    index.search(q, 10);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((x, y) => x - y);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] };
}

async function scale(n) {
  t0 = Date.now();
  let index = await build(n);
  if (built < n) n = built; // --max-build-s: measured on the chunks built
  const buildS = (Date.now() - t0) / 1000, vectors = index.rows;
  log(`built ${n} chunks (${index.rows} vectors, ${index.mode}) in ${buildS.toFixed(1)} s`);
  const nq = Number(a.queries);
  timeQueries(index, Math.min(50, nq)); // warm
  const lat = timeQueries(index, nq);
  const rss = process.memoryUsage().rss / 2 ** 20;
  const truth = a['no-truth'] ? undefined : exactTruth(index, n, nq); // --no-truth: latency, RSS and save only
  const recall = a['no-truth'] ? null : recallAt10(index, truth);
  const self = index.mode === 'hnsw' ? selfFound(index, n) : 1;
  log(`in the top 10 for their own vector: ${self} of 2,000 sampled chunks`);
  if (a['ef-sweep'] && index.mode === 'hnsw') efSweep(index, truth, nq);
  const save = await saveToSearchable(index);
  const out = { chunks: n, vectors, mode: index.mode, hnsw: { ...HNSW }, p50_ms: round(lat.p50), p99_ms: round(lat.p99), recall_at_10: recall === null ? null : round(recall, 4),
    self_found: round(self, 4), segments: index.graphs.length, segment_rows: segmentRows, save_to_searchable_ms: round(save.p50), save_to_searchable_max_ms: round(save.max), rss_mb: Math.round(rss), build_s: round(buildS, 1),
    queries: nq, near_duplicate_cosine: Number(a.noise), exact_max_rows: EXACT_MAX_ROWS, machine: machine() };
  if (a.json) console.log(JSON.stringify(out));
  else console.log(`\n${n} chunks, ${vectors} vectors (${index.mode}, ${JSON.stringify(HNSW)}); build ${out.build_s} s\n` +
    `query p50 ${out.p50_ms} ms, p99 ${out.p99_ms} ms (${nq} queries, one thread, top 10)\n` +
    `recall@10 against the exact scan ${out.recall_at_10 ?? 'not measured (--no-truth)'}; ${out.segments} graph segments of at most ${segmentRows} rows\n` +
    `in the top 10 for their own vector: ${out.self_found} of 2,000 sampled chunks\nsave -> searchable ${out.save_to_searchable_ms} ms (median of 20 saves, max ${out.save_to_searchable_max_ms} ms)\n` +
    `RSS ${out.rss_mb} MB after the build\nmachine: ${out.machine}`);
}

/** The exact int8 scan's top 10 chunks (by best member) for each query, over the same rows as the index: the rows
 * in blocks of --exact-block-rows (default 2M; one typed array cannot hold 10M chunks' 25M rows), all queries at once per block,
 * each block's best `want` rows kept and merged by distance (the global best `want` are among them). */
function exactTruth(index, n, nq) {
  if (index.mode === 'exact') return undefined;
  const q8 = new Int8Array(nq * DIM);
  for (let i = 0; i < nq; i++) quantize(query(i), q8.subarray(i * DIM, (i + 1) * DIM));
  const want = 64, best = Array.from({ length: nq }, () => []); // [distance, chunk id] per query
  let flat = new Int8Array(EXACT_BLOCK_ROWS * DIM), key = new Float64Array(EXACT_BLOCK_ROWS), r = 0, blocks = 0;
  const scan = () => {
    if (!r) return;
    const k = Math.min(want, r), [offsets, distances] = u.exactSearch(flat.subarray(0, r * DIM), q8, DIM, k, 'cos', 0);
    for (let i = 0; i < nq; i++) for (let j = 0; j < k; j++) best[i].push([distances[i * k + j], key[Number(offsets[i * k + j])]]);
    for (const b of best) { b.sort((x, y) => x[0] - y[0]); b.length = Math.min(b.length, want); }
    r = 0;
    if (++blocks % 4 === 0) log(`  exact scan: ${blocks} blocks of ${EXACT_BLOCK_ROWS} rows at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  };
  makeChunks(0, n, (id, k, q) => {
    if (r + k > EXACT_BLOCK_ROWS) scan();
    flat.set(q, r * DIM);
    for (let m = 0; m < k; m++) key[r + m] = id;
    r += k;
  });
  scan();
  flat = key = undefined;
  const truths = best.map((b) => [...new Set(b.map((x) => x[1]))].slice(0, 10));
  const short = truths.filter((t) => t.length < 10).length;
  if (short) throw new Error(`exact truth: ${short} queries with fewer than 10 distinct chunks in their best ${want} rows`);
  // How much the near-duplicates' noise decides the exact top 10: the dev chunks (j - 1 mod R) behind its 10 chunks
  const R = real.members.length;
  const bases = truths.reduce((s, t) => s + new Set(t.map((id) => (id - 1) % R)).size, 0) / truths.length;
  log(`exact top 10: ${bases.toFixed(2)} distinct dev chunks behind the 10 (the rest are near-duplicates of the same ones)`);
  return truths;
}

/** Recall@10 of the index's top 10 chunks against the exact scan's (1 in exact mode: it is the scan). */
function recallAt10(index, truths) {
  if (!truths) return 1;
  let hit = 0;
  truths.forEach((truth, i) => {
    const got = new Set(index.search(query(i), 10).map((h) => h.id));
    hit += truth.filter((id) => got.has(id)).length;
    if (i % 200 === 199) log(`  recall after ${i + 1} queries: ${(hit / ((i + 1) * 10)).toFixed(4)}`);
  });
  return hit / (truths.length * 10);
}

/** The built graph under each search beam: saved once, loaded again per beam; latency and recall side by side. */
function efSweep(index, truths, nq) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ef-'));
  index.fold();
  const files = index.graphs.map((seg, i) => { const file = path.join(dir, `seg-${i}.usearch`); seg.g.save(file); return { file, name: `seg-${i}`, sha1: '' }; });
  const shipped = HNSW.expansionSearch, rows = [];
  for (const ef of a['ef-sweep'].split(',').map(Number)) {
    HNSW.expansionSearch = ef;
    const again = new VectorIndex(u, DIM, 0, segmentRows);
    again.loadGraphs(files, index.members);
    timeQueries(again, Math.min(50, nq));
    const lat = timeQueries(again, nq);
    const row = { ef, p50_ms: round(lat.p50), p99_ms: round(lat.p99), recall_at_10: round(recallAt10(again, truths), 4) };
    rows.push(row);
    log(`  beam ${ef}: p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, recall@10 ${row.recall_at_10}`);
  }
  HNSW.expansionSearch = shipped;
  fs.rmSync(dir, { recursive: true, force: true });
  if (a.json) console.log(JSON.stringify({ ef_sweep: rows }));
  else console.log(`beam sweep (same graph, same truth):\n${rows.map((r) => `  ef ${r.ef}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, recall@10 ${r.recall_at_10}`).join('\n')}`);
}

const query = (i) => real.queries.subarray((i % (real.queries.length / DIM)) * DIM, (i % (real.queries.length / DIM) + 1) * DIM);

/** One file of 6 chunks (1-4 members) saved 20 times over: store commit, log -> index, first query finds it. */
async function saveToSearchable(index) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const logger = { info() {}, warn: (m) => log(m), error: (m) => log(m) };
  const store = await IndexStore.open(path.join(dir, 'index.sqlite'), logger);
  store.useEmbeddingModel('bench');
  const sync = VectorSync.follow(store, index, 'bench', logger);
  const times = [];
  for (let s = 0; s < 20; s++) {
    const chunks = [], vecs = [];
    for (let c = 0; c < 6; c++) {
      const k = 1 + ((s + c) % 4);
      const parts = k > 1 ? Array.from({ length: k }, (_, m) => [c * 100 + m * 10, c * 100 + m * 10 + 9]) : undefined;
      chunks.push({ path: 'src/edited.ts', startLine: c * 10 + 1, endLine: c * 10 + 9, startOffset: c * 100, endOffset: c * 100 + 99,
        kind: 'function', name: `f${c}`, snippet: `function f${c}() {}`, ...(parts ? { parts } : {}),
        tokens: Array.from({ length: k }, () => ({ name: `f${c}`, path: 'src edited', body: `save ${s}`, context: '' })) });
      const v = new Float32Array(k * DIM); // [k, DIM]: deterministic, unlike any corpus vector
      for (let m = 0; m < k; m++) for (let d = 0; d < DIM; d++) v[m * DIM + d] = Math.sin(s * 131 + c * 17 + m * 7 + d * 0.37);
      vecs.push(v);
    }
    const probe = vecs[3].subarray(0, DIM);
    const t = process.hrtime.bigint();
    store.transaction(() => store.putFile('src/edited.ts', `h${s}`, s, 600, chunks));
    const jobs = store.chunksToEmbed(0, 100);
    store.putEmbeddings(jobs, jobs.map((j) => vecs[chunks.findIndex((c) => c.startOffset === j.startOffset)]), DIM);
    sync.catchUp();
    const top = index.search(probe, 1)[0];
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    const want = jobs.find((j) => j.startOffset === 300).id;
    if (top?.id !== want) throw new Error(`save ${s}: the saved chunk is not found first (got ${top?.id}, want ${want})`);
  }
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  times.sort((x, y) => x - y);
  return { p50: times[10], max: times[19] };
}

/** Exact scan and HNSW over the same chunks, each query timed on both in turn (so load on a shared machine hits
 * both alike): the size from which HNSW answers faster is EXACT_MAX_ROWS. */
function crossover() {
  const rows = [];
  const sizes = a.sizes ? a.sizes.split(',').map(count) : [25, 50, 100, 200, 400, 1000, 2000, 4000, 8000, 15000, 30000];
  for (const n of sizes) {
    const ex = build(n, Infinity), hn = build(n, 0), te = [], th = [];
    for (let i = 0; i < 600; i++) {
      const q = query(i);
      for (const [idx, out] of i % 2 ? [[ex, te], [hn, th]] : [[hn, th], [ex, te]]) {
        const t = process.hrtime.bigint();
        idx.search(q, 10);
        out.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    const p50 = (t) => t.sort((x, y) => x - y)[t.length >> 1];
    rows.push({ chunks: n, vectors: ex.rows, exact_p50_ms: round(p50(te), 4), hnsw_p50_ms: round(p50(th), 4) });
    log(`${String(n).padStart(6)} chunks ${String(ex.rows).padStart(7)} vectors: exact p50 ${round(p50(te), 4)} ms, HNSW p50 ${round(p50(th), 4)} ms`);
  }
  const first = rows.find((r, i) => rows.slice(i).every((x) => x.hnsw_p50_ms < x.exact_p50_ms));
  const out = { crossover_vectors: first?.vectors ?? null, rows, machine: machine() };
  if (a.json) console.log(JSON.stringify(out));
  else console.log(`HNSW is faster from ${first ? `${first.vectors} vectors (${first.chunks} chunks)` : 'none of these sizes'}; EXACT_MAX_ROWS is ${EXACT_MAX_ROWS}\nmachine: ${out.machine}`);
}

/** The dev corpus' chunk vectors and its queries' vectors, from the cache or built once (about 14 min here). */
function loadReal() {
  const cacheDir = path.join(REPO, '.test-cache', 'bench-scale');
  const file = a.real ?? path.join(cacheDir, 'dev-vectors.bin'), i8 = file.endsWith('.i8.bin');
  if (!fs.existsSync(file) && a.real) throw new Error(`--real ${file}: no such file`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    const corpus = path.join(a.set, 'corpus');
    if (!fs.existsSync(corpus)) throw new Error(`no dev corpus at ${corpus}: mkdir -p /tmp/evaldev && tar xJf /work/shared/eval/dev/corpus.tar.xz -C /tmp/evaldev && cp /work/shared/eval/dev/queries.jsonl /tmp/evaldev/`);
    const idx = a['dev-index'] ?? path.join(os.tmpdir(), `infinilens-eval-${createHash('sha1').update(path.resolve(corpus)).digest('hex').slice(0, 12)}`);
    log(`embedding the dev corpus into ${idx} (once; resumes where it stopped)`);
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: REPO, stdio: 'inherit' });
    execFileSync(process.execPath, ['dist/cli.js', 'index', corpus, '--embed', '--index-dir', idx], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/bench-scale-data.ts', idx, path.join(a.set, 'queries.jsonl'), file], { cwd: REPO, stdio: 'inherit' });
  }
  const buf = fs.readFileSync(file);
  const head = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 12));
  const [chunks, rows, nq] = head;
  let o = 12;
  const take = (n, T) => { const x = new T(buf.buffer.slice(buf.byteOffset + o, buf.byteOffset + o + n * T.BYTES_PER_ELEMENT)); o += n * T.BYTES_PER_ELEMENT; return x; };
  const members = take(chunks, Uint32Array), vecs = i8 ? unitRows(take(rows * DIM, Int8Array)) : take(rows * DIM, Float32Array);
  const queries = take(nq * DIM, Float32Array);
  const start = new Uint32Array(chunks);
  for (let c = 1; c < chunks; c++) start[c] = start[c - 1] + members[c - 1];
  return { members, vecs, queries, start, rows };
}

/** int8 rows as unit float vectors. */
function unitRows(q) {
  const v = new Float32Array(q.length);
  for (let r = 0; r < q.length / DIM; r++) {
    let n = 0;
    for (let d = 0; d < DIM; d++) n += q[r * DIM + d] ** 2;
    n = Math.sqrt(n) || 1;
    for (let d = 0; d < DIM; d++) v[r * DIM + d] = q[r * DIM + d] / n;
  }
  return v;
}

function round(x, d = 3) { return Math.round(x * 10 ** d) / 10 ** d; }

function machine() {
  const c = os.cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, load ${os.loadavg().map((x) => x.toFixed(1)).join('/')}, node ${process.version}`;
}

/** Rows of chunks [0, n): whole cycles over the dev corpus' chunks, then the first n mod R of them. */
function rowsBefore(n) {
  const R = real.members.length, b = n % R;
  return Math.floor(n / R) * real.rows + (b === 0 ? 0 : real.start[b - 1] + real.members[b - 1]);
}

/** The chunk (0-based) holding row r and r's member in it. */
function rowAt(r) {
  const R = real.members.length, cycle = Math.floor(r / real.rows), rem = r - cycle * real.rows;
  let lo = 0, hi = R - 1; // the last b with start[b] <= rem
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (real.start[mid] <= rem) lo = mid; else hi = mid - 1; }
  return { j: cycle * R + lo, m: rem - real.start[lo] };
}

/** Segment s of an n-chunk index as build() makes it through VectorIndex.fold: rows [s R, (s + 1) R) in row order,
 * added on one thread, one add per build() batch (usearch draws node levels afresh in each add, so the same rows in
 * other batches make another graph), saved to `file`. */
function buildSegment(n, s, file) {
  const total = rowsBefore(n), from = s * segmentRows, to = Math.min(total, from + segmentRows);
  const g = new u.CompiledIndex(DIM, 'cos', 'i8', HNSW.connectivity, HNSW.expansionAdd, HNSW.expansionSearch, false);
  const keys = new BigUint64Array(segmentRows), rows = new Int8Array(segmentRows * DIM);
  let filled = 0, nextBatch = BATCH_CHUNKS * (Math.floor(rowAt(from).j / BATCH_CHUNKS) + 1); // the batch after from's
  const flush = () => { if (filled) g.add(keys.subarray(0, filled), rows.subarray(0, filled * DIM), 1); filled = 0; };
  let { j, m } = rowAt(from);
  for (let r = from; r < to; j++, m = 0) {
    if (j === nextBatch) { flush(); nextBatch += BATCH_CHUNKS; }
    makeChunks(j, j + 1, (id, k, q) => {
      for (; m < k && r < to; m++, r++) {
        keys[filled] = BigInt(id * MEMBER_SLOTS + m);
        rows.set(q.subarray(m * DIM, (m + 1) * DIM), filled * DIM);
        filled++;
      }
    });
  }
  flush();
  g.save(file);
  return g.size();
}

/** Builds the segments of an n-chunk index in `--workers` worker threads, then loads them as a saved index. */
async function buildInWorkers(n) {
  const total = rowsBefore(n), segments = Math.ceil(total / segmentRows);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-seg-'));
  const files = Array.from({ length: segments }, (_, s) => path.join(dir, `seg-${s}.usearch`));
  let next = 0, done = 0;
  const script = await bundled();
  await Promise.all(Array.from({ length: Math.min(Number(a.workers), segments) }, () => new Promise((resolve, reject) => {
    const w = new Worker(script, { workerData: { ...a, n } });
    const give = () => { if (next < segments) w.postMessage({ s: next, file: files[next++] }); else { w.terminate(); resolve(); } };
    w.on('message', (msg) => { done++; log(`  segment ${msg.s}: ${msg.size} rows (${done} / ${segments} at ${((Date.now() - t0) / 1000).toFixed(0)} s)`); give(); });
    w.on('error', reject);
    give();
  })));
  const members = new Map();
  for (let j = 0; j < n; j++) members.set(j + 1, real.members[j % real.members.length]);
  const index = new VectorIndex(u, DIM, EXACT_MAX_ROWS, segmentRows);
  index.loadGraphs(files.map((file) => ({ file, name: path.basename(file), sha1: '' })), members);
  fs.rmSync(dir, { recursive: true, force: true });
  built = n;
  return index;
}

/** This script as one ES module (dist/bench-scale.mjs): worker threads start from it (tsx's loader does not reach
 * them), and it runs where only Node and the usearch package are (the GPU machine's CPU). */
async function bundled() {
  if (import.meta.url.endsWith('/dist/bench-scale.mjs')) return new URL(import.meta.url);
  const out = path.join(REPO, 'dist', 'bench-scale.mjs');
  const { build } = await import('esbuild');
  await build({ entryPoints: [path.join(REPO, 'scripts', 'bench-scale.mjs')], outfile: out, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', external: ['usearch', 'node-gyp-build', 'esbuild', 'onnxruntime-node'], logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path';\n" +
      'const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);' } });
  return new URL(`file://${out}`);
}

function workerMain() {
  parentPort.on('message', ({ s, file }) => parentPort.postMessage({ s, size: buildSegment(workerData.n, s, file) }));
}

/** Of 2,000 chunks spread over the index, how many its search returns in the top 10 when asked with their own first
 * row (in the top 10, not first: the dev corpus holds identical chunks, whose rows tie). */
function selfFound(index, n) {
  const sample = Math.min(2000, n);
  let found = 0;
  for (let i = 0; i < sample; i++) {
    const j = Math.floor((i * n) / sample);
    makeChunks(j, j + 1, (id, k, q) => { if (index.search(Float32Array.from(q.subarray(0, DIM)), 10).some((h) => h.id === id)) found++; });
  }
  return found / sample;
}

/** The cache with its vectors as int8 rows (one scale a row dropped: they are unit vectors): `--real` reads it. */
function writeI8(out) {
  const q = new Int8Array(real.rows * DIM);
  for (let r = 0; r < real.rows; r++) quantize(real.vecs.subarray(r * DIM, (r + 1) * DIM), q.subarray(r * DIM, (r + 1) * DIM));
  fs.writeFileSync(out, Buffer.concat([Buffer.from(Uint32Array.of(real.members.length, real.rows, real.queries.length / DIM).buffer),
    Buffer.from(real.members.buffer, real.members.byteOffset, real.members.byteLength), Buffer.from(q.buffer),
    Buffer.from(real.queries.buffer, real.queries.byteOffset, real.queries.byteLength)]));
  log(`wrote ${out}: ${real.members.length} chunks, ${real.rows} int8 rows, ${real.queries.length / DIM} queries`);
}

if (!isMainThread) { /* workerMain answers messages */ }
else if (a['write-i8']) writeI8(a['write-i8']);
else if (a.bundle) log(`wrote ${(await bundled()).pathname}`);
else if (a.crossover) crossover(); else await scale(count(a.chunks));
