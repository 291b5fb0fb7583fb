// Chunk worker thread (bundled to dist/chunkWorker.js, started by ChunkPool in chunkPool.ts): reads, hashes,
// classifies, chunks and tokenises files for the lexical pass with the same code the indexer runs in its own
// thread (fileReader.ts). It never touches the store; results go back to the indexer, which writes them in order.
import { parentPort } from 'node:worker_threads';
import { Chunker } from './chunker.js';
import { readFileForIndex } from './fileReader.js';
import type { PoolRequest, PoolResponse } from './chunkPool.js';

if (!parentPort) throw new Error('chunkWorker must run in a worker thread');
const port = parentPort;
const chunker = new Chunker();
// One file at a time, in arrival order (the pool keeps a second request queued so this thread never waits on it).
let queue: Promise<void> = Promise.resolve();

port.on('message', (req: PoolRequest) => {
  queue = queue.then(async () => {
    let res: PoolResponse;
    try {
      res = { id: req.id, ok: true, result: await readFileForIndex(req.read, chunker) };
    } catch (e) {
      res = { id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(res);
  });
});
