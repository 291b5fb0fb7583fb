// Decides from a file's bytes whether it is source text worth indexing, and decodes it.
import type { SkipReason } from '../core/api.js';

export type Classified =
  | { ok: true; text: string }
  | { ok: false; reason: SkipReason; detail: string };

/** Bytes sniffed for NUL (git's heuristic: a NUL in the first 8 KiB means binary). */
const SNIFF_BYTES = 8192;
/** Minified/generated: long enough to matter and lines far longer than anyone writes by hand. */
const MINIFIED_MIN_BYTES = 2048;
const MINIFIED_AVG_LINE = 300;
const MINIFIED_MAX_LINE = 20_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function classifyContent(bytes: Uint8Array): Classified {
  const head = bytes.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) return { ok: false, reason: 'binary', detail: 'NUL byte in the first 8 KiB' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'invalid-utf8', detail: `not valid UTF-8 at byte ${firstInvalidUtf8(bytes)}; re-save as UTF-8 to index it` };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM: not part of the code, and shifts offsets
  // A lone CR ends a line too (classic Mac files; VS Code counts it): one character for another keeps every offset.
  if (text.includes('\r')) text = text.replace(/\r(?!\n)/g, '\n');
  if (bytes.length >= MINIFIED_MIN_BYTES) {
    let lines = 1;
    let longest = 0;
    let last = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
      lines++;
      longest = Math.max(longest, i - last);
      last = i + 1;
    }
    longest = Math.max(longest, text.length - last);
    const avg = text.length / lines;
    if (avg > MINIFIED_AVG_LINE || longest > MINIFIED_MAX_LINE) {
      return { ok: false, reason: 'minified', detail: `average line ${Math.round(avg)} chars, longest ${longest}` };
    }
  }
  return { ok: true, text };
}

/** Byte offset of the first invalid UTF-8 sequence (for the message only). */
export function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return -1;
}
