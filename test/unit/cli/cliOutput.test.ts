// What the CLI prints about itself and its progress: --version, one usage line per error and --help per
// command, documented exit codes, a progress line rewritten in place on a terminal and plain lines when piped,
// and nothing for a pass with nothing to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cliVersion, commandHelp, commandNames, commandOf, EXIT_CODES, usageFor } from '../../../extension/src/cliHelp.js';
import { PLAIN_EVERY_MS, progressReporter } from '../../../extension/src/cliProgress.js';

const REPO = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; bin?: Record<string, string> };

test('version, usage lines and per-command help', () => {
  assert.equal(cliVersion(path.join(REPO, 'extension', 'src')), pkg.version, 'from source: two folders up');
  assert.equal(cliVersion(path.join(REPO, 'dist')), pkg.version, 'from a build: one folder up');
  assert.equal(pkg.bin?.['infini-lens'], 'dist/cli.js');
  for (const c of ['index', 'search', 'eval', 'similar', 'bench', 'digest']) {
    assert.match(usageFor(c)!, new RegExp(`^infini-lens ${c} `));
    const help = commandHelp(c, 'usage:\n  infini-lens index <folder>\n  infini-lens search "<q>"\nindexing options:\n  --workers N');
    assert.match(help, new RegExp(`^usage: infini-lens ${c} `));
    assert.match(help, /indexing options:/, 'the option reference follows');
    assert.ok(!help.includes('infini-lens search "<q>"') || c === 'search', 'the other commands\' usage lines are not repeated');
    assert.match(help, /exit codes:/);
  }
  assert.equal(usageFor('nope'), undefined);
  assert.ok(commandNames().includes('eval'));
  assert.equal(commandOf(['--json', 'search', 'x']), 'search');
  assert.match(EXIT_CODES, /^ {2}2 {4}the command line is wrong/m);
});

test('progress: a TTY gets one line rewritten in place with percentage and time left; the closing done ends it', () => {
  let now = 0;
  const out: string[] = [];
  const r = progressReporter({ isTTY: true, columns: 80, write: (s) => out.push(s) }, () => now);
  r({ phase: 'walk', filesDone: 0, filesTotal: 0 });
  assert.equal(out.length, 0, 'no "[walk] 0/0"');
  r({ phase: 'store', filesDone: 100, filesTotal: 1000 });
  now = 5_000;
  r({ phase: 'store', filesDone: 600, filesTotal: 1000 }); // 100 files/s: 400 left = 4 s
  assert.ok(out.every((l) => l.startsWith('\r') && !l.includes('\n')), 'rewritten in place');
  assert.match(out.at(-1)!, /keyword index: 600 of 1,000 files · 60% · about 5 s left/);
  r({ phase: 'done', filesDone: 0, filesTotal: 0 });
  assert.equal(out.at(-1), '\n', 'the line is ended before the summary');
});

test('progress: piped output gets plain lines, at most one every few seconds per pass', () => {
  let now = 0;
  const out: string[] = [];
  const r = progressReporter({ isTTY: false, write: (s) => out.push(s) }, () => now);
  for (let i = 1; i <= 100; i++) { now = i * 50; r({ phase: 'encode', filesDone: i, filesTotal: 100, message: 'embedding chunks' }); }
  assert.ok(out.length <= 2 + (100 * 50) / PLAIN_EVERY_MS, `${out.length} lines for 5 s of progress`);
  assert.ok(out.every((l) => l.endsWith('\n') && !l.includes('\r')));
  assert.match(out.at(-1)!, /^embeddings: 100 of 100 chunks · 100%/);
  r({ phase: 'done', filesDone: 0, filesTotal: 0 });
  assert.ok(!out.at(-1)!.startsWith('\n'));
});

test('the built CLI: --version, and a usage error names the command\'s usage with exit code 2', { skip: !existsSync(path.join(REPO, 'dist', 'cli.js')) && 'build first' }, () => {
  const cli = path.join(REPO, 'dist', 'cli.js');
  assert.equal(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim(), pkg.version);
  assert.match(readFileSync(cli, 'utf8').slice(0, 30), /^#!\/usr\/bin\/env node/);
  const bad = spawnSync(process.execPath, [cli, 'search', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^infini-lens: missing --workspace <folder>\nusage: infini-lens search "<query>" --workspace <folder>.*\nrun 'infini-lens search --help' for more\n$/);
  const help = spawnSync(process.execPath, [cli, 'eval', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: infini-lens eval --set <dir>/);
});
