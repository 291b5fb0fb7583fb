// "Infini Lens: Search Workspace": a QuickPick whose items are the ranked hits for what is typed so far
// (debounced). Enter opens the file and selects the hit's lines; the hits also fill the results tree.
import * as vscode from 'vscode';
import { kindLabel } from '../core/labels.js';
import type { SearchHit } from '../core/api.js';
import { readConfig } from './config.js';
import type { IndexState } from './indexController.js';
import { rangeOf, type ResultsTree } from './resultsView.js';
import type { FolderHit, WorkspaceIndexes } from './workspaceIndexes.js';

const DEBOUNCE_MS = 150;

export interface HitItem extends vscode.QuickPickItem { hit: FolderHit }

export function registerSearchCommand(indexes: WorkspaceIndexes, tree: ResultsTree): vscode.Disposable {
  return vscode.commands.registerCommand('infiniLens.searchWorkspace', (initialQuery?: unknown) => {
    if (indexes.controllers.length === 0) return void vscode.window.showInformationMessage('Infini Lens: open a folder to search it.');
    return showSearch(indexes, tree, typeof initialQuery === 'string' ? initialQuery : '');
  });
}

function showSearch(index: WorkspaceIndexes, tree: ResultsTree, initialQuery: string): Promise<void> {
  const pick = vscode.window.createQuickPick<HitItem>();
  pick.placeholder = 'Describe what you are looking for, or type code';
  // The engine ranks; VS Code must neither re-filter on description/detail nor hide ranked hits.
  pick.matchOnDescription = false;
  pick.matchOnDetail = false;
  let timer: NodeJS.Timeout | undefined;
  let generation = 0;

  const run = async (query: string) => {
    const mine = ++generation;
    if (!query.trim()) { pick.items = []; pick.busy = false; return; }
    pick.busy = true;
    try {
      const hits = await index.search(query);
      if (mine !== generation) return; // a newer query is already on its way
      pick.items = hits.map(toItem);
      tree.show(query, hits);
    } catch (err) {
      if (mine === generation) pick.items = [{ label: `$(error) ${err instanceof Error ? err.message : String(err)}`, alwaysShow: true, hit: undefined as never }];
    } finally {
      if (mine === generation) pick.busy = false;
    }
  };

  // Searches wait for a running pass to finish (the core serialises them): say so instead of looking stuck.
  // Dense/hybrid rank over the vectors stored so far while chunks are still being embedded: say so too.
  const first = index.controllers[0];
  const mode = first ? readConfig(first.folder).searchMode : 'lexical';
  const base = `Infini Lens: Search Workspace${mode === 'lexical' ? '' : ` (${mode})`}`;
  const showState = (state: IndexState) => {
    const p = state.kind === 'indexing' ? state.progress : undefined;
    const count = p && p.filesTotal ? ` ${p.filesDone}/${p.filesTotal}` : '';
    pick.title = state.kind !== 'indexing' ? base
      : p?.phase === 'encode'
        ? `${base} — embedding${count}${mode === 'lexical' ? '' : ', ranking the chunks embedded so far'}`
        : `${base} — indexing${count}, results follow`;
  };
  showState(index.state);

  return new Promise<void>((resolve) => {
    const subs = [
      index.onDidChangeState(showState),
      pick.onDidChangeValue((value) => { clearTimeout(timer); timer = setTimeout(() => void run(value), DEBOUNCE_MS); }),
      pick.onDidAccept(() => {
        const hit = pick.selectedItems[0]?.hit;
        if (!hit) return;
        pick.hide();
        void openHit(hit.folder.uri, hit);
      }),
      pick.onDidHide(() => {
        clearTimeout(timer);
        generation++;
        for (const s of subs) s.dispose();
        pick.dispose();
        resolve();
      }),
    ];
    pick.show();
    if (initialQuery) { pick.value = initialQuery; void run(initialQuery); }
  });
}

export function toItem(hit: FolderHit): HitItem {
  return {
    // alwaysShow: the hits are already the answer to the query, so the QuickPick must not filter them out.
    label: `$(file) ${hit.label}:${(hit.focus ?? hit).startLine}`,
    description: hit.name ? `${kindLabel(hit.kind)} ${hit.name}` : kindLabel(hit.kind),
    detail: hit.snippet,
    alwaysShow: true,
    hit,
  };
}

export async function openHit(root: vscode.Uri, hit: SearchHit): Promise<vscode.TextEditor> {
  const editor = await vscode.window.showTextDocument(vscode.Uri.joinPath(root, hit.path), { preview: true });
  const range = editor.document.validateRange(rangeOf(hit));
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  return editor;
}
