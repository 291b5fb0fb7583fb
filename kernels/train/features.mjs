// Pooled final-LayerNorm features of token sequences through the shipped query graph (head_refit.py graph),
// with onnxruntime-node on the CPU: f = mean over valid positions of LN(h_t), d_model floats a sequence.
// Usage: node --import tsx kernels/train/features.mjs DIR [name ...]
//        (reads DIR/NAME.ids.i32 + .len.i32 and DIR/model-card.json, writes DIR/NAME.f32)
// Batches are the extension's own (kernels/runtime/chunks.ts planChunkBatches: sorted by length, little padding).
import ort from 'onnxruntime-node';
import fs from 'node:fs';
import { planChunkBatches } from '../runtime/chunks.ts';

const dir = process.argv[2];
const names = process.argv.length > 3 ? process.argv.slice(3) : ['val_q', 'val_code', 'train_q', 'train_code'];
const LN = '/m/ln_f/LayerNormalization_output_0';
const { n_layers: L, n_kv_heads: Hkv, d_head: Dh, d_model: D } = JSON.parse(fs.readFileSync(`${dir}/model-card.json`)).config;
const i32 = (p) => { const b = fs.readFileSync(p); return new Int32Array(b.buffer, b.byteOffset, b.length / 4); };
const session = await ort.InferenceSession.create(`${dir}/feat.onnx`, { intraOpNumThreads: 2 });
const mem = { // zero memory, as chunks and queries are encoded (CONTRACT.md)
  mem_in: new ort.Tensor('float32', new Float32Array(L * Hkv * Dh * Dh), [L, Hkv, Dh, Dh]),
  z_in: new ort.Tensor('float32', new Float32Array(L * Hkv * Dh), [L, Hkv, Dh]),
};
for (const name of names) {
  if (fs.existsSync(`${dir}/${name}.f32`)) { console.log(`${name}: done before`); continue; }
  const ids = i32(`${dir}/${name}.ids.i32`), len = i32(`${dir}/${name}.len.i32`);
  const start = new Int32Array(len.length); for (let i = 1; i < len.length; i++) start[i] = start[i - 1] + len[i - 1];
  const out = new Float32Array(len.length * D);
  const t0 = Date.now(); let tokens = 0, done = 0;
  for (const { items, width: T } of planChunkBatches(Array.from(len))) {
    const B = items.length, inIds = new BigInt64Array(B * T), valid = new Float32Array(B * T);
    items.forEach((k, r) => { for (let t = 0; t < len[k]; t++) { inIds[r * T + t] = BigInt(ids[start[k] + t]); valid[r * T + t] = 1; } tokens += len[k]; });
    const res = await session.run({
      input_ids: new ort.Tensor('int64', inIds, [B, T]), valid: new ort.Tensor('float32', valid, [B, T]), ...mem,
    }, [LN]);
    const h = res[LN].data;
    items.forEach((k, r) => {
      const o = out.subarray(k * D, (k + 1) * D);
      for (let t = 0; t < len[k]; t++) for (let d = 0; d < D; d++) o[d] += h[(r * T + t) * D + d];
      for (let d = 0; d < D; d++) o[d] /= len[k];
    });
    if (((done += B) & 1023) < B) process.stdout.write(`\r${name}: ${done}/${len.length}, ${(tokens / ((Date.now() - t0) / 1000)).toFixed(0)} tokens/s`);
  }
  fs.writeFileSync(`${dir}/${name}.f32`, Buffer.from(out.buffer));
  console.log(`\n${name}: ${len.length} sequences, ${tokens} tokens in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
