// Starting a worker thread from a bundled .js script, or from a .ts source file when running under tsx (unit
// tests): then the worker registers tsx's require hook before it loads the entry. Shared by the encoder worker,
// the VS Code index worker and the chunk worker pool.
import { Worker, type MessagePort } from 'node:worker_threads';
import type { Port } from '../../extension/src/core/messenger.js';

export function startWorker(script: string): Worker {
  return script.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true })
    : new Worker(script);
}

/** A worker (caller's side) or its parentPort (worker's side) as the messenger's Port. */
export function portOf(endpoint: Worker | MessagePort): Port {
  return {
    post: (message) => endpoint.postMessage(message),
    listen(handler) {
      endpoint.on('message', handler);
      return () => { endpoint.off('message', handler); };
    },
  };
}
