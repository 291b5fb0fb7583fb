// One IndexController (and file watcher) per workspace folder, kept in step with folders being added and
// removed, seen from outside as one index: merged search results and one summed state for the status bar.
import * as vscode from 'vscode';
import type { SearchHit } from '../core/api.js';
import type { WorkerStats as IndexStats } from '../worker/protocol.js';
import { readConfig } from './config.js';
import { watchWorkspace } from './fileWatcher.js';
import { IndexController, type IndexState } from './indexController.js';

/** A hit and the folder it belongs to; `label` is the path a user reads (folder name first in multi-root). */
export interface FolderHit extends SearchHit {
  folder: vscode.WorkspaceFolder;
  label: string;
}

export class WorkspaceIndexes implements vscode.Disposable {
  private readonly entries = new Map<string, { controller: IndexController; subs: vscode.Disposable }>();
  private readonly stateEmitter = new vscode.EventEmitter<IndexState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly folderSub: vscode.Disposable;

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel) {
    for (const folder of vscode.workspace.workspaceFolders ?? []) this.add(folder);
    this.folderSub = vscode.workspace.onDidChangeWorkspaceFolders((e) => {
      for (const folder of e.removed) this.remove(folder);
      for (const folder of e.added) { this.add(folder); void this.entries.get(key(folder))?.controller.reindex(); }
      this.stateEmitter.fire(this.state);
    });
  }

  get controllers(): IndexController[] { return [...this.entries.values()].map((e) => e.controller); }

  /** All folders as one: indexing while any is (progress summed), ready when all are (stats summed). */
  get state(): IndexState {
    const states = this.controllers.map((c) => c.state);
    const error = states.find((s) => s.kind === 'error');
    if (error) return error;
    const indexing = states.filter((s) => s.kind === 'indexing');
    if (indexing.length === 1) return indexing[0]!; // with its measured rate (percentage, time left)
    if (indexing.length) {
      const withProgress = indexing.map((s) => s.progress).filter((p) => p !== undefined);
      if (!withProgress.length) return { kind: 'indexing' };
      return { kind: 'indexing', progress: {
        phase: withProgress[0]!.phase,
        filesDone: withProgress.reduce((n, p) => n + p.filesDone, 0),
        filesTotal: withProgress.reduce((n, p) => n + p.filesTotal, 0),
      } };
    }
    const ready = states.filter((s) => s.kind === 'ready');
    if (states.length === 0 || ready.length < states.length) return { kind: 'starting' };
    return { kind: 'ready', stats: sumStats(ready.map((s) => s.stats)) };
  }

  reindex(): Promise<unknown> { return Promise.all(this.controllers.map((c) => c.reindex())); }
  embed(): Promise<unknown> { return Promise.all(this.controllers.map((c) => c.embed())); }
  cancel(): void { for (const c of this.controllers) c.cancel(); }
  clear(): Promise<unknown> { return Promise.all(this.controllers.map((c) => c.clear())); }

  /** Summed stats once no pass runs; undefined when no folder is open. */
  async whenIdle(): Promise<IndexStats | undefined> {
    if (this.entries.size === 0) return undefined;
    return sumStats(await Promise.all(this.controllers.map((c) => c.whenIdle())));
  }

  /** Every folder's hits, best first (each folder ranks its own; scores are merged as they are). */
  async search(query: string, limit?: number): Promise<FolderHit[]> {
    const multi = this.entries.size > 1;
    const perFolder = await Promise.all(this.controllers.map(async (c) =>
      (await c.search(query, limit)).map((hit) => ({ ...hit, folder: c.folder, label: multi ? `${c.folder.name}/${hit.path}` : hit.path }))));
    const max = limit ?? (this.controllers[0] ? readConfig(this.controllers[0].folder).maxResults : 50);
    return perFolder.flat().sort((a, b) => b.score - a.score).slice(0, max);
  }

  /**
   * Find Similar Code for lines of a file (1-based, inclusive): asked of the folder that holds the file (each
   * folder's index embeds its own chunks). Undefined when the file is in no open folder.
   */
  async searchSimilar(uri: vscode.Uri, startLine: number, endLine: number, limit?: number): Promise<FolderHit[] | undefined> {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const controller = folder && this.entries.get(key(folder))?.controller;
    if (!folder || !controller) return undefined;
    const rel = vscode.workspace.asRelativePath(uri, false);
    const multi = this.entries.size > 1;
    const hits = await controller.searchSimilar(rel, startLine, endLine, limit);
    return hits.map((hit) => ({ ...hit, folder, label: multi ? `${folder.name}/${hit.path}` : hit.path }));
  }

  dispose(): void {
    this.folderSub.dispose();
    for (const folder of [...this.entries.values()].map((e) => e.controller.folder)) this.remove(folder);
    this.stateEmitter.dispose();
  }

  private add(folder: vscode.WorkspaceFolder): void {
    if (this.entries.has(key(folder))) return;
    // The index reads files with Node's fs in a worker thread: only folders on this machine's disk.
    if (folder.uri.scheme !== 'file') {
      this.log.warn(`${folder.name}: not indexed: ${folder.uri.scheme}: folders (virtual workspaces) are not supported, only local ones`);
      return;
    }
    const controller = new IndexController(folder, this.context, this.log);
    const subs = vscode.Disposable.from(
      watchWorkspace(controller, this.log),
      controller.onDidChangeState(() => this.stateEmitter.fire(this.state)),
    );
    this.entries.set(key(folder), { controller, subs });
  }

  private remove(folder: vscode.WorkspaceFolder): void {
    const entry = this.entries.get(key(folder));
    if (!entry) return;
    this.entries.delete(key(folder));
    entry.subs.dispose();
    entry.controller.dispose();
  }
}

const key = (folder: vscode.WorkspaceFolder) => folder.uri.toString();

function sumStats(all: IndexStats[]): IndexStats {
  const skipped: IndexStats['skipped'] = {};
  for (const s of all) for (const [reason, n] of Object.entries(s.skipped) as [keyof IndexStats['skipped'], number][]) {
    skipped[reason] = (skipped[reason] ?? 0) + n;
  }
  return {
    files: all.reduce((n, s) => n + s.files, 0),
    chunks: all.reduce((n, s) => n + s.chunks, 0),
    skipped,
    filesReadLastUpdate: all.reduce((n, s) => n + s.filesReadLastUpdate, 0),
    lastUpdateMs: Math.max(0, ...all.map((s) => s.lastUpdateMs)),
    ...(all.some((s) => s.semantic) ? { semantic: {
      embedded: all.reduce((n, s) => n + (s.semantic?.embedded ?? 0), 0),
      chunks: all.reduce((n, s) => n + (s.semantic?.chunks ?? 0), 0),
      embeddedLastUpdate: all.reduce((n, s) => n + (s.semantic?.embeddedLastUpdate ?? 0), 0),
    } } : {}),
  };
}
