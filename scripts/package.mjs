// `npm run package [-- --target=linux-x64]`: one VSIX per platform in out/vsix/, each carrying only its own
// onnxruntime-node binaries. For every target we stage the files .vscodeignore allows, add onnxruntime-node
// with only that platform's bin/napi-v6/<os>/<arch> under dist/node_modules (where the bundles' require finds
// it), and run vsce in the staged folder.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '..');
const VSCE = path.join(REPO, 'node_modules/@vscode/vsce/vsce');
const ORT = 'node_modules/onnxruntime-node';
// vsce target → onnxruntime-node's <os>/<arch> folder. darwin-x64 is absent: onnxruntime-node ships no binary for it.
const TARGETS = { 'linux-x64': 'linux/x64', 'linux-arm64': 'linux/arm64', 'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64', 'win32-arm64': 'win32/arm64' };
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
  cpSync(path.join(REPO, ORT, 'bin/napi-v6', binDir), path.join(into(ORT), 'bin/napi-v6', binDir), { recursive: true });
  const common = 'node_modules/onnxruntime-common';
  cpSync(path.join(REPO, common, 'package.json'), path.join(into(common), 'package.json'));
  cpSync(path.join(REPO, common, 'dist/cjs'), path.join(into(common), 'dist/cjs'), { recursive: true, filter: (f) => !f.endsWith('.map') });
}
