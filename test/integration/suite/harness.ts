// The tests' side of the harness RPC (scripts/integration/run.mjs): act on the workbench page like a user.
export const harnessUrl = process.env.INFINI_LENS_HARNESS;

async function call(request: Record<string, unknown>): Promise<string> {
  if (!harnessUrl) throw new Error('INFINI_LENS_HARNESS is not set: run through scripts/integration/run.mjs');
  const res = await fetch(harnessUrl, { method: 'POST', body: JSON.stringify(request) });
  const answer = (await res.json()) as { ok: boolean; result?: string; error?: string };
  if (!answer.ok) throw new Error(`harness ${request.op}: ${answer.error}`);
  return answer.result ?? '';
}

export const press = (key: string) => call({ op: 'press', key });
export const type = (text: string) => call({ op: 'type', text });
/** Waits until an element matching `selector` (and containing `text`) is visible; returns its text. */
export const waitFor = (selector: string, text?: string, timeoutMs?: number) => call({ op: 'waitFor', selector, text, timeoutMs });
export const click = (selector: string, text?: string) => call({ op: 'click', selector, text });
export const screenshot = (name: string) => call({ op: 'screenshot', name });
/** Clicks an element of the lens webview by its exact visible text (a tab, a button). */
export const lensClick = (text: string) => call({ op: 'lensClick', text });
/** The lens webview's DOM after rendering: injected <img>/<script> counts, the pwned flag, its visible text. */
export const lensProbe = async () => JSON.parse(await call({ op: 'lensProbe' })) as
  { injectedImages: number; scripts: number; pwned: string | null; text: string };

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resizes the browser page (the whole workbench, so the lens panel too). */
export const resize = (width: number, height: number) => call({ op: 'resize', width, height });
/** Clicks a token of the lens heatmap; modifiers as Playwright names them ('Control', 'Shift', 'Alt'). */
export const lensClickToken = (token: number, modifiers: string[] = []) => call({ op: 'lensClickToken', token, modifiers });
export interface HeatmapProbe {
  height: number;
  panelHeight: number;
  /** 1-based source lines of the rows inside the heatmap's visible box. */
  lines: number[];
  selected: { token: number; inView: boolean }[];
  busy: boolean;
  busyText: string;
}
/** What the lens's heatmap shows (see run.mjs 'lensHeatmap'). */
export const lensHeatmap = async () => JSON.parse(await call({ op: 'lensHeatmap' })) as HeatmapProbe;
