// Does the compressive memory recall? Synthetic recall trials run through the model folder's masked-token graph
// (mlm.fp32.onnx: the encoder + the tied output matrix at asked positions, kernels/train/lens_train/memory_probes.py export-mlm) with the
// runtime's own tokenizer, layout seed and run planning: a long input goes in runs of `maxSegments` segments, the
// memory carried from run to run (mem_out → mem_in) as the encoder does for a long file.
//   passkey  a 5-digit key ('\npasskey = 40617') at a depth spread evenly over segments 0 .. N-2, asked for in
//            the last segment ('\npasskey = ' then the digits masked); a trial is right when every digit is.
//   code     four identifiers defined in the filler's own code are given random values in the first half of the N
//            segments ('\nNAME = 0x3f2a'), each asked for N/2 or more segments later ('\nassert NAME == ' then the
//            value masked); a value is right when all its tokens are.
// Ablated: the same trials with the memory read zeroed (every segment its own document, zero memory in, so each
// segment reads an empty memory: exactly 0). Values are drawn apart from names, so only the memory can know them.
import * as ort from 'onnxruntime-node';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from './random.js';
import { sessionOptions } from './providers.js';
import { floats, type EncoderSession } from './session.js';
import { SPECIAL, type CodeTokenizer } from './tokenizer.js';

export type ProbeTask = 'passkey' | 'code';
export interface ProbeOptions { task: ProbeTask; segments: number; trials: number; seed: number; ablate: boolean; maxSegments: number }
export interface Score { accuracy: number; tokenAccuracy: number; right: number; asked: number }
export interface ProbeResult extends Score {
  task: ProbeTask; segments: number; tokens: number; trials: number; seed: number;
  ablated?: Score; fillerTokens: number; fillerRepeats: number; seconds: number;
}

export interface Ask { positions: number[]; answer: number[] } // flat positions in the trial's [N, T] input
export interface Trial { ids: Int32Array; asks: Ask[] }

const CODE_EXT = new Set(['.ts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.py', '.c', '.h']);
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'out', '__pycache__']);
const DEFINITION = /^[ \t]*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]{3,39})\s*[:=]|^([A-Za-z_]\w{3,39})\s*=\s*[^=\s]|#\s*define\s+([A-Za-z_]\w{3,39})\s/gm;
const FACTS_PER_TRIAL = 4;

/** Code files under `dir` in path order (deterministic), skipping build output and dependencies. */
export function fillerFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !SKIP_DIRS.has(e.name)) walk(p);
      else if (e.isFile() && CODE_EXT.has(path.extname(e.name))) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The filler: the files' tokens one after another, and the identifiers they define. */
export function readFiller(tokenizer: CodeTokenizer, files: string[]): { ids: Int32Array; names: string[] } {
  const parts: Int32Array[] = [];
  const names = new Set<string>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    parts.push(tokenizer.encode(text).ids);
    for (const m of text.matchAll(DEFINITION)) names.add((m[1] ?? m[2] ?? m[3])!);
  }
  const ids = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { ids.set(p, o); o += p.length; }
  return { ids, names: [...names].sort() };
}

function randomValue(rnd: () => number): string {
  const pick = (chars: string, n: number): string => Array.from({ length: n }, () => chars[Math.floor(rnd() * chars.length)]).join('');
  const k = rnd();
  if (k < 0.45) return pick('0123456789', 3 + Math.floor(rnd() * 6));
  if (k < 0.75) return '0x' + pick('0123456789abcdef', 4 + Math.floor(rnd() * 5));
  return `'${pick('abcdefghijklmnopqrstuvwxyz', 4 + Math.floor(rnd() * 5))}'`;
}

/** Builds the trials: filler windows (the filler repeated when shorter than the trials need) with the tasks laid in. */
export function buildTrials(tokenizer: CodeTokenizer, T: number, filler: { ids: Int32Array; names: string[] }, o: ProbeOptions): Trial[] {
  const N = o.segments, rnd = mulberry32(o.seed);
  const enc = (s: string): number[] => Array.from(tokenizer.encode(s).ids);
  if (filler.ids.length === 0) throw new Error('the filler holds no code tokens');
  if (o.task === 'code' && filler.names.length < FACTS_PER_TRIAL) throw new Error('the filler defines too few identifiers for the code task');
  const trials: Trial[] = [];
  for (let i = 0; i < o.trials; i++) {
    const ids = new Int32Array(N * T), busy = new Uint8Array(N * T);
    const start = Math.floor(rnd() * filler.ids.length);
    for (let k = 0; k < ids.length; k++) ids[k] = filler.ids[(start + k) % filler.ids.length]!;
    const put = (seg: number, tokens: number[]): number => {
      for (let tries = 0; tries < 50; tries++) {
        const p = seg * T + 64 + Math.floor(rnd() * (T - 128 - tokens.length));
        if (!busy.subarray(p, p + tokens.length).some((b) => b)) {
          tokens.forEach((t, k) => { ids[p + k] = t; busy[p + k] = 1; });
          return p;
        }
      }
      throw new Error(`no room for ${tokens.length} tokens in segment ${seg}`);
    };
    const asks: Ask[] = [];
    const fact = (write: number[], ask: number[], value: number[], at: number, askAt: number): void => {
      put(at, [...write, ...value]);
      const q = put(askAt, [...ask, ...value]) + ask.length;
      const positions = value.map((_, k) => q + k);
      positions.forEach((p) => { ids[p] = SPECIAL.mask; });
      asks.push({ positions, answer: value });
    };
    if (o.task === 'passkey') {
      const depth = o.trials > 1 ? Math.round((i * (N - 2)) / (o.trials - 1)) : 0;
      const key = enc(Array.from({ length: 5 }, () => String(Math.floor(rnd() * 10))).join(''));
      fact(enc('\npasskey = '), enc('\npasskey = '), key, depth, N - 1);
    } else {
      const half = Math.max(1, Math.floor(N / 2));
      for (let f = 0; f < FACTS_PER_TRIAL; f++) {
        const name = filler.names[Math.floor(rnd() * filler.names.length)]!;
        const at = Math.floor(rnd() * half);
        const askAt = Math.min(N - 1, at + half + Math.floor(rnd() * (N - half - at)));
        fact(enc(`\n${name} = `), enc(`\nassert ${name} == `), enc(randomValue(rnd)), at, askAt);
      }
    }
    trials.push({ ids, asks });
  }
  return trials;
}

/** Top-1 predictions at the trial's asked positions, its N segments in runs of maxSegments. */
async function predict(session: EncoderSession, mlm: ort.InferenceSession, trial: Trial, o: ProbeOptions, ablate: boolean): Promise<Map<number, number>> {
  const c = session.info.config, T = c.seg_len, N = o.segments;
  const memShape = [c.n_layers, c.n_kv_heads, c.d_head, c.d_head], zShape = [c.n_layers, c.n_kv_heads, c.d_head];
  let mem: Float32Array = new Float32Array(memShape.reduce((a, b) => a * b, 1));
  let z: Float32Array = new Float32Array(zShape.reduce((a, b) => a * b, 1));
  const asked = trial.asks.flatMap((a) => a.positions);
  const top = new Map<number, number>();
  for (let a = 0; a < N; a += o.maxSegments) {
    const S = Math.min(o.maxSegments, N - a);
    const here = asked.filter((p) => p >= a * T && p < (a + S) * T);
    const out = await mlm.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(trial.ids.subarray(a * T, (a + S) * T), (x) => BigInt(x)), [S, T]),
      valid: new ort.Tensor('float32', new Float32Array(S * T).fill(1), [S, T]),
      seg_doc: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, s) => BigInt(ablate ? s : 0)), [S]),
      rand_blocks: session.randBlocks,
      mem_in: new ort.Tensor('float32', ablate ? new Float32Array(mem.length) : mem, memShape),
      z_in: new ort.Tensor('float32', ablate ? new Float32Array(z.length) : z, zShape),
      positions: new ort.Tensor('int64', BigInt64Array.from(here.length ? here : [a * T], (p) => BigInt(p - a * T)), [Math.max(1, here.length)]),
    });
    const ids = out.top_ids!.data as BigInt64Array, k = out.top_ids!.dims[1]!;
    here.forEach((p, r) => top.set(p, Number(ids[r * k])));
    mem = floats(out.mem_out!); z = floats(out.z_out!);
  }
  return top;
}

async function score(session: EncoderSession, mlm: ort.InferenceSession, trials: Trial[], o: ProbeOptions, ablate: boolean): Promise<Score> {
  let right = 0, asked = 0, tokRight = 0, tokens = 0;
  for (const trial of trials) {
    const top = await predict(session, mlm, trial, o, ablate);
    // passkey: one answer a trial; code: each value is an answer
    for (const a of trial.asks) {
      const ok = a.positions.map((p, k) => top.get(p) === a.answer[k]);
      tokRight += ok.filter(Boolean).length; tokens += ok.length;
      right += ok.every(Boolean) ? 1 : 0; asked++;
    }
  }
  return { accuracy: right / asked, tokenAccuracy: tokRight / tokens, right, asked };
}

export function mlmGraph(modelDir: string): string {
  return path.join(modelDir, 'mlm.fp32.onnx');
}

export async function probeMemory(session: EncoderSession, fillerDir: string, o: ProbeOptions): Promise<ProbeResult> {
  const file = mlmGraph(session.modelDir);
  if (!fs.existsSync(file)) {
    throw new Error(`${session.modelDir} has no mlm.fp32.onnx (the masked-token graph): cd kernels/train && python3 -m lens_train.memory_probes export-mlm --model ${session.modelDir}`);
  }
  const t0 = performance.now();
  const mlm = await ort.InferenceSession.create(file, sessionOptions(session.info.provider));
  try {
    const filler = readFiller(session.tokenizer, fillerFiles(fillerDir));
    const trials = buildTrials(session.tokenizer, session.info.config.seg_len, filler, o);
    const on = await score(session, mlm, trials, o, false);
    const ablated = o.ablate ? await score(session, mlm, trials, o, true) : undefined;
    const T = session.info.config.seg_len;
    return {
      task: o.task, segments: o.segments, tokens: o.segments * T, trials: o.trials, seed: o.seed, ...on,
      ...(ablated ? { ablated } : {}), fillerTokens: filler.ids.length,
      fillerRepeats: Math.ceil((o.segments * T) / filler.ids.length), seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await mlm.release();
  }
}
