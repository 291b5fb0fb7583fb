// "Infini Lens: Find Similar Code": the selected lines are embedded like a chunk (in the index worker's
// encoder) and the nearest chunks are listed in a QuickPick and in the results tree. Chunks of the same file
// that overlap the selection are left out by the index (WorkspaceIndex.searchSimilar).
import * as vscode from 'vscode';
import type { ResultsTree } from './resultsView.js';
import { openHit, toItem, type HitItem } from './searchQuickPick.js';
import type { FolderHit, WorkspaceIndexes } from './workspaceIndexes.js';

/** What the command returns (integration tests and other extensions read it). */
export interface SimilarResult { query: string; hits: FolderHit[] }

export function registerFindSimilarCommand(indexes: WorkspaceIndexes, tree: ResultsTree): vscode.Disposable {
  return vscode.commands.registerCommand('infiniLens.findSimilar', async (): Promise<SimilarResult | undefined> => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return void vscode.window.showInformationMessage('Infini Lens: select some code in an editor first.');
    const sel = editor.selection;
    // A selection ending at column 0 of a line does not include that line.
    const startLine = sel.start.line + 1;
    const endLine = Math.max(startLine, sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line : sel.end.line + 1);
    const query = `similar to ${vscode.workspace.asRelativePath(editor.document.uri)}:${startLine}-${endLine}`;
    if (editor.document.isDirty) void vscode.window.showWarningMessage('Infini Lens: Find Similar Code uses the saved version of this file.');
    const pick = vscode.window.createQuickPick<HitItem>();
    pick.title = `Infini Lens: ${query}`;
    pick.placeholder = 'Type to narrow the list of similar code';
    pick.busy = true;
    pick.show();
    try {
      const hits = await indexes.searchSimilar(editor.document.uri, startLine, endLine);
      if (!hits) { pick.hide(); void vscode.window.showInformationMessage('Infini Lens: this file is not in an indexed workspace folder.'); return undefined; }
      tree.show(query, hits);
      pick.items = hits.map(toItem);
      if (hits.length === 0) pick.placeholder = 'No similar code found (is the workspace embedded yet? see the status bar)';
      pick.onDidAccept(() => {
        const hit = pick.selectedItems[0]?.hit;
        if (!hit) return;
        pick.hide();
        void openHit(hit.folder.uri, hit);
      });
      pick.onDidHide(() => pick.dispose());
      return { query, hits };
    } catch (err) {
      pick.hide();
      const message = err instanceof Error ? err.message : String(err);
      void vscode.window.showErrorMessage(`Infini Lens: Find Similar Code failed: ${message}`);
      return undefined;
    } finally {
      pick.busy = false;
    }
  });
}
