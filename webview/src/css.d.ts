// esbuild bundles imported CSS into dist/webview/lens.css; the import has no value.
declare module '*.css';
