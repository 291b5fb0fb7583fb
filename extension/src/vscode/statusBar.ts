// The status bar item: which pass runs, how far (percentage) and how long is left while indexing; then
// files · chunks and skipped counts. Clicking it while a pass runs offers Cancel (and the log); otherwise it
// shows the log, where every skipped file is listed with its reason.
import * as vscode from 'vscode';
import type { IndexState } from './indexController.js';
import { describeRate } from '../core/progressRate.js';
import { describeProgress } from '../core/progressText.js';

/** The status bar's command while a pass runs: a short menu with Cancel Indexing and Show Log. */
export const INDEXING_MENU = 'infiniLens.indexingMenu';

export interface StateSource {
  readonly state: IndexState;
  readonly onDidChangeState: vscode.Event<IndexState>;
}

export function createStatusBar(indexes: StateSource): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('infiniLens.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'Infini Lens';
  const render = (state: IndexState) => {
    Object.assign(item, present(state), { command: state.kind === 'indexing' ? INDEXING_MENU : 'infiniLens.showLog' });
    // "Cancel Indexing" is offered in the Command Palette only while a pass runs.
    void vscode.commands.executeCommand('setContext', 'infiniLens.indexing', state.kind === 'indexing');
  };
  render(indexes.state);
  item.show();
  const menu = vscode.commands.registerCommand(INDEXING_MENU, async () => {
    const running = indexes.state.kind === 'indexing';
    const items = [...(running ? [{ label: '$(debug-stop) Cancel Indexing', command: 'infiniLens.cancelIndexing',
      detail: 'Stops the running pass; what was stored so far is kept and Reindex Workspace carries on.' }] : []),
    { label: '$(output) Show Log', command: 'infiniLens.showLog', detail: 'Every indexed and skipped file, and why.' }];
    const pick = await vscode.window.showQuickPick(items, { title: 'Infini Lens', placeHolder: describeState(indexes.state) });
    if (pick) await vscode.commands.executeCommand(pick.command);
  });
  return vscode.Disposable.from(item, menu, indexes.onDidChangeState(render));
}

function describeState(state: IndexState): string {
  return state.kind === 'indexing' && state.progress ? `Indexing: ${describeProgress(state.progress, state.rate)}` : 'Infini Lens';
}

export function present(state: IndexState): Pick<vscode.StatusBarItem, 'text' | 'tooltip' | 'backgroundColor'> {
  switch (state.kind) {
    case 'starting':
      if (!vscode.workspace.isTrusted) {
        return { text: '$(shield) Infini Lens: Restricted', backgroundColor: undefined, tooltip: 'Infini Lens in Restricted Mode: the ' +
          'workspace is not indexed on its own. "Reindex Workspace" builds the keyword index; embeddings and the attention lens wait until you trust the workspace.' };
      }
      return { text: '$(search) Infini Lens', tooltip: 'Infini Lens: opening the index', backgroundColor: undefined };
    case 'indexing': {
      const p = state.progress;
      const count = p && p.filesTotal > 0 ? ` ${p.filesDone}/${p.filesTotal}` : '';
      const rate = describeRate(state.rate ?? {});
      const tail = rate ? ` · ${rate}` : '';
      const tooltip = `Infini Lens: ${p ? describeProgress(p, state.rate) : 'starting'} — click to cancel or show the log`;
      if (p?.phase === 'encode') return { text: `$(sync~spin) Embedding${count}${tail}`, backgroundColor: undefined, tooltip };
      return { text: `$(sync~spin) Indexing${count}${tail}`, tooltip, backgroundColor: undefined };
    }
    case 'ready': {
      const { files, chunks, skipped } = state.stats;
      const skippedTotal = Object.values(skipped).reduce((a: number, n) => a + (n ?? 0), 0);
      const tooltip = new vscode.MarkdownString(`**Infini Lens** — ${files} files, ${chunks} chunks indexed`);
      const sem = state.stats.semantic;
      if (sem) tooltip.appendMarkdown(`\n\n${sem.embedded}/${sem.chunks} chunks embedded (dense/hybrid search)`);
      for (const [reason, n] of Object.entries(skipped)) if (n) tooltip.appendMarkdown(`\n\n- ${n} skipped: ${reason}`);
      tooltip.appendMarkdown('\n\nClick to show the log.');
      const skippedText = skippedTotal ? ` · ${skippedTotal} skipped` : '';
      return { text: `$(search) ${files} files · ${chunks} chunks${skippedText}`, tooltip, backgroundColor: undefined };
    }
    case 'error':
      return { text: '$(warning) Infini Lens', tooltip: `Infini Lens: ${state.message} — click for the log`,
        backgroundColor: new vscode.ThemeColor('statusBarItem.warningBackground') };
  }
}
