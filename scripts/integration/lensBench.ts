// Time from "Show Attention" to the lens data on a generated 100,000-line file, through the host's code path
// without VS Code: kernels/runtime's Encoder (worker thread) + the lens engine the extension uses
// (runtimeEngine.ts). Per cursor line, on a fresh encoder (nothing cached): the first request, the same
// segment again (a fresh host engine, so only the worker's per-file cache helps), a nearby later segment and,
// for deep cursors, an earlier segment 5,000 lines up.
// Side by side in the same run: the old path (lens graph on every segment 1..s+1) on a shallow cursor, and the
// per-segment cost of both graphs, so deep cursors' old times can be extrapolated.
// Usage: node --import tsx scripts/integration/lensBench.ts [--old] [line...]   (default lines 1 3001 50000 99990)
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Encoder } from '../../kernels/runtime/encoder.js';
import type { LensResult } from '../../kernels/runtime/lens.js';
import { docStream } from '../../kernels/runtime/segments.js';
import { EncoderSession, floats } from '../../kernels/runtime/session.js';
import { lensConfigFrom, runtimeLensEngine, safeCut } from '../../extension/src/lens/runtimeEngine.js';

const repo = path.resolve(__dirname, '../..');
const model = path.join(repo, 'kernels/model');
const never = { isCancellationRequested: false };

function hugeFile(): string {
  const lines: string[] = [];
  for (let i = 0; lines.length < 100_000; i++) {
    lines.push(`export function step${i}(state: State, input: number): State {`, `  const next = state.value * ${i % 13} + input;`,
      `  return { ...state, value: next, count: state.count + 1 };`, '}', '');
  }
  return lines.slice(0, 100_000).join('\n');
}

const sec = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const load = () => os.loadavg()[0]!.toFixed(1);

/** One cursor line on a fresh encoder: first request, same segment again, a later segment. */
async function cursorLine(text: string, starts: number[], line: number): Promise<string> {
  const t0 = performance.now();
  const enc = await Encoder.open(model, { provider: 'cpu', workerPath: path.join(repo, 'kernels/runtime/worker.ts') });
  const startMs = performance.now() - t0;
  let last: LensResult | undefined;
  const rt = { lens: async (t: string, target: Parameters<Encoder['lens']>[1]) => (last = await enc.lens(t, target)),
    recall: enc.recall.bind(enc) };
  const cfg = lensConfigFrom(enc.info.config);
  const at = async (l: number) => {
    const engine = runtimeLensEngine(rt, cfg); // fresh host engine: no host-side cache
    const t = performance.now();
    const data = await engine.lens({ uri: 'file:///huge.ts', label: 'huge.ts', version: 1, text, offset: starts[l - 1]! + 10 }, never);
    const w = last!.work!;
    return { ms: performance.now() - t, seg: data.segment, work: `enc ${w.encoderSegments}, lens ${w.lensSegments}, tok ${w.tokenized}` };
  };
  const first = await at(line);
  const same = await at(line);
  const laterLine = Math.min(100_000, line + 250);
  const later = await at(laterLine);
  // An earlier cursor reuses the checkpoint at or before its recall window (the later one's window is gone).
  const earlier = line > 5_000 ? await at(line - 5_000) : undefined;
  await enc.close();
  const row = `| ${line.toLocaleString('en')} | ${first.seg + 1} | ${sec(first.ms)} (${first.work}) | ${sec(same.ms)} (${same.work}) | ` +
    `line ${laterLine.toLocaleString('en')} → segment ${later.seg + 1}: ${sec(later.ms)} (${later.work}) | ` +
    (earlier ? `line ${(line - 5_000).toLocaleString('en')} → segment ${earlier.seg + 1}: ${sec(earlier.ms)} (${earlier.work})` : '—') + ` | ${load()} |`;
  console.log(`encoder start ${sec(startMs)}; ${row}`);
  return row;
}

/** The old path on the segments 0..s of `text`'s prefix: lens graph run segment by segment, plus encoder-graph rate. */
async function oldPath(text: string, starts: number[], line: number): Promise<string> {
  const session = await EncoderSession.open(model, { provider: 'cpu' });
  const c = session.info.config, T = c.seg_len, L = c.n_layers, Hkv = c.n_kv_heads, D = c.d_head;
  const t0 = performance.now();
  const cursor = starts[line - 1]! + 10;
  const doc = docStream(session.tokenizer.encode(text.slice(0, safeCut(text, cursor + 16_384))));
  let s = 0;
  while (s + 1 < Math.ceil(doc.ids.length / T) && doc.starts[(s + 1) * T]! <= cursor) s++;
  let mem = new Float32Array(L * Hkv * D * D), z = new Float32Array(L * Hkv * D);
  const tLens = performance.now();
  for (let j = 0; j <= s; j++) {
    const ids = new BigInt64Array(T), valid = new Float32Array(T);
    for (let t = 0; t < T && j * T + t < doc.ids.length; t++) { ids[t] = BigInt(doc.ids[j * T + t]!); valid[t] = 1; }
    const out = await session.run('lens', { input_ids: new ort.Tensor('int64', ids, [1, T]), valid: new ort.Tensor('float32', valid, [1, T]),
      rand_blocks: session.randBlocks, mem_in: new ort.Tensor('float32', mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', z, [L, Hkv, D]) });
    mem = floats(out.mem_out!).slice(); z = floats(out.z_out!).slice();
  }
  const lensMs = (performance.now() - tLens) / (s + 1), total = performance.now() - t0;
  // The encoder graph on the same segments, runs of maxSegments, only mem_out/z_out fetched (as lensMemory.ts does).
  const S = session.maxSegments, tEnc = performance.now();
  let segs = 0;
  for (let j = 0; j + S <= s + 1; j += S, segs += S) {
    const ids = new BigInt64Array(S * T), valid = new Float32Array(S * T).fill(1);
    for (let t = 0; t < S * T; t++) ids[t] = BigInt(doc.ids[j * T + t]!);
    await session.run('encoder', { input_ids: new ort.Tensor('int64', ids, [S, T]), valid: new ort.Tensor('float32', valid, [S, T]),
      seg_doc: new ort.Tensor('int64', new BigInt64Array(S), [S]), rand_blocks: session.randBlocks,
      mem_in: new ort.Tensor('float32', mem, [L, Hkv, D, D]), z_in: new ort.Tensor('float32', z, [L, Hkv, D]) }, ['mem_out', 'z_out']);
  }
  const encMs = (performance.now() - tEnc) / Math.max(1, segs);
  await session.close();
  const line1 = `old path (lens graph on segments 1..${s + 1}) at line ${line.toLocaleString('en')}: ${sec(total)}; ` +
    `lens graph ${lensMs.toFixed(0)} ms a segment, encoder graph ${encMs.toFixed(0)} ms a segment (runs of ${S}), ratio ${(lensMs / encMs).toFixed(2)}; load ${load()}`;
  console.log(line1);
  return line1;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const text = hugeFile();
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  console.log(`${starts.length.toLocaleString('en')} lines, ${(text.length / 1e6).toFixed(1)} MB; ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (args.includes('--old')) await oldPath(text, starts, 3001);
  const lines = args.filter((a) => !a.startsWith('--')).map(Number);
  const rows: string[] = [];
  for (const line of lines.length ? lines : [1, 3001, 50_000, 99_990]) rows.push(await cursorLine(text, starts, line));
  console.log('\n| cursor line | segment | first Show Attention (work) | same segment again (work) | nearby later segment (work) | 5,000 lines earlier (work) | load (1 min) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

void main();
