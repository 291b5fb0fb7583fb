// Webview entry (bundled to dist/webview/lens.js; lens.css beside it). Registers the @vscode-elements web
// components and starts the app against the real host channel.
import '@vscode-elements/elements/dist/main.js';
import './lens.css';
import { LensApp } from './app.js';
import { vscodeHostChannel } from './host.js';

const root = document.getElementById('lens-root');
if (root) new LensApp(root, vscodeHostChannel());
