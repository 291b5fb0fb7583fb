// Asks once before a large workspace is embedded on the CPU. Embedding starts as usual; once its rate has been
// measured (progressRate.ts), a pass whose projected time left on the CPU is above ASK_ABOVE_S is paused
// (cancelled: what was stored is kept) and the user chooses: embed now, or keyword search only. The answer is
// kept per workspace folder in the workspace's state; "Infini Lens: Embed Workspace" clears a "no".
import * as vscode from 'vscode';
import { aboutDuration, type RateView } from '../core/progressRate.js';

export type Consent = 'yes' | 'no';
export { shouldAsk } from '../core/progressText.js';

export const EMBED = 'Embed Now';
export const KEYWORDS_ONLY = 'Keyword Search Only';

export class EmbedConsent {
  constructor(private readonly state: vscode.Memento) {}

  get(folder: vscode.WorkspaceFolder): Consent | undefined {
    return this.state.get<Consent>(key(folder));
  }

  async set(folder: vscode.WorkspaceFolder, consent: Consent | undefined): Promise<void> {
    await this.state.update(key(folder), consent);
  }

  /** Asks and remembers the answer; undefined when the notification was dismissed (asked again next time). */
  async ask(folder: vscode.WorkspaceFolder, left: number, rate: RateView): Promise<Consent | undefined> {
    const answer = await vscode.window.showInformationMessage(
      `Infini Lens: embedding "${folder.name}" on the CPU would take ${aboutDuration(rate.etaS ?? 0)} more ` +
      `(${left.toLocaleString('en-US')} chunks left at the ${(rate.perS ?? 0).toFixed(1)} chunks/s measured so far). ` +
      'Keyword search is ready now; embeddings add semantic (hybrid) search and Find Similar Code. ' +
      'Your answer is kept for this workspace ("Infini Lens: Embed Workspace" changes it).',
      EMBED, KEYWORDS_ONLY);
    const consent = answer === EMBED ? 'yes' : answer === KEYWORDS_ONLY ? 'no' : undefined;
    if (consent) await this.set(folder, consent);
    return consent;
  }
}

const key = (folder: vscode.WorkspaceFolder): string => `infiniLens.embedOnCpu:${folder.uri.toString()}`;
