// Encoder throughput on this machine, variants side by side in one run (never a timed test):
//   node --import tsx kernels/runtime/bench.ts [modelDir] [segments] [provider]
// Prints tokens/s of the block-sparse encoder graph against the dense one on the same random input
// (medians of 7 interleaved runs after a warm-up), the tokenizer alone, and the whole encodeFiles path on this repo's sources.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from './random.js';
import { EncoderSession } from './session.js';
import type { ProviderSetting } from './providers.js';

async function main(): Promise<void> {
  const modelDir = process.argv[2] ?? 'kernels/model';
  const S = Number(process.argv[3] ?? 4);
  const s = await EncoderSession.open(modelDir, { provider: (process.argv[4] ?? 'cpu') as ProviderSetting, maxSegments: S });
  const c = s.info.config, T = c.seg_len, L = c.n_layers, G = c.n_kv_heads, D = c.d_head;
  console.log(`provider ${s.info.provider} (${s.info.precision}); ${S} segments of ${T} tokens a run; cores: ${require('node:os').cpus().length}`);
  const rand = mulberry32(7);
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S * T }, () => BigInt(4 + Math.floor(rand() * (c.vocab - 4)))), [S, T]),
    valid: new ort.Tensor('float32', new Float32Array(S * T).fill(1), [S, T]),
    seg_doc: new ort.Tensor('int64', new BigInt64Array(S), [S]),
    rand_blocks: s.randBlocks,
    mem_in: new ort.Tensor('float32', new Float32Array(L * G * D * D), [L, G, D, D]),
    z_in: new ort.Tensor('float32', new Float32Array(L * G * D), [L, G, D]),
  };
  // Interleaved (sparse, dense, sparse, ...) so load from other processes hits both alike; medians of 7.
  const graphs = ['encoder', 'encoder_dense'] as const, times = new Map<string, number[]>();
  for (const g of graphs) { try { await s.run(g, feeds); times.set(g, []); } catch (e) { console.log(`${g}: ${(e as Error).message}`); } }
  for (let i = 0; i < 7; i++) for (const g of times.keys()) {
    const t0 = performance.now(); await s.run(g as typeof graphs[number], feeds); times.get(g)!.push(performance.now() - t0);
  }
  const rows: [string, number][] = [...times].map(([g, t]) => [g, (S * T) / (t.sort((a, b) => a - b)[3]! / 1000)]);
  for (const [g, tps] of rows) console.log(`${g.padEnd(14)} ${tps.toFixed(0).padStart(8)} tokens/s`);
  if (rows.length === 2) console.log(`sparse / dense speed ratio: ${(rows[0]![1] / rows[1]![1]).toFixed(2)}`);

  const files = ['kernels/reference', 'kernels/runtime', 'extension/src/memory'].flatMap((d) =>
    readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => ({ path: path.join(d, f), text: readFileSync(path.join(d, f), 'utf8'), chunks: [{ startOffset: 0, endOffset: 200 }] })));
  let t0 = performance.now(), nTok = 0;
  for (const f of files) nTok += s.tokenizer.encode(f.text).ids.length;
  const tokMs = performance.now() - t0;
  console.log(`tokenizer      ${(nTok / (tokMs / 1000)).toFixed(0).padStart(8)} tokens/s (${files.length} files, ${nTok} tokens)`);
  t0 = performance.now();
  await s.encodeFiles(files);
  console.log(`encodeFiles    ${(nTok / ((performance.now() - t0) / 1000)).toFixed(0).padStart(8)} tokens/s (tokenize + encode + pool, padding included)`);
  await s.close();
}

void main();
