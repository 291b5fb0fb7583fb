// Dense/hybrid search and "Find Similar Code" in a real VS Code with the REAL shipped model: the index worker
// opens its own encoder, embeds the fixture's chunks after lexical indexing, and the command lists chunks
// like the selection. Only mechanics are asserted (the model's retrieval quality is low, see docs/search.md):
// results come back, the selection's own chunk is left out (what searchSimilar promises), opening a hit
// selects its lines. In the dev suite bulk/ and the lens's huge files are excluded for this test.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';
import type { SimilarResult } from '../../../extension/src/vscode/findSimilar.js';
import { eventually, harnessUrl, press, screenshot, waitFor } from './harness.js';

const root = () => vscode.workspace.workspaceFolders![0]!.uri.fsPath;

suite('Infini Lens: dense/hybrid search and Find Similar Code (real model)', () => {
  let api: InfiniLensApi;
  const lens = () => vscode.workspace.getConfiguration('infiniLens');

  suiteSetup(async function () {
    this.timeout(240_000);
    api = await vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens')!.activate();
    await lens().update('exclude', ['bulk/**', 'huge.ts', 'long-line.js'], vscode.ConfigurationTarget.Workspace);
    await lens().update('embeddings.enabled', true, vscode.ConfigurationTarget.Workspace);
    // The settings change reopens the index with the encoder; wait for every chunk to have its vector.
    const stats = await eventually(async () => {
      const s = await api.whenIdle();
      return s?.semantic && s.semantic.chunks > 0 && s.semantic.embedded === s.semantic.chunks ? s : undefined;
    }, 'every chunk to be embedded', 200_000);
    assert.equal(stats.semantic!.embedded, stats.chunks);
  });

  suiteTeardown(async () => {
    await lens().update('search.mode', undefined, vscode.ConfigurationTarget.Workspace);
    await lens().update('embeddings.enabled', undefined, vscode.ConfigurationTarget.Workspace);
    await lens().update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
  });

  test('infiniLens.search.mode dense and hybrid are honoured by search', async () => {
    for (const mode of ['dense', 'hybrid'] as const) {
      await lens().update('search.mode', mode, vscode.ConfigurationTarget.Workspace);
      const hits = await api.search('parseConfigFile');
      assert.ok(hits.length > 0, `${mode}: some hits`);
      // Dense scores are cosines (≤ 1), RRF scores are sums of 1/(60 + rank): both unlike BM25's.
      assert.ok(hits.every((h) => h.score <= 1 + 1e-6), `${mode}: scores ${hits.map((h) => h.score).join(', ')}`);
    }
    // Hybrid keeps the keyword match among its results (lexical ranks it first).
    assert.ok((await api.search('parseConfigFile')).some((h) => h.path === 'src/config/parseConfig.ts'));
    await lens().update('search.mode', undefined, vscode.ConfigurationTarget.Workspace);
  });

  // Issue 4's "other words" case: the query and src/stats/histogram.py (`histogram_of`, the same file and query as
  // test/unit/search/semantic.e2e.test.ts, where they are checked to share no word) have nothing for keywords to
  // match, so only the encoder can find it. Through the command too: the QuickPick lists it.
  test('Search Workspace finds a function described in other words (dense); keywords cannot', async () => {
    const QUERY = 'count occurrences of every letter in a word', TARGET = 'src/stats/histogram.py';
    try {
      await lens().update('search.mode', 'lexical', vscode.ConfigurationTarget.Workspace);
      const lexical = await api.search(QUERY);
      assert.ok(!lexical.some((h) => h.path === TARGET), `keywords must not find it: ${lexical.map((h) => h.path).join(', ')}`);
      await lens().update('search.mode', 'dense', vscode.ConfigurationTarget.Workspace);
      const dense = (await api.search(QUERY)).slice(0, 3);
      assert.ok(dense.some((h) => h.path === TARGET), `dense top 3: ${dense.map((h) => `${h.path}:${h.startLine}`).join(', ')}`);
      if (!harnessUrl) return;
      void vscode.commands.executeCommand('infiniLens.searchWorkspace', QUERY);
      await waitFor('.quick-input-list .monaco-list-row', `${TARGET}:1`);
      await screenshot('search-other-words');
      await press('Escape');
    } finally {
      await lens().update('search.mode', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Find Similar Code lists other chunks; Enter opens the first with its lines selected', async () => {
    const file = path.join(root(), 'src', 'config', 'parseConfig.ts');
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
    editor.selection = new vscode.Selection(10, 0, 17, 1); // parseConfigFile, lines 11-18
    const result = await vscode.commands.executeCommand<SimilarResult | undefined>('infiniLens.findSimilar');
    assert.ok(result, 'the command returns its results');
    assert.ok(result.hits.length > 0, 'similar chunks found');
    const own = result.hits.filter((h) => h.path === 'src/config/parseConfig.ts' && h.startLine <= 18 && h.endLine >= 11);
    assert.deepEqual(own, [], 'chunks overlapping the selection are left out');
    assert.ok(result.hits.every((h, i) => i === 0 || result.hits[i - 1]!.score >= h.score), 'ranked best first');
    const first = result.hits[0]!;
    const at = first.focus ?? first; // a packed chunk opens at the member that ranked it
    if (!harnessUrl) return;
    await waitFor('.quick-input-widget', 'similar to src/config/parseConfig.ts:11-18');
    await waitFor('.quick-input-list .monaco-list-row', `${first.label}:${at.startLine}`);
    await screenshot('find-similar');
    await press('Enter');
    const opened = await eventually(() => {
      const e = vscode.window.activeTextEditor;
      return e && e.document.uri.fsPath === path.join(root(), first.path) && e.selection.start.line === at.startLine - 1 ? e : undefined;
    }, 'the first similar chunk to open');
    assert.equal(opened.selection.end.line, at.endLine - 1);
    await vscode.commands.executeCommand('infiniLens.results.focus');
    await waitFor('.monaco-tl-row', first.label);
  });
});
