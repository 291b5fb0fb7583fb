// Bad command lines (issue 26, item 11): each gets one clear line, a usage hint and exit code 2, never a stack
// trace, and writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanup, copyFixture } from '../index/fixture.js';

const CLI = path.resolve(__dirname, '../../../extension/src/cli.ts');
// tsx by its file (the commands run in a temp folder, where `--import tsx` would not resolve).
const TSX = pathToFileURL(require.resolve('tsx')).href;
const run = (args: string[], cwd: string) =>
  spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { encoding: 'utf8', cwd });

test('bad arguments give one line, a usage hint and exit code 2, and write nothing', () => {
  const ws = copyFixture();
  const tmp = path.dirname(ws);
  try {
    const aFile = path.join(tmp, 'a-file');
    fs.writeFileSync(aFile, 'not a folder\n');
    const cases: [string, string[], RegExp][] = [
      ['--index-dir names a file', ['index', ws, '--index-dir', aFile], /--index-dir .*a-file exists and is not a folder/],
      ['--index-dir ""', ['search', 'x', '--workspace', ws, '--index-dir', ''], /--index-dir needs a folder, got an empty string/],
      ['--limit -1', ['search', 'x', '--workspace', ws, '--limit', '-1'], /--limit.*ambiguous/],
      ['--limit=-1', ['search', 'x', '--workspace', ws, '--limit=-1'], /--limit needs a positive integer, got '-1'/],
      ['--workspace with no value', ['search', 'x', '--workspace', '--index-dir', path.join(tmp, 'd')], /--workspace.*ambiguous/],
      ['a blank query', ['search', '  \t ', '--workspace', ws], /search needs a query with some text in it/],
      ['an unknown option', ['index', ws, '--no-such-flag'], /Unknown option '--no-such-flag'/],
    ];
    for (const [name, args, message] of cases) {
      const r = run(args, tmp);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      // One line for the error, then the hint: the command's usage line (when there is a command) and where --help is.
      assert.ok(lines.length === 2 || (lines.length === 3 && lines[1]!.startsWith('usage: ')), `${name}: one line and a hint, got ${r.stderr}`);
      assert.match(lines[0]!, message, name);
      assert.match(lines[0]!, /^infini-lens: /, name);
      assert.match(lines[lines.length - 1]!, /--help/, name);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'index.sqlite')), '--index-dir "" must not write into the current folder');
    assert.ok(!fs.existsSync(path.join(ws, '.infinilens')), 'no index written by a bad command line');
    // The default index folder <folder>/.infinilens taken by a file: the same kind of message.
    fs.writeFileSync(path.join(ws, '.infinilens'), 'a file\n');
    const r = run(['index', ws], tmp);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /the index folder .*\.infinilens exists and is not a folder/);
  } finally {
    cleanup(ws);
  }
});
