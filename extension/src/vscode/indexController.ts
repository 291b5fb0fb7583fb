// Owns the index of one workspace folder: opens it in the worker, runs (re)builds with progress and
// Cancel, forwards watcher changes, answers searches, and publishes its state for the status bar.
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { IndexProgress, SearchHit } from '../core/api.js';
import type { FileChange } from '../index/workspaceIndex.js';
import { IndexClient } from './indexClient.js';
import { readConfig, readProvider } from './config.js';
import type { WorkerStats as IndexStats } from './workerProtocol.js';

export type IndexState =
  | { kind: 'starting' }
  | { kind: 'indexing'; progress?: IndexProgress }
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

  constructor(
    readonly folder: vscode.WorkspaceFolder,
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.client = new IndexClient(path.join(context.extensionPath, 'dist', 'indexWorker.js'), {
      onProgress: (progress) => this.setState({ kind: 'indexing', progress }),
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
   * Brings the index up to date. A first build (empty index) shows a cancellable notification for the
   * lexical part; chunk embedding that follows (when a model is shipped) shows in the status bar only, and
   * Cancel Indexing stops it too. A pass already running is cancelled and replaced.
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
      const update = this.client.update();
      // The notification covers the lexical phases; once embedding starts ('encode') the status bar takes over.
      const lexicalDone = new Promise<void>((resolve) => {
        const sub = this.onDidChangeState((s) => {
          if (s.kind === 'indexing' && s.progress?.phase === 'encode') { sub.dispose(); resolve(); }
        });
        void update.finally(() => { sub.dispose(); resolve(); }).catch(() => undefined);
      });
      await vscode.window.withProgress({
        location: firstBuild ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
        title: firstBuild ? 'Infini Lens: indexing workspace' : 'Infini Lens',
        cancellable: firstBuild,
      }, (progress, token) => {
        token.onCancellationRequested(() => this.cancel());
        const sub = this.onDidChangeState((s) => {
          if (s.kind === 'indexing' && s.progress) progress.report({ message: describeProgress(s.progress) });
        });
        return lexicalDone.finally(() => sub.dispose());
      });
      const stats = await update;
      if (this.cancelRequested) this.log.warn('indexing cancelled: the index holds what was done so far; Reindex Workspace carries on');
      this.log.info(`indexed ${stats.files} files, ${stats.chunks} chunks; ${stats.filesReadLastUpdate} read in ${stats.lastUpdateMs} ms`
        + skippedSummary(stats) + (stats.semantic ? `; embeddings ${stats.semantic.embedded}/${stats.semantic.chunks} chunks (${stats.semantic.embeddedLastUpdate} new)` : ''));
      this.setState({ kind: 'ready', stats });
      return stats;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(`indexing failed: ${message}`);
      this.setState({ kind: 'error', message });
      return undefined;
    }
  }

  private ensureOpen(): Promise<IndexStats> {
    if (!this.opened) {
      const config = readConfig(this.folder);
      this.log.info(`opening index for ${this.folder.uri.fsPath} in ${this.storageDir}; excluding ${config.excludeGlobs.join(', ') || 'nothing'}`);
      const opened = this.client.open({
        root: this.folder.uri.fsPath, storageDir: this.storageDir,
        excludeGlobs: config.excludeGlobs, maxFileBytes: config.maxFileBytes, followSymlinks: config.followSymlinks,
        // The index worker opens its own encoder (the host's lens encoder lives in the host's thread tree).
        semantic: config.embeddings ? {
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

export function describeProgress(p: IndexProgress): string {
  const what = p.phase === 'encode' ? 'embedding chunks' : p.phase;
  return p.filesTotal > 0 ? `${what} ${p.filesDone}/${p.filesTotal}` : what;
}

export function skippedSummary(stats: IndexStats): string {
  const parts = Object.entries(stats.skipped).filter(([, n]) => (n ?? 0) > 0).map(([reason, n]) => `${n} ${reason}`);
  return parts.length ? `; skipped ${parts.join(', ')}` : '';
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
