// The import graph of the TypeScript sources, read from the text: static imports and re-exports (type-only ones
// too: a layer that needs another's types depends on it), side-effect imports and `import('…')` (dynamic, or a
// type position). TypeScript 7's compiler has no JavaScript API to ask, and esbuild's metafile drops type-only
// imports, so this reads the specifiers itself; comments are stripped first so prose that quotes a path is no edge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const SPECIFIERS = [
  /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import … from '…', export … from '…'
  /^\s*import\s*['"]([^'"]+)['"]/gm,                               // import '…' (side effect)
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,                        // import('…')
];

/** Source text without // and /* comments (strings and template literals kept as they are). */
export function stripComments(src: string): string {
  let out = '', i = 0, quote = '';
  while (i < src.length) {
    const c = src[i]!, n = src[i + 1];
    if (quote) {
      out += c;
      if (c === '\\') { out += n ?? ''; i += 2; continue; }
      if (c === quote) quote = '';
      i++;
    } else if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
    } else {
      if (c === "'" || c === '"' || c === '`') quote = c;
      out += c;
      i++;
    }
  }
  return out;
}

/** Specifiers of one file's imports: relative ones only, or (all) packages and builtins too. */
export function importSpecifiers(src: string, all = false): string[] {
  const text = stripComments(src), out: string[] = [];
  for (const re of SPECIFIERS) for (const m of text.matchAll(re)) out.push(m[1]!);
  return all ? out : out.filter((s) => s.startsWith('.'));
}

/** Every .ts file under the given folders (repo-relative, '/'-separated). */
export function sourceFiles(root: string, dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const r = `${rel}/${name}`;
      if (statSync(path.join(root, r)).isDirectory()) walk(r);
      else if (r.endsWith('.ts') && !r.endsWith('.d.ts')) out.push(r);
    }
  };
  dirs.forEach(walk);
  return out.sort();
}

/** file → files it imports (repo-relative; `./x.js` resolves to `x.ts`). Targets outside `files` are kept too. */
export function importGraph(root: string, files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = importSpecifiers(readFileSync(path.join(root, f), 'utf8'))
      .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(f), s)).replace(/\.js$/, '.ts'));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** The import cycles (each as a closed path a → … → a), one per strongly connected component (Tarjan). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cyclePath(graph, new Set(scc), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One closed path through a strongly connected component, for a readable failure message. */
function cyclePath(graph: Map<string, string[]>, scc: Set<string>, start: string): string[] {
  const prev = new Map<string, string>(), queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const p: string[] = [];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) p.unshift(u);
        return [start, ...p, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}
