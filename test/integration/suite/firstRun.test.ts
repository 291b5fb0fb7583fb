// First run and everyday use in a real VS Code, with screenshots in light, dark and high-contrast themes: the
// welcome view of the empty results view, the walkthrough, and an indexing failure notified once with Show Log.
import * as assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import { click, eventually, harnessUrl, screenshot, waitFor } from './harness.js';
import { inEachTheme } from './themes.js';

suite('Infini Lens: first run', () => {
  let api: InfiniLensApi;

  suiteSetup(async function () {
    if (!harnessUrl) this.skip(); // screenshots and clicks need the page: run through scripts/integration/run.mjs
    const ext = vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens');
    assert.ok(ext, 'extension infini-lens.infini-lens is loaded');
    api = await ext.activate();
    await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar'); // room for the editor (the walkthrough's pages)
    await api.whenIdle();
  });

  test('the empty results view welcomes with what to do, in its own view container', async function () {
    this.timeout(180_000);
    await vscode.commands.executeCommand('infiniLens.results.focus');
    const text = await waitFor('.welcome-view-content', 'Search Workspace');
    assert.match(text, /describing code in words/);
    assert.match(text, /Open the Walkthrough/);
    await inEachTheme((name) => screenshot(`welcome-view-${name}`).then(() => undefined));
  });

  test('the walkthrough: index, search, Find Similar, the lens, settings', async function () {
    this.timeout(240_000);
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', 'infini-lens.infini-lens#infiniLens.start', false);
    const page = await waitFor('.gettingStartedContainer', 'Get started with Infini Lens');
    for (const step of ['Index your workspace', 'Search in words', 'Find similar code', 'Look inside: the attention lens', 'Settings']) {
      assert.ok(page.includes(step), `the walkthrough has the step "${step}"`);
    }
    await inEachTheme((name) => screenshot(`walkthrough-${name}`).then(() => undefined));
    await click('.gettingStartedContainer .getting-started-step', 'Look inside: the attention lens');
    // The step opens with its button; its page (media/walkthrough/lens.md) renders beside it in a webview.
    await waitFor('.gettingStartedContainer .getting-started-step.expanded', 'Show Attention');
    await new Promise((r) => setTimeout(r, 1500));
    await screenshot('walkthrough-lens-step');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('an indexing failure is notified once, with Show Log', async function () {
    this.timeout(300_000);
    const dir = api.storageDir!;
    const settings = vscode.workspace.getConfiguration('infiniLens');
    // The index folder turns into a file: the next open of the index fails (a real failure, not a fake one).
    await rename(dir, `${dir}.moved`);
    await writeFile(dir, 'not a folder');
    try {
      await vscode.commands.executeCommand('notifications.clearAll');
      await settings.update('maxFileSizeKB', 1023, vscode.ConfigurationTarget.Workspace); // an index setting: reopens the index
      await vscode.commands.executeCommand('notifications.showList');
      const item = await waitFor('.notifications-center .notification-list-item', 'failed');
      assert.match(item, /Infini Lens: indexing "workspace" failed/);
      await waitFor('.notifications-center .notification-list-item .monaco-button', 'Show Log');
      await inEachTheme((name) => screenshot(`failure-notification-${name}`).then(() => undefined));
      // Fails again: the log gets it, no second notification.
      await vscode.commands.executeCommand('infiniLens.reindex');
      await new Promise((r) => setTimeout(r, 1500));
      await vscode.commands.executeCommand('notifications.showList');
      const list = await waitFor('.notifications-center', 'failed');
      assert.equal(list.split('indexing "workspace" failed').length - 1, 1, `notified once: ${list}`);
      await click('.notifications-center .notification-list-item .monaco-button', 'Show Log');
      await waitFor('.part.panel .view-lines', 'indexing failed');
      await screenshot('failure-show-log');
      await vscode.commands.executeCommand('workbench.action.closePanel');
    } finally {
      await rm(dir, { force: true });
      await rename(`${dir}.moved`, dir).catch(async () => mkdir(dir, { recursive: true }));
      await settings.update('maxFileSizeKB', undefined, vscode.ConfigurationTarget.Workspace);
      await vscode.commands.executeCommand('notifications.clearAll');
      await vscode.commands.executeCommand('notifications.hideList');
    }
    await eventually(async () => ((await api.whenIdle().catch(() => undefined))?.files ? true : undefined), 'the index to open again', 60_000);
  });
});
