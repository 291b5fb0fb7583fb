// The typed request/response protocol between the Encoder (caller's thread) and the worker that owns the
// onnxruntime sessions. Requests carry an id; each gets exactly one response with the same id.
import type { Contribution, FileInput, FileResult, SessionInfo } from './session.js';
import type { ProviderSetting } from './providers.js';
import type { LensResult, LensTarget, RecallResult } from './lens.js';

export type Request =
  | { id: number; type: 'open'; modelDir: string; provider: ProviderSetting; maxSegments?: number; threads?: number }
  | { id: number; type: 'encodeFiles'; files: FileInput[]; contributions: boolean }
  | { id: number; type: 'contribution'; tokenIds: Int32Array }
  | { id: number; type: 'encodeChunks'; texts: string[] }
  | { id: number; type: 'encodeQueries'; texts: string[]; memory?: Contribution }
  | { id: number; type: 'lens'; text: string; segment: LensTarget }
  | { id: number; type: 'recall'; layer: number; head: number; token: number; topK: number }
  | { id: number; type: 'stats' }
  | { id: number; type: 'close' };

export interface Stats { tokens: number; segments: number; runs: number; runMs: number }

/** What each request type answers with. */
export interface ResultOf {
  open: SessionInfo;
  encodeFiles: FileResult[];
  contribution: Contribution;
  encodeChunks: Float32Array;
  encodeQueries: Float32Array[];
  lens: LensResult;
  recall: RecallResult;
  stats: Stats;
  close: null;
}

export type Response =
  | { id: number; ok: true; result: ResultOf[keyof ResultOf] }
  | { id: number; ok: false; error: string }
  | { id: -1; log: string }; // notification: a log line from the worker

export type RequestBody<K extends Request['type']> = Omit<Extract<Request, { type: K }>, 'id'>;
