// Line-oriented tokenizer server for cpu_tokenizers/tokenizers (Python): one JSON request a line,
// {"texts": [...]} -> {"ids": [[...], ...]}, with the extension's own @huggingface/tokenizers and the given
// tokenizer.json, so CPU-side training scripts get the shipped BPE without the Python package.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Tokenizer } from '@huggingface/tokenizers';

const tok = new Tokenizer(JSON.parse(readFileSync(process.argv[2], 'utf8')), {});
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  const { texts } = JSON.parse(line);
  const ids = texts.map((t) => Array.from(tok.encode(t, { add_special_tokens: false }).ids));
  process.stdout.write(JSON.stringify({ ids }) + '\n');
}
