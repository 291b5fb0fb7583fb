// Check the shipped ONNX graphs against the golden fixtures with onnxruntime-node (CPU): relative error per output.
// Usage: node kernels/train/check_graphs.mjs [test/fixtures/model] [kernels/model]

import ort from 'onnxruntime-node';
import fs from 'node:fs';
const F = process.argv[2] ?? 'test/fixtures/model', M = process.argv[3] ?? 'kernels/model';
const man = JSON.parse(fs.readFileSync(F + '/graphs.json'));
function arr(e) { const b = fs.readFileSync(F + '/' + e.file); const T = e.dtype === 'int64' ? BigInt64Array : Float32Array;
  return new T(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); }
function load(e) { return new ort.Tensor(e.dtype === 'int64' ? 'int64' : 'float32', arr(e), e.shape); }
function slice(name, t) { // the documented fixture slices, for the shapes of these graphs
  const d = t.dims, x = t.data, out = [];
  const idx = (...i) => i.reduce((a, v, k) => a * d[k] + v, 0);
  if (name === 'emb') { for (let s = 0; s < d[0]; s++) for (let i = 0; i < d[1]; i += 8) for (let e = 0; e < d[2]; e++) out.push(x[idx(s, i, e)]); }
  else if (name === 'probs') { for (let l = 0; l < d[0]; l++) for (let h = 0; h < d[1]; h++) for (let n = 0; n < d[2]; n++) for (let r = 0; r < 2; r++) for (let k = 0; k < d[4]; k++) out.push(x[idx(l, h, n, r, k)]); }
  else if (name === 'global_probs') { for (let l = 0; l < d[0]; l++) for (let h = 0; h < d[1]; h++) for (let r = 0; r < d[2]; r += 16) for (let k = 0; k < d[3]; k++) out.push(x[idx(l, h, r, k)]); }
  else if (name === 'sigma_q' || name === 'sigma_k') { for (let l = 0; l < d[0]; l++) for (let h = 0; h < d[1]; h++) for (let r = 0; r < 64; r++) for (let k = 0; k < d[3]; k++) out.push(x[idx(l, h, r, k)]); }
  return out;
}
(async () => {
  let worst = 0;
  for (const g of ['encoder', 'encoder_dense', 'query', 'lens']) for (const p of ['fp32', 'fp16']) {
    if (!fs.existsSync(`${M}/${g}.${p}.onnx`)) continue;
    const s = await ort.InferenceSession.create(`${M}/${g}.${p}.onnx`);
    const feeds = {}; for (const n of s.inputNames) feeds[n] = load(man[g].inputs[n]);
    const out = await s.run(feeds); const row = [];
    for (const [n, e] of Object.entries(man[g].outputs)) {
      const ref = arr(e), got = e.slice ? slice(n, out[n]) : Array.from(out[n].data);
      if (got.length !== ref.length) throw new Error(`${g}.${n}: ${got.length} vs ${ref.length}`);
      let d = 0, r = 0, nan = false; for (let i = 0; i < ref.length; i++) { const a = Number(got[i]), b = Number(ref[i]); if (Number.isNaN(a)) nan = true; d += (a - b) ** 2; r += b * b; }
      const rel = Math.sqrt(d / Math.max(r, 1e-30)); if (p === 'fp32') worst = Math.max(worst, rel);
      row.push(`${n} ${rel.toExponential(2)}${nan ? ' NaN!' : ''}`);
    }
    console.log(`${g}.${p}: ${row.join(', ')}`);
  }
  console.log('worst fp32 relative error', worst.toExponential(2));
  if (!(worst <= 1e-4)) process.exit(1);   // the contract's CI tolerance (NaN fails too)
})();
