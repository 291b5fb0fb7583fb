// Builds the bundles with esbuild: the extension host (CommonJS, Node), the CLI, the index, chunk and encoder workers and the
// webview (browser ESM). Entries that do not exist yet are skipped so partial checkouts still build.
import { build } from 'esbuild';
import { existsSync, mkdirSync, cpSync } from 'node:fs';
import { patchSqliteVfs, VFS_FILE } from './patch-sqlite-vfs.mjs';

const quiet = process.argv.includes('--quiet');
const watch = process.argv.includes('--watch');
const node = { platform: 'node', format: 'cjs', target: 'node20', bundle: true, sourcemap: true,
  external: ['vscode', 'onnxruntime-node', 'usearch'], logLevel: quiet ? 'error' : 'info' };
const targets = [
  { entry: 'extension/src/vscode/extension.ts', out: 'dist/extension.js', ...node },
  // The CLI runs as `infini-lens` (package.json bin) too: a shebang line.
  { entry: 'extension/src/cli.ts', out: 'dist/cli.js', ...node, banner: { js: '#!/usr/bin/env node' } },
  { entry: 'extension/src/worker/indexWorker.ts', out: 'dist/indexWorker.js', ...node },
  // The lexical pass's chunk workers (extension/src/index/chunkPool.ts looks for it beside the bundle that starts it).
  { entry: 'extension/src/index/chunkWorker.ts', out: 'dist/chunkWorker.js', ...node },
  { entry: 'kernels/runtime/worker.ts', out: 'dist/worker.js', ...node },
  { entry: 'test/integration/suite/index.ts', out: 'dist/test/integration/index.js', ...node, external: ['vscode', 'onnxruntime-node', 'usearch', 'mocha'] },
  { entry: 'webview/src/main.ts', out: 'dist/webview/lens.js', platform: 'browser', format: 'esm', target: 'es2022',
    bundle: true, sourcemap: true, logLevel: quiet ? 'error' : 'info' },
];
// The sqlite VFS fix (hot journals, lock owners) must be in the bundle even if `npm ci --ignore-scripts` skipped postinstall.
for (const what of patchSqliteVfs(VFS_FILE)) console.log(`build: patched node-sqlite3-wasm (${what})`);
mkdirSync('dist', { recursive: true });
// Runtime assets travel beside the bundles: tree-sitter grammars and the sqlite wasm are loaded from dist/
// (extension/src/core/assets.ts looks there first). web-tree-sitter is pinned to 0.22.6, the ABI that
// tree-sitter-wasms' grammars were built for.
const grammars = ['python', 'javascript', 'typescript', 'tsx', 'c'];
for (const [from, to] of [
  ['node_modules/web-tree-sitter/tree-sitter.wasm', 'dist/tree-sitter.wasm'],
  ['node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm', 'dist/node-sqlite3-wasm.wasm'],
  ...grammars.map((g) => [`node_modules/tree-sitter-wasms/out/tree-sitter-${g}.wasm`, `dist/grammars/tree-sitter-${g}.wasm`]),
]) if (existsSync(from)) cpSync(from, to);
await Promise.all(targets.filter((t) => existsSync(t.entry)).map(({ entry, out, ...opts }) =>
  build({ entryPoints: [entry], outfile: out, ...opts, ...(watch ? {} : {}) })));
