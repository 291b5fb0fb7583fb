// Line-oriented tokenizer server for lens_train/tok.py (Python): one JSON request a line,
// {"texts": [...]} -> {"ids": [[...], ...], "offsets": [[[start, end], ...], ...]}, with the extension's own
// @huggingface/tokenizers and the given tokenizer.json, so CPU-side training scripts get the shipped BPE without
// the Python package. Offsets are code-point (Python str) ranges, as the Python package gives them.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Tokenizer } from '@huggingface/tokenizers';

const json = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tok = new Tokenizer(json, {});
// A word-level model leaves a word outside its vocabulary without an id here; the Python package gives it the
// model's unk_token, as this does (byte-level BPE, the shipped tokenizer, has no unknown words).
const unk = json.model?.unk_token != null ? json.model.vocab?.[json.model.unk_token] : undefined;
const byteLevel = JSON.stringify(json.pre_tokenizer ?? {}).includes('ByteLevel');

// GPT-2's byte <-> printable character table: a byte-level token is one character per UTF-8 byte.
const byteOfChar = new Map();
{
  const printable = (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  for (let b = 0; b < 256; b++) byteOfChar.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b);
}

function offsetsOf(text, tokens) {
  const cps = Array.from(text);
  if (byteLevel) {
    const cpOfByte = [];
    cps.forEach((c, i) => { for (let k = Buffer.byteLength(c, 'utf8'); k > 0; k--) cpOfByte.push(i); });
    let pos = 0;
    return tokens.map((t) => {
      const chars = Array.from(t);
      const n = chars.every((c) => byteOfChar.has(c)) ? chars.length : Buffer.byteLength(t, 'utf8'); // added tokens: literal
      const range = [cpOfByte[pos], cpOfByte[pos + n - 1] + 1];
      pos += n;
      return range;
    });
  }
  const cpOfUnit = [];                                   // UTF-16 unit -> code point index
  cps.forEach((c, i) => { for (let k = 0; k < c.length; k++) cpOfUnit.push(i); });
  cpOfUnit.push(cps.length);
  let pos = 0;
  return tokens.map((t) => {                             // word-level and the like: each token's text, in order
    const at = text.indexOf(t, pos);
    if (at < 0) throw new Error(`cannot place token ${JSON.stringify(t)} in the text`);
    pos = at + t.length;
    return [cpOfUnit[at], cpOfUnit[pos]];
  });
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  const { texts } = JSON.parse(line);
  const ids = [], offsets = [];
  for (const t of texts) {
    const enc = tok.encode(t, { add_special_tokens: false });
    ids.push(Array.from(enc.ids, (id, i) => {
      if (id !== undefined) return id;
      if (unk !== undefined) return unk;
      throw new Error(`token ${i} of ${JSON.stringify(t.slice(0, 80))} has no id and the model no unk_token`);
    }));
    offsets.push(offsetsOf(t, enc.tokens));
  }
  process.stdout.write(JSON.stringify({ ids, offsets }) + '\n');
}
