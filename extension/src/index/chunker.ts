// Cuts a file into chunks a user can open: symbols (functions, classes, methods) where tree-sitter parses the
// language, line windows otherwise. A container (class, interface, struct) is chunked as its own lines only —
// header and fields — with each method a chunk of its own; functions longer than maxLines are split the same
// way (nested symbols apart, the rest in pieces). File lines outside every symbol become 'block' chunks.
import Parser from 'web-tree-sitter';
import { MAX_CHUNK_MEMBERS, type Chunk } from '../core/api.js';
import { assetPath } from '../core/assets.js';
import { LineIndex } from '../../../kernels/runtime/lines.js';
import { CONTAINER_KINDS, LANGUAGES, languageOf, type Ancestors, type LanguageId, type LanguageSpec } from './languages.js';

export interface ChunkOptions {
  /** A symbol longer than this is split (nested symbols apart, the rest in pieces of this size). */
  maxLines: number;
  /** Neighbouring small symbols are packed into one chunk up to this many lines (0 = never): a one-line
   * function alone is too little text to rank, and its neighbours are usually about the same thing. */
  packLines: number;
  /** Line windows for unparsed files: size and stride (overlapping so a function is not cut in two). */
  windowLines: number;
  windowStride: number;
  /** A parse still running after this long (wall clock, so a loaded machine reaches it sooner) is abandoned and the
   * file chunked in windows: a pathological file must not hang the index (on ≤ 2 cores it runs on the extension
   * host's thread). web-tree-sitter 0.22 fires it only from ~150 ms up. */
  parseTimeoutMicros: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = {
  maxLines: 100, packLines: 60, windowLines: 40, windowStride: 20, parseTimeoutMicros: 5_000_000,
};

/** A chunk plus its text (lines startLine..endLine), which the store tokenises; a packed chunk also names its
 * members' lines (1-based, inclusive) and symbol names, which keyword ranking scores one by one. */
export interface ChunkWithText extends Chunk {
  text: string;
  members?: { startLine: number; endLine: number; name?: string }[];
}

interface SymbolNode {
  kind: string;
  name?: string;
  start: number; // 0-based rows, inclusive
  end: number;
  children: SymbolNode[];
}

let parserReady: Promise<void> | undefined;
const languageCache = new Map<LanguageId, Promise<Parser.Language>>();

/** Loads the tree-sitter runtime once per process (the wasm sits beside the bundle or in node_modules). */
function initParser(): Promise<void> {
  parserReady ??= Parser.init({
    locateFile: () => assetPath('tree-sitter.wasm', 'web-tree-sitter/tree-sitter.wasm'),
  });
  return parserReady;
}

async function loadLanguage(spec: LanguageSpec): Promise<Parser.Language> {
  await initParser();
  let lang = languageCache.get(spec.id);
  if (!lang) {
    lang = Parser.Language.load(assetPath(`grammars/${spec.wasm}`, `tree-sitter-wasms/out/${spec.wasm}`));
    languageCache.set(spec.id, lang);
  }
  return lang;
}

export class Chunker {
  private readonly parsers = new Map<LanguageId, Parser>();

  constructor(private readonly options: ChunkOptions = DEFAULT_CHUNK_OPTIONS) {
    if (options.packLines > MAX_CHUNK_MEMBERS) throw new Error(`packLines ${options.packLines} exceeds ${MAX_CHUNK_MEMBERS}`);
  }

  /** `note` hears why a file of a parsed language was chunked in windows instead (for the index log). */
  async chunk(path: string, text: string, note?: (message: string) => void): Promise<ChunkWithText[]> {
    const lines = splitLines(text);
    const id = languageOf(path);
    const symbols = id ? await this.symbols(LANGUAGES[id], text, note) : undefined;
    const ranges = symbols ? this.symbolRanges(symbols, lines) : this.windows(0, lines.length - 1, lines);
    const starts = new LineIndex(text).starts;
    return ranges.map((r) => toChunk(path, r, lines, starts));
  }

  dispose(): void {
    for (const p of this.parsers.values()) p.delete();
    this.parsers.clear();
  }

  private async symbols(spec: LanguageSpec, text: string, note?: (message: string) => void): Promise<SymbolNode[] | undefined> {
    let parser = this.parsers.get(spec.id);
    if (!parser) {
      const language = await loadLanguage(spec); // also initialises the runtime before `new Parser()`
      parser = new Parser();
      parser.setLanguage(language);
      parser.setTimeoutMicros(this.options.parseTimeoutMicros); // a pathological file falls back to windows
      this.parsers.set(spec.id, parser);
    }
    let tree: Parser.Tree | undefined;
    try {
      tree = parser.parse(text);
    } catch (err) {
      // A parse stopped by the timeout keeps its state in the parser, and the next parse() resumes it, with the next
      // file's text under the old document's tree: a tree of nodes past that file's end (the next file then failed
      // to chunk). reset() makes the next parse start afresh.
      parser.reset();
      note?.(`${err instanceof Error ? err.message : String(err)} (over ${this.options.parseTimeoutMicros / 1000} ms, or the parser gave up): chunked in line windows`);
      return undefined;
    }
    if (!tree) return undefined;
    try {
      return collectSymbols(spec, tree.rootNode);
    } finally {
      tree.delete();
    }
  }

  /** Symbols → line ranges: containers and oversized symbols give way to their children. Iterative (an explicit
   * stack in the order recursion would take) so a file of thousands of nested classes cannot overflow the stack. */
  private symbolRanges(top: SymbolNode[], lines: string[]): Range[] {
    const out: Range[] = [];
    // 'emit' a symbol, or 'own' = its lines outside its children, in pieces (after all its children, as before).
    const work: { sym: SymbolNode; own: boolean }[] = [];
    for (let i = top.length - 1; i >= 0; i--) work.push({ sym: top[i]!, own: false });
    for (let task = work.pop(); task; task = work.pop()) {
      const { sym } = task;
      if (task.own) {
        for (const run of ownRuns(sym.start, sym.end, sym.children, lines)) {
          for (const p of this.pieces(run.start, run.end, sym.kind, sym.name)) out.push(p);
        }
        continue;
      }
      const size = sym.end - sym.start + 1;
      const split = CONTAINER_KINDS.has(sym.kind) || size > this.options.maxLines;
      if (!split || (sym.children.length === 0 && size <= this.options.maxLines)) {
        out.push({ start: sym.start, end: sym.end, kind: sym.kind, name: sym.name });
        continue;
      }
      work.push({ sym, own: true });
      for (let i = sym.children.length - 1; i >= 0; i--) work.push({ sym: sym.children[i]!, own: false });
    }
    for (const run of ownRuns(0, lines.length - 1, top, lines)) {
      for (const p of this.pieces(run.start, run.end, 'block')) out.push(p);
    }
    return pack(out.sort((a, b) => a.start - b.start || a.end - b.end), this.options.packLines);
  }

  /** Non-overlapping pieces of at most maxLines (the head piece keeps the signature). */
  private pieces(start: number, end: number, kind: string, name?: string): Range[] {
    const out: Range[] = [];
    const step = kind === 'block' ? this.options.windowLines : this.options.maxLines;
    for (let s = start; s <= end; s += step) out.push({ start: s, end: Math.min(end, s + step - 1), kind, name });
    return out;
  }

  private windows(start: number, end: number, lines: string[]): Range[] {
    const { windowLines, windowStride } = this.options;
    const out: Range[] = [];
    for (let s = start; s <= end; s += windowStride) {
      const e = Math.min(end, s + windowLines - 1);
      if (hasWords(lines, s, e)) out.push({ start: s, end: e, kind: 'window' });
      if (e === end) break;
    }
    return out;
  }
}

interface Range {
  start: number;
  end: number;
  kind: string;
  name?: string;
  /** Packed ranges: the members' line ranges (0-based, inclusive) and names, in order. */
  members?: { start: number; end: number; name?: string }[];
}

/** Greedily packs consecutive ranges while the packed span stays within `budget` lines. */
function pack(ranges: Range[], budget: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r.end - last.start + 1 <= budget) {
      const names = [last.name, r.name].filter((n): n is string => !!n);
      out[out.length - 1] = {
        start: last.start, end: r.end, kind: last.kind === r.kind ? last.kind : 'group',
        name: names.length > 0 ? names.join(', ').slice(0, 200) : undefined,
        members: [...(last.members ?? [{ start: last.start, end: last.end, name: last.name }]), { start: r.start, end: r.end, name: r.name }],
      };
      continue;
    }
    out.push(r);
  }
  return out;
}

/** One node on the cursor's path from the root, with the run of comment siblings just before it. */
interface Level { node: Parser.SyntaxNode; comments: Parser.SyntaxNode[] }

/**
 * Depth-first walk with a cursor (cheaper than node.children across the wasm boundary). Ancestors and preceding
 * comments come from the walk's own path, never from node.parent / previousNamedSibling: tree-sitter answers
 * those by descending from the root, which made a file of 2,000 nested classes take minutes.
 */
function collectSymbols(spec: LanguageSpec, root: Parser.SyntaxNode): SymbolNode[] {
  const top: SymbolNode[] = [];
  const open: { sym: SymbolNode; endIndex: number }[] = [];
  const levels: Level[] = [{ node: root, comments: [] }];
  const up: Ancestors = (k) => levels[levels.length - 1 - k]?.node;
  const cursor = root.walk();
  try {
    for (;;) {
      const node = levels[levels.length - 1]!.node;
      while (open.length > 0 && node.startIndex >= open[open.length - 1]!.endIndex) open.pop();
      const kind = spec.symbolKind(node, up);
      if (kind) {
        const ext = spec.extent(node, up);
        const start = withLeadingComments(ext, levels).startPosition.row;
        const end = ext.endPosition.column === 0 && ext.endPosition.row > start ? ext.endPosition.row - 1 : ext.endPosition.row;
        const sym: SymbolNode = { kind, name: spec.name(node)?.slice(0, 200), start, end, children: [] };
        const parent = open.length > 0 ? open[open.length - 1]!.sym : undefined;
        (parent ? parent.children : top).push(sym);
        open.push({ sym, endIndex: node.endIndex });
      }
      if (cursor.gotoFirstChild()) {
        levels.push({ node: cursor.currentNode, comments: [] });
        continue;
      }
      for (;;) {
        const level = levels[levels.length - 1]!;
        if (cursor.gotoNextSibling()) {
          // previousNamedSibling skips anonymous nodes; a named non-comment ends the run of comments.
          const prev = level.node;
          if (prev.isNamed) {
            if (prev.type === 'comment') level.comments.push(prev); else level.comments = [];
          }
          level.node = cursor.currentNode;
          break;
        }
        if (!cursor.gotoParent()) return dropOverlaps(top);
        levels.pop();
      }
    }
  } finally {
    cursor.delete();
  }
}

/** Doc comments directly above a symbol (at most one blank line between, GNU style) belong to it. `node` is on
 * the walk's path (the symbol or a wrapper of it); its preceding comments are those of its level. */
function withLeadingComments(node: Parser.SyntaxNode, levels: readonly Level[]): Parser.SyntaxNode {
  let i = levels.length - 1;
  while (i > 0 && levels[i]!.node.id !== node.id) i--;
  const comments = levels[i]!.comments;
  let first = node;
  for (let j = comments.length - 1; j >= 0; j--) {
    const p = comments[j]!;
    if (p.endPosition.row < first.startPosition.row - 2) break;
    if (p.endPosition.row === first.startPosition.row && p.startPosition.row === p.endPosition.row && p.startPosition.column > 0) break;
    first = p;
  }
  return first;
}

/** Siblings that share lines (two one-line functions on one line, leading comments claimed twice) merge, at every
 * level. Children are merged before their parent's level (reverse pre-order), without recursion: nesting depth is
 * the file's to choose. */
function dropOverlaps(top: SymbolNode[]): SymbolNode[] {
  const preorder: SymbolNode[] = [];
  const stack = [...top];
  for (let s = stack.pop(); s; s = stack.pop()) {
    preorder.push(s);
    for (const c of s.children) stack.push(c);
  }
  for (let i = preorder.length - 1; i >= 0; i--) preorder[i]!.children = mergeSiblings(preorder[i]!.children);
  return mergeSiblings(top);
}

function mergeSiblings(list: SymbolNode[]): SymbolNode[] {
  const out: SymbolNode[] = [];
  for (const s of list) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) {
      last.end = Math.max(last.end, s.end);
      for (const c of s.children) last.children.push(c);
      continue;
    }
    out.push(s);
  }
  return out;
}

/** Runs of lines in [start, end] not covered by any child, keeping only runs with some words in them. */
function ownRuns(start: number, end: number, kids: SymbolNode[], lines: string[]): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  let s = start;
  for (const k of kids) {
    if (k.start > s) runs.push({ start: s, end: Math.min(k.start - 1, end) });
    s = Math.max(s, k.end + 1);
  }
  if (s <= end) runs.push({ start: s, end });
  return runs.filter((r) => hasWords(lines, r.start, r.end));
}

function hasWords(lines: string[], start: number, end: number): boolean {
  for (let i = start; i <= end; i++) if (/[A-Za-z0-9_]/.test(lines[i] ?? '')) return true;
  return false;
}

function toChunk(path: string, r: Range, lines: string[], starts: number[]): ChunkWithText {
  const span = (a: number, b: number): [number, number] => [starts[a]!, starts[b]! + lines[b]!.length];
  const [startOffset, endOffset] = span(r.start, r.end);
  const text = lines.slice(r.start, r.end + 1).join('\n');
  const chunk: ChunkWithText = { path, startLine: r.start + 1, endLine: r.end + 1, kind: r.kind, name: r.name, startOffset, endOffset, text };
  if (r.members) {
    chunk.parts = r.members.map((m) => span(m.start, m.end));
    chunk.members = r.members.map((m) => ({ startLine: m.start + 1, endLine: m.end + 1, name: m.name }));
  }
  return chunk;
}

/** Lines without their terminators; '\r\n' counts as one terminator so offsets stay right. */
export function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}
