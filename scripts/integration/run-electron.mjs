// The same mocha suite in desktop VS Code through @vscode/test-electron, for machines that can download
// VS Code (this one cannot: run.mjs drives the VS Code server instead). Keyboard and screenshot steps need the
// harness page, so they are skipped here (INFINI_LENS_HARNESS is unset); the rest runs unchanged.
// Usage: node scripts/build.mjs && node scripts/integration/run-electron.mjs [--version=stable|1.95.0]
import { runTests } from '@vscode/test-electron';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
const version = process.argv.find((a) => a.startsWith('--version='))?.slice('--version='.length) ?? 'stable';
const workspace = path.join(mkdtempSync(path.join(tmpdir(), 'infini-lens-')), 'workspace');
cpSync(path.join(REPO, 'test/fixtures/vscode-workspace'), workspace, { recursive: true });
try {
  await runTests({
    version,
    extensionDevelopmentPath: REPO,
    extensionTestsPath: path.join(REPO, 'dist/test/integration/index.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    extensionTestsEnv: { INFINI_LENS_SUITE: 'dev' },
  });
} catch (err) {
  console.error('integration tests failed:', err);
  process.exit(1);
}
