// Owns the index of one workspace folder: opens it in the worker, runs (re)builds with progress and
// Cancel, forwards watcher changes, answers searches, and publishes its state for the status bar.
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { IndexProgress, SearchHit } from '../core/api.js';
import type { FileChange } from '../search/workspaceIndex.js';
import { IndexClient } from '../worker/indexClient.js';
import { readConfig, readProvider } from './config.js';
import type { WorkerStats as IndexStats } from '../worker/protocol.js';
import { PhaseRate, type RateView } from '../core/progressRate.js';
import { describeProgress } from '../core/progressText.js';
import { EmbedConsent, shouldAsk } from './embedConsent.js';

export { describeProgress };

export type IndexState =
  | { kind: 'starting' }
  | { kind: 'indexing'; progress?: IndexProgress; rate?: RateView }
  | { kind: 'ready'; stats: IndexStats }
  | { kind: 'error'; message: string };

export class IndexController implements vscode.Disposable {
  private readonly client: IndexClient;
  private readonly stateEmitter = new vscode.EventEmitter<IndexState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private current: IndexState = { kind: 'starting' };
  private opened: Promise<IndexStats> | undefined;
  private running: Promise<IndexStats | undefined> | undefined;
  private cancelRequested = false;
  private readonly rate = new PhaseRate();
  /** Set when this pass was paused to ask before embedding on the CPU (see embedConsent.ts). */
  private paused: { left: number; rate: RateView } | undefined;
  /** A failure is notified once until a pass succeeds again; the log has every one. */
  private failureNotified = false;
  private readonly consent: EmbedConsent;

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.consent = new EmbedConsent(context.workspaceState);
    this.client = new IndexClient(path.join(context.extensionPath, 'dist', 'indexWorker.js'), {
      onProgress: (progress) => this.onProgress(progress),
      onLog: (level, message) => log[level](message),
      onExit: (code) => { this.opened = undefined; if (code !== 0) log.warn(`index worker exited with code ${code}`); },
    });
  }

  get state(): IndexState { return this.current; }

  /** Where this folder's index lives: the workspace storage, or a per-folder slot in global storage. */
  get storageDir(): string {
    if (this.context.storageUri) return path.join(this.context.storageUri.fsPath, 'index', hash(this.folder.uri.toString()));
    return path.join(this.context.globalStorageUri.fsPath, 'workspaces', hash(this.folder.uri.toString()));
  }

  /**
   * Brings the index up to date. A first build (empty index) shows a cancellable notification for both passes
   * (the keyword index, then the chunk embeddings) with percentage and time left; later passes show the same
   * in the status bar, whose click offers Cancel. A pass already running is cancelled and replaced.
   */
  async reindex(options: { reopen?: boolean } = {}): Promise<IndexStats | undefined> {
    if (this.running) { this.client.cancelUpdate(); await this.running.catch(() => undefined); }
    const pass = this.runPass(options.reopen ?? false);
    this.running = pass;
    try { return await pass; } finally { if (this.running === pass) this.running = undefined; }
  }

  /** Resolves once no pass is running; the stats of the index as it stands. */
  async whenIdle(): Promise<IndexStats> {
    while (this.running) await this.running.catch(() => undefined);
    await this.ensureOpen();
    return this.client.stats();
  }

  cancel(): void {
    if (!this.running) return;
    this.cancelRequested = true;
    this.client.cancelUpdate();
  }

  async clear(): Promise<void> {
    if (this.running) { this.client.cancelUpdate(); await this.running.catch(() => undefined); }
    await this.ensureOpen();
    await this.client.clear();
    const stats = await this.client.stats();
    this.log.info(`index cleared (${this.storageDir})`);
    this.setState({ kind: 'ready', stats });
  }

  async applyChanges(events: FileChange[]): Promise<void> {
    if (events.length === 0) return;
    await this.ensureOpen();
    const stats = await this.client.applyChanges(events);
    this.log.debug(`applied ${events.length} file change(s): ${stats.filesReadLastUpdate} file(s) re-read`);
    if (!this.running) this.setState({ kind: 'ready', stats });
  }

  async search(query: string, limit?: number): Promise<SearchHit[]> {
    await this.ensureOpen();
    const config = readConfig(this.folder);
    return this.client.search(query, { mode: config.searchMode, limit: limit ?? config.maxResults });
  }

  /** Find Similar Code in this folder: lines are 1-based inclusive; the selection's own chunks are left out. */
  async searchSimilar(relPath: string, startLine: number, endLine: number, limit?: number): Promise<SearchHit[]> {
    await this.ensureOpen();
    return this.client.searchSimilar({ relPath, startLine, endLine, limit: limit ?? readConfig(this.folder).maxResults });
  }

  dispose(): void {
    this.stateEmitter.dispose();
    void this.client.dispose();
  }

  private async runPass(reopen: boolean): Promise<IndexStats | undefined> {
    try {
      if (reopen) this.opened = undefined;
      await this.ensureOpen();
      // Asked now, not taken from open(): a Clear Index since then makes this a first build again.
      const firstBuild = (await this.client.stats()).files === 0;
      this.setState({ kind: 'indexing' });
      this.cancelRequested = false;
      this.paused = undefined;
      const update = this.client.update();
      const passDone = update.then(() => undefined, () => undefined);
      await vscode.window.withProgress({
        location: firstBuild ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
        title: firstBuild ? `Infini Lens: indexing ${this.folder.name}` : 'Infini Lens',
        cancellable: firstBuild,
      }, (progress, token) => {
        token.onCancellationRequested(() => this.cancel());
        const sub = this.onDidChangeState((s) => {
          if (s.kind === 'indexing' && s.progress) progress.report({ message: describeProgress(s.progress, s.rate) });
        });
        return passDone.finally(() => sub.dispose());
      });
      const stats = await update;
      const paused = this.paused as IndexController['paused']; // set by onProgress meanwhile
      if (paused) {
        this.log.info(`embedding paused to ask first: ${paused.left} chunks left on the CPU`);
        void this.askThenEmbed(paused);
      } else if (this.cancelRequested) this.log.warn('indexing cancelled: the index holds what was done so far; Reindex Workspace carries on');
      this.log.info(`indexed ${stats.files} files, ${stats.chunks} chunks; ${stats.filesReadLastUpdate} read in ${stats.lastUpdateMs} ms`
        + skippedSummary(stats) + (stats.semantic ? `; embeddings ${stats.semantic.embedded}/${stats.semantic.chunks} chunks (${stats.semantic.embeddedLastUpdate} new)` : ''));
      this.failureNotified = false;
      this.setState({ kind: 'ready', stats });
      return stats;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`indexing failed: ${message}`);
      this.setState({ kind: 'error', message });
      if (!this.failureNotified) {
        this.failureNotified = true;
        void vscode.window.showErrorMessage(`Infini Lens: indexing "${this.folder.name}" failed: ${message}`, 'Show Log')
          .then((a) => { if (a === 'Show Log') this.log.show(true); });
      }
      return undefined;
    }
  }

  /** Embed this folder from now on (clears a "keyword search only" answer) and carry on indexing. */
  async embed(): Promise<IndexStats | undefined> {
    await this.consent.set(this.folder, 'yes');
    return this.reindex({ reopen: true });
  }

  private onProgress(progress: IndexProgress): void {
    const rate = this.rate.update(`${progress.phase}:${progress.message ?? ''}`, progress.filesDone, progress.filesTotal);
    this.setState({ kind: 'indexing', progress, rate });
    if (progress.phase === 'encode' && progress.message === 'embedding chunks' && !this.paused && !this.cancelRequested
      && shouldAsk(progress.provider, this.consent.get(this.folder), rate)) {
      this.paused = { left: progress.filesTotal - progress.filesDone, rate };
      this.client.cancelUpdate();
    }
  }

  private async askThenEmbed(paused: { left: number; rate: RateView }): Promise<void> {
    const answer = await this.consent.ask(this.folder, paused.left, paused.rate);
    if (answer === 'yes') void this.reindex();
    else if (answer === 'no') {
      this.log.info('embedding off for this workspace (keyword search only); "Infini Lens: Embed Workspace" turns it on');
      void this.reindex({ reopen: true });
    } else this.log.info('embedding paused: "Reindex Workspace" or "Infini Lens: Embed Workspace" carries on');
  }

  private ensureOpen(): Promise<IndexStats> {
    if (!this.opened) {
      const config = readConfig(this.folder);
      this.log.info(`opening index for ${this.folder.uri.fsPath} in ${this.storageDir}; excluding ${config.excludeGlobs.join(', ') || 'nothing'}`);
      const opened = this.client.open({
        root: this.folder.uri.fsPath, storageDir: this.storageDir,
        excludeGlobs: config.excludeGlobs, maxFileBytes: config.maxFileBytes, followSymlinks: config.followSymlinks,
        // The index worker opens its own encoder (the host's lens encoder lives in the host's thread tree).
        // Off: the setting, a "keyword search only" answer for this folder, or Restricted Mode (nothing heavy runs
        // on an untrusted workspace's files until it is trusted).
        semantic: config.embeddings && this.consent.get(this.folder) !== 'no' && vscode.workspace.isTrusted ? {
          modelDir: path.join(this.context.extensionPath, 'kernels', 'model'),
          encoderWorkerPath: path.join(this.context.extensionPath, 'dist', 'worker.js'),
          provider: readProvider(),
        } : undefined,
      });
      opened.catch(() => { if (this.opened === opened) this.opened = undefined; });
      this.opened = opened;
    }
    return this.opened;
  }

  private setState(state: IndexState): void {
    this.current = state;
    this.stateEmitter.fire(state);
  }
}

export function skippedSummary(stats: IndexStats): string {
  const parts = Object.entries(stats.skipped).filter(([, n]) => (n ?? 0) > 0).map(([reason, n]) => `${n} ${reason}`);
  return parts.length ? `; skipped ${parts.join(', ')}` : '';
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
