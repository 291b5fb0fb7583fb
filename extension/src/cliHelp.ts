// What the CLI says about itself: its version, one usage line and a short help per command, and the exit
// codes. cli.ts keeps the full option reference (USAGE); this module is what a user sees first.
import * as fs from 'node:fs';
import * as path from 'node:path';

interface CommandHelp { usage: string; about: string }

const COMMANDS: Record<string, CommandHelp> = {
  index: { usage: 'infini-lens index <folder> [--embed] [--index-dir DIR] [--exclude GLOB]... [--json] [--timings]',
    about: 'Builds or updates the index of <folder> (keyword index; with --embed also the chunk embeddings). Progress on\n' +
      'stderr, the summary on stdout (--json: one JSON object). The index is kept in <folder>/.infinilens unless --index-dir.' },
  search: { usage: 'infini-lens search "<query>" --workspace <folder> [--mode lexical|dense|hybrid] [--limit N] [--json]',
    about: 'Updates the index of <folder> if files changed, then prints the best hits (path:lines, kind and name, score).\n' +
      'dense and hybrid need the embeddings (index --embed).' },
  similar: { usage: 'infini-lens similar <file> --workspace <folder> --lines START-END [--limit N] [--json]',
    about: 'Code whose embeddings are closest to lines START-END (1-based, inclusive) of <file>, the lines themselves left out.' },
  eval: { usage: 'infini-lens eval --set <dir> --mode lexical|dense|hybrid --out <run.jsonl> [--limit N] [--json]',
    about: 'Runs every query of an evaluation set (<dir>/queries.jsonl over <dir>/corpus) and writes one run line per query\n' +
      'in the eval kit\'s format; --json prints a summary object on stdout.' },
  'eval-fusion': { usage: 'infini-lens eval-fusion --set <dir> --grid grid.json --out-dir DIR [--limit N]',
    about: 'One run file per hybrid fusion setting of the grid, from one index and one pass over the queries.' },
  'bench-query': { usage: 'infini-lens bench-query --workspace <folder> [--queries queries.jsonl] [--rounds N] [--mode M]',
    about: 'Warm query latency (p50/p90/p99) from the layer the search command uses.' },
  bench: { usage: 'infini-lens bench [--sizes 4k,64k,1M] [--providers cpu,webgpu] [--graphs encoder,encoder_dense]',
    about: 'Encoder throughput per input size and execution provider, measured side by side in one run.' },
  digest: { usage: 'infini-lens digest --workspace <folder> [--index-dir DIR]',
    about: 'A fingerprint of what the stored index holds (read-only; the crash test compares them).' },
};

export const EXIT_CODES = `exit codes:
  0    done
  1    the command failed while running (a message says why; an index in use or unusable is left unchanged)
  2    the command line is wrong (unknown option, missing argument, bad value): nothing was done
  130  interrupted (Ctrl-C); 143 stopped by SIGTERM`;

export const commandNames = (): string[] => Object.keys(COMMANDS);

/** The one-line usage of a command, or undefined for an unknown one. */
export function usageFor(command: string | undefined): string | undefined {
  return command ? COMMANDS[command]?.usage : undefined;
}

/** `infini-lens <command> --help`: its usage, what it does, and where the options are listed. */
export function commandHelp(command: string, optionReference: string): string {
  const c = COMMANDS[command];
  if (!c) return optionReference;
  return `usage: ${c.usage}\n\n${c.about}\n\n${optionReference.replace(/^usage:\n(?:  infini-lens .*\n(?: {20,}.*\n)*)+/, '')}\n\n${EXIT_CODES}`;
}

/** The first positional argument (the command), for the usage line of an error raised before parsing finished. */
export function commandOf(argv: readonly string[]): string | undefined {
  return argv.find((a) => !a.startsWith('-'));
}

/** package.json's version: beside dist/ in a build or a VSIX, two folders up from extension/src when run from source. */
export function cliVersion(dir = __dirname): string {
  for (const up of ['..', path.join('..', '..')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.resolve(dir, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'infini-lens' && pkg.version) return pkg.version;
    } catch { /* try the next place */ }
  }
  return 'unknown';
}
