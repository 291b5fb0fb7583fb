// The CLI's commands for huge codebases (cli.ts dispatches here):
//   index <folder> --shard i/n --index-dir D     one shard of a sharded build (index/shards.ts)
//   merge <shard-dir>... --index-dir D            joins the shards into one index, vector index included
//   digest --workspace <folder> [--index-dir D]   fingerprint of the whole index (search/digest.ts)
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from './core/api.js';
import { mergeShards } from './index/shards.js';
import { IndexStore } from './index/store.js';
import { VectorSync } from './search/vectorSync.js';
import type { WorkspaceIndex } from './search/workspaceIndex.js';
import { loadUsearch } from './search/vectorIndex.js';
import { hasModel, readModelConfig } from '../../kernels/runtime/modelFiles.js';

/** The embedding width of the model in `modelDir`, or undefined when there is none (lexical-only builds). */
export function embeddingDim(modelDir: string): number | undefined {
  return hasModel(modelDir) ? readModelConfig(modelDir).emb_dim : undefined;
}

export async function runMerge(shardDirs: readonly string[], indexDir: string | undefined, modelDir: string, logger: Logger): Promise<void> {
  if (shardDirs.length === 0) throw new Error('merge needs one or more shard folders');
  if (!indexDir) throw new Error('merge needs --index-dir <folder> for the merged index');
  for (const d of shardDirs) if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new Error(`not a folder: ${d}`);
  const t0 = Date.now();
  const r = await mergeShards(shardDirs.map((d) => path.resolve(d)), path.resolve(indexDir), logger);
  // The merged vectors get their vector index now, so the first search does not build it.
  const store = await IndexStore.open(path.join(path.resolve(indexDir), 'index.sqlite'), logger);
  let vectorLine = '';
  try {
    const tag = store.getMeta('embedding_model'), dim = embeddingDim(modelDir), u = loadUsearch();
    if (tag && dim && u.mod) {
      const v = VectorSync.open(path.resolve(indexDir), store, u.mod, tag, dim, logger);
      v.save();
      vectorLine = `; vector index ${v.index.members.size} chunks, ${v.index.rows} vectors (${v.index.mode})`;
    } else if (tag) {
      vectorLine = `; vector index not built (${u.why ?? 'no model to read the embedding width from'}): the first dense search builds it`;
    }
  } finally {
    store.close();
  }
  console.log(`merged ${shardDirs.length} shards into ${indexDir}: ${r.files} files, ${r.chunks} chunks` +
    `${r.memoryFiles !== undefined ? `, workspace memory of ${r.memoryFiles} files` : ''}${vectorLine}; ${((Date.now() - t0) / 1000).toFixed(2)} s`);
}

/** The digest as one JSON line (the crash test and the sharded-build test compare its `digest`). */
export async function printDigest(index: WorkspaceIndex, modelDir: string): Promise<void> {
  console.log(JSON.stringify(await index.digest(embeddingDim(modelDir))));
}
