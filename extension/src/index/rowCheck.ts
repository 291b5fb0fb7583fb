// Results are checked against the files they point into before anyone sees them: a chunk row altered in the
// database (valid SQL, so SQLite's checks pass: a line range past the end of the file, other offsets, another
// snippet) must not be shown as if it were true.
//
// A file is checked only where the index claims to describe it exactly: its mtime and size are the ones stored
// (the indexer's own "unchanged" test). Then its bytes must hash to the stored hash, and each chunk's offsets,
// lines and snippet must agree with its text. A file changed since it was indexed is simply not indexed yet (the
// watcher or the next update catches up): its hits pass as before. A hit that fails is left out with a warning,
// and its file is marked so the next update reads and chunks it again.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from '../core/api.js';
import { LineIndex } from '../../../kernels/runtime/lines.js';
import { classifyContent } from './content.js';
import { snippetOf } from './fileReader.js';
import type { ChunkRow, IndexStore } from './store.js';

/** Why row `c` does not describe `text`, or undefined. */
export function rowProblem(c: ChunkRow, text: string): string | undefined {
  const lines = lineCounter(text);
  if (!(c.startOffset >= 0 && c.startOffset <= c.endOffset && c.endOffset <= text.length)) {
    return `offsets ${c.startOffset}-${c.endOffset} outside the file's ${text.length} characters`;
  }
  if (!(c.startLine >= 1 && c.startLine <= c.endLine && c.endLine <= lines.max)) return `lines ${c.startLine}-${c.endLine} outside its ${lines.max} lines`;
  const spans: [number, number, number, number][] = [[c.startOffset, c.endOffset, c.startLine, c.endLine]];
  c.parts?.forEach(([s, e], k) => { if (c.partLines?.[k]) spans.push([s, e, ...c.partLines[k]]); });
  for (const [s, e, l0, l1] of spans) {
    if (s < c.startOffset || e > c.endOffset || s > e) return `member offsets ${s}-${e} outside the chunk`;
    // Lines follow '\n' (chunker.ts); where lone '\r' ends lines the count above still bounds them.
    if (lines.newlineOnly && (l0 !== lines.at(s) || l1 < lines.at(e - 1) || l1 > lines.at(e))) {
      return `lines ${l0}-${l1} do not match offsets ${s}-${e} (lines ${lines.at(s)}-${lines.at(e - 1)})`;
    }
  }
  if (snippetOf(text.slice(c.startOffset, c.endOffset)) !== c.snippet) return 'its snippet is not the text at its offsets';
  return undefined;
}

/** Lines of `text` by '\n' (chunker.ts), 1-based; lone '\r' line ends counted in `max` only. */
function lineCounter(text: string) {
  const index = new LineIndex(text), cr = (text.match(/\r(?!\n)/g) ?? []).length;
  return { max: index.lineCount + cr, newlineOnly: cr === 0, at: (o: number) => index.position(o).line + 1 };
}

export class RowChecker {
  /** chunk id → the file state (mtime:size:hash) it was found true for */
  private readonly good = new Map<number, string>();
  private readonly warned = new Set<string>();

  constructor(private readonly root: string, private readonly store: IndexStore, private readonly logger: Logger) {}

  /** Ids of the rows that do not match their files (left out of results). */
  async bad(rows: Iterable<ChunkRow>): Promise<Set<number>> {
    const byPath = new Map<string, ChunkRow[]>();
    for (const r of rows) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
    const out = new Set<number>();
    await Promise.all([...byPath].map(async ([rel, list]) => {
      const file = this.store.fileState(rel);
      if (!file) return;
      const key = `${file.mtime}:${file.size}:${file.hash}`;
      const todo = list.filter((r) => this.good.get(r.id) !== key);
      if (todo.length === 0) return;
      const abs = path.join(this.root, ...rel.split('/'));
      let bytes: Buffer;
      try {
        const st = await fs.stat(abs);
        if (st.mtimeMs !== file.mtime || st.size !== file.size) return; // changed since indexed: not ours to judge
        bytes = await fs.readFile(abs);
      } catch {
        return; // gone or unreadable since: the next update says so
      }
      let problem: (r: ChunkRow) => string | undefined;
      if (createHash('sha256').update(bytes).digest('hex') !== file.hash) problem = () => 'the file does not have the content hash stored for it';
      else {
        const content = classifyContent(bytes);
        problem = content.ok ? (r) => rowProblem(r, content.text) : () => `the file is stored as indexed but reads as ${content.reason}`;
      }
      let failed = false;
      for (const r of todo) {
        const why = problem(r);
        if (!why) { this.good.set(r.id, key); continue; }
        out.add(r.id);
        failed = true;
        if (!this.warned.has(`${rel}:${r.id}`)) {
          this.warned.add(`${rel}:${r.id}`);
          this.logger.warn(`Infini Lens: the index entry ${rel}:${r.startLine}-${r.endLine} does not match the file (${why}); ` +
            `left out of the results${this.store.readOnly ? '' : ', and the file is read again at the next update'}.`);
        }
      }
      if (failed && !this.store.readOnly) this.store.markForReread(rel);
    }));
    return out;
  }
}
