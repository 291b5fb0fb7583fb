// One source for the search-quality numbers users read: the README's table, the walkthrough's search page and the
// `infiniLens.search.mode` description are rendered from docs/numbers/dev.json (scripts/eval-numbers.mjs). A number
// edited by hand in one place fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// @ts-expect-error: a plain ES module script, no type declarations
import { disagreements, PLACES, NUMBERS } from '../../../scripts/eval-numbers.mjs';

const ROOT = path.resolve(__dirname, '../../..');

test('every place that shows the dev numbers renders docs/numbers/dev.json', () => {
  assert.deepEqual(disagreements(ROOT), []);
});

test('the check fails when one place is edited by hand', () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'numbers-'));
  try {
    for (const f of [...(PLACES as { file: string }[]).map((p) => p.file), NUMBERS]) {
      fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
    }
    const readme = path.join(copy, 'README.md');
    fs.writeFileSync(readme, fs.readFileSync(readme, 'utf8').replace(/(`hybrid` \(default\)[^|]*\| [0-9.]+ \| [0-9.]+ \| )[0-9.]+/, '$10.999'));
    const bad = disagreements(copy) as string[];
    assert.equal(bad.length, 1, bad.join('\n'));
    assert.match(bad[0]!, /^README\.md: /);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});
