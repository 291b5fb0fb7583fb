// The encoder worker thread: owns the onnxruntime sessions so inference never runs on the caller's event loop.
// Bundled to dist/worker.js; started by Encoder (encoder.ts).
import { parentPort } from 'node:worker_threads';
import type { Request, Response, ResultOf } from './protocol.js';
import { EncoderSession } from './session.js';
import { LensState } from './lens.js';

if (!parentPort) throw new Error('worker.ts must run as a worker thread');
const port = parentPort;
let session: EncoderSession | undefined;
let lens: LensState | undefined;
// One request at a time, in arrival order: onnxruntime sessions are not shared across concurrent runs here.
let queue: Promise<void> = Promise.resolve();

const post = (r: Response) => {
  // Typed arrays are copied by structured clone; their buffers are not transferred so results stay intact.
  port.postMessage(r);
};
const log = (msg: string) => post({ id: -1, log: msg });

port.on('message', (req: Request) => {
  queue = queue.then(async () => {
    try {
      post({ id: req.id, ok: true, result: await handle(req) as ResultOf[keyof ResultOf] });
    } catch (e) {
      post({ id: req.id, ok: false, error: (e as Error).message });
    }
  });
});

async function handle(req: Request): Promise<unknown> {
  if (req.type === 'open') {
    await session?.close();
    session = await EncoderSession.open(req.modelDir, { provider: req.provider, maxSegments: req.maxSegments, threads: req.threads, log });
    lens = undefined;
    return session.info;
  }
  if (req.type === 'close') { await session?.close(); session = undefined; return null; }
  if (!session) throw new Error('encoder is not open');
  switch (req.type) {
    case 'encodeFiles': return session.encodeFiles(req.files, req.contributions);
    case 'contribution': return session.contribution(req.tokenIds);
    case 'encodeChunks': return session.encodeChunks(req.texts);
    case 'encodeQueries': return session.encodeQueries(req.texts, req.memory);
    case 'lens':
      // One LensState per session: it caches memory checkpoints and σ(k) per file version across requests.
      lens ??= new LensState(session);
      return lens.run(req.text, req.segment);
    case 'recall':
      if (!lens) throw new Error('no lens result to recall from: send a lens request first');
      return lens.recall(req.layer, req.head, req.token, req.topK);
    case 'stats': return { ...session.stats };
  }
}
