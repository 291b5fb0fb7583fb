// A small byte-level BPE tokenizer.json in the contract's format, generated at test time: the 4 special tokens
// (ids 0..3), the 256 byte symbols, and merges learned greedily from a sample text. Lets the runtime's
// tokenizer code be tested without the trained model.
import { bytesToUnicode } from '../../../kernels/runtime/byteLevel.js';

export function tinyTokenizerJson(sample: string, nMerges = 60): object {
  const byteChars = bytesToUnicode();
  const vocab: Record<string, number> = { '<pad>': 0, '<mask>': 1, '<doc>': 2, '<qry>': 3 };
  for (let b = 0; b < 256; b++) vocab[byteChars[b]!] = 4 + b;
  // Pre-split like GPT-2 so merges never cross word boundaries, then learn the most frequent pairs.
  const words = (sample.match(/ ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+/gu) ?? [])
    .map((w) => Array.from(Buffer.from(w, 'utf8'), (b) => byteChars[b]!));
  const merges: [string, string][] = [];
  for (let m = 0; m < nMerges; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) {
      const key = `${w[i]} ${w[i + 1]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let best = '', n = 1;
    for (const [k, c] of counts) if (c > n) { best = k; n = c; }
    if (!best) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    vocab[a + b] ??= Object.keys(vocab).length;
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
  }
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '<mask>'), special(2, '<doc>'), special(3, '<qry>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}
