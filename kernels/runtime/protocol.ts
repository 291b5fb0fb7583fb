// The encoder channel: what the worker that owns the onnxruntime sessions (worker.ts) answers, and what the Encoder
// (encoder.ts, the caller's thread) receives. Both ends import these types; the messenger (extension/src/core)
// carries them. `checkEncoderMessage` is the caller's validation of every reply and notification.
import type { Check } from '../../extension/src/core/messenger.js';
import type { Contribution, FileInput, FileResult, SessionInfo } from './session.js';
import type { ProviderSetting } from './providers.js';
import type { LensResult, LensTarget, RecallResult } from './lens.js';

export interface Stats { tokens: number; segments: number; runs: number; runMs: number }

/** The worker's side: one request at a time, in arrival order. */
export interface EncoderWorker {
  requests: {
    open: { params: { modelDir: string; provider: ProviderSetting; maxSegments?: number; threads?: number }; result: SessionInfo };
    encodeFiles: { params: { files: FileInput[]; contributions: boolean }; result: FileResult[] };
    contribution: { params: { tokenIds: Int32Array }; result: Contribution };
    encodeChunks: { params: { texts: string[] }; result: Float32Array };
    encodeQueries: { params: { texts: string[]; memory?: Contribution }; result: Float32Array[] };
    lens: { params: { text: string; segment: LensTarget }; result: LensResult };
    recall: { params: { layer: number; head: number; token: number; topK: number }; result: RecallResult };
    stats: { params: Record<string, never>; result: Stats };
    close: { params: Record<string, never>; result: null };
  };
  notifications: Record<never, never>;
}

/** The caller's side: the worker's log lines. */
export interface EncoderHost {
  requests: Record<never, never>;
  notifications: { log: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isContribution = (v: unknown) => isObject(v) && v.mem instanceof Float32Array && v.z instanceof Float32Array;
const RESULTS: Record<keyof EncoderWorker['requests'], (v: unknown) => boolean> = {
  open: (v) => isObject(v) && typeof v.provider === 'string' && isObject(v.config),
  encodeFiles: (v) => Array.isArray(v) && v.every((f) => isObject(f) && typeof f.path === 'string'
    && f.chunkEmbeddings instanceof Float32Array && f.tokenIds instanceof Int32Array
    && (f.contribution === undefined || isContribution(f.contribution))),
  contribution: isContribution,
  encodeChunks: (v) => v instanceof Float32Array,
  encodeQueries: (v) => Array.isArray(v) && v.every((q) => q instanceof Float32Array),
  lens: (v) => isObject(v) && Number.isInteger(v.segment) && v.tokenIds instanceof Int32Array && Array.isArray(v.ranges),
  recall: (v) => isObject(v) && Array.isArray(v.tokens) && typeof v.total === 'number',
  stats: (v) => isObject(v) && typeof v.runs === 'number',
  close: (v) => v === null,
};

/** The Encoder's check of what the worker sends. */
export const checkEncoderMessage: Check = (kind, method, value) => {
  if (kind === 'notification') return typeof value === 'string' ? undefined : 'a log line must be a string';
  if (kind !== 'response') return 'the encoder worker sends no requests';
  const ok = (RESULTS as Record<string, (v: unknown) => boolean>)[method];
  return ok?.(value) ? undefined : `unexpected shape for ${method}`;
};
