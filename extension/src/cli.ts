// Headless CLI over the same core the extension uses (bundled to dist/cli.js):
//   index <folder> [--index-dir D] [--exclude GLOB]... [--workers N|auto] [--timings]   progress on stderr, summary on stdout
//   search "<query>" --workspace <folder> [--json] [--limit N] [--mode M] [--index-dir D]
//   eval --set <dir> --mode lexical --out <run.jsonl> [--limit N] [--index-dir D]
//   eval-fusion --set <dir> --grid grid.json --out-dir D            one run file per hybrid fusion setting
//   bench-query --workspace <folder> [--queries FILE] [--rounds N] [--index-dir D]
//   digest --workspace <folder> [--index-dir D]                   fingerprint of the stored index (crash test)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { IndexProgress, IndexStats, Logger, SearchHit, SearchMode } from './core/api.js';
import { WorkspaceIndex, type UpdateTimings } from './search/workspaceIndex.js';
import type { LexicalWorkers } from './index/chunkPool.js';
import { Encoder } from '../../kernels/runtime/encoder.js';
import { hasModel, modelTag } from '../../kernels/runtime/modelFiles.js';
import type { ProviderSetting } from '../../kernels/runtime/providers.js';
import { benchOne, ONE_COMMAND, runBench } from './cliBench.js';
import { runProbeMemory } from './cliProbeMemory.js';
import { fuseHybrid, HYBRID_DEFAULTS, hybridDepths, resolveFusion, type FusionSettings, type Ranked } from './search/hybrid.js';
import { LEXICAL_WEIGHTS, resolveLexicalWeights } from './search/lexicalRanker.js';
import { IndexBusyError, IndexUnusableError, type ColumnWeights } from './index/store.js';
import { parseShard, type Shard } from './index/shards.js';
import { printDigest, runMerge } from './cliScale.js';

const USAGE = `usage:
  infini-lens index <folder> [--index-dir DIR] [--exclude GLOB]... [--verbose] [--embed] [--workers N|auto] [--timings]
                     [--follow-symlinks]
  infini-lens search "<query>" --workspace <folder> [--json] [--limit N] [--mode lexical|dense|hybrid]
  infini-lens similar <file> --workspace <folder> --lines START-END [--limit N] [--json]
  infini-lens eval --set <dir> --mode lexical|dense|hybrid --out <run.jsonl> [--limit N] [--index-dir DIR]
  infini-lens eval-fusion --set <dir> --grid grid.json --out-dir DIR [--limit N] [--index-dir DIR]
  infini-lens bench-query --workspace <folder> [--queries queries.jsonl] [--rounds N]
  infini-lens bench [--sizes 4k,64k,1M] [--providers cpu,webgpu] [--graphs encoder,encoder_dense]
  infini-lens digest --workspace <folder> [--index-dir DIR]
  infini-lens probe-memory --task passkey|code --segments N --trials T [--ablate-memory] [--json]   (--help: its options)
  infini-lens index <folder> --shard I/N --index-dir DIR        one shard of a sharded build (docs/scale.md)
  infini-lens merge <shard-dir>... --index-dir DIR              join the shards into one index
indexing options (every command that updates the index):
  --workers N|auto     chunk worker threads for the lexical pass (default auto: cores - 1, at most 12, on more
                       than 2 cores and >= 128 files to read; 0 = read files in the main thread)
  --timings            print where index spent its time (walk, lexical pass, embedding, tokens/s); also --verbose
  --follow-symlinks    also follow links whose real target is outside the folder (default: skipped and logged
                       as outside-workspace; nothing outside the folder is read)
semantic options (dense/hybrid, similar, index --embed):
  --embed-batch N      chunks per encode request (default 48 on the CPU, 512 on a GPU provider)
  --model DIR          the encoder (default: kernels/model of this build)
  --provider P         auto|webgpu|cuda|cpu (default auto)
  --memory on|off      build the workspace memory with the whole-file encoder (default off: slow on a CPU)
  --query-memory on|off  queries read the workspace memory (default off; needs --memory on)
  --fusion rrf|score   hybrid fusion: weighted reciprocal rank or weighted min-max normalised scores
  --dense-weight W     the dense side's weight in [0, 1] (lexical gets 1 - W)
  --rrf-k K            k of reciprocal-rank fusion
  --dense-only N|all   how many of the dense side's best may join when lexical did not find them
                       (defaults, from search/hybrid.ts: ${describeFusion(HYBRID_DEFAULTS)})
  --lexical-weights name=W,path=W,body=W,context=W   bm25 column weights (any subset; defaults in
                       search/lexicalRanker.ts: ${Object.entries(LEXICAL_WEIGHTS).map(([k, v]) => `${k}=${v}`).join(',')})`;

const MODES: readonly SearchMode[] = ['lexical', 'dense', 'hybrid'];

import { checkIndexDir, checkQuery, checkStorageDir, isUsageError, USAGE_HINT, UsageError, usageLine } from './cliArgs.js';
import { cliVersion, commandHelp, commandOf, EXIT_CODES, usageFor } from './cliHelp.js';
import { progressReporter } from './cliProgress.js';
import { kindLabel } from './core/labels.js';

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'probe-memory') return runProbeMemory(argv.slice(1), defaultModelDir()); // its own options
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      workspace: { type: 'string' }, 'index-dir': { type: 'string' }, exclude: { type: 'string', multiple: true },
      json: { type: 'boolean' }, limit: { type: 'string' }, mode: { type: 'string' }, set: { type: 'string' },
      out: { type: 'string' }, queries: { type: 'string' }, rounds: { type: 'string' }, verbose: { type: 'boolean' },
      model: { type: 'string' }, provider: { type: 'string' }, memory: { type: 'string' }, 'query-memory': { type: 'string' },
      embed: { type: 'boolean' }, lines: { type: 'string' }, sizes: { type: 'string' }, providers: { type: 'string' },
      graphs: { type: 'string' }, fusion: { type: 'string' }, 'dense-weight': { type: 'string' }, 'rrf-k': { type: 'string' },
      'dense-only': { type: 'string' }, 'lexical-weights': { type: 'string' }, grid: { type: 'string' }, 'out-dir': { type: 'string' },
      workers: { type: 'string' }, timings: { type: 'boolean' }, 'embed-batch': { type: 'string' }, shard: { type: 'string' },
      help: { type: 'boolean', short: 'h' }, 'follow-symlinks': { type: 'boolean' }, version: { type: 'boolean', short: 'V' },
    },
  });
  values['index-dir'] = checkIndexDir(values['index-dir']);
  const [command, arg] = positionals;
  if (values.version) return void console.log(cliVersion());
  if (values.help || !command) return void console.log(values.help && command ? commandHelp(command, USAGE) : `${USAGE}\n${EXIT_CODES}`);
  const logger = stderrLogger(values.verbose ?? false);
  const limit = values.limit ? positiveInt(values.limit, '--limit') : undefined;
  const mode = parseMode(values.mode);
  const semantic: SemanticFlags = {
    modelDir: values.model ? path.resolve(values.model) : defaultModelDir(), provider: parseProvider(values.provider),
    memory: onOff(values.memory, '--memory', false), queryMemory: onOff(values['query-memory'], '--query-memory', false),
    embedBatch: values['embed-batch'] ? positiveInt(values['embed-batch'], '--embed-batch') : undefined,
  };
  const lexicalWorkers = parseWorkers(values.workers);
  const fusion = parseFusion(values.fusion, values['dense-weight'], values['rrf-k'], values['dense-only']);
  const lexicalWeights = parseLexicalWeights(values['lexical-weights']);
  if (semantic.queryMemory && !semantic.memory) throw new UsageError('--query-memory on needs --memory on');
  // The encoder is opened only for commands that need it, once, and closed on exit.
  let shard: Shard | undefined;
  try { shard = values.shard === undefined ? undefined : parseShard(values.shard); } catch (e) { throw new UsageError((e as Error).message); }
  if (shard && (command !== 'index' || !values['index-dir'])) throw new UsageError('--shard goes with index <folder> --index-dir DIR');
  const open = async (folder: string, indexDir?: string, wantSemantic = mode !== 'lexical') => {
    const storageDir = indexDir ?? path.join(folder, '.infinilens');
    checkStorageDir(storageDir);
    const index = await WorkspaceIndex.open(folder, {
      storageDir, excludeGlobs: values.exclude ?? [], logger, fusion, lexicalWeights, lexicalWorkers,
      access: command === 'index' ? 'write' : 'shared', // only `index` insists on writing; the others read a busy or read-only index
      followSymlinks: values['follow-symlinks'] ?? false,
      ...(shard ? { shard } : {}),
    });
    try {
      if (wantSemantic || semantic.memory) await attachEncoder(index, semantic, logger, command !== 'index');
    } catch (err) {
      await index.close(); // releases the writer lock
      throw err;
    }
    return index;
  };

  switch (command) {
    case 'index': {
      const folder = requireDir(arg, 'index <folder>');
      const index = await open(folder, values['index-dir'], values.embed ?? false);
      const t0 = Date.now();
      const tokens0 = await encoderTokens();
      // A run stopped from outside (timeout's SIGTERM, Ctrl-C) still says where its time went.
      const onStop = (sig: NodeJS.Signals) => {
        void (async () => {
          // The encoder answers after the request it is running (about a second on a GPU); timeout -k 5 leaves 5 s.
          const tokens = await Promise.race([encoderTokens(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 4000))]);
          const t = index.lastTimings();
          process.stdout.write(`stopped by ${sig} during the ${t.phase} pass after ${((Date.now() - t0) / 1000).toFixed(2)} s; ` +
            `${timingLine(t, tokens === undefined ? undefined : tokens - tokens0)}\n`);
          process.exit(sig === 'SIGINT' ? 130 : 143);
        })();
      };
      if (values.timings || values.verbose) { process.once('SIGTERM', onStop); process.once('SIGINT', onStop); }
      const stats = await index.update(progressPrinter());
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      const semLine = semanticSummary(index);
      const timings = index.lastTimings();
      const tokens = (await encoderTokens()) - tokens0;
      await index.close();
      if (values.json) {
        console.log(JSON.stringify({ ...jsonStats(stats, Date.now() - t0, index.indexPath, index.semanticStats()),
          timings: { ...timings, encodedTokens: tokens } }, null, 2));
        return;
      }
      console.log(summary(stats, Date.now() - t0, index.indexPath) + semLine);
      if (values.timings || values.verbose) console.log(timingLine(timings, tokens));
      return;
    }
    case 'search': {
      const query = checkQuery(arg, 'search');
      const folder = requireDir(values.workspace, '--workspace <folder>');
      const index = await open(folder, values['index-dir']);
      try {
        requireMode(index, mode);
        await index.update(progressPrinter());
        const hits = await index.search(query, { limit: limit ?? 10, mode });
        if (values.json) console.log(JSON.stringify(hits, null, 2));
        else for (const h of hits) console.log(`${h.path}:${h.startLine}-${h.endLine}  ${kindLabel(h.kind)}${h.name ? ` ${h.name}` : ''}  (${h.score.toFixed(2)})${h.focus ? `  best match at ${h.focus.startLine}-${h.focus.endLine}` : ''}\n    ${h.snippet.split('\n')[0]?.trim() ?? ''}`);
      } finally {
        await index.close();
      }
      return;
    }
    case 'similar': {
      if (!arg) throw new UsageError('similar needs a file (relative to --workspace)');
      const folder = requireDir(values.workspace, '--workspace <folder>');
      const m = /^(\d+)-(\d+)$/.exec(values.lines ?? '');
      if (!m) throw new UsageError('similar needs --lines START-END (1-based, inclusive)');
      const index = await open(folder, values['index-dir'], true);
      try {
        await index.update(progressPrinter());
        const rel = path.relative(folder, path.resolve(folder, arg));
        const hits = await index.searchSimilar(rel, Number(m[1]), Number(m[2]), limit ?? 10);
        if (values.json) console.log(JSON.stringify(hits, null, 2));
        else for (const h of hits) console.log(`${h.path}:${h.startLine}-${h.endLine}  ${kindLabel(h.kind)}${h.name ? ` ${h.name}` : ''}  (${h.score.toFixed(3)})`);
      } finally {
        await index.close();
      }
      return;
    }
    case 'bench':
      return runBench({ modelDir: semantic.modelDir, sizes: values.sizes, providers: values.providers, graphs: values.graphs });
    case ONE_COMMAND:
      return benchOne(arg ?? '{}');
    case 'eval':
      return runEval(requireDir(values.set, '--set <dir>'), mode, values.out, limit ?? 10, values['index-dir'], open, values.json ?? false);
    case 'eval-fusion':
      return runEvalFusion(requireDir(values.set, '--set <dir>'), values.grid, values['out-dir'], limit ?? 10, values['index-dir'],
        (folder, dir) => open(folder, dir, true));
    case 'bench-query':
      return benchQuery(requireDir(values.workspace, '--workspace <folder>'), values.queries,
        values.rounds ? positiveInt(values.rounds, '--rounds') : 3, mode, values['index-dir'], open);
    case 'digest': {
      // Read-only look at what is committed: no update, so a crash test sees exactly what survived.
      const index = await open(requireDir(values.workspace, '--workspace <folder>'), values['index-dir']);
      try {
        await printDigest(index, semantic.modelDir);
      } finally {
        await index.close(false);
      }
      return;
    }
    case 'merge':
      return runMerge(positionals.slice(1), values['index-dir'], semantic.modelDir, logger);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

type Open = (folder: string, indexDir?: string) => Promise<WorkspaceIndex>;

interface SemanticFlags { modelDir: string; provider: ProviderSetting; memory: boolean; queryMemory: boolean; embedBatch?: number }

/** Encoders opened by this process (closed before exit: the worker thread would keep it alive). */
const encoders: Encoder[] = [];

/** The encoder could not start (damaged model files, a broken graph): said without a stack trace. */
class EncoderUnavailableError extends Error {}

/** `required` false (index): an encoder that cannot start is reported and keyword indexing goes on without it. */
async function attachEncoder(index: WorkspaceIndex, f: SemanticFlags, logger: Logger, required: boolean): Promise<void> {
  if (!hasModel(f.modelDir)) throw new UsageError(`no encoder model in ${f.modelDir} (dense/hybrid search and --memory need one; lexical works without)`);
  let encoder: Encoder;
  try {
    encoder = await Encoder.open(f.modelDir, { provider: f.provider, log: (m) => logger.info(m) });
  } catch (err) {
    const why = `the encoder could not start: ${(err as Error).message}`;
    if (required) throw new EncoderUnavailableError(`${why} (--mode lexical works without it)`);
    logger.warn(`${why}. Indexing keywords only: no embeddings are computed or stored this run.`);
    return;
  }
  encoders.push(encoder);
  await index.enableSemantic({ encoder, modelTag: modelTag(f.modelDir), memory: f.memory, queryMemory: f.queryMemory, embedBatch: f.embedBatch });
}

/** Tokens the encoders of this process have run so far (chunk streams as encodeChunks counts them). */
async function encoderTokens(): Promise<number> {
  let n = 0;
  for (const e of encoders) n += (await e.stats()).tokens;
  return n;
}

/** `timings: walk … s, lexical … s (N files read, W chunk workers, …; read/wait … s, sqlite … s), embed … s (C chunks, T tokens, X tokens/s)`. */
function timingLine(t: UpdateTimings, tokens: number | undefined): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  let line = `timings: walk ${s(t.walkMs)}, lexical ${s(t.lexicalMs)} (${t.filesRead} files read, ` +
    `${t.lexicalWorkers ? `${t.lexicalWorkers} chunk workers` : 'main thread'}`;
  if (t.lexicalMs > 0) line += `, ${(t.filesRead / (t.lexicalMs / 1000)).toFixed(0)} files/s`;
  line += `; ${t.lexicalWorkers ? 'waiting for workers' : 'reading+chunking'} ${s(t.readWaitMs)}, sqlite writes ${s(t.storeMs)})`;
  if (t.embedMs !== undefined) {
    line += `, embed ${s(t.embedMs)} (${t.embedded ?? 0} chunks, ${tokens ?? 'unknown'} tokens`;
    if (t.embedMs > 0 && tokens !== undefined) line += `, ${(tokens / (t.embedMs / 1000)).toFixed(0)} tokens/s`;
    line += ')';
  }
  return line;
}

function parseWorkers(v: string | undefined): LexicalWorkers {
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new UsageError(`--workers needs auto or an integer 0..64, got '${v}'`);
  return n;
}

/** kernels/model beside this build: dist/cli.js → ../kernels/model; from source extension/src/cli.ts → ../../. */
function defaultModelDir(): string {
  const candidates = [path.resolve(__dirname, '..', 'kernels', 'model'), path.resolve(__dirname, '..', '..', 'kernels', 'model')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'model-card.json'))) ?? candidates[0]!;
}

function parseProvider(p: string | undefined): ProviderSetting {
  const ok = ['auto', 'webgpu', 'cuda', 'cpu'];
  if (p === undefined) return 'auto';
  if (!ok.includes(p)) throw new UsageError(`--provider must be one of ${ok.join(', ')}`);
  return p as ProviderSetting;
}

function onOff(v: string | undefined, flag: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v !== 'on' && v !== 'off') throw new UsageError(`${flag} must be on or off, got '${v}'`);
  return v === 'on';
}

interface EvalQuery {
  id: string;
  query: string;
}

/** Writes one run line per query in the scorer's format (paths relative to corpus/). */
/** An eval set's queries and its corpus' index, brought up to date (summary on stderr); the caller closes it. */
async function openEvalSet(setDir: string, mode: SearchMode, indexDir: string | undefined, open: Open):
  Promise<{ index: WorkspaceIndex; queries: EvalQuery[]; stats: IndexStats; ms: number }> {
  const corpus = requireDir(path.join(setDir, 'corpus'), '<set>/corpus (unpack corpus.tar.xz there)');
  const queries = readQueries(path.join(setDir, 'queries.jsonl'));
  // The index lives outside the eval set (it is read-only input); keyed by the corpus path so reruns are incremental.
  const dir = indexDir ?? path.join(os.tmpdir(), `infinilens-eval-${createHash('sha1').update(corpus).digest('hex').slice(0, 12)}`);
  const index = await open(corpus, dir);
  try {
    requireMode(index, mode);
    const t0 = Date.now();
    const stats = await index.update(progressPrinter());
    const ms = Date.now() - t0;
    process.stderr.write(`${summary(stats, ms, index.indexPath)}${semanticSummary(index)}\n`);
    return { index, queries, stats, ms };
  } catch (err) {
    await index.close();
    throw err;
  }
}

/** One line of a run file, the eval kit's format. */
function runLine(id: string, hits: readonly SearchHit[]): string {
  return JSON.stringify({ id, results: hits.map((h) => ({ path: h.path, start_line: h.startLine, end_line: h.endLine })) });
}

async function runEval(setDir: string, mode: SearchMode, out: string | undefined, limit: number, indexDir: string | undefined, open: Open,
  json: boolean): Promise<void> {
  if (!out) throw new UsageError('eval needs --out <run.jsonl>');
  const { index, queries, stats, ms } = await openEvalSet(setDir, mode, indexDir, open);
  try {
    for (const e of encoders) {
      const st = await e.stats();
      if (st.tokens) process.stderr.write(`encoder (${e.info.provider}): ${st.tokens} tokens in ${(st.runMs / 1000).toFixed(1)} s of inference, ${(st.tokens / (st.runMs / 1000)).toFixed(0)} tokens/s\n`);
    }
    const lines: string[] = [];
    const t1 = Date.now();
    for (const q of queries) {
      lines.push(runLine(q.id, await index.search(q.query, { limit, mode })));
    }
    fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    fs.writeFileSync(out, `${lines.join('\n')}\n`);
    process.stderr.write(`wrote ${lines.length} run lines (mode ${mode}, top ${limit}) to ${out}\n`);
    if (json) console.log(JSON.stringify({ mode, limit, queries: lines.length, out: path.resolve(out), searchMs: Date.now() - t1,
      index: jsonStats(stats, ms, index.indexPath, index.semanticStats()) }, null, 2));
  } finally {
    await index.close();
  }
}

/**
 * Many hybrid fusion settings from one index and one pass of queries: each query's lexical and dense rankings are
 * fetched once (at the depths hybrid search uses) and fused per setting with the same function hybrid search
 * runs, so each run file is what `eval --mode hybrid` with that setting writes. Also writes lexical.jsonl and
 * dense.jsonl (each side's top N) and settings.json (file name → full setting).
 */
async function runEvalFusion(setDir: string, gridFile: string | undefined, outDir: string | undefined, limit: number,
  indexDir: string | undefined, open: Open): Promise<void> {
  if (!gridFile) throw new UsageError('eval-fusion needs --grid <grid.json> (a JSON array of {name?, method?, denseWeight?, rrfK?, denseOnly?})');
  if (!outDir) throw new UsageError('eval-fusion needs --out-dir <folder>');
  const grid = JSON.parse(fs.readFileSync(gridFile, 'utf8')) as unknown;
  if (!Array.isArray(grid) || grid.length === 0) throw new UsageError(`${gridFile}: needs a non-empty JSON array of settings`);
  const settings: { name: string; s: FusionSettings }[] = grid.map((g: Partial<FusionSettings> & { name?: string }, i) => {
    const { name, ...rest } = g;
    if (rest.denseOnly === null || (rest.denseOnly as unknown) === 'all') rest.denseOnly = Infinity; // JSON has no Infinity
    let s: FusionSettings;
    try { s = resolveFusion(rest); } catch (e) { throw new UsageError(`${gridFile} entry ${i}: ${(e as Error).message}`); }
    const n = name ?? describeFusion(s).replace(/[^A-Za-z0-9.=_-]+/g, '_');
    if (!/^[A-Za-z0-9.=_-]+$/.test(n) || n === 'lexical' || n === 'dense') throw new UsageError(`${gridFile} entry ${i}: bad name '${n}'`);
    return { name: n, s };
  });
  const { index, queries } = await openEvalSet(setDir, 'hybrid', indexDir, open);
  try {
    const depth = hybridDepths(limit);
    const key = (h: SearchHit) => `${h.path}\t${h.startLine}\t${h.endLine}`;
    const runs = new Map<string, string[]>([['lexical', []], ['dense', []], ...settings.map((x) => [x.name, []] as [string, string[]])]);
    for (const q of queries) {
      const lexHits = await index.search(q.query, { limit: depth.lexical, mode: 'lexical' });
      const denseHits = await index.search(q.query, { limit: depth.dense, mode: 'dense' });
      const byKey = new Map<string, SearchHit>();
      for (const h of [...lexHits, ...denseHits]) if (!byKey.has(key(h))) byKey.set(key(h), h);
      const lex: Ranked<string>[] = lexHits.map((h) => ({ id: key(h), score: h.score }));
      const dense: Ranked<string>[] = denseHits.map((h) => ({ id: key(h), score: h.score }));
      runs.get('lexical')!.push(runLine(q.id, lexHits.slice(0, limit)));
      runs.get('dense')!.push(runLine(q.id, denseHits.slice(0, limit)));
      for (const { name, s } of settings) runs.get(name)!.push(runLine(q.id, fuseHybrid(lex, dense, limit, s).map((r) => byKey.get(r.id)!)));
    }
    fs.mkdirSync(outDir, { recursive: true });
    for (const [name, lines] of runs) fs.writeFileSync(path.join(outDir, `${name}.jsonl`), `${lines.join('\n')}\n`);
    fs.writeFileSync(path.join(outDir, 'settings.json'), JSON.stringify(Object.fromEntries(settings.map(({ name, s }) =>
      [name, { ...s, denseOnly: Number.isFinite(s.denseOnly) ? s.denseOnly : 'all' }])), null, 1));
    process.stderr.write(`wrote ${runs.size} run files (${queries.length} queries, top ${limit}) to ${outDir}\n`);
  } finally {
    await index.close();
  }
}

/** Warm query latency from the same layer the CLI search uses: index once, then time each query. */
async function benchQuery(folder: string, queriesFile: string | undefined, rounds: number, mode: SearchMode, indexDir: string | undefined, open: Open): Promise<void> {
  const index = await open(folder, indexDir);
  try {
    requireMode(index, mode);
    await index.update(progressPrinter());
    const queries = queriesFile ? readQueries(queriesFile).map((q) => q.query) : DEFAULT_BENCH_QUERIES;
    for (const q of queries.slice(0, 20)) await index.search(q, { limit: 10, mode }); // warm caches
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const q of queries) {
        const t0 = process.hrtime.bigint();
        await index.search(q, { limit: 10, mode });
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    times.sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
    console.log(`queries ${times.length} (${queries.length} x ${rounds} rounds), mode ${mode}, limit 10`);
    console.log(`p50 ${pct(50).toFixed(2)} ms  p90 ${pct(90).toFixed(2)} ms  p99 ${pct(99).toFixed(2)} ms  max ${times[times.length - 1]!.toFixed(2)} ms`);
  } finally {
    await index.close();
  }
}

const DEFAULT_BENCH_QUERIES = [
  'parse configuration file', 'open a database connection', 'readFile', 'HTTPServer', 'error message for invalid input',
  'compute shortest path in a graph', 'serialize object to json', 'symbol table lookup', 'user authentication token',
  'sort list by key', 'create_temp_file', 'getElementById', 'retry with backoff', 'escape html', 'read archive member',
];

function readQueries(file: string): EvalQuery[] {
  if (!fs.existsSync(file)) throw new UsageError(`no queries file at ${file}`);
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    const q = JSON.parse(l) as Partial<EvalQuery>;
    if (typeof q.id !== 'string' || typeof q.query !== 'string') throw new UsageError(`${file}:${i + 1}: needs "id" and "query"`);
    return { id: q.id, query: q.query };
  });
}

function describeFusion(s: FusionSettings): string {
  return `${s.method} w=${s.denseWeight}${s.method === 'rrf' ? ` k=${s.rrfK}` : ''} dense-only=${Number.isFinite(s.denseOnly) ? s.denseOnly : 'all'}`;
}

/** --lexical-weights name=16,body=1 → overrides of LEXICAL_WEIGHTS (checked again by resolveLexicalWeights). */
function parseLexicalWeights(arg?: string): Partial<ColumnWeights> | undefined {
  if (arg === undefined) return undefined;
  const out: Partial<ColumnWeights> = {};
  for (const part of arg.split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!k || v === undefined || v.trim() === '' || !(k in LEXICAL_WEIGHTS)) throw new UsageError(`--lexical-weights: '${part}' is not name|path|body|context=NUMBER`);
    out[k as keyof ColumnWeights] = Number(v);
  }
  try { resolveLexicalWeights(out); } catch (e) { throw new UsageError(`--lexical-weights: ${(e as Error).message}`); }
  return out;
}

/** --fusion / --dense-weight / --rrf-k / --dense-only over the defaults in search/hybrid.ts. */
function parseFusion(method: string | undefined, weight: string | undefined, k: string | undefined, denseOnly: string | undefined): Partial<FusionSettings> {
  if (method !== undefined && method !== 'rrf' && method !== 'score') throw new UsageError(`--fusion must be rrf or score, got '${method}'`);
  const num = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got '${v}'`);
    return n;
  };
  const f: Partial<FusionSettings> = { method, denseWeight: num(weight, '--dense-weight'), rrfK: num(k, '--rrf-k'),
    denseOnly: denseOnly === 'all' ? Infinity : num(denseOnly, '--dense-only') };
  try { resolveFusion(f); } catch (e) { throw new UsageError((e as Error).message); }
  return f;
}

function requireMode(index: WorkspaceIndex, mode: SearchMode): void {
  if (!index.supports(mode)) throw new UsageError(`mode '${mode}' is not available: the encoder is not running. Use --mode lexical.`);
}

function parseMode(m: string | undefined): SearchMode {
  if (m === undefined) return 'lexical';
  if (!(MODES as readonly string[]).includes(m)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}`);
  return m as SearchMode;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got '${v}'`);
  return n;
}

function requireDir(p: string | undefined, what: string): string {
  if (!p) throw new UsageError(`missing ${what}`);
  const abs = path.resolve(p);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new UsageError(`not a folder: ${abs} (${what})`);
  return abs;
}

function summary(s: IndexStats, ms: number, indexPath: string): string {
  const skips = Object.entries(s.skipped).filter(([, n]) => n).map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
  return `indexed ${s.files} files, ${s.chunks} chunks; read ${s.filesReadLastUpdate} files this run; skipped: ${skips}; ${(ms / 1000).toFixed(2)} s; index ${indexPath}`;
}

/** `index --json` and `eval --json`: the summary line's facts as one object. */
function jsonStats(s: IndexStats, ms: number, indexPath: string, sem: ReturnType<WorkspaceIndex['semanticStats']>): Record<string, unknown> {
  return { files: s.files, chunks: s.chunks, filesRead: s.filesReadLastUpdate, skipped: s.skipped, seconds: ms / 1000, indexPath,
    ...(sem ? { embeddings: sem } : {}) };
}

function semanticSummary(index: WorkspaceIndex): string {
  const s = index.semanticStats();
  if (!s) return '';
  return `; embeddings ${s.embedded}/${s.chunks} chunks (${s.embeddedLastUpdate} new this run)` +
    (s.memoryFiles !== undefined ? `; workspace memory holds ${s.memoryFiles} files` : '');
}

function progressPrinter(): (p: IndexProgress) => void {
  return progressReporter(); // cliProgress.ts: a line rewritten in place on a terminal, plain lines when piped
}

function stderrLogger(verbose: boolean): Logger {
  return {
    info: (m) => { if (verbose) process.stderr.write(`${m}\n`); },
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    error: (m) => process.stderr.write(`error: ${m}\n`),
  };
}

// Exit explicitly once done: stdout/stderr are synchronous for files and pipes on Linux, and a lingering wasm
// runtime must not keep a finished command (or a CI step waiting on it) alive.
const closeEncoders = () => Promise.all(encoders.map((e) => e.close().catch(() => undefined)));
main(process.argv.slice(2)).finally(closeEncoders).then(() => process.exit(process.exitCode ?? 0), (err: unknown) => {
  if (err instanceof IndexBusyError || err instanceof IndexUnusableError || err instanceof EncoderUnavailableError) {
    process.stderr.write(`infini-lens: ${(err as Error).message}\n`); // nothing was changed: no stack trace
    process.exitCode = 1;
  } else if (isUsageError(err)) {
    const command = commandOf(process.argv.slice(2)), usage = usageFor(command);
    process.stderr.write(`infini-lens: ${usageLine(err)}\n${usage ? `usage: ${usage}\nrun 'infini-lens ${command} --help' for more` : USAGE_HINT}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`infini-lens: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
  process.exit(process.exitCode);
});
