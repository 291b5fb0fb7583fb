// The packaged linux-x64 VSIX, installed into the test VS Code's extensions folder (not the repo), indexes
// and searches. The development extension in this run is an empty host (test/integration/vsix-host).
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import { press, screenshot, waitFor } from './harness.js';

suite('Infini Lens installed from the linux-x64 VSIX', () => {
  test('the installed copy carries only the linux-x64 onnxruntime binaries', () => {
    const ext = vscode.extensions.getExtension('infini-lens.infini-lens');
    assert.ok(ext, 'installed extension is loaded');
    assert.match(ext.extensionPath, /[/\\]extensions[/\\]infini-lens\.infini-lens-/);
    const ort = path.join(ext.extensionPath, 'dist', 'node_modules', 'onnxruntime-node');
    const bin = path.join(ort, 'bin', 'napi-v6');
    assert.ok(existsSync(path.join(bin, 'linux', 'x64', 'onnxruntime_binding.node')));
    for (const other of ['darwin', 'win32', path.join('linux', 'arm64')]) assert.ok(!existsSync(path.join(bin, other)), `${other} pruned`);
    // The native binding loads in this extension host (Node 24, N-API v6) from where the bundles find it.
    const runtime = createRequire(__filename)(ort) as { listSupportedBackends(): { name: string }[] };
    assert.ok(runtime.listSupportedBackends().some((b) => b.name === 'cpu'), 'onnxruntime-node offers the cpu backend');
    // usearch (when the bundles use it): only this platform's prebuild.
    const prebuilds = path.join(ext.extensionPath, 'dist', 'node_modules', 'usearch', 'prebuilds');
    if (existsSync(prebuilds)) assert.deepEqual(readdirSync(prebuilds), ['linux-x64']);
  });

  test('the package: the CLI left out; icon, walkthrough pages, LICENSE and CHANGELOG in', () => {
    const ext = vscode.extensions.getExtension('infini-lens.infini-lens')!;
    const at = (p: string) => path.join(ext.extensionPath, p);
    assert.ok(!existsSync(at('dist/cli.js')), 'dist/cli.js is not part of the extension');
    const manifest = ext.packageJSON as { icon: string; contributes: { walkthroughs: { steps: { media: { markdown: string } }[] }[] } };
    assert.ok(existsSync(at(manifest.icon)), `the icon ${manifest.icon} is shipped`);
    for (const step of manifest.contributes.walkthroughs[0]!.steps) assert.ok(existsSync(at(step.media.markdown)), step.media.markdown);
    // vsce stores these as readme.md, changelog.md and LICENSE.txt.
    const top = readdirSync(ext.extensionPath).map((f) => f.toLowerCase());
    for (const f of ['readme.md', 'changelog.md']) assert.ok(top.includes(f), `${f} in ${top.join(', ')}`);
    assert.ok(top.includes('license') || top.includes('license.txt'), `LICENSE in ${top.join(', ')}`);
  });

  test('indexes the workspace and answers a search through the QuickPick', async function () {
    this.timeout(300_000); // the first build with embeddings on a busy 2-core machine
    const api = await vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens')!.activate();
    const stats = await api.whenIdle();
    assert.ok(stats && stats.files >= 4, `indexed ${stats?.files} files`);
    const [hit] = await api.search('retryWithBackoff');
    assert.equal(hit?.path, 'src/net/retry.ts');
    void vscode.commands.executeCommand('infiniLens.searchWorkspace', 'retryWithBackoff');
    await waitFor('.quick-input-list .monaco-list-row', `src/net/retry.ts:${(hit.focus ?? hit).startLine}`);
    await screenshot('quickpick-from-vsix');
    await press('Escape');
  });
});
