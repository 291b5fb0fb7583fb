// The digest of a whole index: the store's lexical digest (files, chunks, keyword rows), its vectors, the vector
// index's agreement with them, and the workspace memory. Independent of row ids and write order, so a merged
// sharded build, a rebuilt one and a single build of the same folder have the same digest; the crash test
// compares it after every kill.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSnapshot } from '../memory/memoryFile.js';
import type { IndexStore } from '../index/store.js';
import type { VectorSync } from './vectorSync.js';

/** The store's digest fields (files, chunks, integrity, ...) with `digest` covering everything, `lexical` the
 * store's own digest. */
export type IndexDigest = Omit<ReturnType<IndexStore['digest']>, 'digest'> & {
  digest: string;
  lexical: string;
  vectors: { digest: string; chunks: number; model?: string; index?: string; problem?: string };
  memory?: { digest: string; files: number };
};

export function indexDigest(store: IndexStore, storageDir: string, vectors: VectorSync | undefined): IndexDigest {
  const lexical = store.digest();
  const v = vectorDigest(store, vectors);
  const memory = memoryDigest(storageDir);
  const digest = createHash('sha256').update(`${lexical.digest}\n${v.digest}\n${memory?.digest ?? ''}\n`).digest('hex');
  return { ...lexical, digest, lexical: lexical.digest, vectors: v, ...(memory ? { memory } : {}) };
}

/** Every chunk's stored vectors by location (path order), with the rows the vector index holds for it; a vector
 * index that disagrees with the store after catching up changes the digest. */
function vectorDigest(store: IndexStore, vectors: VectorSync | undefined): IndexDigest['vectors'] {
  const h = createHash('sha256');
  const model = store.getMeta('embedding_model');
  h.update(`model\t${model ?? ''}\n`);
  let chunks = 0, page: { id: number; loc: string }[] = [];
  const members = vectors?.index.members;
  const flush = () => {
    const vecs = store.vectorsOf(page.map((c) => c.id));
    for (const c of page) {
      const v = vecs.get(c.id);
      if (!v) continue;
      chunks++;
      const sha = createHash('sha1').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex');
      h.update(`V\t${c.loc}\t${sha}\t${members ? members.get(c.id) ?? 0 : '-'}\n`);
    }
    page = [];
  };
  for (const c of store.iterateChunks()) {
    page.push({ id: c.id, loc: `${c.path}\t${c.startLine}\t${c.endLine}\t${c.startOffset}\t${c.endOffset}` });
    if (page.length >= 500) flush();
  }
  flush();
  let problem: string | undefined;
  if (vectors) {
    vectors.catchUp();
    problem = vectors.check();
    h.update(`index\t${problem ? `DISAGREES: ${problem}` : 'agrees'}\n`);
  }
  return { digest: h.digest('hex'), chunks, ...(model ? { model } : {}),
    ...(vectors ? { index: `${vectors.origin}, ${vectors.index.mode}, ${vectors.index.rows} rows` } : {}), ...(problem ? { problem } : {}) };
}

/** The memory's files (path, tokens) and its sums, rounded to 1e-10 of each array's largest magnitude: a sum
 * over files in another order (a merge adds the shards' sums) differs in the last bits of float64 only. */
function memoryDigest(storageDir: string): IndexDigest['memory'] {
  const file = path.join(storageDir, 'memory.bin');
  if (!fs.existsSync(file)) return undefined;
  const s = readSnapshot(file);
  const h = createHash('sha256');
  h.update(`tag\t${s.tag}\t${JSON.stringify(s.shape)}\n`);
  for (const p of [...s.files.keys()].sort()) {
    const t = s.files.get(p)!;
    h.update(`F\t${p}\t${createHash('sha1').update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength)).digest('hex')}\n`);
  }
  for (const a of [s.M, s.z]) {
    let max = 0;
    for (const x of a) max = Math.max(max, Math.abs(x));
    const step = max * 1e-10 || 1;
    h.update(new Uint8Array(Float64Array.from(a, (x) => Math.round(x / step)).buffer));
  }
  return { digest: h.digest('hex'), files: s.files.size };
}
