// The lens webview's HTML: a strict CSP (nothing but our own script and stylesheet, each by nonce or by the
// webview resource origin), no inline code, no remote resources. Pure string building, no 'vscode'.
import { randomBytes } from 'node:crypto';

export const newNonce = (): string => randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');

export interface LensHtmlParts {
  nonce: string;
  /** webview.cspSource: the origin webview resources are served from. */
  cspSource: string;
  scriptUri: string;
  styleUri: string;
}

export function contentSecurityPolicy(p: Pick<LensHtmlParts, 'nonce' | 'cspSource'>): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${p.nonce}'`,
    `style-src ${p.cspSource} 'nonce-${p.nonce}'`,
    `font-src ${p.cspSource}`,
    `img-src ${p.cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lensHtml(p: LensHtmlParts): string {
  if (!/^[A-Za-z0-9]+$/.test(p.nonce)) throw new Error('nonce must be alphanumeric');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(p))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${p.nonce}" href="${attr(p.styleUri)}">
<title>Infini Lens: Attention</title>
</head>
<body>
<main id="lens-root"></main>
<script type="module" nonce="${p.nonce}" src="${attr(p.scriptUri)}"></script>
</body>
</html>`;
}
