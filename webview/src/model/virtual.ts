// Virtualised rows: only the rows inside the viewport (plus a little overscan) get DOM nodes, so a view of
// any length costs the same to draw.

export interface RowWindow {
  first: number; // first row to draw
  last: number; // one past the last row to draw
  offset: number; // px from the top of the scroll content to the first drawn row
  height: number; // px of the whole scroll content
}

export function rowWindow(scrollTop: number, viewport: number, rowHeight: number, rows: number, overscan = 8): RowWindow {
  const height = rows * rowHeight;
  if (rows === 0 || rowHeight <= 0) return { first: 0, last: 0, offset: 0, height: 0 };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, height - viewport));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(rows, Math.ceil((top + Math.max(viewport, 0)) / rowHeight) + overscan);
  return { first, last, offset: first * rowHeight, height };
}

/** The scrollTop that brings `row` into view, or undefined when it is already visible. */
export function scrollToReveal(scrollTop: number, viewport: number, rowHeight: number, row: number): number | undefined {
  const top = row * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewport) return top + rowHeight - viewport;
  return undefined;
}
