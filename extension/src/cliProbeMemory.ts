// `infini-lens probe-memory`: does the model's compressive memory recall? Runs kernels/runtime/memoryProbe.ts's
// trials through the model folder's graphs and prints the share of right answers, with the memory and (with
// --ablate-memory) with its read zeroed on the same trials.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from './cliArgs.js';
import { probeMemory, type ProbeTask } from '../../kernels/runtime/memoryProbe.js';
import { EncoderSession } from '../../kernels/runtime/session.js';
import type { ProviderSetting } from '../../kernels/runtime/providers.js';

export const PROBE_USAGE = `usage: infini-lens probe-memory --task passkey|code --segments N --trials T [--ablate-memory] [--json]
                          [--filler DIR] [--seed S] [--model DIR] [--provider P] [--max-segments K]
  --filler DIR      real code the trials are cut from (default: the current folder; its code files in path order)
  --seed S          the trials' seed (default 24); the same seed gives the same trials
  --max-segments K  segments per graph run (default 8 on the CPU, 16 on a GPU), the memory carried between runs`;

const TASKS: readonly ProbeTask[] = ['passkey', 'code'];


function int(v: string | undefined, name: string, dflt: number | undefined, min: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new UsageError(`probe-memory needs ${name} (infini-lens probe-memory --help)`);
    return dflt;
  }
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${name}: expected an integer >= ${min}, got '${v}'`);
  return Number(v);
}

export async function runProbeMemory(argv: string[], defaultModelDir: string): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: {
        task: { type: 'string' }, segments: { type: 'string' }, trials: { type: 'string' }, 'ablate-memory': { type: 'boolean' },
        json: { type: 'boolean' }, filler: { type: 'string' }, seed: { type: 'string' }, model: { type: 'string' },
        provider: { type: 'string' }, 'max-segments': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError(`probe-memory: ${(e as Error).message}`);
  }
  if (values.help) return void console.log(PROBE_USAGE);
  const task = values.task as ProbeTask;
  if (!TASKS.includes(task)) throw new UsageError(`--task: expected passkey or code, got '${values.task ?? ''}'`);
  const segments = int(values.segments, '--segments', undefined, 2);
  const trials = int(values.trials, '--trials', undefined, 1);
  const seed = int(values.seed, '--seed', 24, 0);
  const filler = path.resolve(values.filler ?? '.');
  if (!fs.existsSync(filler) || !fs.statSync(filler).isDirectory()) throw new UsageError(`--filler: ${filler} is not a folder`);
  const modelDir = values.model ? path.resolve(values.model) : defaultModelDir;
  const provider = (values.provider ?? 'cpu') as ProviderSetting;
  if (!['auto', 'cpu', 'webgpu', 'cuda'].includes(provider)) throw new UsageError(`--provider: expected auto|webgpu|cuda|cpu, got '${provider}'`);
  const session = await EncoderSession.open(modelDir, { provider });
  try {
    const maxSegments = int(values['max-segments'], '--max-segments', session.maxSegments, 1);
    const r = await probeMemory(session, filler, { task, segments, trials, seed, ablate: values['ablate-memory'] ?? false, maxSegments });
    if (values.json) {
      console.log(JSON.stringify({
        task: r.task, segments: r.segments, tokens: r.tokens, trials: r.trials, seed: r.seed, answers: r.asked,
        accuracy: r.accuracy, token_accuracy: r.tokenAccuracy,
        ablated: r.ablated ? r.ablated.accuracy : null, ablated_token_accuracy: r.ablated ? r.ablated.tokenAccuracy : null,
        filler: filler, filler_tokens: r.fillerTokens, filler_repeats: r.fillerRepeats, model: modelDir,
        provider: session.info.provider, seconds: Number(r.seconds.toFixed(1)),
      }));
    } else {
      const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
      console.log(`${r.task} at ${r.segments} segments (${r.tokens.toLocaleString('en-US')} tokens), ${r.trials} trials, seed ${r.seed}: ` +
        `${pct(r.accuracy)} right (${r.right}/${r.asked}; tokens ${pct(r.tokenAccuracy)})` +
        (r.ablated ? `; memory ablated ${pct(r.ablated.accuracy)} (${r.ablated.right}/${r.ablated.asked}; tokens ${pct(r.ablated.tokenAccuracy)})` : '') +
        `; ${r.seconds.toFixed(1)} s on ${session.info.provider}`);
    }
  } finally {
    await session.close();
  }
}
