// Starting a worker thread from a bundled .js script, or from a .ts source file when running under tsx (unit
// tests): then the worker registers tsx's require hook before it loads the entry. Shared by the encoder worker,
// the VS Code index worker and the chunk worker pool.
import { Worker } from 'node:worker_threads';

export function startWorker(script: string): Worker {
  return script.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true })
    : new Worker(script);
}
