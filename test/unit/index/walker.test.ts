import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { walkWorkspace, type WalkOptions } from '../../../extension/src/index/walker.js';
import { cleanup, copyFixture, inFixture, memoryLogger } from './fixture.js';

const options = (extra: Partial<WalkOptions> = {}): WalkOptions =>
  ({ excludeGlobs: [], maxFileBytes: 1024 * 1024, followSymlinks: true, logger: memoryLogger(), ...extra });

test('walk honours .gitignore (root and nested), .infinilensignore and built-in excludes', async () => {
  await inFixture(async (ws) => {
    fs.mkdirSync(path.join(ws, 'node_modules/lib'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'node_modules/lib/index.js'), 'module.exports = 1;\n');
    const { files, skipped } = await walkWorkspace(ws, options());
    const paths = files.map((f) => f.path);
    for (const p of ['py/geometry.py', 'js/server.js', 'ts/userRepository.ts', 'c/list.c', 'nested/visible.py']) assert.ok(paths.includes(p), p);
    for (const p of ['build/out.js', 'debug.log', 'nested/generated.py', 'secret/keys.py', 'node_modules/lib/index.js']) {
      assert.ok(!paths.includes(p), `${p} should be excluded`);
    }
    assert.ok(skipped.some((s) => s.path === 'secret' && s.reason === 'ignored'));
  });
});

test('a negation in a nested ignore file re-includes a file the root ignored', async () => {
  await inFixture(async (ws) => {
    fs.writeFileSync(path.join(ws, 'nested/keep.log'), 'kept\n');
    fs.writeFileSync(path.join(ws, 'nested/.gitignore'), 'generated.py\n!keep.log\n');
    const paths = (await walkWorkspace(ws, options())).files.map((f) => f.path);
    assert.ok(paths.includes('nested/keep.log'));
    assert.ok(!paths.includes('debug.log'));
  });
});

test('extra exclude globs (as VS Code passes files.exclude) apply to files and folders', async () => {
  await inFixture(async (ws) => {
    const paths = (await walkWorkspace(ws, options({ excludeGlobs: ['**/*.ts', 'c'] }))).files.map((f) => f.path);
    assert.ok(!paths.includes('ts/userRepository.ts'));
    assert.ok(!paths.some((p) => p.startsWith('c/')));
    assert.ok(paths.includes('py/geometry.py'));
  });
});

test('files over the size limit are skipped with a reason', async () => {
  await inFixture(async (ws) => {
    fs.writeFileSync(path.join(ws, 'huge.py'), 'x = 1\n'.repeat(50_000));
    const { files, skipped } = await walkWorkspace(ws, options({ maxFileBytes: 100_000 }));
    assert.ok(!files.some((f) => f.path === 'huge.py'));
    assert.equal(skipped.find((s) => s.path === 'huge.py')?.reason, 'too-large');
  });
});

test('a symlink loop is walked once and never followed back', async () => {
  await inFixture(async (ws) => {
    fs.symlinkSync('..', path.join(ws, 'py/loop'));
    fs.symlinkSync(path.join(ws, 'js'), path.join(ws, 'js-again'));
    fs.symlinkSync(path.join(ws, 'missing-target'), path.join(ws, 'dangling.py'));
    const { files, skipped } = await walkWorkspace(ws, options());
    const count = files.filter((f) => f.path.endsWith('geometry.py')).length;
    assert.equal(count, 1);
    assert.ok(!files.some((f) => f.path.startsWith('js-again/')), 'a second path to a seen folder is not walked');
    assert.equal(skipped.find((s) => s.path === 'dangling.py')?.reason, 'broken-link');
    assert.equal(skipped.find((s) => s.path === 'py/loop')?.reason, 'duplicate-link');
    assert.equal(skipped.find((s) => s.path === 'js-again')?.reason, 'duplicate-link');
  });
});

test('a folder that cannot be listed loses only itself', { skip: process.getuid?.() === 0 ? 'root reads everything' : false }, async () => {
  const ws = copyFixture();
  try {
    fs.chmodSync(path.join(ws, 'c'), 0o000);
    const { files, skipped } = await walkWorkspace(ws, options());
    assert.ok(files.some((f) => f.path === 'py/geometry.py'));
    assert.equal(skipped.find((s) => s.path === 'c')?.reason, 'unreadable');
  } finally {
    fs.chmodSync(path.join(ws, 'c'), 0o755);
    cleanup(ws);
  }
});
