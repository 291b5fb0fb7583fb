// The exact rerank's cost per dense query (denseRanker.ts rerankedSpace: the vector index proposes, the stored
// vectors of its candidates are scored as the exact scan scores them), on a real embedded index, side by side
// with the index alone and the exact JS scan over every vector:
//   node --import tsx scripts/bench-rerank.mjs <index-dir> [--queries 800]
// Query vectors: bench-scale's cache (.test-cache/bench-scale/dev-vectors.bin, the dev queries).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IndexStore } from '../extension/src/index/store.ts';
import { VectorSync } from '../extension/src/index/vectorSync.ts';
import { loadUsearch } from '../extension/src/search/vectorIndex.ts';
import { matrixSpace, rerankedSpace } from '../extension/src/search/denseRanker.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: bench-rerank.mjs <index-dir>');
const DIM = 256;
const buf = fs.readFileSync(path.join(import.meta.dirname, '..', '.test-cache', 'bench-scale', 'dev-vectors.bin'));
const [, rows, nq] = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 12));
const chunks = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 4))[0];
const qoff = 12 + chunks * 4 + rows * DIM * 4;
const queries = new Float32Array(buf.buffer.slice(buf.byteOffset + qoff, buf.byteOffset + qoff + nq * DIM * 4));
const logger = { info() {}, warn: console.warn, error: console.error };
const store = await IndexStore.open(path.join(dir, 'index.sqlite'), logger);
const sync = VectorSync.open(dir, store, loadUsearch().mod, store.getMeta('embedding_model'), DIM, logger);
const spaces = { index: sync.index, 'index + rerank': rerankedSpace(sync.index, (ids) => store.vectorsOf(ids)),
  'exact JS scan': matrixSpace({ ...store.loadEmbeddings(DIM), dim: DIM }) };
const out = {};
for (const [name, space] of Object.entries(spaces)) {
  const t = [];
  for (let i = 0; i < nq; i++) {
    const q = queries.subarray(i * DIM, (i + 1) * DIM), t0 = process.hrtime.bigint();
    space.search(q, 10);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  out[name] = { p50_ms: +t[t.length >> 1].toFixed(3), p99_ms: +t[Math.floor(t.length * 0.99)].toFixed(3) };
}
console.log(JSON.stringify({ vectors: sync.index.rows, mode: sync.index.mode, queries: nq, ...out, machine: `${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg()[0].toFixed(1)}` }));
store.close();
