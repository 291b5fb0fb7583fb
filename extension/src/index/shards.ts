// Sharded builds: `index <folder> --shard i/n` indexes only the files whose path hashes to i (mod n), on any
// machine; `merge <shard-dir>... --index-dir D` joins n such shards into one index equal to a single build of
// the folder (its digest, extension/src/search/digest.ts: files, chunks, keyword rows, vectors, memory).
//
// Paths in an index are relative to the workspace root, the content hash of every file is stored, and the
// model tag travels with the vectors, so an index built elsewhere opens in VS Code: the local incremental pass
// hashes files whose mtime differs and re-chunks and re-embeds only those whose content differs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../core/api.js';
import { encodeSnapshot, readSnapshot, writeAtomic, type MemorySnapshot } from '../memory/memoryFile.js';
import type { WalkResult } from './walker.js';
import { IndexStore } from './store.js';

export interface Shard { index: number; count: number }

/** "i/n" with 0 <= i < n. */
export function parseShard(s: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  if (!shard || shard.count < 1 || shard.index >= shard.count) throw new Error(`--shard needs i/n with 0 <= i < n, got '${s}'`);
  return shard;
}

/** The shard a path (relative, POSIX) belongs to: the first 32 bits of its SHA-1, mod n. Same on every machine. */
export function shardOf(relPath: string, count: number): number {
  return createHash('sha1').update(relPath).digest().readUInt32BE(0) % count;
}

/** The part of a walk that belongs to `shard`. */
export function shardWalk(walk: WalkResult, shard: Shard): WalkResult {
  const mine = (p: string) => shardOf(p, shard.count) === shard.index;
  return { ...walk, files: walk.files.filter((f) => mine(f.path)), skipped: walk.skipped.filter((f) => mine(f.path)) };
}

/** Joins shard index folders into `indexDir` (which must hold no index yet). Vectors come along with their
 * model tag (all shards must agree); the workspace memory, where every shard has one, is their sum. */
export async function mergeShards(shardDirs: readonly string[], indexDir: string, logger: Logger): Promise<{ files: number; chunks: number; memoryFiles?: number }> {
  const metas = await Promise.all(shardDirs.map(async (dir) => {
    const file = path.join(dir, 'index.sqlite');
    if (!fs.existsSync(file)) throw new Error(`${dir}: no index.sqlite (not a shard folder)`);
    const s = await IndexStore.open(file, logger);
    try {
      const shard = s.getMeta('shard');
      if (!shard) throw new Error(`${dir}: not built with index --shard i/n`);
      return { dir, file, shard: parseShard(shard), model: s.getMeta('embedding_model') };
    } finally {
      s.close();
    }
  }));
  const n = metas[0]!.shard.count;
  const seen = new Set<number>();
  for (const m of metas) {
    if (m.shard.count !== n) throw new Error(`${m.dir} is shard ${m.shard.index}/${m.shard.count}, the others are of ${n}`);
    if (seen.has(m.shard.index)) throw new Error(`shard ${m.shard.index}/${n} given twice`);
    seen.add(m.shard.index);
    if (m.model !== metas[0]!.model) throw new Error(`${m.dir}: vectors of model ${m.model ?? 'none'}, ${metas[0]!.dir}: ${metas[0]!.model ?? 'none'}`);
  }
  const missing = [...Array(n).keys()].filter((i) => !seen.has(i));
  if (missing.length) throw new Error(`shards ${missing.map((i) => `${i}/${n}`).join(', ')} missing`);

  fs.mkdirSync(indexDir, { recursive: true });
  const target = await IndexStore.open(path.join(indexDir, 'index.sqlite'), logger);
  let files = 0, chunks = 0;
  try {
    if (target.counts().files > 0 || target.getMeta('shard')) throw new Error(`${indexDir} already holds an index; merge into an empty folder`);
    const skips: Record<string, number> = {};
    for (const m of metas) {
      const r = target.absorbShard(m.file);
      files += r.files;
      chunks += r.chunks;
      const src = await IndexStore.open(m.file, logger);
      try {
        for (const [k, v] of Object.entries(JSON.parse(src.getMeta('walk_skips') ?? '{}') as Record<string, number>)) skips[k] = (skips[k] ?? 0) + v;
      } finally {
        src.close();
      }
      logger.info(`merged shard ${m.shard.index}/${n} from ${m.dir}: ${r.files} files, ${r.chunks} chunks`);
    }
    target.transaction(() => {
      target.setMeta('walk_skips', JSON.stringify(skips));
      if (metas[0]!.model) target.setMeta('embedding_model', metas[0]!.model);
    });
  } finally {
    target.close();
  }
  const memoryFiles = mergeMemory(shardDirs, indexDir);
  return { files, chunks, ...(memoryFiles !== undefined ? { memoryFiles } : {}) };
}

/** The linear memory rule makes the workspace memory a sum over files: the shards' sums add up. Only when every
 * shard has one (else the merged index builds its own on first use). */
function mergeMemory(shardDirs: readonly string[], indexDir: string): number | undefined {
  if (!shardDirs.every((d) => fs.existsSync(path.join(d, 'memory.bin')))) return undefined;
  let sum: MemorySnapshot | undefined;
  const held: Record<string, string> = {};
  for (const d of shardDirs) {
    const s = readSnapshot(path.join(d, 'memory.bin'));
    Object.assign(held, JSON.parse(fs.readFileSync(path.join(d, 'memory-files.json'), 'utf8')) as Record<string, string>);
    if (!sum) { sum = { ...s, M: Float64Array.from(s.M), z: Float64Array.from(s.z), files: new Map(s.files) }; continue; }
    if (s.tag !== sum.tag || JSON.stringify(s.shape) !== JSON.stringify(sum.shape)) throw new Error(`${d}: workspace memory of another model`);
    for (let i = 0; i < s.M.length; i++) sum.M[i]! += s.M[i]!;
    for (let i = 0; i < s.z.length; i++) sum.z[i]! += s.z[i]!;
    for (const [p, ids] of s.files) sum.files.set(p, ids);
  }
  writeAtomic(path.join(indexDir, 'memory.bin'), encodeSnapshot(sum!));
  writeAtomic(path.join(indexDir, 'memory-files.json'), Buffer.from(JSON.stringify(held)));
  return sum!.files.size;
}
