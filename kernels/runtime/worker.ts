// The encoder worker thread: owns the onnxruntime sessions so inference never runs on the caller's event loop.
// Bundled to dist/worker.js; started by Encoder (encoder.ts); speaks the encoder channel (protocol.ts).
import { parentPort } from 'node:worker_threads';
import { Messenger, type RequestHandlers } from '../../extension/src/core/messenger.js';
import type { EncoderHost, EncoderWorker } from './protocol.js';
import { EncoderSession } from './session.js';
import { LensState } from './lens.js';
import { portOf } from './workerThread.js';

if (!parentPort) throw new Error('worker.ts must run as a worker thread');
let session: EncoderSession | undefined;
let lens: LensState | undefined;
// One request at a time, in arrival order: onnxruntime sessions are not shared across concurrent runs here.
let queue: Promise<unknown> = Promise.resolve();
const serial = <T>(fn: () => Promise<T> | T): Promise<T> => {
  const run = queue.then(fn);
  queue = run.catch(() => undefined);
  return run;
};
const open = (): EncoderSession => {
  if (!session) throw new Error('encoder is not open');
  return session;
};

// Typed arrays in results are copied by structured clone; their buffers are not transferred so results stay intact.
const handlers: RequestHandlers<EncoderWorker['requests']> = {
  open: (p) => serial(async () => {
    await session?.close();
    session = await EncoderSession.open(p.modelDir, { provider: p.provider, maxSegments: p.maxSegments, threads: p.threads,
      log: (m) => messenger.notify('log', m) });
    lens = undefined;
    return session.info;
  }),
  close: () => serial(async () => { await session?.close(); session = undefined; return null; }),
  encodeFiles: (p) => serial(() => open().encodeFiles(p.files, p.contributions)),
  contribution: (p) => serial(() => open().contribution(p.tokenIds)),
  encodeChunks: (p) => serial(() => open().encodeChunks(p.texts)),
  encodeQueries: (p) => serial(() => open().encodeQueries(p.texts, p.memory)),
  // One LensState per session: it caches memory checkpoints and σ(k) per file version across requests.
  lens: (p) => serial(() => (lens ??= new LensState(open())).run(p.text, p.segment)),
  recall: (p) => serial(() => {
    open();
    if (!lens) throw new Error('no lens result to recall from: send a lens request first');
    return lens.recall(p.layer, p.head, p.token, p.topK);
  }),
  stats: () => serial(() => ({ ...open().stats })),
};
const messenger = new Messenger<EncoderWorker, EncoderHost>(portOf(parentPort), { requests: handlers });
