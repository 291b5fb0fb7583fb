// Byte-level BPE's reversible byte ↔ printable-character table (the GPT-2 scheme the HF ByteLevel
// pre-tokenizer uses): printable Latin-1 bytes map to themselves, the rest to U+0100 onwards.

let table: string[] | undefined;
let inverse: Map<string, number> | undefined;

/** byte → the single character that stands for it inside byte-level tokens. */
export function bytesToUnicode(): string[] {
  if (table) return table;
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep.includes(b) ? b : 256 + extra++);
  table = out;
  return out;
}

/** The bytes a byte-level token string stands for; undefined if some character is not a byte symbol. */
export function tokenBytes(token: string): number[] | undefined {
  inverse ??= new Map(bytesToUnicode().map((c, b) => [c, b]));
  const out: number[] = [];
  for (const ch of token) {
    const b = inverse.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}
