// Activation: wires the index of the first workspace folder to the commands, the results tree, the status
// bar and the file watcher. Every piece is a small factory returning a Disposable registered here.
import * as vscode from 'vscode';
import type { IndexStats, SearchHit } from '../core/api.js';
import { INDEX_SETTINGS } from './config.js';
import { watchWorkspace } from './fileWatcher.js';
import { IndexController } from './indexController.js';
import { registerLens, type LensApi } from './lens/index.js';
import { registerResultsView, ResultsTree } from './resultsView.js';
import { registerSearchCommand } from './searchQuickPick.js';
import { createStatusBar } from './statusBar.js';

/** What activate() returns: used by the integration tests and open to other extensions. */
export interface InfiniLensApi {
  /** Resolves when no indexing pass runs; undefined when no folder is open. */
  whenIdle(): Promise<IndexStats | undefined>;
  search(query: string, limit?: number): Promise<SearchHit[]>;
  readonly storageDir: string | undefined;
  readonly lens: LensApi;
}

export function activate(context: vscode.ExtensionContext): InfiniLensApi {
  const log = vscode.window.createOutputChannel('Infini Lens', { log: true });
  const folder = vscode.workspace.workspaceFolders?.[0];
  const controller = folder ? new IndexController(folder, context, log) : undefined;
  const tree = new ResultsTree(() => folder?.uri);
  context.subscriptions.push(
    log,
    registerResultsView(tree),
    registerSearchCommand(() => controller, tree),
    vscode.commands.registerCommand('infiniLens.showLog', () => log.show(true)),
  );
  // The model side (kernels/runtime's lens graph) plugs in here once it ships; until then the command says so.
  const lens = registerLens(context, { engine: () => undefined, log });
  if (!controller) {
    log.info('no folder open: nothing to index');
    return { whenIdle: async () => undefined, search: async () => [], storageDir: undefined, lens };
  }
  if ((vscode.workspace.workspaceFolders?.length ?? 0) > 1) log.warn(`multi-root workspace: only ${folder!.name} is indexed`);
  context.subscriptions.push(
    controller,
    createStatusBar(controller),
    watchWorkspace(controller, log),
    vscode.commands.registerCommand('infiniLens.reindex', () => controller.reindex()),
    vscode.commands.registerCommand('infiniLens.cancelIndexing', () => controller.cancel()),
    vscode.commands.registerCommand('infiniLens.clearIndex', async () => {
      await controller.clear();
      void vscode.window.showInformationMessage('Infini Lens: index cleared. Run "Infini Lens: Reindex Workspace" to rebuild it.');
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (INDEX_SETTINGS.some((s) => e.affectsConfiguration(s, folder!.uri))) void controller.reindex({ reopen: true });
    }),
  );
  void controller.reindex();
  return {
    whenIdle: () => controller.whenIdle(),
    search: (query, limit) => controller.search(query, limit),
    storageDir: controller.storageDir,
    lens,
  };
}

export function deactivate(): void {}
