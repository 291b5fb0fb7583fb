// Editor decorations for the lens: attended tokens shaded by weight bucket, memory recalls outlined, the
// selected token boxed; hovers give weight, layer and head. Only editors showing the exact document version
// the lens was computed for are decorated (an edit makes the ranges stale, so they are cleared).
import * as vscode from 'vscode';
import type { LensData, LensView } from '../../../../webview/src/protocol.js';
import { BUCKETS, highlightPlan, type Highlight } from '../../lens/highlightPlan.js';

// Editor decorations take colours, not CSS variables: the shade is the theme's find-match highlight at
// increasing strength (outline from the theme, so high-contrast themes get a visible border too).
const alpha = (i: number): number => 0.12 + (0.5 * i) / (BUCKETS - 1);

export class LensDecorations implements vscode.Disposable {
  private readonly local: vscode.TextEditorDecorationType[];
  private readonly memory: vscode.TextEditorDecorationType[];
  private readonly selected: vscode.TextEditorDecorationType;
  private enabled = true;
  private shown: { data: LensData; view: LensView } | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    this.local = Array.from({ length: BUCKETS }, (_, i) => vscode.window.createTextEditorDecorationType({
      backgroundColor: `rgba(234, 140, 30, ${alpha(i).toFixed(2)})`,
      outlineColor: i === BUCKETS - 1 ? new vscode.ThemeColor('editor.findMatchHighlightBorder') : undefined,
      outlineStyle: 'solid', outlineWidth: i === BUCKETS - 1 ? '1px' : '0',
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.findMatchForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Center,
    }));
    this.memory = Array.from({ length: BUCKETS }, (_, i) => vscode.window.createTextEditorDecorationType({
      backgroundColor: `rgba(150, 90, 220, ${alpha(i).toFixed(2)})`,
      border: '1px dashed', borderColor: new vscode.ThemeColor('editorInfo.foreground'),
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.infoForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Right,
    }));
    this.selected = vscode.window.createTextEditorDecorationType({
      border: '2px solid', borderColor: new vscode.ThemeColor('focusBorder'),
    });
    this.subscriptions.push(
      vscode.window.onDidChangeVisibleTextEditors(() => this.apply()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.shown && e.document.uri.toString() === this.shown.data.uri) this.apply();
      }),
    );
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  show(data: LensData, view: LensView): void {
    this.shown = { data, view };
    this.apply();
  }

  toggle(): boolean {
    this.enabled = !this.enabled;
    this.apply();
    return this.enabled;
  }

  clear(): void {
    this.shown = undefined;
    this.apply();
  }

  dispose(): void {
    for (const t of [...this.local, ...this.memory, this.selected]) t.dispose();
    for (const s of this.subscriptions) s.dispose();
  }

  private apply(): void {
    const plan = this.shown && this.enabled ? highlightPlan(this.shown.data, this.shown.view) : [];
    for (const editor of vscode.window.visibleTextEditors) {
      const current = this.shown !== undefined && editor.document.uri.toString() === this.shown.data.uri &&
        editor.document.version === this.shown.data.version;
      const mine = current ? plan : [];
      this.local.forEach((t, b) => editor.setDecorations(t, options(mine, 'local', b)));
      this.memory.forEach((t, b) => editor.setDecorations(t, options(mine, 'memory', b)));
      editor.setDecorations(this.selected, options(mine, 'selected'));
    }
  }
}

function options(plan: Highlight[], kind: Highlight['kind'], bucket?: number): vscode.DecorationOptions[] {
  return plan.filter((h) => h.kind === kind && (bucket === undefined || h.bucket === bucket)).map((h) => ({
    range: new vscode.Range(h.range.startLine, h.range.startChar, h.range.endLine, h.range.endChar),
    hoverMessage: new vscode.MarkdownString().appendText(h.hover), // appendText escapes: no markdown, no links
  }));
}
