// Tiny DOM builders. Content only ever goes in through textContent; attributes take only our own constants
// and numbers, never file content.

export function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, className?: string, text?: string): HTMLElementTagNameMap[K];
export function el(doc: Document, tag: string, className?: string, text?: string): HTMLElement;
export function el(doc: Document, tag: string, className?: string, text?: string): HTMLElement {
  const e = doc.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
export const num = (x: number): string => x.toLocaleString('en-US');

/** Keeps an element's children in sync by replacing them all: the panes are small or virtualised. */
export function replaceChildren(parent: Element, ...children: Node[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  for (const c of children) parent.appendChild(c);
}
