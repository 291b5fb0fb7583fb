// Time from saving a 2,000-line file to its new content being searchable, through the same calls the VS Code
// file watcher makes (WorkspaceIndex.applyChanges), while a poller searches for an identifier that exists only
// in the new content. A benchmark script that prints times; never a test.
//
//   node --import tsx scripts/bench-freshness.mjs [--workspace DIR] [--index-dir DIR] [--mode lexical|hybrid] [--rounds N]
//
// Without --workspace it uses a copy of test/fixtures/workspace. With --mode hybrid the encoder is attached, and
// the script also reports when every chunk of the new file has its embedding (dense search sees it then).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkspaceIndex } from '../extension/src/search/workspaceIndex.ts';
import { Encoder } from '../kernels/runtime/encoder.ts';
import { hasModel, modelTag } from '../kernels/runtime/modelFiles.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: {
  workspace: { type: 'string' }, 'index-dir': { type: 'string' }, mode: { type: 'string', default: 'lexical' },
  rounds: { type: 'string', default: '3' }, model: { type: 'string', default: path.join(ROOT, 'kernels/model') },
} });

/** A 2,000-line Python file: 200 ten-line functions, one of them named with `marker`. */
function bigFile(marker) {
  const out = [];
  for (let i = 0; i < 200; i++) {
    const name = i === 137 ? marker : `helper_${i}`;
    out.push(`def ${name}(values, scale=${i}):`, `    """Scale and sum values (block ${i})."""`, '    total = 0',
      '    for v in values:', '        total += v * scale', '        if total > 1000000:', '            total = total % 1000003',
      '    result = total + len(values)', '    return result', '');
  }
  return `${out.join('\n')}\n`;
}

async function main() {
  let ws = values.workspace && path.resolve(values.workspace);
  if (!ws) {
    ws = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'il-fresh-')), 'ws');
    fs.cpSync(path.join(ROOT, 'test/fixtures/workspace'), ws, { recursive: true });
  }
  const storageDir = values['index-dir'] ?? path.join(path.dirname(ws), `idx-fresh-${values.mode}`);
  const index = await WorkspaceIndex.open(ws, { storageDir, logger: { info() {}, warn: console.warn, error: console.error } });
  let encoder;
  if (values.mode !== 'lexical') {
    if (!hasModel(values.model)) throw new Error(`no model in ${values.model}`);
    // The bundled worker (run `node scripts/build.mjs` first): from a .mjs script the source worker cannot register tsx.
    encoder = await Encoder.open(values.model, { provider: 'cpu', workerPath: path.join(ROOT, 'dist/worker.js') });
    await index.enableSemantic({ encoder, modelTag: modelTag(values.model) });
  }
  let t = Date.now();
  const st = await index.update();
  console.log(`workspace ${ws}: ${st.files} files, ${st.chunks} chunks, initial update ${((Date.now() - t) / 1000).toFixed(1)} s; mode ${values.mode}`);
  const file = path.join(ws, 'fresh_module.py');
  for (let r = 0; r < Number(values.rounds); r++) {
    const marker = `freshly_saved_${r}_${Date.now().toString(36)}`;
    fs.writeFileSync(file, bigFile(marker));
    const t0 = performance.now();
    const applied = index.applyChanges([{ type: 'changed', path: file }]);
    let found = 0;
    // Poll as a user typing a query would: each search waits for any write ahead of it (one writer).
    while (!found) {
      const hits = await index.search(marker, { mode: 'lexical', limit: 5 });
      if (hits.some((h) => h.path === 'fresh_module.py')) found = performance.now() - t0;
      else await new Promise((res) => setTimeout(res, 5));
    }
    await applied;
    const all = performance.now() - t0;
    const sem = index.semanticStats();
    console.log(`round ${r + 1}: lexically searchable after ${found.toFixed(0)} ms; applyChanges done (incl. embeddings: ${sem ? `${sem.embedded}/${sem.chunks}` : 'off'}) after ${all.toFixed(0)} ms`);
  }
  fs.rmSync(file, { force: true });
  await index.applyChanges([{ type: 'deleted', path: file }]);
  await index.close();
  await encoder?.close();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
