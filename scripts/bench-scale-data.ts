// bench-scale.mjs's real data, written once into its cache: every chunk vector of an embedded dev-corpus index
// (members per chunk as stored) and the dev queries embedded by the shipped model.
//   node --import tsx scripts/bench-scale-data.ts <index-dir> <queries.jsonl> <out.bin>
// out.bin: u32 chunks, vectors, queries | u32 members[chunks] | f32 vectors[vectors, 256] | f32 queries[queries, 256]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IndexStore } from '../extension/src/index/store.js';
import { Encoder } from '../kernels/runtime/encoder.js';

const [indexDir, queriesFile, out] = process.argv.slice(2);
if (!indexDir || !queriesFile || !out) throw new Error('usage: bench-scale-data.ts <index-dir> <queries.jsonl> <out.bin>');

(async () => {
  const store = await IndexStore.open(path.join(indexDir, 'index.sqlite'), { info() {}, warn: console.warn, error: console.error });
  const { embedded, chunks } = store.embeddingCounts();
  if (embedded !== chunks || chunks === 0) throw new Error(`${indexDir}: ${embedded} of ${chunks} chunks embedded; finish the index first`);
  const members: number[] = [], parts: Float32Array[] = [];
  for (const page of store.iterateVectors()) for (const { vec } of page) { members.push(vec.length / 256); parts.push(vec); }
  store.close();
  const encoder = await Encoder.open(path.join(__dirname, '..', 'kernels', 'model'), { provider: 'cpu' });
  const queries = fs.readFileSync(queriesFile, 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { query: string }).query);
  const qv: Float32Array[] = [];
  for (const q of queries) qv.push((await encoder.encodeQuery(q)).slice(0, 256));
  await encoder.close();
  const rows = members.reduce((s, n) => s + n, 0);
  fs.writeFileSync(out, Buffer.concat([Buffer.from(Uint32Array.of(members.length, rows, qv.length).buffer), Buffer.from(Uint32Array.from(members).buffer),
    ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)), ...qv.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]));
  console.log(`wrote ${out}: ${members.length} chunks, ${rows} vectors, ${qv.length} queries`);
})();
