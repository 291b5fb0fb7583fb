// Percentage and time left for a pass that reports "done of total": the rate is measured from the first report
// of the phase (so a model load or a walk before it does not count), and nothing is promised until enough
// of the phase has run for the rate to mean something. Shared by the VS Code progress and the CLI progress line.

export interface RateView {
  /** 0..100, undefined when the total is unknown. */
  percent?: number;
  /** Seconds left at the rate measured so far; undefined until MIN_SAMPLE_MS of the phase has run. */
  etaS?: number;
  /** Items per second so far (undefined like etaS). */
  perS?: number;
}

/** How long a phase must run before its rate is used for a time estimate. */
export const MIN_SAMPLE_MS = 3_000;

export class PhaseRate {
  private phase: string | undefined;
  private t0 = 0;
  private done0 = 0;

  constructor(private readonly now: () => number = Date.now) {}

  update(phase: string, done: number, total: number): RateView {
    const t = this.now();
    if (phase !== this.phase || done < this.done0) { this.phase = phase; this.t0 = t; this.done0 = done; }
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
    const ms = t - this.t0, moved = done - this.done0;
    if (ms < MIN_SAMPLE_MS || moved <= 0 || total <= 0) return percent === undefined ? {} : { percent };
    const perS = (moved * 1000) / ms;
    return { ...(percent === undefined ? {} : { percent }), perS, etaS: Math.max(0, (total - done) / perS) };
  }
}

/** "about 40 s", "about 3 min", "about 1 h 20 min": a time estimate in words a user reads. */
export function aboutDuration(s: number): string {
  if (!Number.isFinite(s)) return 'unknown';
  if (s < 60) return `about ${Math.max(1, Math.round(s / 5) * 5)} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `about ${min} min`;
  return `about ${Math.floor(min / 60)} h ${min % 60} min`;
}

/** "40% · about 3 min left" (or just "40%" while the rate is still being measured). */
export function describeRate(v: RateView): string {
  const parts: string[] = [];
  if (v.percent !== undefined) parts.push(`${v.percent}%`);
  if (v.etaS !== undefined) parts.push(`${aboutDuration(v.etaS)} left`);
  return parts.join(' · ');
}
