// `infini-lens bench`: encoder throughput at long inputs, the block-sparse `encoder` graph against
// `encoder_dense`, per execution provider, side by side in one run (a script that prints ratios, never a test).
// Each (provider, graph, size) runs in its own child process so its peak RSS is its own. A size of N tokens is
// one file of N tokens: ceil(N / seg_len) segments in runs of `maxSegments`, the memory carried from run to run
// (mem_out → mem_in) exactly as the runtime encodes a long file, so the cost per token shows whether it stays
// flat with length (the compressive memory is fixed-size; attention is per segment).
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../kernels/runtime/random.js';
import { floats, EncoderSession } from '../../kernels/runtime/session.js';
import type { ProviderSetting } from '../../kernels/runtime/providers.js';

export interface BenchArgs { modelDir: string; sizes?: string; providers?: string; graphs?: string }
interface One { provider: string; graph: string; tokens: number; seconds?: number; tokensPerS?: number; peakRssMiB?: number; error?: string }

/** The hidden CLI command a child runs. */
export const ONE_COMMAND = 'bench-one';

/** "4k,64k,1M" → token counts. */
export function parseSizes(s: string): number[] {
  return s.split(',').map((x) => {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(x.trim());
    if (!m) throw new Error(`--sizes: cannot read '${x}' (use e.g. 4k,64k,1M)`);
    const mult = m[2]!.toLowerCase() === 'k' ? 1024 : m[2]!.toLowerCase() === 'm' ? 1024 * 1024 : 1;
    return Math.round(Number(m[1]) * mult);
  });
}

export async function runBench(a: BenchArgs): Promise<void> {
  const sizes = parseSizes(a.sizes ?? '4k,64k,1M');
  const providers = (a.providers ?? 'cpu,webgpu').split(',');
  const graphs = (a.graphs ?? 'encoder,encoder_dense').split(',');
  console.log(`bench: model ${a.modelDir}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('graphs run interleaved run by run in one child process per (provider, size); peak RSS is that process\'s');
  const rows: One[] = [];
  for (const provider of providers) {
    for (const tokens of sizes) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ONE_COMMAND, JSON.stringify({ modelDir: a.modelDir, provider, graphs, tokens })],
        { encoding: 'utf8', maxBuffer: 1 << 24 });
      const lines = r.stdout.split('\n').filter((l) => l.startsWith('{'));
      if (lines.length === 0) {
        const why = (r.stderr || `exit ${r.status}`).trim().split('\n').filter((l) => /Error|error|unavailable/.test(l)).slice(-1)[0] ?? `exit ${r.status}`;
        console.log(`${provider}: unavailable (${why.trim()})`);
        break; // the provider itself is missing: other sizes would say the same
      }
      for (const l of lines) {
        const one = JSON.parse(l) as One;
        rows.push(one);
        console.log(`${provider.padEnd(7)} ${one.graph.padEnd(14)} ${String(one.tokens).padStart(8)} tokens  ${one.seconds!.toFixed(2).padStart(8)} s  ${one.tokensPerS!.toFixed(0).padStart(7)} tokens/s  peak RSS ${one.peakRssMiB!.toFixed(0)} MiB`);
      }
      console.log(`        (${((Date.now() - t0) / 1000).toFixed(0)} s wall for this size, with process start and model load)`);
    }
  }
  summarise(rows, sizes);
}

function summarise(rows: One[], sizes: number[]): void {
  const ok = rows.filter((r) => r.tokensPerS);
  const get = (p: string, g: string, n: number) => ok.find((r) => r.provider === p && r.graph === g && r.tokens === n);
  console.log('\nsummary (cost per token relative to the smallest size; sparse speedup = dense time / sparse time):');
  for (const p of [...new Set(ok.map((r) => r.provider))]) {
    for (const g of [...new Set(ok.map((r) => r.graph))]) {
      const base = get(p, g, sizes[0]!);
      if (!base) continue;
      const rel = sizes.map((n) => { const r = get(p, g, n); return r ? `${n}: ${(base.tokensPerS! / r.tokensPerS!).toFixed(2)}x` : `${n}: -`; });
      console.log(`  ${p} ${g}: cost/token ${rel.join(', ')}`);
    }
    for (const n of sizes) {
      const s = get(p, 'encoder', n), d = get(p, 'encoder_dense', n);
      if (s && d) console.log(`  ${p} sparse speedup over dense at ${n} tokens: ${(s.tokensPerS! / d.tokensPerS!).toFixed(2)}x`);
    }
  }
}

/** The child: one size, one provider, the graphs interleaved run by run; prints one JSON line per graph. */
export async function benchOne(spec: string): Promise<void> {
  const { modelDir, provider, graphs, tokens } = JSON.parse(spec) as { modelDir: string; provider: string; graphs: ('encoder' | 'encoder_dense')[]; tokens: number };
  const s = await EncoderSession.open(modelDir, { provider: provider as ProviderSetting });
  if (s.info.provider !== provider) throw new Error(`provider ${provider} unavailable (got ${s.info.provider})`);
  const c = s.info.config, T = c.seg_len, S = s.maxSegments, L = c.n_layers, G = c.n_kv_heads, D = c.d_head;
  const rand = mulberry32(7);
  const segments = Math.ceil(tokens / T);
  // Each graph encodes the same long file and carries its own memory from run to run.
  const state = graphs.map(() => ({ mem: new Float32Array(L * G * D * D), z: new Float32Array(L * G * D), ms: 0 })); // [L, Hkv, 64, 64], [L, Hkv, 64]
  const feedsFor = (n: number, ids: BigInt64Array, g: number) => ({
    input_ids: new ort.Tensor('int64', ids, [n, T]), valid: new ort.Tensor('float32', new Float32Array(n * T).fill(1), [n, T]),
    seg_doc: new ort.Tensor('int64', new BigInt64Array(n), [n]), rand_blocks: s.randBlocks,
    mem_in: new ort.Tensor('float32', state[g]!.mem, [L, G, D, D]), z_in: new ort.Tensor('float32', state[g]!.z, [L, G, D]),
  });
  const idsFor = (n: number) => BigInt64Array.from({ length: n * T }, () => BigInt(4 + Math.floor(rand() * (c.vocab - 4)))); // [n, T]
  const warm = idsFor(Math.min(S, segments));
  for (let g = 0; g < graphs.length; g++) await s.run(graphs[g]!, feedsFor(Math.min(S, segments), warm, g)); // graph load, first allocations
  // A short file is encoded several times over (fresh memory each time) so its time is not one noisy run.
  const reps = Math.max(1, Math.ceil(65536 / (segments * T)));
  for (let rep = 0; rep < reps; rep++) {
    for (const st of state) { st.mem = new Float32Array(L * G * D * D); st.z = new Float32Array(L * G * D); }
    for (let done = 0, k = rep; done < segments; done += S, k++) {
      const n = Math.min(S, segments - done), ids = idsFor(n);
      const order = graphs.map((_, g) => g);
      if (k % 2) order.reverse(); // alternate who goes first, so neither always runs on a warmer cache
      for (const g of order) {
        const t0 = performance.now();
        const out = await s.run(graphs[g]!, feedsFor(n, ids, g));
        state[g]!.ms += performance.now() - t0;
        state[g]!.mem = floats(out.mem_out!).slice(); state[g]!.z = floats(out.z_out!).slice(); // the long file's memory goes on
      }
    }
  }
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  graphs.forEach((graph, g) => console.log(JSON.stringify({ provider, graph, tokens: segments * T, seconds: state[g]!.ms / 1000 / reps,
    tokensPerS: (reps * segments * T) / (state[g]!.ms / 1000), peakRssMiB })));
  await s.close();
}
