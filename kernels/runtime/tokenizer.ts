// The code tokenizer: ids from @huggingface/tokenizers (byte-level BPE, kernels/model/tokenizer.json) and the
// source range of every token. That library returns ids and token strings but no offsets, so the offsets are
// recovered here from the byte-level token strings: each token character stands for one UTF-8 byte, the
// tokens' bytes concatenate to the text's bytes (checked: the round trip), and a byte maps back to the UTF-16
// range of the character that holds it (tokens that split a multi-byte character share its range).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { tokenBytes } from './byteLevel.js';
import { LineIndex } from './lines.js';

export const SPECIAL = { pad: 0, mask: 1, doc: 2, qry: 3 } as const;

export interface TokenizedText {
  ids: Int32Array;    // [n] token ids (no <doc>/<qry>: the caller adds the marker it needs)
  starts: Int32Array; // [n] UTF-16 offset of the first character of each token
  ends: Int32Array;   // [n] UTF-16 offset just past its last character
}

export class CodeTokenizer {
  private readonly special = new Map<number, string>(); // added-token id → its literal content

  private constructor(private readonly tok: Tokenizer, json: { added_tokens?: { id: number; content: string }[] }) {
    for (const t of json.added_tokens ?? []) this.special.set(t.id, t.content);
    for (const [name, id] of Object.entries(SPECIAL)) {
      if (this.tok.id_to_token(id) !== `<${name}>`) {
        throw new Error(`tokenizer.json: expected <${name}> at id ${id}, found ${String(this.tok.id_to_token(id))}`);
      }
    }
  }

  static fromJson(json: object): CodeTokenizer {
    return new CodeTokenizer(new Tokenizer(json, {}), json as { added_tokens?: { id: number; content: string }[] });
  }

  static load(modelDir: string): CodeTokenizer {
    const file = path.join(modelDir, 'tokenizer.json');
    let json: object;
    try { json = JSON.parse(readFileSync(file, 'utf8')) as object; } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as Error).message}`);
    }
    return CodeTokenizer.fromJson(json);
  }

  get vocabSize(): number { return this.tok.get_vocab(true).size; }

  /** Ids and UTF-16 source ranges; throws if the tokens do not round-trip to the text's bytes. */
  encode(text: string): TokenizedText {
    const enc = this.tok.encode(text, { add_special_tokens: false });
    const n = enc.ids.length;
    const out: TokenizedText = { ids: Int32Array.from(enc.ids), starts: new Int32Array(n), ends: new Int32Array(n) };
    const { charOfByte, bytes } = utf8Index(text);
    let pos = 0; // byte position in the text
    for (let i = 0; i < n; i++) {
      const special = this.special.get(enc.ids[i]!);
      const tb = special !== undefined ? Array.from(Buffer.from(special, 'utf8')) : tokenBytes(enc.tokens[i]!);
      if (!tb || tb.length === 0) throw new Error(`tokenizer: token ${JSON.stringify(enc.tokens[i])} has no byte form`);
      for (let j = 0; j < tb.length; j++) {
        if (bytes[pos + j] !== tb[j]) throw new Error(`tokenizer: tokens do not round-trip at byte ${pos + j}`);
      }
      out.starts[i] = charOfByte[pos]!;
      const last = charOfByte[pos + tb.length - 1]!;
      out.ends[i] = last + ((text.codePointAt(last) ?? 0) > 0xffff ? 2 : 1);
      pos += tb.length;
    }
    if (pos !== bytes.length) throw new Error(`tokenizer: tokens cover ${pos} of ${bytes.length} bytes`);
    return out;
  }

  /** Text of ids, byte-exact: the tokens' bytes as UTF-8 (the library's decode also tidies spaces). */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (const id of Array.from(ids)) {
      const special = this.special.get(id);
      const tb = special !== undefined ? Array.from(Buffer.from(special, 'utf8')) : tokenBytes(this.tok.id_to_token(id) ?? '');
      if (!tb) throw new Error(`tokenizer: id ${id} has no byte form`);
      bytes.push(...tb);
    }
    return Buffer.from(bytes).toString('utf8');
  }
}

/** UTF-8 bytes of text and, for every byte, the UTF-16 index of the character it belongs to. */
function utf8Index(text: string): { bytes: Uint8Array; charOfByte: Int32Array } {
  const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
  const charOfByte = new Int32Array(bytes.length);
  let b = 0;
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    // Lone surrogates become U+FFFD (3 bytes) in UTF-8, like everything else that is not a full code point.
    const units = cp > 0xffff ? 2 : 1;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    charOfByte.fill(i, b, b + len);
    b += len; i += units;
  }
  return { bytes, charOfByte };
}

export interface TokenRange { startLine: number; startColumn: number; endLine: number; endColumn: number }

/** token → source range (0-based lines, UTF-16 columns, end exclusive), for the lens. */
export function tokenRanges(text: string, t: TokenizedText): TokenRange[] {
  const li = new LineIndex(text);
  return Array.from(t.ids, (_, i) => {
    const a = li.position(t.starts[i]!), b = li.position(t.ends[i]!);
    return { startLine: a.line, startColumn: a.column, endLine: b.line, endColumn: b.column };
  });
}
