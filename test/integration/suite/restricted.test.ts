// Restricted Mode (an untrusted folder) in a real VS Code, screenshots in three themes: the extension is
// enabled but limited: nothing is indexed on start-up, Reindex Workspace builds the keyword index only (no
// encoder runs on the untrusted files), and the attention lens says why it is off.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import { harnessUrl, screenshot, waitFor } from './harness.js';
import { inEachTheme } from './themes.js';

suite('Infini Lens in Restricted Mode', () => {
  let api: InfiniLensApi;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens');
    assert.ok(ext, 'the extension is enabled in Restricted Mode (untrustedWorkspaces: limited)');
    api = await ext.activate();
    await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar'); // the empty secondary side bar only takes room in the pictures
  });

  test('the workspace is untrusted and nothing was indexed on start-up', async function () {
    this.timeout(180_000);
    assert.equal(vscode.workspace.isTrusted, false, 'the harness opened the folder in Restricted Mode');
    await new Promise((r) => setTimeout(r, 3000)); // what start-up would have done by now
    assert.equal((await api.whenIdle())!.files, 0, 'no indexing on start-up');
    if (harnessUrl) {
      await waitFor('.statusbar-item', 'Restricted');
      await inEachTheme((name) => screenshot(`restricted-${name}`).then(() => undefined));
    }
  });

  test('Reindex Workspace builds the keyword index only; search works; the lens is off with the reason', async function () {
    this.timeout(240_000);
    await vscode.commands.executeCommand('infiniLens.reindex');
    const stats = (await api.whenIdle())!;
    assert.ok(stats.files >= 4, `keyword index built on request: ${stats.files} files`);
    assert.equal(stats.semantic, undefined, 'no encoder ran on the untrusted files');
    assert.ok((await api.search('parseConfigFile')).some((h) => h.path === 'src/config/parseConfig.ts'));
    const editor = await vscode.window.showTextDocument(vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, 'src/main.ts'));
    assert.equal(await api.lens.show(editor), undefined);
    if (harnessUrl) {
      await vscode.commands.executeCommand('notifications.showList');
      await waitFor('.notifications-center .notification-list-item', 'off in Restricted Mode');
      await inEachTheme((name) => screenshot(`restricted-lens-${name}`).then(() => undefined));
      await vscode.commands.executeCommand('notifications.hideList');
    }
  });
});
