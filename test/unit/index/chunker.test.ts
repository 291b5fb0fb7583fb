import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Chunker, DEFAULT_CHUNK_OPTIONS, type ChunkWithText } from '../../../extension/src/index/chunker.js';
import { FIXTURE, lineOf } from './fixture.js';

// packLines 0: these tests check symbol boundaries, not the packing of small neighbours.
const exact = new Chunker({ ...DEFAULT_CHUNK_OPTIONS, packLines: 0 });

async function chunksOf(rel: string, chunker = exact): Promise<ChunkWithText[]> {
  return chunker.chunk(rel, fs.readFileSync(path.join(FIXTURE, rel), 'utf8'));
}

function find(chunks: ChunkWithText[], name: string): ChunkWithText {
  const c = chunks.find((x) => x.name === name);
  assert.ok(c, `no chunk named ${name} in ${chunks.map((x) => x.name).join(', ')}`);
  return c;
}

test('python: functions, classes and methods with their lines; a class does not swallow its methods', async () => {
  const chunks = await chunksOf('py/geometry.py');
  const parse = find(chunks, 'parse_config_file');
  assert.equal(parse.kind, 'function');
  assert.equal(parse.startLine, lineOf('py/geometry.py', 'def parse_config_file'));
  assert.equal(parse.endLine, lineOf('py/geometry.py', 'return settings'));
  const circleArea = chunks.find((c) => c.name === 'area' && c.text.includes('math.pi'));
  assert.equal(circleArea?.kind, 'method');
  const circle = find(chunks, 'Circle');
  assert.equal(circle.kind, 'class');
  assert.ok(!circle.text.includes('math.pi'), 'class chunk holds only its header and fields');
  const decorated = find(chunks, 'circumference');
  assert.equal(decorated.startLine, lineOf('py/geometry.py', '@property'), 'decorators belong to the method');
});

test('javascript: function declarations with their JSDoc, class methods, arrow functions', async () => {
  const chunks = await chunksOf('js/server.js');
  const start = find(chunks, 'startHttpServer');
  assert.equal(start.startLine, lineOf('js/server.js', '/**'), 'leading JSDoc is part of the function');
  assert.equal(start.endLine, lineOf('js/server.js', 'return server;') + 1);
  assert.equal(find(chunks, 'dispatch').kind, 'method');
  assert.equal(find(chunks, 'addRoute').startLine, lineOf('js/server.js', 'addRoute(method'));
  assert.equal(find(chunks, 'escapeHtml').kind, 'function');
});

test('typescript: interfaces, exported classes and functions', async () => {
  const chunks = await chunksOf('ts/userRepository.ts');
  assert.equal(find(chunks, 'User').kind, 'interface');
  assert.equal(find(chunks, 'findUserById').startLine, lineOf('ts/userRepository.ts', 'findUserById('));
  const validate = find(chunks, 'validateEmailAddress');
  assert.equal(validate.startLine, lineOf('ts/userRepository.ts', 'export function validateEmailAddress'));
  const tsx = await exact.chunk('view.tsx', 'export function Badge(props: { n: number }) {\n  return <span>{props.n}</span>;\n}\n');
  assert.equal(find(tsx, 'Badge').endLine, 3);
});

test('c: functions with their comment, declarator names, structs', async () => {
  const chunks = await chunksOf('c/list.c');
  const append = find(chunks, 'list_append');
  assert.equal(append.startLine, lineOf('c/list.c', '/* Append VALUE'));
  assert.equal(find(chunks, 'list_free').kind, 'function');
  assert.equal(find(chunks, 'list_node').kind, 'struct');
});

test('offsets point at the chunk text, also with CRLF line ends', async () => {
  const text = 'def a():\r\n    return 1\r\n\r\n\r\ndef b():\r\n    return 2\r\n';
  const chunks = await exact.chunk('crlf.py', text);
  const b = find(chunks, 'b');
  assert.equal(b.startLine, 5);
  assert.equal(text.slice(b.startOffset, b.endOffset).replace(/\r/g, ''), b.text);
});

test('files without a parser fall back to overlapping line windows', async () => {
  const text = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n');
  const chunks = await exact.chunk('notes.txt', text);
  assert.deepEqual(chunks.map((c) => [c.startLine, c.endLine]), [[1, 40], [21, 60], [41, 80], [61, 100]]);
  assert.ok(chunks.every((c) => c.kind === 'window'));
});

test('a parse stopped by its timeout falls back to windows, and the next file of that language is parsed afresh', async () => {
  // The timeout fires mid-parse (a ~2.5 MB C file takes seconds); web-tree-sitter then keeps the stopped parse, and
  // without reset() the next parse resumed it with the small file's text: a tree past that file's end (TypeError).
  const chunker = new Chunker({ ...DEFAULT_CHUNK_OPTIONS, packLines: 0, parseTimeoutMicros: 300_000 });
  const big = Array.from({ length: 40_000 }, (_, i) => `static int f${i} (int a, int b)\n{\n  return a * ${i} + b;\n}\n`).join('\n');
  const notes: string[] = [];
  const bigChunks = await chunker.chunk('big.c', big, (m) => notes.push(m));
  assert.ok(bigChunks.every((c) => c.kind === 'window'), 'the big file was parsed within 300 ms: the timeout did not fire');
  assert.equal(notes.length, 1);
  assert.match(notes[0] ?? '', /Parsing failed .*chunked in line windows/);
  const small = fs.readFileSync(path.join(FIXTURE, 'c/list.c'), 'utf8');
  const after = await chunker.chunk('c/list.c', small);
  assert.deepEqual(after, await new Chunker({ ...DEFAULT_CHUNK_OPTIONS, packLines: 0 }).chunk('c/list.c', small));
  assert.equal(find(after, 'list_free').kind, 'function');
});

test('an oversized function is split into pieces no longer than maxLines, nested functions apart', async () => {
  const body = Array.from({ length: 150 }, (_, i) => `    x${i} = ${i}`);
  const text = ['def huge():', ...body.slice(0, 70), '    def inner():', '        return 0', ...body.slice(70), '    return x0', ''].join('\n');
  const chunks = await exact.chunk('big.py', text);
  const pieces = chunks.filter((c) => c.name === 'huge');
  assert.ok(pieces.length >= 2);
  assert.ok(pieces.every((c) => c.endLine - c.startLine + 1 <= 100));
  assert.equal(pieces[0]!.startLine, 1);
  assert.equal(find(chunks, 'inner').startLine, 72);
  const covered = new Set(chunks.flatMap((c) => Array.from({ length: c.endLine - c.startLine + 1 }, (_, i) => c.startLine + i)));
  assert.equal(covered.size, text.split('\n').length - 1, 'every line with words is in some chunk');
});

test('packing joins small neighbours up to the budget and never splits a symbol', async () => {
  const packed = new Chunker({ ...DEFAULT_CHUNK_OPTIONS, packLines: 60 });
  const chunks = await chunksOf('js/server.js', packed);
  assert.ok(chunks.length < (await chunksOf('js/server.js')).length);
  assert.ok(chunks.every((c) => c.endLine - c.startLine + 1 <= 60));
  const exactChunks = await chunksOf('js/server.js');
  for (const e of exactChunks) {
    assert.ok(chunks.some((c) => c.startLine <= e.startLine && c.endLine >= e.endLine), `symbol ${e.name} kept whole`);
  }
});

test('a packed chunk lists its members (offsets, lines, names): each is one symbol of the unpacked cut, in order', async () => {
  const packed = new Chunker({ ...DEFAULT_CHUNK_OPTIONS, packLines: 60 });
  for (const rel of ['js/server.js', 'c/list.c', 'py/geometry.py']) {
    const chunks = await chunksOf(rel, packed);
    const exact = await chunksOf(rel);
    const exactSpans = new Set(exact.map((c) => `${c.startOffset}-${c.endOffset}`));
    let members = 0;
    for (const c of chunks) {
      if (!c.parts) continue;
      assert.ok(c.parts.length >= 2, `${rel}: a chunk of one member has no parts`);
      assert.equal(c.parts[0]![0], c.startOffset);
      assert.equal(c.parts[c.parts.length - 1]![1], c.endOffset);
      c.parts.forEach(([a, b], k) => {
        assert.ok(exactSpans.has(`${a}-${b}`), `${rel}: member ${a}-${b} is a symbol of the unpacked cut`);
        if (k > 0) assert.ok(a > c.parts![k - 1]![1], 'members in order, apart');
        // the keyword side's view of the same member: its lines and its own symbol name
        const alone = exact.find((e) => e.startOffset === a)!;
        assert.deepEqual(c.members![k], { startLine: alone.startLine, endLine: alone.endLine, name: alone.name });
      });
      assert.equal(c.members!.length, c.parts.length);
      members += c.parts.length;
    }
    assert.ok(members > 0, `${rel} has packed chunks`);
  }
});
