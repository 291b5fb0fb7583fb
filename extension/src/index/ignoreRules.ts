// Which paths the walker leaves out: built-in folders, nested .gitignore and .infinilensignore files (same
// syntax, deeper files win, as git does), and extra globs from the caller (VS Code's files/search.exclude).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';

/** The project's own ignore file, read in every folder like .gitignore. */
export const OWN_IGNORE_FILE = '.infinilensignore';
const IGNORE_FILES = ['.gitignore', OWN_IGNORE_FILE];
/** Never worth indexing: VCS internals, our own index folder, dependency trees. */
export const BUILTIN_EXCLUDES = ['**/.git', '**/.hg', '**/.svn', '**/.infinilens', '**/node_modules'];

interface Layer {
  /** Folder of the ignore file, relative to the root, POSIX, '' for the root. */
  dir: string;
  rules: Ignore;
}

/** Immutable chain of ignore layers; each folder gets the parent's chain plus its own files. */
export class IgnoreRules {
  private constructor(private readonly layers: readonly Layer[], private readonly globs: (p: string) => boolean) {}

  static create(excludeGlobs: readonly string[]): IgnoreRules {
    const patterns = [...BUILTIN_EXCLUDES, ...excludeGlobs].map(normaliseGlob);
    const match = picomatch(patterns, { dot: true });
    return new IgnoreRules([], match);
  }

  /** Reads the ignore files of `absDir` (relative `relDir`) and returns the rules that apply inside it. */
  async enter(absDir: string, relDir: string): Promise<IgnoreRules> {
    let rules: Ignore | undefined;
    for (const name of IGNORE_FILES) {
      const text = await fs.readFile(path.join(absDir, name), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      rules ??= ignore();
      rules.add(text);
    }
    return rules ? new IgnoreRules([...this.layers, { dir: relDir, rules }], this.globs) : this;
  }

  /** True when `rel` (POSIX, relative to the root) is excluded. Directories are tested with isDir=true. */
  ignores(rel: string, isDir: boolean): boolean {
    if (this.globs(rel)) return true;
    // Walk from the root layer to the deepest: a deeper negation ("!keep.py") re-includes, as in git.
    let ignored = false;
    for (const { dir, rules } of this.layers) {
      const local = dir === '' ? rel : rel.slice(dir.length + 1);
      const r = rules.test(isDir ? `${local}/` : local);
      if (r.ignored) ignored = true;
      else if (r.unignored) ignored = false;
    }
    return ignored;
  }
}

/** VS Code globs are relative to the folder; a bare name ("out") means that name anywhere. */
function normaliseGlob(glob: string): string {
  let g = glob.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  if (!g.includes('/') && !g.startsWith('**')) g = `**/${g}`;
  return g;
}
