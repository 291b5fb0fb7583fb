// Bundles the GPU harness (scripts/gpu/gpuBench.ts) to dist/gpuBench.js, beside the bundles of scripts/build.mjs
// (run that first: dist/cli.js, dist/worker.js and the wasm assets). Only onnxruntime-node stays external: on the
// GPU machine it comes from the .gpu pack (NODE_PATH); everything else is in the bundle.
import { build } from 'esbuild';

await build({
  entryPoints: ['scripts/gpu/gpuBench.ts'], outfile: 'dist/gpuBench.js', platform: 'node', format: 'cjs', target: 'node20',
  bundle: true, sourcemap: true, external: ['vscode', 'onnxruntime-node'], logLevel: process.argv.includes('--quiet') ? 'error' : 'info',
});
