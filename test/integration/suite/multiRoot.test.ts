// A multi-root workspace (the fixture + a second folder): one index per folder, searched as one.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import { harnessUrl, press, screenshot, waitFor } from './harness.js';

suite('Infini Lens in a multi-root workspace', () => {
  let api: InfiniLensApi;

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens')!.activate();
  });

  test('indexes every folder and sums their stats', async () => {
    assert.equal(vscode.workspace.workspaceFolders?.length, 2);
    const stats = await api.whenIdle();
    assert.ok(stats && stats.files >= 5, `indexed ${stats?.files} files in two folders`);
  });

  test('hits come from the folder that holds them, labelled with the folder name', async () => {
    const [fromSecond] = await api.search('pelican_migration_route');
    assert.equal(fromSecond?.path, 'lib/pelican.py');
    assert.equal((fromSecond as { label?: string }).label, 'second/lib/pelican.py');
    const [fromFirst] = await api.search('retryWithBackoff');
    assert.equal((fromFirst as { label?: string }).label, 'workspace/src/net/retry.ts');
  });

  test('the QuickPick lists hits with their folder and opens the right file', async function () {
    if (!harnessUrl) this.skip();
    void vscode.commands.executeCommand('infiniLens.searchWorkspace', 'pelican_migration_route');
    await waitFor('.quick-input-list .monaco-list-row', 'second/lib/pelican.py:1');
    await screenshot('quickpick-multi-root');
    await press('Enter');
    const deadline = Date.now() + 20_000;
    while (!vscode.window.activeTextEditor?.document.uri.path.endsWith('/second/lib/pelican.py')) {
      if (Date.now() > deadline) throw new Error('pelican.py did not open');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(vscode.window.activeTextEditor.selection.start.line, 0);
  });
});
