// Activation: wires one index per workspace folder to the commands, the results tree and the status bar.
// Every piece is a small factory returning a Disposable registered here.
import * as vscode from 'vscode';
import type { SearchHit } from '../core/api.js';
import type { WorkerStats } from '../worker/protocol.js';
import { INDEX_SETTINGS } from './config.js';
import { EncoderService } from './encoderService.js';
import { registerFindSimilarCommand } from './findSimilar.js';
import { registerLens, type LensApi } from './lens/index.js';
import { registerResultsView, ResultsTree } from './resultsView.js';
import { registerSearchCommand } from './searchQuickPick.js';
import { createStatusBar } from './statusBar.js';
import { WorkspaceIndexes } from './workspaceIndexes.js';

/** What activate() returns: used by the integration tests and open to other extensions. */
export interface InfiniLensApi {
  /** Resolves when no indexing pass runs, with the stats of all folders summed; undefined when none is open. */
  whenIdle(): Promise<WorkerStats | undefined>;
  /** Hits of all folders, best first; `path` is relative to the hit's folder. */
  search(query: string, limit?: number): Promise<SearchHit[]>;
  /** Where the first folder's index is stored. */
  readonly storageDir: string | undefined;
  readonly lens: LensApi;
  /** The shared encoder (started on first use): which execution provider runs, and the lens engine. */
  readonly encoder: EncoderService;
}

export function activate(context: vscode.ExtensionContext): InfiniLensApi {
  const log = vscode.window.createOutputChannel('Infini Lens', { log: true });
  const indexes = new WorkspaceIndexes(context, log);
  const tree = new ResultsTree();
  const encoder = new EncoderService(context, log);
  context.subscriptions.push(
    log,
    encoder,
    indexes,
    registerResultsView(tree),
    registerSearchCommand(indexes, tree),
    registerFindSimilarCommand(indexes, tree),
    createStatusBar(indexes),
    vscode.commands.registerCommand('infiniLens.showLog', () => log.show(true)),
    vscode.commands.registerCommand('infiniLens.reindex', () => indexes.reindex()),
    vscode.commands.registerCommand('infiniLens.embedWorkspace', () => indexes.embed()),
    // Restricted Mode: nothing was indexed on start-up; once the workspace is trusted, index it (with embeddings).
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      log.info('workspace trusted: indexing it now');
      for (const c of indexes.controllers) void c.reindex({ reopen: true });
    }),
    vscode.commands.registerCommand('infiniLens.cancelIndexing', () => indexes.cancel()),
    vscode.commands.registerCommand('infiniLens.clearIndex', async () => {
      await indexes.clear();
      void vscode.window.showInformationMessage('Infini Lens: index cleared. Run "Infini Lens: Reindex Workspace" to rebuild it.');
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      for (const c of indexes.controllers) {
        if (INDEX_SETTINGS.some((s) => e.affectsConfiguration(s, c.folder.uri))) void c.reindex({ reopen: true });
      }
    }),
  );
  // The lens runs kernels/runtime's lens graph through the shared encoder, started on the first Show Attention.
  const lensEngine = encoder.available ? encoder.lensEngine() : undefined;
  if (!lensEngine) log.warn(`no encoder model in ${encoder.modelDir}: the attention lens is unavailable`);
  const lens = registerLens(context, { engine: () => (vscode.workspace.isTrusted ? lensEngine : undefined), log });
  if (indexes.controllers.length === 0) log.info('no folder open: nothing to index');
  if (vscode.workspace.isTrusted) void indexes.reindex();
  else log.info('Restricted Mode: the workspace is not indexed on start-up; "Reindex Workspace" builds the keyword index, and ' +
    'embeddings, Find Similar Code and the attention lens wait until the workspace is trusted');
  return {
    whenIdle: () => indexes.whenIdle(),
    search: (query, limit) => indexes.search(query, limit),
    get storageDir() { return indexes.controllers[0]?.storageDir; },
    lens,
    encoder,
  };
}

export function deactivate(): void {}
