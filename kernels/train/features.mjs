// Pooled final-LayerNorm features of token sequences through the shipped query graph (head_refit.py graph),
// with onnxruntime-node on the CPU: f = mean over valid positions of LN(h_t), 384 floats a sequence.
// Usage: node kernels/train/features.mjs DIR [name ...]   (reads DIR/NAME.ids.i32 + .len.i32, writes DIR/NAME.f32)
// Sequences are sorted by length and batched to about 16k padded tokens, as the extension's indexer batches them.
import ort from 'onnxruntime-node';
import fs from 'node:fs';
const dir = process.argv[2];
const names = process.argv.length > 3 ? process.argv.slice(3) : ['val_q', 'val_code', 'train_q', 'train_code'];
const LN = '/m/ln_f/LayerNormalization_output_0';
const i32 = (p) => { const b = fs.readFileSync(p); return new Int32Array(b.buffer, b.byteOffset, b.length / 4); };
const session = await ort.InferenceSession.create(`${dir}/feat.onnx`, { intraOpNumThreads: 2 });
const L = 6, Hkv = 2;
for (const name of names) {
  if (fs.existsSync(`${dir}/${name}.f32`)) { console.log(`${name}: done before`); continue; }
  const ids = i32(`${dir}/${name}.ids.i32`), len = i32(`${dir}/${name}.len.i32`);
  const start = new Int32Array(len.length); for (let i = 1; i < len.length; i++) start[i] = start[i - 1] + len[i - 1];
  const order = Array.from(len.keys()).sort((a, b) => len[a] - len[b]);
  const D = 384, out = new Float32Array(len.length * D);
  const t0 = Date.now(); let tokens = 0;
  for (let i = 0; i < order.length;) {
    let j = i; const cap = 16384;
    while (j < order.length && (j - i + 1) * len[order[j]] <= Math.max(cap, len[order[i]])) j++;
    const grp = order.slice(i, j), T = Math.max(...grp.map((k) => len[k])), B = grp.length;
    const inIds = new BigInt64Array(B * T), valid = new Float32Array(B * T);
    grp.forEach((k, r) => { for (let t = 0; t < len[k]; t++) { inIds[r * T + t] = BigInt(ids[start[k] + t]); valid[r * T + t] = 1; } tokens += len[k]; });
    const res = await session.run({
      input_ids: new ort.Tensor('int64', inIds, [B, T]), valid: new ort.Tensor('float32', valid, [B, T]),
      mem_in: new ort.Tensor('float32', new Float32Array(L * Hkv * 64 * 64), [L, Hkv, 64, 64]),
      z_in: new ort.Tensor('float32', new Float32Array(L * Hkv * 64), [L, Hkv, 64]),
    }, [LN]);
    const h = res[LN].data;
    grp.forEach((k, r) => {
      const o = out.subarray(k * D, (k + 1) * D);
      for (let t = 0; t < len[k]; t++) for (let d = 0; d < D; d++) o[d] += h[(r * T + t) * D + d];
      for (let d = 0; d < D; d++) o[d] /= len[k];
    });
    i = j;
    if ((i & 1023) < B) process.stdout.write(`\r${name}: ${i}/${order.length}, ${(tokens / ((Date.now() - t0) / 1000)).toFixed(0)} tokens/s`);
  }
  fs.writeFileSync(`${dir}/${name}.f32`, Buffer.from(out.buffer));
  console.log(`\n${name}: ${len.length} sequences, ${tokens} tokens in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
