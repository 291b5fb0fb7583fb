// Opt-in measurement (issue 4 #3), not part of CI: the largest event-loop delay of the extension host while a
// large corpus is indexed. Run: node scripts/integration/run.mjs --suite=responsiveness --workspace=DIR
// --timeout=1500000. Phase 1: lexical indexing of the whole folder. Phase 2: lexical + chunk embeddings of
// the subfolder INFINI_LENS_EMBED_ONLY (default rxjs; all of it takes too long on a 2-core CPU). Prints
// max/p99/mean delay in ms per phase (perf_hooks.monitorEventLoopDelay, 10 ms resolution) as one JSON line.
import * as assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { InfiniLensApi } from '../../../extension/src/vscode/extension.js';

const ms = (ns: number) => Math.round(ns / 1e4) / 100;

suite('Infini Lens: extension-host responsiveness while indexing a large corpus', () => {
  let api: InfiniLensApi;
  const lens = () => vscode.workspace.getConfiguration('infiniLens');
  const results: Record<string, unknown>[] = [];

  suiteSetup(async () => {
    api = await vscode.extensions.getExtension<InfiniLensApi>('infini-lens.infini-lens')!.activate();
  });
  suiteTeardown(() => console.log(`RESPONSIVENESS ${JSON.stringify(results)}`));

  async function measure(name: string, done: () => Promise<boolean>): Promise<void> {
    const h = monitorEventLoopDelay({ resolution: 10 });
    const t0 = Date.now();
    h.enable();
    await vscode.commands.executeCommand('infiniLens.reindex');
    while (!(await done())) await new Promise((r) => setTimeout(r, 500));
    h.disable();
    const stats = await api.whenIdle();
    const row = { phase: name, seconds: (Date.now() - t0) / 1000, files: stats?.files, chunks: stats?.chunks,
      embedded: stats?.semantic?.embedded, maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean) };
    results.push(row);
    console.log(`RESPONSIVENESS ${JSON.stringify(row)}`);
  }

  test('baseline: the same window idle (nothing indexing) for 20 s', async function () {
    this.timeout(0);
    await api.whenIdle();
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    await new Promise((r) => setTimeout(r, 20_000));
    h.disable();
    const row = { phase: 'idle baseline', seconds: 20, maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean) };
    results.push(row);
    console.log(`RESPONSIVENESS ${JSON.stringify(row)}`);
  });

  test('lexical indexing of the whole folder', async function () {
    this.timeout(0);
    await lens().update('embeddings.enabled', false, vscode.ConfigurationTarget.Workspace);
    await api.whenIdle();
    await vscode.commands.executeCommand('infiniLens.clearIndex');
    assert.equal((await api.whenIdle())!.files, 0);
    await measure('lexical, whole corpus', async () => true);
    assert.ok((await api.whenIdle())!.files > 0);
  });

  test('lexical indexing and chunk embeddings of one subfolder', async function () {
    this.timeout(0);
    const keep = process.env.INFINI_LENS_EMBED_ONLY ?? 'rxjs';
    const root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const others = readdirSync(root).filter((d) => d !== keep && !d.startsWith('.')).map((d) => `${d}/**`);
    await lens().update('exclude', others, vscode.ConfigurationTarget.Workspace);
    await lens().update('embeddings.enabled', true, vscode.ConfigurationTarget.Workspace);
    await api.whenIdle();
    await vscode.commands.executeCommand('infiniLens.clearIndex');
    await measure(`lexical + embeddings, ${keep}/ only`, async () => {
      const s = await api.whenIdle();
      return !!s?.semantic && s.semantic.chunks > 0 && s.semantic.embedded === s.semantic.chunks;
    });
  });
});
