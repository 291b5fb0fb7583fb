// The attention lens in a real VS Code: "Infini Lens: Show Attention" on a file with hostile content opens
// the webview on the token at the cursor; screenshots in light, dark and high-contrast themes are looked at.
// The engine is the DEMO engine of the unit tests (reference kernels on random tensors): this checks the UI
// and its wiring, not the model.
import * as assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LensApi, LensEngine } from '../../../extension/src/vscode/lens/index.js';
import { tokenAtOffset } from '../../../extension/src/vscode/lens/lensData.js';
import { demoLens, demoTokens, DEMO_CONFIG } from '../../unit/webview/demoLens.js';
import { eventually, screenshot, waitFor } from './harness.js';

const HOSTILE = [
  'const banner = "</script><img src=x onerror=alert(1)>";',
  '// \u202Eevil\u2066 admin\u200B',
  'export function total(items: number[]): number {',
  '  return items.reduce((a, b) => a + b, 0);',
  '}',
  '',
].join('\n');

const demoEngine: LensEngine = {
  async lens(req) {
    const tokens = demoTokens(req.text, DEMO_CONFIG.segLen);
    const at = tokenAtOffset(tokens.map((t) => ({ index: t.index, start: offsetOf(req.text, t.range.startLine, t.range.startChar),
      end: offsetOf(req.text, t.range.endLine, t.range.endChar) })), req.offset) ?? 0;
    return demoLens(req.text, { selected: at, uri: req.uri, label: req.label, version: req.version }).data;
  },
  async attention(req) {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === req.uri);
    if (!doc) throw new Error('document closed');
    return demoLens(doc.getText(), { selected: req.token, uri: req.uri, version: req.version }).data.selection;
  },
};

function offsetOf(text: string, line: number, ch: number): number {
  let off = 0;
  for (let l = 0; l < line; l++) off = text.indexOf('\n', off) + 1;
  return off + ch;
}

suite('Infini Lens: attention lens', () => {
  let lens: LensApi;
  let engine: vscode.Disposable;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<{ lens?: LensApi }>('infini-lens.infini-lens');
    assert.ok(ext, 'extension infini-lens.infini-lens is loaded');
    const api = await ext.activate();
    assert.ok(api.lens, 'activate() returns the lens API (registerLens)');
    lens = api.lens;
    engine = lens.useEngine(demoEngine);
  });

  suiteTeardown(async () => {
    engine?.dispose();
    await vscode.workspace.getConfiguration('workbench').update('colorTheme', undefined, vscode.ConfigurationTarget.Global);
  });

  test('Show Attention opens the lens on the token at the cursor; hostile text is shown as text in every theme', async () => {
    const file = path.join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'hostile.ts');
    await writeFile(file, HOSTILE);
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(file));
    const cursor = new vscode.Position(2, 17); // inside "total"
    editor.selection = new vscode.Selection(cursor, cursor);
    await vscode.commands.executeCommand('infiniLens.showAttention');
    const data = await eventually(() => lens.current, 'the lens data');
    assert.equal(data.uri, editor.document.uri.toString());
    assert.equal(data.version, editor.document.version);
    const selected = data.tokens[data.selection.token]!;
    assert.equal(selected.text, 'total');
    assert.equal(selected.range.startLine, 2);
    await waitFor('iframe.webview.ready');
    for (const [name, theme] of [['light', 'Default Light Modern'], ['dark', 'Default Dark Modern'], ['hc', 'Default High Contrast']]) {
      await vscode.workspace.getConfiguration('workbench').update('colorTheme', theme, vscode.ConfigurationTarget.Global);
      await new Promise((r) => setTimeout(r, 1500)); // let the theme reach the webview before the picture
      await screenshot(`lens-${name}`);
    }
    await vscode.commands.executeCommand('infiniLens.toggleAttentionHighlights');
    await vscode.commands.executeCommand('infiniLens.toggleAttentionHighlights');
  });

  test('a cached lens re-centres on another token of the same file version without recomputing the segment', async () => {
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === lens.current?.uri);
    assert.ok(editor, 'the hostile file is still open');
    const pos = new vscode.Position(3, 9); // "items"
    editor.selection = new vscode.Selection(pos, pos);
    const data = await lens.show(editor);
    assert.ok(data);
    assert.equal(data.tokens[data.selection.token]!.text, 'items');
  });
});
