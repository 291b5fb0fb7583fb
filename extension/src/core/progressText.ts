// What the progress notification and the status bar say about a pass, in words a user knows: which pass
// (keyword index, then embeddings), how far (count and percentage) and how long is left (measured rate).
import type { IndexProgress } from './api.js';
import { describeRate, type RateView } from './progressRate.js';

/** The pass a phase belongs to: the walk and the keyword index first, then the embeddings. */
export function passOf(p: IndexProgress): 'keyword' | 'embed' {
  return p.phase === 'encode' ? 'embed' : 'keyword';
}

export function describeProgress(p: IndexProgress, rate: RateView = {}): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (p.phase === 'walk') return 'finding files…';
  if (p.phase === 'done') return p.filesTotal > 0 ? `keyword index: ${n(p.filesTotal)} files done` : 'finishing…';
  const rated = describeRate(rate);
  const tail = rated ? ` · ${rated}` : '';
  if (p.phase === 'encode') {
    const what = p.message === 'workspace memory' ? 'workspace memory' : 'embeddings';
    return p.filesTotal > 0 ? `${what}: ${n(p.filesDone)} of ${n(p.filesTotal)} ${p.message === 'workspace memory' ? 'files' : 'chunks'}${tail}` : what;
  }
  return p.filesTotal > 0 ? `keyword index: ${n(p.filesDone)} of ${n(p.filesTotal)} files${tail}` : 'keyword index…';
}

/** Projected embedding time left on a CPU (seconds) above which the user is asked before it goes on. */
export const ASK_ABOVE_S = 180;

/** Whether to pause embedding and ask: only on the CPU, only with a measured estimate, only when not answered before. */
export function shouldAsk(provider: string | undefined, consent: 'yes' | 'no' | undefined, rate: RateView): boolean {
  return provider === 'cpu' && consent === undefined && rate.etaS !== undefined && rate.etaS > ASK_ABOVE_S;
}
