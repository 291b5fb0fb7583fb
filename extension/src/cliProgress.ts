// The CLI's progress on stderr. On a terminal: one line rewritten in place with the pass, the count, the
// percentage and the time left at the rate measured so far. Piped or redirected: plain lines, one per pass
// change and at most one every PLAIN_EVERY_MS, so a log stays readable. A pass with nothing to do prints nothing
// (a search on an up-to-date index shows no "[walk] 0/0").
import type { IndexProgress } from './core/api.js';
import { PhaseRate } from './core/progressRate.js';
import { describeProgress } from './core/progressText.js';

export const PLAIN_EVERY_MS = 2_000;
const TTY_EVERY_MS = 100;

export interface ProgressSink { isTTY?: boolean; columns?: number; write(s: string): unknown }

export function progressReporter(out: ProgressSink = process.stderr, now: () => number = Date.now): ((p: IndexProgress) => void) & { end(): void } {
  const rate = new PhaseRate(now);
  let last = 0, lastPhase = '', open = false;
  const report = (p: IndexProgress): void => {
    const phase = `${p.phase}:${p.message ?? ''}`;
    const view = rate.update(phase, p.filesDone, p.filesTotal);
    // Nothing to report: a pass with nothing to count (the walk, an up-to-date index), a pass that starts out
    // complete (every chunk already embedded), and the update's closing 'done' (which ends the line).
    if (p.filesTotal === 0) {
      if (p.phase === 'done') end();
      return;
    }
    const changed = phase !== lastPhase;
    if (changed && p.filesDone >= p.filesTotal && p.phase !== 'done') return;
    const t = now();
    if (!changed && p.filesDone < p.filesTotal && t - last < (out.isTTY ? TTY_EVERY_MS : PLAIN_EVERY_MS)) return;
    last = t;
    lastPhase = phase;
    const text = describeProgress(p, view);
    if (out.isTTY) {
      const width = Math.max(20, (out.columns ?? 100) - 1);
      out.write(`\r${text.slice(0, width).padEnd(width)}`);
      open = true;
    } else out.write(`${text}\n`);
  };
  function end(): void { if (open) { out.write('\n'); open = false; } }
  return Object.assign(report, { end });
}
