// File content is hostile input. It reaches the DOM only as text nodes (never markup), and characters that
// could hide or reorder what the reader sees — bidi controls (Trojan Source), zero-width and control
// characters — are shown as visible ⟨U+XXXX⟩ marks instead of being obeyed.

/** Bidi embeddings/overrides/isolates and marks, zero-width characters, C0/C1 controls (tab kept), separators. */
const INVISIBLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u115F\u1160\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2069\u3164\uFEFF\uFFA0\uFFF9-\uFFFB]/g;

export type VisiblePiece = { kind: 'text' | 'mark'; text: string };

export interface VisibleText {
  pieces: VisiblePiece[];
  /** UTF-16 units cut off at the end to keep the display small (0 when the text was shown whole). */
  truncated: number;
}

export const markFor = (ch: string): string =>
  `⟨U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`;

/** Splits text into plain runs and visible marks; at most `max` UTF-16 units of the input are shown. */
export function toVisible(text: string, max = Number.POSITIVE_INFINITY): VisibleText {
  let cut = text.length > max ? max : text.length;
  // Never cut a surrogate pair in half: a lone surrogate renders as a replacement box.
  if (cut < text.length && cut > 0 && /[\uD800-\uDBFF]/.test(text.charAt(cut - 1))) cut--;
  const shown = text.slice(0, cut);
  const pieces: VisiblePiece[] = [];
  let last = 0;
  for (const m of shown.matchAll(INVISIBLE)) {
    if (m.index > last) pieces.push({ kind: 'text', text: shown.slice(last, m.index) });
    pieces.push({ kind: 'mark', text: markFor(m[0]) });
    last = m.index + m[0].length;
  }
  if (last < shown.length) pieces.push({ kind: 'text', text: shown.slice(last) });
  return { pieces, truncated: text.length - cut };
}

/** Appends text to `parent` as text nodes and `.mark` spans; returns how many units were cut off. */
export function appendVisible(parent: Node, text: string, max?: number): number {
  const doc = parent.ownerDocument ?? document;
  const { pieces, truncated } = toVisible(text, max);
  for (const p of pieces) {
    if (p.kind === 'text') parent.appendChild(doc.createTextNode(p.text));
    else {
      const span = doc.createElement('span');
      span.className = 'mark';
      span.textContent = p.text;
      parent.appendChild(span);
    }
  }
  return truncated;
}

/** A one-line label: newlines as ⏎, an all-blank token's spaces and tabs as · and →, then visible marks, capped. */
export function appendLabel(parent: Node, text: string, max = 120): void {
  let line = text.replace(/\r?\n/g, '⏎');
  if (/^[ \t⏎]+$/.test(line)) line = line.replace(/ /g, '·').replace(/\t/g, '→');
  const cut = appendVisible(parent, line, max);
  if (cut > 0) parent.appendChild((parent.ownerDocument ?? document).createTextNode('…'));
}
