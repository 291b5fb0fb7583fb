// GPU harness for issue #6: the extension's own runtime (onnxruntime-node) on WebGPU and on the CPU, variants
// side by side in one process per provider. Bundled to dist/gpuBench.js by scripts/gpu/build.mjs; driven by
// scripts/gpu/run.sh (docs/gpu.md). Subcommands, each writes one JSON file:
//   encoder --provider P --out F [--sizes 4k,64k,1M] [--budget S] [--quick]   throughput variants
//   profile --provider P --out F [--segments N]                                onnxruntime profile, parsed
//   count --out F --link-dir D [--min-files N] [--min-lines N] [--budget S] ROOT...   what the indexer accepts
//   index-stats --root R --index-dir D --out F [--budget S]                    what an index run stored
//   summary DIR                                                                the table of every JSON in DIR
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../kernels/runtime/random.js';
import { graphFile, readModelConfig, type GraphName, type ModelConfig, type Precision } from '../../kernels/runtime/modelFiles.js';
import { sessionOptions, type ProviderName } from '../../kernels/runtime/providers.js';
import { EncoderSession } from '../../kernels/runtime/session.js';
import { chunkStream, CUT_CHARS_PER_TOKEN, readRetrievalConfig } from '../../kernels/runtime/chunks.js';
import { CodeTokenizer } from '../../kernels/runtime/tokenizer.js';
import { walkWorkspace } from '../../extension/src/index/walker.js';
import { classifyContent } from '../../extension/src/index/content.js';
import { silentLogger } from '../../extension/src/search/workspaceIndex.js';
import { profilerProviderName, readProfile, summarizeProfile } from './profile.js';
import { parseSizes } from '../../extension/src/cliBench.js';

// ------------------------------------------------------------------------------------------ FLOPs
/**
 * Matrix FLOPs per token of one forward (2 per multiply-add), from the model config. `sparse`: every non-global
 * query block reads K = window + global + random key blocks (what the gathered graph computes, masked slots
 * included), global query blocks read the whole segment; `dense`: every query reads the whole segment;
 * `chunk`: dense over `keys` tokens (the query graph on chunks). Embedding lookups, norms, softmax and RoPE
 * are not counted (elementwise, small next to the products).
 */
export function flopsPerToken(c: ModelConfig, attn: 'sparse' | 'dense' | 'chunk', keys = c.seg_len): number {
  const d = c.d_model, H = c.n_heads, G = c.n_kv_heads, D = c.d_head, T = c.seg_len, nb = T / c.block;
  const proj = 2 * d * (H + 2 * G) * D + 2 * H * D * d + 2 * 2 * d * c.d_ff; // Wqkv, Wo, W1, W2
  const K = c.window + c.global + c.random;
  const avgKeys = attn === 'sparse' ? ((nb - c.global) * K * c.block + c.global * T) / nb : attn === 'dense' ? T : keys;
  const scores = 2 * 2 * D * avgKeys * H;                                    // QKᵀ and PV
  const memory = 2 * D * D * H + 2 * D * H + (attn === 'chunk' ? 0 : 2 * D * D * G); // read (+ contribution)
  return c.n_layers * (proj + scores + memory) + 2 * d * c.emb_dim;
}

// ------------------------------------------------------------------------------------------ encoder variants
type GraphKind = 'encoder' | 'encoder_dense' | 'query';
interface Variant {
  id: string;
  graph: GraphKind;
  precision: Precision;
  /** encoder graphs: segments per run; query graph: padded tokens per run (rows of `chunkLen`). */
  batch: number;
  /** 'cpu': every output copied back (what the runtime does); 'emb-gpu': emb, mem_sum, z_sum stay on the GPU
   * (preferredOutputLocation 'gpu-buffer'), mem_out/z_out come back each run, which also waits for the run. */
  outputs: 'cpu' | 'emb-gpu';
  ep?: Record<string, unknown>;
  opt?: 'disabled' | 'basic' | 'extended' | 'all';
  /** The extension's own code path: EncoderSession.contribution (session.ts runDocs) instead of raw runs. */
  runtime?: boolean;
}
interface Row {
  provider: string; variant: string; graph: GraphKind; precision: Precision; batch: number; outputs: string; runtime: boolean;
  tokens: number; seconds?: number; tokensPerS?: number; runs?: number; medianRunMs?: number; firstRunMs?: number;
  openMs?: number; flopsPerToken?: number; tflops?: number; peakRssMiB?: number; tStart?: number; tEnd?: number;
  skipped?: string; error?: string;
}

const CHUNK_LEN = 512;

interface Ctx { modelDir: string; provider: ProviderName; threads?: number; cfg: ModelConfig; randBlocks: ort.Tensor }

function optionsFor(x: Ctx, v: Variant): ort.InferenceSession.SessionOptions {
  const base = sessionOptions(x.provider, x.threads);
  return {
    ...base,
    ...(v.ep ? { executionProviders: [{ name: x.provider, ...v.ep } as ort.InferenceSession.ExecutionProviderConfig] } : {}),
    ...(v.opt ? { graphOptimizationLevel: v.opt } : {}),
    ...(v.outputs === 'emb-gpu' ? { preferredOutputLocation: v.graph === 'query'
      ? { qemb: 'gpu-buffer' } : { emb: 'gpu-buffer', mem_sum: 'gpu-buffer', z_sum: 'gpu-buffer', mem_out: 'cpu', z_out: 'cpu' } } : {}),
  } as ort.InferenceSession.SessionOptions;
}

function randomIds(rand: () => number, n: number, vocab: number): BigInt64Array {
  return BigInt64Array.from({ length: n }, () => BigInt(4 + Math.floor(rand() * (vocab - 4))));
}

function floatInput(s: ort.InferenceSession, name: string, data: Float32Array, dims: number[]): ort.Tensor {
  const meta = s.inputMetadata.find((m) => m.name === name);
  if (meta?.isTensor && meta.type === 'float16') throw new Error(`${name} is float16: the harness feeds float32 inputs (CONTRACT)`);
  return new ort.Tensor('float32', data, dims);
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[(s.length - 1) >> 1]! : NaN; };

/** Raw runs of one graph over `tokens` tokens: one long file in runs of `batch` segments, memory carried. */
async function graphRuns(x: Ctx, s: ort.InferenceSession, v: Variant, tokens: number): Promise<{ runMs: number[]; firstRunMs: number; total: number }> {
  const c = x.cfg, T = c.seg_len, L = c.n_layers, G = c.n_kv_heads, D = c.d_head;
  const rand = mulberry32(tokens + v.batch);
  const dispose = (t: ort.Tensor | undefined) => { if (t && t.location === 'gpu-buffer') t.dispose(); };
  if (v.graph === 'query') {
    const B = Math.max(1, Math.floor(v.batch / CHUNK_LEN)), runs = Math.max(1, Math.ceil(tokens / (B * CHUNK_LEN)));
    const pool = [0, 1].map(() => randomIds(rand, B * CHUNK_LEN, c.vocab));
    const valid = floatInput(s, 'valid', new Float32Array(B * CHUNK_LEN).fill(1), [B, CHUNK_LEN]);
    const mem = floatInput(s, 'mem_in', new Float32Array(L * G * D * D), [L, G, D, D]), z = floatInput(s, 'z_in', new Float32Array(L * G * D), [L, G, D]);
    const one = async (k: number) => {
      const out = await s.run({ input_ids: new ort.Tensor('int64', pool[k % 2]!, [B, CHUNK_LEN]), valid, mem_in: mem, z_in: z });
      if (out.qemb!.location === 'gpu-buffer') { await out.qemb!.getData(true); } else void out.qemb!.data;
    };
    let t0 = performance.now(); await one(0); const firstRunMs = performance.now() - t0;
    const runMs: number[] = [];
    for (let k = 0; k < runs; k++) { t0 = performance.now(); await one(k + 1); runMs.push(performance.now() - t0); }
    return { runMs, firstRunMs, total: runs * B * CHUNK_LEN };
  }
  const segments = Math.ceil(tokens / T), S = Math.min(v.batch, segments);
  const pool = [0, 1].map(() => randomIds(rand, S * T, c.vocab));
  const validData = new Float32Array(S * T).fill(1);
  let mem = new Float32Array(L * G * D * D), z = new Float32Array(L * G * D); // [L, Hkv, 64, 64], [L, Hkv, 64]
  const one = async (n: number, k: number) => {
    const ids = n === S ? pool[k % 2]! : pool[k % 2]!.subarray(0, n * T);
    const out = await s.run({
      input_ids: new ort.Tensor('int64', ids, [n, T]), valid: floatInput(s, 'valid', n === S ? validData : validData.subarray(0, n * T), [n, T]),
      seg_doc: new ort.Tensor('int64', new BigInt64Array(n), [n]), rand_blocks: x.randBlocks,
      mem_in: floatInput(s, 'mem_in', mem, [L, G, D, D]), z_in: floatInput(s, 'z_in', z, [L, G, D]),
    });
    // the long file's memory goes on, as in the runtime (mem_out → mem_in)
    mem = (out.mem_out!.data as Float32Array).slice(); z = (out.z_out!.data as Float32Array).slice();
    if (out.emb!.location !== 'gpu-buffer') void (out.emb!.data as Float32Array)[0];
    for (const t of Object.values(out)) dispose(t);
  };
  let t0 = performance.now(); await one(S, 0); const firstRunMs = performance.now() - t0;
  if (segments % S) await one(segments % S, 1); // the tail's shape too, so no shader/plan compile lands in the timing
  mem = new Float32Array(L * G * D * D); z = new Float32Array(L * G * D);
  const runMs: number[] = [];
  for (let done = 0, k = 0; done < segments; done += S, k++) {
    const n = Math.min(S, segments - done);
    t0 = performance.now(); await one(n, k); runMs.push(performance.now() - t0);
  }
  return { runMs, firstRunMs, total: segments * T };
}

/** The runtime's own path: EncoderSession (session.ts) encoding one long file through contribution(). */
async function runtimeRuns(x: Ctx, v: Variant, tokens: number, opened: Map<string, EncoderSession>): Promise<{ runMs: number[]; firstRunMs: number; total: number; openMs: number; precision: Precision }> {
  let openMs = 0;
  let s = opened.get(String(v.batch));
  if (!s) {
    const t0 = performance.now();
    s = await EncoderSession.open(x.modelDir, { provider: x.provider, maxSegments: v.batch, threads: x.threads });
    openMs = performance.now() - t0;
    if (s.info.provider !== x.provider) throw new Error(`runtime opened ${s.info.provider}, not ${x.provider}`);
    opened.set(String(v.batch), s);
  }
  const rand = mulberry32(tokens);
  const T = x.cfg.seg_len;
  const ids = (n: number) => Int32Array.from({ length: n }, () => 4 + Math.floor(rand() * (x.cfg.vocab - 4)));
  let t0 = performance.now();
  await s.contribution(ids(Math.min(tokens, v.batch * T) - 1)); // warm-up at the full run shape
  const firstRunMs = performance.now() - t0;
  const input = ids(tokens - 1); // + <doc> = tokens
  const before = s.stats.runs;
  t0 = performance.now();
  await s.contribution(input);
  const ms = performance.now() - t0;
  const runs = Math.max(1, s.stats.runs - before); // one entry per run, summing to the file's time
  return { runMs: Array.from({ length: runs }, () => ms / runs), firstRunMs, total: tokens, openMs, precision: s.info.precision };
}

function plan(provider: ProviderName, sizes: number[], quick: boolean): { v: Variant; tokens: number; best?: boolean }[] {
  const [small, mid, big] = [sizes[0]!, sizes[1] ?? sizes[0]!, sizes[2] ?? sizes[sizes.length - 1]!];
  if (provider === 'cpu') {
    const b8: Variant = { id: 'fp32 b8', graph: 'encoder', precision: 'fp32', batch: 8, outputs: 'cpu' };
    return [
      { v: b8, tokens: mid }, { v: b8, tokens: small },
      { v: { ...b8, id: 'fp32 b32', batch: 32 }, tokens: mid },
      { v: { ...b8, id: 'dense fp32 b8', graph: 'encoder_dense' }, tokens: mid },
      { v: { id: 'query fp32 8k-tok', graph: 'query', precision: 'fp32', batch: 8192, outputs: 'cpu' }, tokens: quick ? 8192 : 65536 },
      { v: { ...b8, id: 'runtime fp32 b8', runtime: true }, tokens: mid },
      { v: b8, tokens: big },
      { v: { ...b8, id: 'runtime fp32 b8', runtime: true }, tokens: big },
    ];
  }
  const f16 = (batch: number, extra: Partial<Variant> = {}): Variant =>
    ({ id: `fp16 b${batch}${extra.outputs === 'emb-gpu' ? ' emb-gpu' : ''}`, graph: 'encoder', precision: 'fp16', batch, outputs: 'cpu', ...extra });
  const items: { v: Variant; tokens: number; best?: boolean }[] = [
    { v: f16(16), tokens: mid },                                              // the runtime's default on a GPU
    { v: f16(4), tokens: mid },
    { v: f16(8), tokens: mid },
    { v: f16(32), tokens: mid },
    { v: f16(64), tokens: mid },                                              // the default before this run
    { v: { ...f16(16), id: 'fp32 b16', precision: 'fp32' }, tokens: mid },
    { v: f16(16, { outputs: 'emb-gpu' }), tokens: mid },
    { v: { ...f16(16), id: 'dense fp32 b16', graph: 'encoder_dense', precision: 'fp32' }, tokens: mid },
    { v: { id: 'query fp16 8k-tok', graph: 'query', precision: 'fp16', batch: 8192, outputs: 'cpu' }, tokens: quick ? 8192 : 65536 },
    { v: { id: 'query fp16 16k-tok', graph: 'query', precision: 'fp16', batch: 16384, outputs: 'cpu' }, tokens: quick ? 16384 : 131072 },
    { v: { ...f16(16), id: 'runtime fp16 b16', runtime: true }, tokens: mid },
    { v: f16(16), tokens: small },
    { v: f16(16), tokens: big },
    { v: f16(64), tokens: big },
    { v: f16(64), tokens: small, best: true },                                // replaced by the fastest encoder variant at `mid`
    { v: f16(64), tokens: big, best: true },
    { v: { ...f16(16), id: 'runtime fp16 b16', runtime: true }, tokens: big },
  ];
  return items;
}

async function benchEncoder(a: Record<string, string | boolean | undefined>): Promise<void> {
  const provider = String(a.provider ?? 'cpu') as ProviderName;
  const out = String(a.out ?? `bench_${provider}.json`);
  const modelDir = String(a.model ?? 'kernels/model');
  const sizes = parseSizes(String(a.sizes ?? '4k,64k,1M'));
  const deadline = Date.now() + Number(a.budget ?? 150) * 1000;
  const cfg = readModelConfig(modelDir);
  const threads = provider === 'cpu' ? os.cpus().length : undefined;
  const nb = cfg.seg_len / cfg.block;
  const { randomBlocks } = await import('../../kernels/runtime/random.js');
  const rb = randomBlocks(1234, cfg.n_layers, cfg.n_heads, nb, cfg.window, cfg.global, cfg.random);
  const x: Ctx = { modelDir, provider, threads, cfg, randBlocks: new ort.Tensor('int64', BigInt64Array.from(rb, (v) => BigInt(v)), [cfg.n_layers, cfg.n_heads, nb, cfg.random]) };
  const result = { provider, host: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', threads: threads ?? null },
    ort: (ort.env as { versions?: Record<string, string> }).versions ?? {}, flops: {
      sparse: flopsPerToken(cfg, 'sparse'), dense: flopsPerToken(cfg, 'dense'), chunk512: flopsPerToken(cfg, 'chunk', CHUNK_LEN) },
    rows: [] as Row[], notes: [] as string[] };
  const save = () => writeFileSync(out, JSON.stringify(result, null, 1));
  const sessions = new Map<string, ort.InferenceSession>(), runtimes = new Map<string, EncoderSession>();
  const rateOf = new Map<string, number>();
  let providerDead: string | undefined;
  for (const item of plan(provider, sizes, a.quick === true)) {
    let v = item.v;
    if (item.best) {
      const enc = result.rows.filter((r) => r.graph === 'encoder' && !r.runtime && r.tokens === Math.ceil(sizes[1]! / cfg.seg_len) * cfg.seg_len && r.tokensPerS);
      const best = enc.sort((p, q) => q.tokensPerS! - p.tokensPerS!)[0];
      const bv = best && plan(provider, sizes, a.quick === true).map((p) => p.v).find((p) => p.id === best.variant);
      if (!bv || bv.id === 'fp16 b64') continue; // the default already ran at these sizes
      v = bv;
    }
    const row: Row = { provider, variant: v.id, graph: v.graph, precision: v.precision, batch: v.batch, outputs: v.outputs, runtime: v.runtime === true, tokens: item.tokens };
    if (result.rows.some((r) => r.variant === row.variant && r.tokens === row.tokens)) continue;
    result.rows.push(row);
    if (providerDead) { row.skipped = `provider unavailable: ${providerDead.slice(-120)}`; console.log(fmtRow(row)); continue; }
    const rate = rateOf.get(v.id) ?? rateOf.get(`${v.graph}`);
    const left = (deadline - Date.now()) / 1000, est = rate ? item.tokens / rate * 1.3 + 3 : 15;
    if (est > left) { row.skipped = `time budget: about ${est.toFixed(0)} s needed, ${left.toFixed(0)} s left`; console.log(fmtRow(row)); save(); continue; }
    row.tStart = Date.now();
    try {
      const flops = flopsPerToken(cfg, v.graph === 'encoder' ? 'sparse' : v.graph === 'encoder_dense' ? 'dense' : 'chunk', CHUNK_LEN);
      let r: { runMs: number[]; firstRunMs: number; total: number; openMs?: number };
      if (v.runtime) {
        const rr = await runtimeRuns(x, v, item.tokens, runtimes);
        if (rr.precision !== v.precision) row.precision = rr.precision;
        r = rr;
      } else {
        const key = JSON.stringify([v.graph, v.precision, v.outputs, v.ep, v.opt]);
        let s = sessions.get(key), openMs = 0;
        if (!s) {
          const file = graphFile(modelDir, v.graph as GraphName, v.precision);
          if (!file) throw new Error(`no ${v.graph}.${v.precision}.onnx in ${modelDir}`);
          const t0 = performance.now();
          s = await ort.InferenceSession.create(file, optionsFor(x, v));
          openMs = performance.now() - t0;
          sessions.set(key, s);
        }
        r = { ...(await graphRuns(x, s, v, item.tokens)), openMs };
      }
      const seconds = r.runMs.reduce((p, q) => p + q, 0) / 1000;
      Object.assign(row, { tokens: r.total, seconds, tokensPerS: r.total / seconds, runs: r.runMs.length, medianRunMs: median(r.runMs),
        firstRunMs: r.firstRunMs, openMs: r.openMs, flopsPerToken: flops, tflops: (r.total / seconds) * flops / 1e12,
        peakRssMiB: process.resourceUsage().maxRSS / 1024 });
      rateOf.set(v.id, row.tokensPerS!); if (!rateOf.has(v.graph)) rateOf.set(v.graph, row.tokensPerS!);
    } catch (e) {
      row.error = ((e as Error).message.split('\n')[0] ?? String(e)).slice(0, 400);
      if (sessions.size === 0 && runtimes.size === 0) providerDead = row.error; // the provider never started
    }
    row.tEnd = Date.now();
    console.log(fmtRow(row));
    save();
  }
  for (const s of sessions.values()) await s.release();
  for (const s of runtimes.values()) await s.close();
  save();
}

function fmtRow(r: Row): string {
  const what = `${r.provider.padEnd(6)} ${r.variant.padEnd(22)} ${String(r.tokens).padStart(8)} tok`;
  if (r.skipped) return `${what}  skipped (${r.skipped})`;
  if (r.error) return `${what}  ERROR ${r.error}`;
  return `${what} ${r.tokensPerS!.toFixed(0).padStart(9)} tok/s  ${r.tflops!.toFixed(3)} TFLOP/s  run ${r.medianRunMs!.toFixed(1)} ms x${r.runs}  first ${r.firstRunMs!.toFixed(0)} ms  open ${(r.openMs ?? 0).toFixed(0)} ms  rss ${r.peakRssMiB!.toFixed(0)} MiB`;
}

// ------------------------------------------------------------------------------------------ profile
async function benchProfile(a: Record<string, string | boolean | undefined>): Promise<void> {
  const provider = String(a.provider ?? 'cpu') as ProviderName;
  const modelDir = String(a.model ?? 'kernels/model');
  const out = String(a.out ?? `profile_${provider}.json`);
  const cfg = readModelConfig(modelDir);
  const S = Number(a.segments ?? (provider === 'cpu' ? 4 : 64));
  const graph = (a.graph ? String(a.graph) : 'encoder') as GraphName;
  const precision: Precision = provider === 'cpu' ? 'fp32' : 'fp16';
  const dir = String(a['profile-dir'] ?? path.join(os.tmpdir(), `ort-profile-${process.pid}`));
  mkdirSync(dir, { recursive: true });
  const file = graphFile(modelDir, graph, precision) ?? graphFile(modelDir, graph, 'fp32');
  if (!file) throw new Error(`no ${graph} graph in ${modelDir}`);
  const threads = provider === 'cpu' ? os.cpus().length : undefined;
  const s = await ort.InferenceSession.create(file, { ...sessionOptions(provider, threads), enableProfiling: true, profileFilePrefix: path.join(dir, `${graph}_${provider}`) });
  const nb = cfg.seg_len / cfg.block;
  const { randomBlocks } = await import('../../kernels/runtime/random.js');
  const rb = randomBlocks(1234, cfg.n_layers, cfg.n_heads, nb, cfg.window, cfg.global, cfg.random);
  const x: Ctx = { modelDir, provider, threads, cfg, randBlocks: new ort.Tensor('int64', BigInt64Array.from(rb, (v) => BigInt(v)), [cfg.n_layers, cfg.n_heads, nb, cfg.random]) };
  const v: Variant = { id: 'profile', graph: graph as GraphKind, precision, batch: graph === 'query' ? S * CHUNK_LEN : S, outputs: 'cpu' };
  const r = await graphRuns(x, s, v, 2 * S * (graph === 'query' ? CHUNK_LEN : cfg.seg_len)); // warm-up + 2 runs, all profiled
  s.endProfiling();
  await s.release();
  const files = readdirSync(dir).filter((f) => f.startsWith(`${graph}_${provider}`) && f.endsWith('.json')).map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`onnxruntime wrote no profile under ${dir}`);
  const events = readProfile(files[files.length - 1]!);
  const summary = summarizeProfile(events, profilerProviderName(provider), 5);
  writeFileSync(out, JSON.stringify({ provider, graph, file: path.basename(file), segmentsPerRun: S, runsProfiled: r.runMs.length + 1,
    medianRunMs: median(r.runMs), events: events.length, rawProfile: files[files.length - 1], ...summary }, null, 1));
  console.log(`profile ${provider} ${path.basename(file)}: nodes per provider ${JSON.stringify(summary.nodesPerProvider)}; CPU fallbacks ${summary.cpuFallback.length}` +
    (summary.cpuFallback.length ? ` (${Object.entries(summary.cpuFallbackOps).map(([o, n]) => `${o} ${n}`).join(', ')})` : ''));
  for (const n of summary.topNodes) console.log(`  ${(n.share * 100).toFixed(1).padStart(5)}%  ${(n.us / 1000).toFixed(2).padStart(8)} ms  ${n.op.padEnd(14)} ${n.provider.replace('ExecutionProvider', '')}  ${n.node}`);
}

// ------------------------------------------------------------------------------------------ corpus count
interface RootCount { root: string; files: number; lines: number; bytes: number; skipped: Record<string, number>; seconds: number; partial?: boolean }

/** Files under root that the indexer accepts (walker rules, ≤ 1 MiB, text, UTF-8, not minified) and their lines. */
export async function countRoot(root: string, deadline: number): Promise<RootCount> {
  const t0 = Date.now();
  const walk = await walkWorkspace(root, { excludeGlobs: [], maxFileBytes: 1024 * 1024, followSymlinks: true, logger: silentLogger });
  const skipped: Record<string, number> = {};
  for (const s of walk.skipped) skipped[s.reason] = (skipped[s.reason] ?? 0) + 1;
  let files = 0, lines = 0, bytes = 0, partial = false;
  for (const f of walk.files) {
    if (Date.now() > deadline) { partial = true; break; }
    const data = await fs.readFile(f.abs).catch(() => undefined);
    if (!data) { skipped.unreadable = (skipped.unreadable ?? 0) + 1; continue; }
    const c = classifyContent(data);
    if (!c.ok) { skipped[c.reason] = (skipped[c.reason] ?? 0) + 1; continue; }
    files++; bytes += data.length;
    let n = 1;
    for (let i = c.text.indexOf('\n'); i >= 0; i = c.text.indexOf('\n', i + 1)) n++;
    if (c.text.endsWith('\n')) n--;
    lines += n;
  }
  return { root, files, lines, bytes, skipped, seconds: (Date.now() - t0) / 1000, ...(partial ? { partial } : {}) };
}

async function countCorpus(a: Record<string, string | boolean | undefined>, roots: string[]): Promise<void> {
  const minFiles = Number(a['min-files'] ?? 20000), minLines = Number(a['min-lines'] ?? 5_000_000);
  const deadline = Date.now() + Number(a.budget ?? 60) * 1000;
  const linkDir = String(a['link-dir'] ?? path.join(os.tmpdir(), 'gpu-corpus'));
  const picked: RootCount[] = [], seen: string[] = [];
  let files = 0, lines = 0;
  for (const r of roots) {
    if (files >= minFiles && lines >= minLines) break;
    if (!existsSync(r)) continue;
    const real = await fs.realpath(r);
    if (seen.some((s) => real === s || real.startsWith(`${s}/`) || s.startsWith(`${real}/`))) continue; // nested roots count once
    seen.push(real);
    const c = await countRoot(real, deadline);
    console.log(`count ${real}: ${c.files} files, ${c.lines} lines (${(c.bytes / 2 ** 20).toFixed(0)} MiB) in ${c.seconds.toFixed(1)} s${c.partial ? ' (partial: time budget)' : ''}`);
    if (c.files === 0) continue;
    picked.push(c); files += c.files; lines += c.lines;
    if (c.partial) break;
  }
  // One folder for the CLI: symlinks to the picked roots (run.sh indexes it with --follow-symlinks: links out of the
  // folder are skipped by default; the count above followed them too).
  rmSync(linkDir, { recursive: true, force: true });
  mkdirSync(linkDir, { recursive: true });
  picked.forEach((p, i) => symlinkSync(p.root, path.join(linkDir, `${i}_${path.basename(p.root)}`)));
  const res = { linkDir, roots: picked, files, lines, bytes: picked.reduce((s, p) => s + p.bytes, 0), meets: files >= minFiles && lines >= minLines, minFiles, minLines };
  writeFileSync(String(a.out ?? 'corpus.json'), JSON.stringify(res, null, 1));
  console.log(`corpus ${linkDir}: ${files} files, ${lines} lines from ${picked.length} roots; ${res.meets ? 'meets' : 'does NOT meet'} >= ${minFiles} files / ${minLines} lines`);
}

// ------------------------------------------------------------------------------------------ index stats
/** What an index run stored: files, chunks, embedded chunks, and the tokens the encoder saw for them (each chunk
 * tokenized as encodeChunks does: <doc> + tokens cut to max_chunk_tokens). */
async function indexStats(a: Record<string, string | boolean | undefined>): Promise<void> {
  const root = path.resolve(String(a.root)), indexDir = path.resolve(String(a['index-dir']));
  const modelDir = String(a.model ?? 'kernels/model');
  const deadline = Date.now() + Number(a.budget ?? 60) * 1000;
  const { Database } = await import('node-sqlite3-wasm');
  const db = new Database(path.join(indexDir, 'index.sqlite'), { readOnly: true });
  const one = (sql: string) => (db.get(sql) as { n: number }).n;
  const files = one('SELECT count(*) AS n FROM files WHERE skip IS NULL'), skippedFiles = one('SELECT count(*) AS n FROM files WHERE skip IS NOT NULL');
  const chunks = one('SELECT count(*) AS n FROM chunks'), embedded = one('SELECT count(*) AS n FROM embeddings');
  const rows = db.all(`SELECT f.path AS path, c.start_offset AS s, c.end_offset AS e FROM embeddings m JOIN chunks c ON c.id = m.chunk_id
    JOIN files f ON f.id = c.file_id ORDER BY f.path`) as { path: string; s: number; e: number }[];
  db.close();
  const tok = CodeTokenizer.load(modelDir), rc = readRetrievalConfig(modelDir), max = rc.maxChunkTokens;
  let tokens = 0, counted = 0, lines = 0, cur = '', text = '', linesOfFiles = 0;
  const seenFiles = new Set<string>();
  for (const r of rows) {
    if (Date.now() > deadline) break;
    if (r.path !== cur) {
      cur = r.path;
      text = await fs.readFile(path.join(root, ...r.path.split('/')), 'utf8').catch(() => '');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (!seenFiles.has(cur)) { seenFiles.add(cur); linesOfFiles += text.split('\n').length; }
    }
    const t = text.slice(r.s, r.e);
    let ids = tok.encode(t.slice(0, max * CUT_CHARS_PER_TOKEN)).ids;
    if (ids.length < max + 8 && t.length > max * CUT_CHARS_PER_TOKEN) ids = tok.encode(t).ids;
    tokens += chunkStream(ids, rc).length; counted++;
    lines += t.split('\n').length;
  }
  const wallS = Number(a.wall ?? NaN) / 1000, exit = Number(a.exit ?? NaN);
  // the CLI's own log (--verbose): which provider the encoder got, and its last progress line
  const log = a.log && existsSync(String(a.log)) ? readFileSync(String(a.log), 'utf8').split('\n') : [];
  const encoderLine = log.find((l) => l.startsWith('encoder: provider')) ?? null;
  const lastProgress = [...log].reverse().find((l) => l.startsWith('[')) ?? null;
  const res = { root, indexDir, requestedProvider: a.provider ?? null, encoderLine, lastProgress, wall_s: wallS, exit, finished: exit === 0,
    files, skippedFiles, chunks, embedded, embeddedCounted: counted, embeddedTokens: tokens,
    filesWithEmbeddings: seenFiles.size, linesOfThoseFiles: linesOfFiles, complete: counted === rows.length,
    embeddedTokensPerS: tokens / wallS };
  writeFileSync(String(a.out ?? 'index_stats.json'), JSON.stringify(res, null, 1));
  console.log(`index: ${files} files stored (${skippedFiles} skipped), ${chunks} chunks, ${embedded} embedded; ` +
    `tokens of ${counted}${counted === rows.length ? '' : ` of ${rows.length} (time budget)`} embedded chunks: ${tokens}`);
}

// ------------------------------------------------------------------------------------------ summary
function readJson<T>(file: string): T | undefined {
  try { return JSON.parse(readFileSync(file, 'utf8')) as T; } catch { return undefined; }
}

function summary(dir: string): void {
  const torch = readJson<{ device?: string; peak_bf16_tflops?: number; rows?: { variant: string; tokens: number; tokens_per_s?: number; max_mem_mib?: number; error?: string; skipped?: string }[] }>(path.join(dir, 'torch.json'));
  const benches = ['webgpu', 'cpu'].map((p) => readJson<{ provider: string; rows: Row[]; flops: Record<string, number> }>(path.join(dir, `bench_${p}.json`))).filter((b) => b);
  const smi = readSmi(path.join(dir, 'nvidia_smi.csv'));
  const peak = torch?.device && torch.device !== 'cpu' ? torch.peak_bf16_tflops : undefined; // a CPU smoke run's peak is no GPU peak
  console.log(`\n==== summary (${torch?.device ?? 'no GPU / no torch result'}; bf16 matmul peak measured: ${peak ? `${peak.toFixed(0)} TFLOP/s` : 'n/a'}) ====`);
  console.log('runtime/variant                      tokens     tok/s   TFLOP/s  %peak  GPU mem MiB (nvidia-smi max in window)');
  const line = (name: string, tokens: number, tps?: number, tflops?: number, mem?: string) =>
    console.log(`${name.padEnd(34)} ${String(tokens).padStart(8)} ${tps ? tps.toFixed(0).padStart(9) : '        -'} ${tflops !== undefined ? tflops.toFixed(3).padStart(8) : '       -'} ${tflops !== undefined && peak ? `${((tflops / peak) * 100).toFixed(2)}%`.padStart(6) : '     -'}  ${mem ?? ''}`);
  for (const r of torch?.rows ?? []) {
    const fl = benches[0]?.flops ?? {};
    const f = r.variant.includes('dense') ? fl.dense : r.variant.includes('chunk') ? fl.chunk512 : fl.sparse;
    line(`torch ${r.variant}`, r.tokens, r.tokens_per_s, r.tokens_per_s && f ? (r.tokens_per_s * f) / 1e12 : undefined,
      r.error ? `ERROR ${r.error.slice(0, 60)}` : r.skipped ? `skipped: ${r.skipped}` : r.max_mem_mib !== undefined ? `${r.max_mem_mib.toFixed(0)} (torch max allocated)` : '');
  }
  for (const b of benches) for (const r of b!.rows) {
    if (r.skipped?.startsWith('provider unavailable')) continue; // said once, on the row that failed
    if (r.skipped || r.error) { line(`${r.provider} ${r.variant}`, r.tokens, undefined, undefined, r.skipped ? `skipped: ${r.skipped}` : `ERROR ${r.error!.slice(0, 80)}`); continue; }
    const m = smi.length && r.tStart && r.tEnd ? Math.max(...smi.filter((s) => s.t >= r.tStart! && s.t <= r.tEnd!).map((s) => s.mib), -1) : -1;
    line(`${r.provider} ${r.variant}`, r.tokens, r.tokensPerS, r.tflops, `${m >= 0 ? m : '-'}  rss ${r.peakRssMiB?.toFixed(0)} MiB`);
  }
  // ratio and cost per token
  const web = benches.find((b) => b!.provider === 'webgpu')?.rows.filter((r) => r.tokensPerS && r.graph === 'encoder' && !r.runtime) ?? [];
  for (const t of [...new Set(web.map((r) => r.tokens))].sort((p, q) => p - q)) {
    const w = web.filter((r) => r.tokens === t).sort((p, q) => q.tokensPerS! - p.tokensPerS!)[0]!;
    const tr = (torch?.rows ?? []).filter((r) => r.tokens === t && r.tokens_per_s && !r.variant.includes('dense') && !r.variant.includes('chunk'))
      .sort((p, q) => q.tokens_per_s! - p.tokens_per_s!)[0];
    if (tr) console.log(`ratio at ${t} tokens: WebGPU best (${w.variant}) / PyTorch best sparse (${tr.variant}) = ${(w.tokensPerS! / tr.tokens_per_s!).toFixed(4)}`);
  }
  for (const b of benches) {
    const byVar = new Map<string, Row[]>();
    for (const r of b!.rows.filter((x) => x.tokensPerS)) byVar.set(r.variant, [...(byVar.get(r.variant) ?? []), r]);
    for (const [v, rs] of byVar) if (rs.length > 1) {
      rs.sort((p, q) => p.tokens - q.tokens);
      console.log(`cost/token ${b!.provider} ${v}: ${rs.map((r) => `${r.tokens}: ${(rs[0]!.tokensPerS! / r.tokensPerS!).toFixed(2)}x`).join(', ')} (relative to ${rs[0]!.tokens})`);
    }
  }
  for (const f of ['profile_webgpu.json', 'profile_cpu.json']) {
    const p = readJson<{ provider: string; nodesPerProvider: Record<string, number>; cpuFallbackOps: Record<string, number>; topNodes: { op: string; us: number; share: number; node: string }[] }>(path.join(dir, f));
    if (!p) continue;
    console.log(`profile ${p.provider}: nodes ${JSON.stringify(p.nodesPerProvider)}; CPU fallbacks ${JSON.stringify(p.cpuFallbackOps)}; top: ${p.topNodes.map((n) => `${n.op} ${(n.share * 100).toFixed(0)}%`).join(', ')}`);
  }
  const corpus = readJson<{ files: number; lines: number; roots: { root: string }[]; meets: boolean; minFiles: number; minLines: number }>(path.join(dir, 'corpus.json'));
  const st = readJson<{ wall_s: number; finished: boolean; exit: number; encoderLine: string | null; files: number; chunks: number; embedded: number;
    embeddedTokens: number; complete: boolean; embeddedCounted: number; linesOfThoseFiles: number }>(path.join(dir, 'index_stats.json'));
  if (corpus) console.log(`corpus: ${corpus.files} files, ${corpus.lines} lines (${corpus.roots.map((r) => r.root).join(', ')}); ${corpus.meets ? 'meets' : 'below'} the ${corpus.minFiles} files / ${corpus.minLines} lines bar`);
  if (st) console.log(`index --embed (${st.encoderLine ?? 'encoder line not in the log'}): ${st.finished ? 'finished' : `did not finish (exit ${st.exit}; 124 = time limit)`} after ${st.wall_s.toFixed(1)} s; ` +
    `${st.files} files stored, ${st.embedded}/${st.chunks} chunks embedded, ${st.embeddedTokens} tokens${st.complete ? '' : ` (only ${st.embeddedCounted} chunks counted)`}; ` +
    `end-to-end ${(st.embeddedTokens / st.wall_s).toFixed(0)} embedded tokens/s, ${(st.files / st.wall_s).toFixed(0)} files/s`);
}

function readSmi(file: string): { t: number; mib: number }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((l) => l.trim().split(/[ ,]+/)).filter((p) => p.length >= 2 && /^\d+$/.test(p[0]!) && /^\d+$/.test(p[1]!))
    .map((p) => ({ t: Number(p[0]), mib: Number(p[1]) }));
}

// ------------------------------------------------------------------------------------------ main
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, strict: true, options: {
    provider: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, sizes: { type: 'string' }, budget: { type: 'string' },
    quick: { type: 'boolean' }, segments: { type: 'string' }, graph: { type: 'string' }, 'profile-dir': { type: 'string' },
    'link-dir': { type: 'string' }, 'min-files': { type: 'string' }, 'min-lines': { type: 'string' }, root: { type: 'string' }, 'index-dir': { type: 'string' },
    wall: { type: 'string' }, exit: { type: 'string' }, log: { type: 'string' },
  } });
  const [cmd, ...rest] = positionals;
  switch (cmd) {
    case 'encoder': return benchEncoder(values);
    case 'profile': return benchProfile(values);
    case 'count': return countCorpus(values, rest);
    case 'index-stats': return indexStats(values);
    case 'summary': return summary(rest[0] ?? '.');
    default: throw new Error('usage: gpuBench encoder|profile|count|index-stats|summary (see the header of scripts/gpu/gpuBench.ts)');
  }
}

if (require.main === module) {
  main().then(() => process.exit(0), (e: unknown) => { console.error(`gpuBench: ${(e as Error).stack ?? String(e)}`); process.exit(1); });
}
