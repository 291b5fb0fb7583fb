// File system watcher → debounced incremental updates. Renames arrive as delete + create. Events are
// coalesced per path (the last one wins) so a burst of saves re-reads each file once.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FileChange } from '../search/workspaceIndex.js';
import type { IndexController } from './indexController.js';

const DEBOUNCE_MS = 400;

export function watchWorkspace(controller: IndexController, log: vscode.LogOutputChannel): vscode.Disposable {
  const root = controller.folder.uri.fsPath;
  const pending = new Map<string, FileChange['type']>();
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    const events = [...pending].map(([p, type]) => ({ type, path: p }));
    pending.clear();
    controller.applyChanges(events).catch((err) => log.error(`incremental update failed: ${err instanceof Error ? err.message : err}`));
  };
  const queue = (type: FileChange['type']) => (uri: vscode.Uri) => {
    const rel = path.relative(root, uri.fsPath);
    if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return;
    pending.set(rel.split(path.sep).join('/'), type);
    clearTimeout(timer);
    timer = setTimeout(flush, DEBOUNCE_MS);
  };

  const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(controller.folder, '**/*'));
  return vscode.Disposable.from(
    watcher,
    watcher.onDidCreate(queue('created')),
    watcher.onDidChange(queue('changed')),
    watcher.onDidDelete(queue('deleted')),
    { dispose: () => clearTimeout(timer) },
  );
}
