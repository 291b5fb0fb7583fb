// Shared by the core tests: a fresh copy of test/fixtures/workspace per test, and a logger that remembers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { Logger } from '../../../extension/src/core/api.js';

export const FIXTURE = path.resolve(__dirname, '../../fixtures/workspace');

/** Copies the fixture workspace into a temp folder (tests add bad inputs there, never in the repo). */
export function copyFixture(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infinilens-test-'));
  fs.cpSync(FIXTURE, path.join(dir, 'ws'), { recursive: true });
  return path.join(dir, 'ws');
}

export function cleanup(ws: string): void {
  fs.rmSync(path.dirname(ws), { recursive: true, force: true });
}

export interface MemoryLogger extends Logger {
  lines: string[];
}

export function memoryLogger(): MemoryLogger {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

/** 1-based line of the first line containing `needle` in a fixture file. */
export function lineOf(file: string, needle: string): number {
  const lines = fs.readFileSync(path.join(FIXTURE, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} not in ${file}`);
  return i + 1;
}

/** Unit vector of `dim` values from a hash of the text (fake encoders): same text, same vector; different text,
 *  (almost surely) different. */
export function hashVector(text: string, dim: number): Float32Array {
  const h = createHash('sha256').update(text).digest();
  const v = Float32Array.from({ length: dim }, (_, i) => h[i]! - 127.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Runs `fn` on a fresh copy of the fixture workspace and removes the copy afterwards, whatever `fn` does. */
export async function inFixture<T>(fn: (ws: string) => Promise<T>): Promise<T> {
  const ws = copyFixture();
  try {
    return await fn(ws);
  } finally {
    cleanup(ws);
  }
}
