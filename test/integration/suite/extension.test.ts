// Integration tests in a real VS Code: the extension from this repo, on a copy of
// test/fixtures/vscode-workspace. The QuickPick is driven with the real keyboard through the harness.
import * as assert from 'node:assert/strict';
import { rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import { eventually, harnessUrl, press, screenshot, type, waitFor } from './harness.js';

const root = () => vscode.workspace.workspaceFolders![0]!.uri.fsPath;
const hitPaths = async (api: InfiniLensApi, query: string) => (await api.search(query)).map((h) => h.path);

suite('Infini Lens in VS Code', () => {
  let api: InfiniLensApi;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens');
    assert.ok(ext, 'extension infini-lens.infini-lens is loaded');
    api = await ext.activate();
  });

  test('indexes the workspace in its storage folder and counts skipped files', async () => {
    const stats = await api.whenIdle();
    assert.ok(stats, 'a folder is open, so there are stats');
    assert.ok(stats.files >= 4, `indexed ${stats.files} files`);
    assert.ok(stats.chunks >= stats.files, `${stats.chunks} chunks for ${stats.files} files`);
    assert.ok((stats.skipped.binary ?? 0) >= 1, `vendor/logo.bin skipped as binary: ${JSON.stringify(stats.skipped)}`);
    assert.ok((stats.skipped.minified ?? 0) >= 1, `vendor/bundle.min.js skipped as minified: ${JSON.stringify(stats.skipped)}`);
    assert.ok(api.storageDir && !api.storageDir.startsWith(root()), `index stored outside the workspace: ${api.storageDir}`);
  });

  test('respects files.exclude from the workspace settings', async () => {
    assert.deepEqual((await hitPaths(api, 'zebrafishExcludedToken')).filter((p) => p.startsWith('generated/')), []);
    assert.ok((await hitPaths(api, 'parseConfigFile')).includes('src/config/parseConfig.ts'));
  });

  test('the keybinding opens the QuickPick; typing shows ranked hits; Enter selects the hit in the editor', async function () {
    if (!harnessUrl) this.skip(); // needs the page: run through scripts/integration/run.mjs
    const [expected] = await api.search('parseConfigFile');
    assert.ok(expected, 'the engine finds parseConfigFile');
    assert.equal(expected.path, 'src/config/parseConfig.ts');
    assert.ok(expected.startLine <= 11 && expected.endLine >= 11, `hit spans the function (line 11): ${expected.startLine}-${expected.endLine}`);
    // Focus an editor so the keybinding lands in the workbench, not in a list.
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(root(), 'src/main.ts')));
    await press('Control+Alt+f');
    await waitFor('.quick-input-widget', 'Infini Lens: Search Workspace');
    await type('parseConfigFile');
    await waitFor('.quick-input-list .monaco-list-row', `${expected.path}:${expected.startLine}`);
    await screenshot('quickpick-results');
    await press('Enter');
    const editor = await eventually(() => {
      const e = vscode.window.activeTextEditor;
      return e?.document.uri.fsPath.endsWith(path.join('src', 'config', 'parseConfig.ts')) ? e : undefined;
    }, 'the hit to open');
    assert.equal(editor.selection.start.line, expected.startLine - 1);
    assert.equal(editor.selection.end.line, expected.endLine - 1);
    await screenshot('editor-opened-at-hit');
  });

  test('the results tree shows the last search grouped by file', async function () {
    if (!harnessUrl) this.skip(); // needs the page: run through scripts/integration/run.mjs
    await vscode.commands.executeCommand('infiniLens.results.focus');
    await waitFor('.pane-header', 'Infini Lens Results');
    await waitFor('.monaco-tl-row', 'src/config/parseConfig.ts');
    await screenshot('results-tree');
  });

  test('the status bar shows files and chunks', async function () {
    if (!harnessUrl) this.skip(); // needs the page: run through scripts/integration/run.mjs
    const stats = (await api.whenIdle())!;
    await waitFor('.statusbar-item', `${stats.files} files · ${stats.chunks} chunks`);
  });

  test('file watcher: created, renamed and deleted files update the index', async () => {
    const fresh = path.join(root(), 'src', 'fresh.ts');
    await writeFile(fresh, 'export function quokkaFreshToken(): number {\n  return 42;\n}\n');
    await eventually(async () => ((await hitPaths(api, 'quokkaFreshToken')).includes('src/fresh.ts') ? true : undefined), 'the new file to be indexed');
    await rename(path.join(root(), 'src/net/retry.ts'), path.join(root(), 'src/net/backoff.ts'));
    await eventually(async () => {
      const paths = await hitPaths(api, 'retryWithBackoff');
      return paths.includes('src/net/backoff.ts') && !paths.includes('src/net/retry.ts') ? true : undefined;
    }, 'the rename to reach the index');
    await rm(fresh);
    await eventually(async () => ((await hitPaths(api, 'quokkaFreshToken')).length === 0 ? true : undefined), 'the deleted file to leave the index');
  });

  test('Clear Index empties it; Reindex Workspace rebuilds it', async () => {
    await vscode.commands.executeCommand('infiniLens.clearIndex');
    assert.equal((await api.whenIdle())!.files, 0);
    assert.deepEqual(await hitPaths(api, 'parseConfigFile'), []);
    await vscode.commands.executeCommand('infiniLens.reindex');
    assert.ok((await api.whenIdle())!.files >= 4);
    assert.ok((await hitPaths(api, 'parseConfigFile')).includes('src/config/parseConfig.ts'));
  });
});
