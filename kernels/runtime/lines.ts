// Line starts of a text and the line of an offset; no dependencies, so the chunk worker and the index's row
// check use it without the tokenizer.
/** Line starts of a text, so token offsets become (line, column) positions (0-based, UTF-16 columns). */
export class LineIndex {
  /** UTF-16 offset of the first character of every line. */
  readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  get lineCount(): number { return this.starts.length; }
  position(offset: number): { line: number; column: number } {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo, column: offset - this.starts[lo]! };
  }
}
