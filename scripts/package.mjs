// `npm run package [-- --target=linux-x64]`: one VSIX per platform in out/vsix/, each carrying only its own
// onnxruntime-node binaries. For every target we stage the files .vscodeignore allows, add onnxruntime-node
// with only that platform's bin/napi-v6/<os>/<arch> under dist/node_modules (where the bundles' require finds
// it) minus the files nothing loads (see UNUSED, each checked here before it is left out), add usearch with
// only that platform's prebuild when the bundles require it, and run vsce in the staged folder.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
const VSCE = path.join(REPO, 'node_modules/@vscode/vsce/vsce');
const ORT = 'node_modules/onnxruntime-node';
// vsce target → onnxruntime-node's <os>/<arch> folder. darwin-x64 is absent: onnxruntime-node ships no binary for it.
const TARGETS = { 'linux-x64': 'linux/x64', 'linux-arm64': 'linux/arm64', 'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64', 'win32-arm64': 'win32/arm64' };
// usearch's prebuilds/ folder per target (none for win32-arm64: the index falls back to its exact JS scan there).
const USEARCH_PREBUILDS = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'darwin-arm64': 'darwin-arm64+x64', 'win32-x64': 'win32-x64' };
const only = process.argv.find((a) => a.startsWith('--target='))?.slice('--target='.length);
if (only && !TARGETS[only]) throw new Error(`unknown target ${only}; known: ${Object.keys(TARGETS).join(', ')}`);

execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: REPO, stdio: 'inherit' });
// `vsce ls` applies .vscodeignore exactly as `vsce package` will: the staged copy starts from its answer.
const shipped = execFileSync(process.execPath, [VSCE, 'ls', '--no-dependencies'], { cwd: REPO, encoding: 'utf8' })
  .split('\n').map((l) => l.trim()).filter(Boolean);
const manifest = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
mkdirSync(path.join(REPO, 'out/vsix'), { recursive: true });

for (const [target, binDir] of Object.entries(TARGETS)) {
  if (only && target !== only) continue;
  if (!existsSync(path.join(REPO, ORT, 'bin/napi-v6', binDir))) throw new Error(`${ORT}/bin/napi-v6/${binDir} is missing: run npm ci`);
  const stage = path.join(REPO, 'out/stage', target);
  rmSync(stage, { recursive: true, force: true });
  for (const file of shipped) cpSync(path.join(REPO, file), path.join(stage, file));
  stageRuntime(stage, binDir);
  if (bundlesRequire('usearch')) stageUsearch(stage, USEARCH_PREBUILDS[target]);
  // The staged manifest drops what only matters in the repo (dev tooling, npm scripts).
  const { scripts, devDependencies, ...rest } = manifest;
  writeFileSync(path.join(stage, 'package.json'), JSON.stringify(rest, null, 2));
  cpSync(path.join(REPO, '.vscodeignore'), path.join(stage, '.vscodeignore'));
  const out = path.join(REPO, 'out/vsix', `${manifest.name}-${manifest.version}-${target}.vsix`);
  execFileSync(process.execPath, [VSCE, 'package', '--target', target, '--no-dependencies', '--skip-license',
    '--allow-missing-repository', '--out', out], { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'] });
  console.log(`${path.relative(REPO, out)}  ${(statSync(out).size / 1e6).toFixed(1)} MB`);
}

/** onnxruntime-node's JS and one platform's binaries, and the CommonJS build of onnxruntime-common. */
function stageRuntime(stage, binDir) {
  const into = (mod) => path.join(stage, 'dist', mod);
  cpSync(path.join(REPO, ORT, 'package.json'), path.join(into(ORT), 'package.json'));
  cpSync(path.join(REPO, ORT, 'dist'), path.join(into(ORT), 'dist'), { recursive: true, filter: (f) => !f.endsWith('.map') });
  const bin = path.join(REPO, ORT, 'bin/napi-v6', binDir);
  const unused = unusedBinaries(bin);
  for (const [file, why] of unused) console.log(`  left out ${binDir}/${file}: ${why}`);
  cpSync(bin, path.join(into(ORT), 'bin/napi-v6', binDir), { recursive: true, filter: (f) => !unused.has(path.basename(f)) });
  const common = 'node_modules/onnxruntime-common';
  cpSync(path.join(REPO, common, 'package.json'), path.join(into(common), 'package.json'));
  cpSync(path.join(REPO, common, 'dist/cjs'), path.join(into(common), 'dist/cjs'), { recursive: true, filter: (f) => !f.endsWith('.map') });
}

/**
 * Files of onnxruntime-node's bin folder that nothing loads, each checked before it is left out:
 * - darwin: libonnxruntime.1.30.0.dylib, a byte-identical copy of libonnxruntime.1.dylib, which is the name
 *   onnxruntime_binding.node links (@rpath/libonnxruntime.1.dylib);
 * - win32: DirectML.dll, only a delay-load import of onnxruntime.dll (loaded on the first call into the DirectML
 *   execution provider, which we never request: kernels/runtime/providers.ts asks for webgpu, cuda or cpu).
 *   dxcompiler.dll and dxil.dll stay: WebGPU (Dawn on D3D12) compiles its shaders with them.
 */
function unusedBinaries(bin) {
  const out = new Map();
  const files = readdirSync(bin);
  const binding = readFileSync(path.join(bin, 'onnxruntime_binding.node'));
  for (const f of files.filter((x) => /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(x))) {
    const major = f.replace(/^(libonnxruntime\.\d+)\..*$/, '$1.dylib');
    if (files.includes(major) && binding.includes(`@rpath/${major}`) && readFileSync(path.join(bin, f)).equals(readFileSync(path.join(bin, major)))) {
      out.set(f, `byte-identical to ${major}, the name onnxruntime_binding.node links`);
    }
  }
  if (files.includes('DirectML.dll') && files.includes('onnxruntime.dll')) {
    const { imports, delayed } = peImports(readFileSync(path.join(bin, 'onnxruntime.dll')));
    const dml = (names) => names.some((n) => n.toLowerCase() === 'directml.dll');
    if (dml(delayed) && !dml(imports)) out.set('DirectML.dll', 'only a delay-load import of onnxruntime.dll, for the DirectML provider we never request');
  }
  return out;
}

/** The DLL names of a PE file's import and delay-import tables. */
function peImports(b) {
  const pe = b.readUInt32LE(0x3c), nsec = b.readUInt16LE(pe + 6), opt = pe + 24, optSize = b.readUInt16LE(pe + 20);
  const dirs = opt + (b.readUInt16LE(opt) === 0x20b ? 112 : 96); // PE32+ : PE32
  const sections = Array.from({ length: nsec }, (_, i) => {
    const s = opt + optSize + 40 * i;
    return { va: b.readUInt32LE(s + 12), size: Math.max(b.readUInt32LE(s + 8), b.readUInt32LE(s + 16)), raw: b.readUInt32LE(s + 20) };
  });
  const off = (rva) => { const s = sections.find((x) => rva >= x.va && rva < x.va + x.size); return s ? rva - s.va + s.raw : -1; };
  const name = (rva) => { const o = off(rva); return b.toString('latin1', o, b.indexOf(0, o)); };
  const table = (dir, entry, nameAt) => {
    const out = [];
    for (let o = off(b.readUInt32LE(dirs + 8 * dir)); o > 0 && b.readUInt32LE(o + nameAt) !== 0; o += entry) out.push(name(b.readUInt32LE(o + nameAt)));
    return out;
  };
  return { imports: table(1, 20, 12), delayed: table(13, 32, 4) };
}

/** Whether a built bundle loads `mod` at run time (esbuild left it external); vectorIndex.ts resolves usearch's
 * folder (require.resolve) and loads its addon from there. */
function bundlesRequire(mod) {
  return ['extension.js', 'indexWorker.js', 'worker.js'].some((f) => {
    const file = path.join(REPO, 'dist', f);
    if (!existsSync(file)) return false;
    const js = readFileSync(file, 'utf8');
    return js.includes(`require("${mod}")`) || js.includes(`require.resolve("${mod}")`);
  });
}

/** usearch's CommonJS entry and this platform's prebuild only (node-gyp-build picks it from prebuilds/). */
function stageUsearch(stage, prebuild) {
  const into = (p) => path.join(stage, 'dist/node_modules', p);
  const us = 'node_modules/usearch';
  cpSync(path.join(REPO, us, 'package.json'), into('usearch/package.json'));
  cpSync(path.join(REPO, us, 'javascript/dist/cjs'), into('usearch/javascript/dist/cjs'), { recursive: true, filter: (f) => !f.endsWith('.map') });
  if (prebuild) cpSync(path.join(REPO, us, 'prebuilds', prebuild), into(`usearch/prebuilds/${prebuild}`), { recursive: true });
  for (const dep of ['node-gyp-build', 'bindings', 'file-uri-to-path']) {
    const from = path.join(REPO, 'node_modules', dep);
    if (existsSync(from)) cpSync(from, into(dep), { recursive: true });
  }
}
