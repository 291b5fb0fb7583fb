// The results tree (Explorer → "Infini Lens Results"): the last search's hits grouped by file, in rank
// order of each file's best hit. Clicking a hit opens its range.
import * as vscode from 'vscode';
import { kindLabel } from '../core/labels.js';
import type { SearchHit } from '../core/api.js';
import type { FolderHit } from './workspaceIndexes.js';

type Node = { kind: 'file'; hits: FolderHit[] } | { kind: 'hit'; hit: FolderHit };

export class ResultsTree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private files: Node[] = [];
  query = '';

  /** Replaces the tree with the hits of `query` (already ranked best first). */
  show(query: string, hits: readonly FolderHit[]): void {
    const byFile = new Map<string, FolderHit[]>();
    for (const hit of hits) byFile.set(hit.label, [...(byFile.get(hit.label) ?? []), hit]);
    this.query = query;
    this.files = [...byFile.values()].map((fileHits) => ({ kind: 'file', hits: fileHits }));
    this.changed.fire();
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.files;
    return node.kind === 'file' ? node.hits.map((hit) => ({ kind: 'hit', hit })) : [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'file') {
      const first = node.hits[0]!;
      const item = new vscode.TreeItem(first.label, vscode.TreeItemCollapsibleState.Expanded);
      item.resourceUri = vscode.Uri.joinPath(first.folder.uri, first.path);
      item.iconPath = vscode.ThemeIcon.File; // a collapsible item would otherwise get a folder icon
      item.description = `${node.hits.length}`;
      return item;
    }
    const { hit } = node;
    const at = hit.focus ?? hit;
    const item = new vscode.TreeItem(`${at.startLine}–${at.endLine}${hit.name ? `  ${hit.name}` : ''}`);
    item.description = hit.snippet;
    item.tooltip = `${hit.path}:${at.startLine}  (${kindLabel(hit.kind)}${hit.focus ? ` of lines ${hit.startLine}–${hit.endLine}` : ''}, score ${hit.score.toFixed(3)})`;
    item.command = { title: 'Open', command: 'vscode.open', arguments: [vscode.Uri.joinPath(hit.folder.uri, hit.path), { selection: rangeOf(hit) }] };
    return item;
  }

  dispose(): void { this.changed.dispose(); }
}

/** A hit's lines as an editor range (the member that ranked a packed chunk, else the chunk): 1-based inclusive
 * lines → 0-based, whole lines selected. */
export function rangeOf(hit: SearchHit): vscode.Range {
  const { startLine, endLine } = hit.focus ?? hit;
  return new vscode.Range(startLine - 1, 0, endLine - 1, Number.MAX_SAFE_INTEGER);
}

export function registerResultsView(tree: ResultsTree): vscode.Disposable {
  const view = vscode.window.createTreeView('infiniLens.results', { treeDataProvider: tree, showCollapseAll: true });
  const sync = tree.onDidChangeTreeData(() => { view.message = tree.query ? `Results for “${tree.query}”` : undefined; });
  return vscode.Disposable.from(view, sync, tree);
}
