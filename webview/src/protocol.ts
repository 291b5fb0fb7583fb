// The ONE typed message protocol between the lens webview and the extension host, imported by both sides and
// carried by the one messenger (extension/src/core/messenger.ts): commands (webview → host notifications, fire and
// forget), requests answered by a response with the same id, and notifications (host → webview). The host checks
// every incoming message (`checkFromWebview`; `parseWebviewMessage` for a whole message): the webview renders
// hostile file content, so nothing it sends is trusted.
// No DOM and no 'vscode' here: the host bundle (Node) and the webview bundle (browser) both compile it.
import type { Check } from '../../extension/src/core/messenger.js';

/** 0-based, end-exclusive, UTF-16 columns: the same numbers as vscode.Range. */
export interface SourceRange {
  startLine: number;
  startChar: number;
  endLine: number;
  endChar: number;
}

export interface LensToken {
  /** Index inside its segment, 0..T-1. */
  index: number;
  /** Decoded token text, raw file content: hostile, render only with textContent. */
  text: string;
  range: SourceRange;
  /** The model's start-of-file marker (<doc>): no text of the file; drawn as a marker, never as text. */
  special?: 'doc';
}

/** The model config the lens needs (a subset of kernels/CONTRACT.md). */
export interface LensConfig {
  layers: number;
  heads: number;
  segLen: number;
  block: number;
  window: number;
  global: number;
  random: number;
}

/** key_blocks[l][h][i] = the K key-block slots of query block i (-1 = empty slot), as in the lens graph. */
export type KeyBlocks = number[][][][]; // [L, H, nb, K]

/** One key the selected token attended to, and its weight (softmax probability). */
export interface AttendedKey {
  token: number; // index inside the segment
  weight: number;
}

/** One earlier-segment token the compressed memory recalled for the selected token. */
export interface MemoryRecall {
  segment: number;
  token: number;
  text: string; // hostile, as LensToken.text
  range: SourceRange;
  /** σ(q)·σ(k_t) / σ(q)z: the token's exact share of A_mem under the linear rule (weights over all past tokens sum to 1). */
  weight: number;
  /** The start-of-file marker (see LensToken.special). */
  special?: 'doc';
}

/**
 * Which earlier segments one head's memory read draws on: shares[i] is segment first+i's part of the read
 * (the same weights as MemoryRecall, summed per segment); `older` is the rest, the segments before `first`
 * whose keys are no longer kept apart (their part of the memory is still read, just not attributed).
 */
export interface MemorySegments {
  first: number;
  shares: number[];
  older: number;
}

export interface HeadAttention {
  layer: number;
  head: number;
  /** Sparse: only the keys that were computed, zero-weight masked slots dropped. */
  keys: AttendedKey[];
  /** Top-k of the memory read, heaviest first; empty at a file's first segment. */
  memory: MemoryRecall[];
  /** The memory read per earlier segment; absent at a file's first segment. */
  memorySegments?: MemorySegments;
}

/** Everything the lens shows for one selected token. */
export interface TokenAttention {
  segment: number;
  /** The selected token (with several, the last one added). */
  token: number;
  /** Several tokens selected at once: their attention and memory reads are summed. Absent for one token. */
  tokens?: number[];
  /** [L·H] in layer-major order: heads[l * H + h]. */
  heads: HeadAttention[];
}

/** The lens of one segment of one file version, with one selected token. */
export interface LensData {
  uri: string;
  /** Workspace-relative or file name, for display only. */
  label: string;
  version: number;
  config: LensConfig;
  segment: number;
  segmentCount: number;
  /** Only a prefix of the file was encoded (up to the cursor's segment): segmentCount is then a lower bound. */
  moreSegments?: boolean;
  /** Tokens of this segment that hold text (padding dropped). */
  tokens: LensToken[];
  /** True when the segment was short and attended densely (dense_below); keyBlocks is then unused. */
  dense: boolean;
  keyBlocks: KeyBlocks;
  /** sigmoid(β) per layer and head: the share of the output that came from memory. */
  gates: number[][]; // [L, H]
  selection: TokenAttention;
}

/** What the editor decorations should show: the view the user chose in the lens. */
export interface LensView {
  layer: number;
  head: number;
}

// ---- messages -------------------------------------------------------------------------------------------

/** Webview → host, no answer. */
export interface WebviewCommands {
  'lens/ready': Record<string, never>;
  'lens/reveal': { uri: string; range: SourceRange };
  'lens/setView': LensView;
  'lens/toggleDecorations': Record<string, never>;
  /** Stop the computation in progress (the busy panel's Cancel). */
  'lens/cancel': Record<string, never>;
}

/** Webview → host, answered by a response with the request's id. */
export interface WebviewRequests {
  /** One token, or several at once (attention summed); the last one is the token the lens centres on. */
  'lens/selectToken': { params: { segment: number; tokens: number[] }; result: TokenAttention };
}

/** Host → webview. */
export interface HostNotifications {
  'lens/didChangeData': { data: LensData };
  /** busy: a computation runs (message says what for; cancellable: the webview offers Cancel). */
  'lens/didChangeState': { busy: boolean; message?: string; cancellable?: boolean; decorations: boolean };
  'lens/error': { message: string };
}

export type CommandMethod = keyof WebviewCommands;
export type RequestMethod = keyof WebviewRequests;
export type NotificationMethod = keyof HostNotifications;

export type CommandMessage<M extends CommandMethod = CommandMethod> =
  { [K in M]: { type: 'notification'; method: K; params: WebviewCommands[K] } }[M];
export type RequestMessage<M extends RequestMethod = RequestMethod> =
  { [K in M]: { type: 'request'; id: number; method: K; params: WebviewRequests[K]['params'] } }[M];
export type NotificationMessage<M extends NotificationMethod = NotificationMethod> =
  { [K in M]: { type: 'notification'; method: K; params: HostNotifications[K] } }[M];
export type ResponseMessage<M extends RequestMethod = RequestMethod> =
  | { type: 'response'; id: number; ok: true; result: WebviewRequests[M]['result'] }
  | { type: 'response'; id: number; ok: false; error: string };

export type WebviewToHost = CommandMessage | RequestMessage;
export type HostToWebview = NotificationMessage | ResponseMessage;

/** The host's side of the lens channel (extension/src/core/messenger.ts carries it): it answers the webview's
 * requests and receives its commands. */
export interface LensHost { requests: WebviewRequests; notifications: WebviewCommands }
/** The webview's side: it receives the host's notifications. */
export interface LensWebview { requests: Record<never, never>; notifications: HostNotifications }

// ---- validation (host side, every incoming message) -------------------------------------------------------

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Generous bounds: a message outside them is a bug or an attack, never real use. */
const MAX_INDEX = 1 << 20;
/** The most tokens selected at once (each costs one attention request). */
export const MAX_SELECTED = 32;
const MAX_URI = 4096;
const MAX_LINE = 1 << 28;

type Rec = Record<string, unknown>;
const isRecord = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown, max = MAX_INDEX): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < max;

/** Rejects keys other than `allowed`, so nothing smuggled rides along to the handlers. */
function exactKeys(v: Rec, allowed: readonly string[], where: string): string | undefined {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) return `${where}: unexpected field '${k.slice(0, 40)}'`;
  return undefined;
}

function parseRange(v: unknown): Parsed<SourceRange> {
  if (!isRecord(v)) return { ok: false, error: 'range: not an object' };
  const bad = exactKeys(v, ['startLine', 'startChar', 'endLine', 'endChar'], 'range');
  if (bad) return { ok: false, error: bad };
  const { startLine, startChar, endLine, endChar } = v;
  if (![startLine, startChar, endLine, endChar].every((n) => isIndex(n, MAX_LINE))) {
    return { ok: false, error: 'range: positions must be non-negative integers' };
  }
  const r = { startLine, startChar, endLine, endChar } as SourceRange;
  if (r.endLine < r.startLine || (r.endLine === r.startLine && r.endChar < r.startChar)) {
    return { ok: false, error: 'range: end before start' };
  }
  return { ok: true, value: r };
}

function parseCommandParams(method: string, p: Rec): Parsed<CommandMessage> {
  switch (method) {
    case 'lens/ready':
    case 'lens/cancel':
    case 'lens/toggleDecorations': {
      const bad = exactKeys(p, [], method);
      return bad ? { ok: false, error: bad } : { ok: true, value: { type: 'notification', method, params: {} } };
    }
    case 'lens/reveal': {
      const bad = exactKeys(p, ['uri', 'range'], method);
      if (bad) return { ok: false, error: bad };
      if (typeof p.uri !== 'string' || p.uri.length === 0 || p.uri.length > MAX_URI) {
        return { ok: false, error: 'lens/reveal: uri must be a non-empty string' };
      }
      const range = parseRange(p.range);
      if (!range.ok) return range;
      return { ok: true, value: { type: 'notification', method, params: { uri: p.uri, range: range.value } } };
    }
    case 'lens/setView': {
      const bad = exactKeys(p, ['layer', 'head'], method);
      if (bad) return { ok: false, error: bad };
      if (!isIndex(p.layer, 1024) || !isIndex(p.head, 1024)) return { ok: false, error: 'lens/setView: layer and head must be indices' };
      return { ok: true, value: { type: 'notification', method, params: { layer: p.layer, head: p.head } } };
    }
    default:
      return { ok: false, error: `unknown command '${method.slice(0, 60)}'` };
  }
}

function parseRequestParams(id: number, method: string, p: Rec): Parsed<RequestMessage> {
  if (method !== 'lens/selectToken') return { ok: false, error: `unknown request '${method.slice(0, 60)}'` };
  const bad = exactKeys(p, ['segment', 'tokens'], method);
  if (bad) return { ok: false, error: bad };
  const { segment, tokens } = p;
  if (!isIndex(segment) || !Array.isArray(tokens) || tokens.length === 0 || tokens.length > MAX_SELECTED || !tokens.every((t) => isIndex(t))) {
    return { ok: false, error: `lens/selectToken: segment must be an index and tokens 1 to ${MAX_SELECTED} indices` };
  }
  return { ok: true, value: { type: 'request', id, method, params: { segment, tokens: [...new Set(tokens as number[])] } } };
}

/** Validates one message from the webview; the returned value is a fresh object holding only known fields. */
export function parseWebviewMessage(msg: unknown): Parsed<WebviewToHost> {
  if (!isRecord(msg)) return { ok: false, error: 'message is not an object' };
  const { type, method, params } = msg;
  if (typeof method !== 'string') return { ok: false, error: 'message has no method' };
  if (!isRecord(params)) return { ok: false, error: `${method.slice(0, 60)}: params is not an object` };
  if (type === 'notification') {
    const bad = exactKeys(msg, ['type', 'method', 'params'], 'notification');
    return bad ? { ok: false, error: bad } : parseCommandParams(method, params);
  }
  if (type === 'request') {
    const bad = exactKeys(msg, ['type', 'id', 'method', 'params'], 'request');
    if (bad) return { ok: false, error: bad };
    if (!isIndex(msg.id, Number.MAX_SAFE_INTEGER)) return { ok: false, error: 'request id must be a non-negative integer' };
    return parseRequestParams(msg.id, method, params);
  }
  return { ok: false, error: `unknown message type '${String(type).slice(0, 40)}'` };
}

/** The host's check of every request and command from the webview (the messenger has checked the envelope). */
export const checkFromWebview: Check = (kind, method, params) => {
  if (!isRecord(params)) return `${method.slice(0, 60)}: params is not an object`;
  if (kind === 'notification') { const r = parseCommandParams(method, params); return r.ok ? undefined : r.error; }
  if (kind === 'request') { const r = parseRequestParams(1, method, params); return r.ok ? undefined : r.error; }
  return 'the host sends the requests this check would be asked about';
};

/** The webview's check of what the host sends: a selection that fits the request, notifications with params. */
export const checkFromHost: Check = (kind, method, value) => {
  if (kind === 'response') return method === 'lens/selectToken' && isTokenAttention(value) ? undefined : `unexpected result of ${method}`;
  return isRecord(value) ? undefined : `${method}: params is not an object`;
};

/** Checks that a response's result fits the request; the webview uses it to drop stale or malformed answers. */
export function isTokenAttention(v: unknown): v is TokenAttention {
  return isRecord(v) && isIndex(v.segment) && isIndex(v.token) && Array.isArray(v.heads);
}
