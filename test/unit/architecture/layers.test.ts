// The layering of the TypeScript tree (docs: README "How it is built"): dependencies point one way,
// core ← index ← search ← cli | worker ← vscode, no import cycles, and nothing that ships imports
// kernels/reference (the float64 oracle the tests hold the runtime against).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { importCycles, importGraph, importSpecifiers, sourceFiles } from './imports.js';

const ROOT = path.resolve(__dirname, '../../..');
const SHIPPED = ['extension/src', 'kernels/runtime', 'webview/src'];

/** Which layer a file belongs to; a layer may import only itself and the layers listed for it. */
function layerOf(file: string): string {
  const m = /^extension\/src\/([^/]+)\//.exec(file);
  if (m) return m[1]!;                                    // core, memory, index, search, lens, worker, vscode
  if (/^extension\/src\/[^/]+\.ts$/.test(file)) return 'cli'; // cli.ts and the modules beside it
  if (file === 'webview/src/protocol.ts') return 'lensProtocol';
  if (file.startsWith('webview/src/')) return 'webview';
  if (file.startsWith('kernels/runtime/')) return 'runtime';
  if (file.startsWith('kernels/reference/')) return 'reference';
  return 'other';
}

const BASE = ['core', 'runtime'];
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  runtime: ['core'],
  memory: ['core'],
  index: [...BASE, 'memory'],
  search: [...BASE, 'memory', 'index'],
  lensProtocol: ['core'],
  lens: [...BASE, 'lensProtocol'],
  webview: ['core', 'lensProtocol'],
  worker: [...BASE, 'memory', 'index', 'search'],
  cli: [...BASE, 'memory', 'index', 'search'],
  vscode: [...BASE, 'memory', 'index', 'search', 'lens', 'lensProtocol', 'worker'],
};

const graph = importGraph(ROOT, sourceFiles(ROOT, SHIPPED));

test('the shipped sources have no import cycle', () => {
  assert.ok(graph.size > 60, `read ${graph.size} files`);
  assert.deepEqual(importCycles(graph).map((c) => c.join(' → ')), []);
});

test('the folders (layers) have no import cycle either', () => {
  const folders = new Map<string, string[]>();
  for (const [file, deps] of graph) {
    const from = layerOf(file), out = folders.get(from) ?? [];
    for (const dep of deps) if (layerOf(dep) !== from && !out.includes(layerOf(dep))) out.push(layerOf(dep));
    folders.set(from, out);
  }
  assert.deepEqual(importCycles(folders).map((c) => c.join(' → ')), []);
});

test('dependencies point one way between layers, and nothing shipped imports kernels/reference', () => {
  const wrong: string[] = [];
  for (const [file, deps] of graph) {
    const from = layerOf(file), allowed = MAY_IMPORT[from];
    if (!allowed) { wrong.push(`${file}: no layer (add it to layers.test.ts)`); continue; }
    for (const dep of deps) {
      const to = layerOf(dep);
      if (to !== from && !allowed.includes(to)) wrong.push(`${file} (${from}) imports ${dep} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("extension/src/vscode holds exactly the files that import 'vscode'", () => {
  const wrong = [...graph.keys()].filter((file) => {
    const usesVscode = importSpecifiers(readFileSync(path.join(ROOT, file), 'utf8'), true).includes('vscode');
    return usesVscode !== file.startsWith('extension/src/vscode/');
  });
  assert.deepEqual(wrong, []);
});

test('the scanner sees type-only, multi-line, re-export and dynamic imports, and finds a cycle', () => {
  assert.deepEqual(importSpecifiers([
    "import type { A } from './a.js';",
    'import {\n  B,\n  C,\n} from "./b.js";',
    "export { D } from './d.js';",
    "// import { E } from './commented.js';",
    "/* import { F } from './block.js'; */",
    "const open = '/*';",
    "import './side.js';",
    "const close = '*/';",
    "type G = import('./g.js').G;",
    "import * as fs from 'node:fs';",
  ].join('\n')), ['./a.js', './b.js', './d.js', './side.js', './g.js']);
  const dir = mkdtempSync(path.join(tmpdir(), 'layers-'));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src/a.ts'), "import type { B } from './b.js';\nexport type A = B;\n");
  writeFileSync(path.join(dir, 'src/b.ts'), "import { c } from './c.js';\nexport type B = number;\nexport const b = c;\n");
  writeFileSync(path.join(dir, 'src/c.ts'), "export { a } from './a.js';\nexport const c = 1;\n");
  writeFileSync(path.join(dir, 'src/d.ts'), "import { c } from './c.js';\nexport const d = c;\n");
  assert.deepEqual(importCycles(importGraph(dir, sourceFiles(dir, ['src']))), [['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/a.ts']]);
});
