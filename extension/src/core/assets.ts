// Finds runtime .wasm assets: beside the bundle in dist/ when running bundled (VS Code, dist/cli.js), else in
// node_modules when running from source (unit tests under tsx). One place, so packaging has one rule.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Absolute path of `fileName` (e.g. 'grammars/tree-sitter-python.wasm'); `fromPackage` is its node_modules path. */
export function assetPath(fileName: string, fromPackage: string): string {
  const beside = path.join(__dirname, fileName);
  if (fs.existsSync(beside)) return beside;
  try {
    return require.resolve(fromPackage);
  } catch {
    throw new Error(`Infini Lens: runtime asset ${fileName} is missing (looked in ${__dirname} and node_modules/${fromPackage}); rebuild with "node scripts/build.mjs".`);
  }
}
