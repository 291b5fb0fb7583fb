// Argument checks of the CLI (cli.ts) that must fail before any work starts, with one clear line and exit code 2:
// malformed options (node's parseArgs errors), an index folder that is empty or names a file, a blank query.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A mistake in the command line: printed as one line plus a hint, exit code 2, never a stack trace. */
export class UsageError extends Error {}

export const USAGE_HINT = "run 'infini-lens --help' for usage";

/** UsageError, or one of parseArgs' own (unknown option, `--limit -1` read as a missing value, a stray positional). */
export function isUsageError(err: unknown): err is Error {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The error as one line (parseArgs messages may span several). */
export function usageLine(err: Error): string {
  return err.message.replace(/\s*\n\s*/g, ' ').trim();
}

/** --index-dir: not empty (that would be the current folder) and not an existing file. Returns it absolute. */
export function checkIndexDir(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  if (dir.trim() === '') throw new UsageError('--index-dir needs a folder, got an empty string');
  const abs = path.resolve(dir);
  checkStorageDir(abs, '--index-dir');
  return abs;
}

/** The folder that holds index.sqlite: may be missing (it is created), must not be a file. */
export function checkStorageDir(abs: string, what = 'the index folder'): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch {
    return; // created on open; a parent that cannot be created fails there with its own message
  }
  if (!st.isDirectory()) throw new UsageError(`${what} ${abs} exists and is not a folder`);
}

/** A search query with something in it (a blank one would print nothing and exit 0). */
export function checkQuery(q: string | undefined, command: string): string {
  if (q === undefined) throw new UsageError(`${command} needs a query`);
  if (q.trim() === '') throw new UsageError(`${command} needs a query with some text in it, got ${JSON.stringify(q)}`);
  return q;
}
