import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeTokenizer, SPECIAL, tokenRanges } from '../../../kernels/runtime/tokenizer.js';
import { LineIndex } from '../../../kernels/runtime/lines.js';
import { tinyTokenizerJson } from './tinyTokenizer.js';

const sample = 'function foo(bar) {\n  return bar + 1; // héllo wörld\n}\nconst 変数 = foo(2); 😀\r\n\tx=>x\n';
const tok = CodeTokenizer.fromJson(tinyTokenizerJson(sample));

/** Every token's range, read back from the text, re-encodes to that token's bytes; ranges tile the text. */
function checkOffsets(text: string): void {
  const t = tok.encode(text);
  assert.equal(tok.decode(t.ids), text, 'round trip');
  let prevEnd = 0;
  for (let i = 0; i < t.ids.length; i++) {
    const s = t.starts[i]!, e = t.ends[i]!;
    assert.ok(s < e, `token ${i} empty range`);
    // Either the next token starts where this one ended, or both split one multi-byte character.
    assert.ok(s === prevEnd || (i > 0 && s === t.starts[i - 1]! && e === t.ends[i - 1]!), `gap at token ${i}`);
    prevEnd = e;
  }
  assert.equal(prevEnd, text.length);
}

test('ids, round trip and offsets on code with multi-byte characters, CRLF, tabs and an emoji', () => {
  checkOffsets(sample);
  checkOffsets('x');
  checkOffsets('   \n\n  \t');
  checkOffsets('😀😀é漢字' + sample.repeat(3));
});

test('the empty text has no tokens', () => {
  const t = tok.encode('');
  assert.equal(t.ids.length, 0);
});

test('tokens splitting a multi-byte character share the character\'s range', () => {
  const text = 'a😀b'; // the emoji is 4 bytes, 2 UTF-16 units, not in the tiny vocabulary as one token
  const t = tok.encode(text);
  const emoji = Array.from(t.ids.keys()).filter((i) => t.starts[i] === 1);
  assert.ok(emoji.length >= 2, 'emoji split into several byte tokens');
  for (const i of emoji) assert.equal(t.ends[i], 3);
});

test('special-token text inside a file maps to the literal characters (as the Rust tokenizer does)', () => {
  const text = 'a <doc> b';
  const t = tok.encode(text);
  const i = Array.from(t.ids).indexOf(SPECIAL.doc);
  assert.ok(i >= 0);
  assert.equal(text.slice(t.starts[i], t.ends[i]), '<doc>');
  checkOffsets(text);
});

test('a tokenizer.json without the contract\'s special ids is refused with a clear message', () => {
  const j = tinyTokenizerJson('abc') as { added_tokens: { id: number; content: string }[]; model: { vocab: Record<string, number> } };
  j.added_tokens[2]!.content = '<bos>';
  j.model.vocab['<bos>'] = 2; delete j.model.vocab['<doc>'];
  assert.throws(() => CodeTokenizer.fromJson(j), /<doc> at id 2/);
});

test('line index and token ranges give 0-based (line, column)', () => {
  const text = 'ab\ncd\n\nef';
  const li = new LineIndex(text);
  assert.deepEqual(li.position(0), { line: 0, column: 0 });
  assert.deepEqual(li.position(4), { line: 1, column: 1 });
  assert.deepEqual(li.position(7), { line: 3, column: 0 });
  assert.equal(li.lineCount, 4);
  const t = tok.encode(text);
  const r = tokenRanges(text, t);
  const last = r[r.length - 1]!;
  assert.deepEqual([last.endLine, last.endColumn], [3, 2]);
});
