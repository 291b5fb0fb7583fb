// The status bar item: indexing n/m while a pass runs, then files · chunks and skipped counts.
// Clicking shows the log, where every skipped file is listed with its reason.
import * as vscode from 'vscode';
import type { IndexState } from './indexController.js';

export interface StateSource {
  readonly state: IndexState;
  readonly onDidChangeState: vscode.Event<IndexState>;
}

export function createStatusBar(indexes: StateSource): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('infiniLens.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'Infini Lens';
  item.command = 'infiniLens.showLog';
  const render = (state: IndexState) => Object.assign(item, present(state));
  render(indexes.state);
  item.show();
  return vscode.Disposable.from(item, indexes.onDidChangeState(render));
}

export function present(state: IndexState): Pick<vscode.StatusBarItem, 'text' | 'tooltip' | 'backgroundColor'> {
  switch (state.kind) {
    case 'starting':
      return { text: '$(search) Infini Lens', tooltip: 'Infini Lens: opening the index', backgroundColor: undefined };
    case 'indexing': {
      const p = state.progress;
      const count = p && p.filesTotal > 0 ? ` ${p.filesDone}/${p.filesTotal}` : '';
      if (p?.phase === 'encode') {
        return { text: `$(sync~spin) Embedding${count}`, backgroundColor: undefined,
          tooltip: 'Infini Lens: embedding chunks for dense/hybrid search (keyword search works meanwhile; "Infini Lens: Cancel Indexing" stops it) — click for the log' };
      }
      return { text: `$(sync~spin) Indexing${count}`, tooltip: `Infini Lens: ${p?.phase ?? 'walking'} — click for the log`, backgroundColor: undefined };
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
