// Time from "Show Attention" to the lens data on a 100,000-line file, through the host's code path without VS
// Code: kernels/runtime's Encoder (worker thread) + the lens engine the extension uses (runtimeEngine.ts).
// Usage: node scripts/build.mjs --quiet && node --import tsx scripts/integration/lensBench.ts [line...]
import * as path from 'node:path';
import { Encoder } from '../../kernels/runtime/encoder.js';
import { lensConfigFrom, runtimeLensEngine } from '../../extension/src/vscode/lens/runtimeEngine.js';

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, '../..');
  const lines: string[] = [];
  for (let i = 0; lines.length < 100_000; i++) {
    lines.push(`export function step${i}(state: State, input: number): State {`, `  const next = state.value * ${i % 13} + input;`,
      `  return { ...state, value: next, count: state.count + 1 };`, '}', '');
  }
  const text = lines.join('\n');
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  const t0 = performance.now();
  const enc = await Encoder.open(path.join(repo, 'kernels/model'), { provider: 'cpu', workerPath: path.join(repo, 'dist/worker.js') });
  console.log(`encoder start: ${(performance.now() - t0).toFixed(0)} ms (${enc.info.provider})`);
  const never = { isCancellationRequested: false };
  const targets = process.argv.slice(2).map(Number);
  for (const line of targets.length ? targets : [1, 301, 3001]) {
    const engine = runtimeLensEngine(enc, lensConfigFrom(enc.info.config)); // fresh: nothing cached
    const offset = starts[line - 1]! + 10;
    const req = { uri: 'file:///huge.ts', label: 'huge.ts', version: 1, text, offset };
    let t = performance.now();
    const data = await engine.lens(req, never);
    const first = performance.now() - t;
    t = performance.now();
    await engine.attention({ uri: req.uri, version: 1, segment: data.segment, token: (data.selection.token + 7) % data.tokens.length }, never);
    const other = performance.now() - t;
    console.log(`line ${line} → segment ${data.segment + 1} (segments 1..${data.segment + 1} encoded, prefix of the file): ` +
      `first ${first.toFixed(0)} ms; another token of the same segment ${other.toFixed(0)} ms`);
  }
  await enc.close();
}

void main();
