// What counts as a symbol in each parsed language: tree-sitter node types that become chunks, which of them
// hold members (their methods are chunked apart from the header), and how to read their names.
import type Parser from 'web-tree-sitter';

type Node = Parser.SyntaxNode;

/** The k-th ancestor of the node being looked at (1 = parent), from the walk's path: node.parent costs a descent
 * from the root in tree-sitter, quadratic on deeply nested files. */
export type Ancestors = (k: number) => Node | undefined;

export type LanguageId = 'python' | 'javascript' | 'typescript' | 'tsx' | 'c';

export interface LanguageSpec {
  id: LanguageId;
  /** File name inside tree-sitter-wasms/out (and dist/grammars). */
  wasm: string;
  /** Node type → chunk kind, or a function deciding from the node (undefined = not a symbol). */
  symbolKind(node: Node, up: Ancestors): string | undefined;
  /** Node that carries the symbol's name and full extent (decorators, export, `const x =` wrappers): the node or
   * one of its ancestors. */
  extent(node: Node, up: Ancestors): Node;
  name(node: Node): string | undefined;
}

/** Kinds whose members are chunked separately; the rest (functions) keep small nested helpers inside. */
export const CONTAINER_KINDS = new Set(['class', 'interface', 'namespace', 'struct', 'union', 'enum', 'object']);

const EXTENSIONS: Record<string, LanguageId> = {
  '.py': 'python', '.pyi': 'python',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript',
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
  '.tsx': 'tsx',
  '.c': 'c', '.h': 'c',
};

export function languageOf(filePath: string): LanguageId | undefined {
  const dot = filePath.lastIndexOf('.');
  return dot < 0 ? undefined : EXTENSIONS[filePath.slice(dot).toLowerCase()];
}

const fieldText = (node: Node, field: string): string | undefined => node.childForFieldName(field)?.text;

// ---- Python -------------------------------------------------------------------------------------------
const python: LanguageSpec = {
  id: 'python',
  wasm: 'tree-sitter-python.wasm',
  symbolKind(node, up) {
    if (node.type === 'class_definition') return 'class';
    if (node.type !== 'function_definition') return undefined;
    return enclosingOf(up, 'class_definition', 'function_definition') ? 'method' : 'function';
  },
  extent: (node, up) => (up(1)?.type === 'decorated_definition' ? up(1)! : node),
  name: (node) => fieldText(node, 'name'),
};

/** Nearest ancestor of one of the given types, skipping the body/decorator wrappers in between. */
function enclosingOf(up: Ancestors, want: string, stopAt: string): boolean {
  for (let k = 1, p = up(1); p; p = up(++k)) {
    if (p.type === want) return true;
    if (p.type === stopAt) return false;
  }
  return false;
}

// ---- JavaScript / TypeScript --------------------------------------------------------------------------
const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'function', 'generator_function']);
const ES_KINDS: Record<string, string> = {
  function_declaration: 'function', generator_function_declaration: 'function',
  class_declaration: 'class', abstract_class_declaration: 'class', class: 'class',
  method_definition: 'method', interface_declaration: 'interface', enum_declaration: 'enum',
  internal_module: 'namespace', module: 'namespace',
};

function esSymbolKind(node: Node, up: Ancestors): string | undefined {
  const kind = ES_KINDS[node.type];
  if (kind) return kind;
  // `const f = () => {}`, `a.b = function () {}`, `{ key: function () {} }`, `field = () => {}` are functions too.
  if (node.type === 'variable_declarator') return FUNCTION_VALUES.has(node.childForFieldName('value')?.type ?? '') ? 'function' : undefined;
  if (node.type === 'assignment_expression') {
    return FUNCTION_VALUES.has(node.childForFieldName('right')?.type ?? '') && up(1)?.type === 'expression_statement' ? 'function' : undefined;
  }
  if (node.type === 'pair') return FUNCTION_VALUES.has(node.childForFieldName('value')?.type ?? '') ? 'method' : undefined;
  if (node.type === 'public_field_definition' || node.type === 'field_definition') {
    return FUNCTION_VALUES.has(node.childForFieldName('value')?.type ?? '') ? 'method' : undefined;
  }
  return undefined;
}

function esExtent(node: Node, up: Ancestors): Node {
  let n = node;
  let k = 0; // n = up(k)
  // `export default class ...`, `const f = ...;` (one declarator), `a.b = function(){};`
  const parent = () => up(k + 1);
  if (n.type === 'variable_declarator' && /^(lexical|variable)_declaration$/.test(parent()?.type ?? '')
    && parent()!.namedChildCount === 1) n = up(++k)!;
  if (n.type === 'assignment_expression' && parent()?.type === 'expression_statement') n = up(++k)!;
  if (parent()?.type === 'export_statement') n = up(++k)!;
  return n;
}

function esName(node: Node): string | undefined {
  if (node.type === 'assignment_expression') return fieldText(node, 'left');
  if (node.type === 'pair') return fieldText(node, 'key');
  if (node.type === 'public_field_definition' || node.type === 'field_definition') {
    return fieldText(node, 'name') ?? fieldText(node, 'property');
  }
  return fieldText(node, 'name');
}

const es = (id: LanguageId, wasm: string): LanguageSpec => ({ id, wasm, symbolKind: esSymbolKind, extent: esExtent, name: esName });

// ---- C --------------------------------------------------------------------------------------------------
const C_TYPES: Record<string, string> = { struct_specifier: 'struct', union_specifier: 'union', enum_specifier: 'enum' };

const c: LanguageSpec = {
  id: 'c',
  wasm: 'tree-sitter-c.wasm',
  symbolKind(node) {
    if (node.type === 'function_definition') return 'function';
    const kind = C_TYPES[node.type];
    // Only definitions with a body; `struct foo *p;` is a use, not a symbol.
    return kind && node.childForFieldName('body') ? kind : undefined;
  },
  extent(node, up) {
    const p = up(1);
    return p && (p.type === 'type_definition' || p.type === 'declaration') && node.type !== 'function_definition' ? p : node;
  },
  name(node) {
    if (node.type !== 'function_definition') return fieldText(node, 'name');
    // int *(*name)(args): follow declarators down to the identifier.
    let d = node.childForFieldName('declarator');
    while (d && d.type !== 'identifier' && d.type !== 'field_identifier') d = d.childForFieldName('declarator');
    return d?.text;
  },
};

export const LANGUAGES: Record<LanguageId, LanguageSpec> = {
  python,
  javascript: es('javascript', 'tree-sitter-javascript.wasm'),
  typescript: es('typescript', 'tree-sitter-typescript.wasm'),
  tsx: es('tsx', 'tree-sitter-tsx.wasm'),
  c,
};
