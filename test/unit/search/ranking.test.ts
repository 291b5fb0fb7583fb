import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { indexTokens, queryTokens, splitIdentifier, toMatchExpression } from '../../../extension/src/index/tokenize.js';
import { LEXICAL_WEIGHTS, resolveLexicalWeights } from '../../../extension/src/search/lexicalRanker.js';
import { ModeUnavailableError, WorkspaceIndex } from '../../../extension/src/search/workspaceIndex.js';
import { inFixture, memoryLogger } from '../index/fixture.js';

test('identifiers split on camelCase, acronyms, digits and snake_case; the whole identifier is kept', () => {
  assert.deepEqual(splitIdentifier('HTTPServerError2'), ['http', 'server', 'error', '2']);
  assert.deepEqual(splitIdentifier('parse_config_file'), ['parse', 'config', 'file']);
  assert.deepEqual(indexTokens('startHttpServer(port)').split(' '), ['start', 'http', 'server', 'starthttpserver', 'port']);
  assert.ok(indexTokens('parse_config_file').split(' ').includes('parse_config_file'));
});

test('queries drop stop words unless nothing else is left, and are quoted for FTS5', () => {
  assert.deepEqual(queryTokens('Return the user with the given id'), ['return', 'user', 'id']);
  assert.deepEqual(queryTokens('the'), ['the']);
  assert.equal(toMatchExpression(['a"b', 'c']), '"a""b" OR "c"');
});

test('lexical column weights reach bm25: a column weighted 0 adds nothing, one weighted alone decides', async () => {
  assert.throws(() => resolveLexicalWeights({ body: -1 }), /must be a number ≥ 0/);
  assert.deepEqual(resolveLexicalWeights({ path: 0 }), { ...LEXICAL_WEIGHTS, path: 0 });
  await inFixture(async (ws) => {
    // 'geometry' is only in py/geometry.py's path; 'histogram' is in py/histogram.py's path, name and body.
    const geometryScore = async (dir: string, lexicalWeights?: Partial<typeof LEXICAL_WEIGHTS>) => {
      const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', dir), logger: memoryLogger(), lexicalWeights });
      await index.update();
      const hits = await index.search('geometry histogram', { limit: 5 });
      await index.close();
      assert.equal(hits[0]?.path, 'py/histogram.py');
      return hits.find((h) => h.path === 'py/geometry.py')!.score;
    };
    const byDefault = await geometryScore('idx');
    const pathOnly = await geometryScore('idx-path', { name: 0, body: 0, context: 0, path: 1 });
    const nameOnly = await geometryScore('idx-name', { name: 1, body: 0, context: 0, path: 0 });
    assert.ok(pathOnly > 0 && byDefault > pathOnly, `default ${byDefault}, path only ${pathOnly}`);
    assert.equal(nameOnly, 0);
  });
});

test('lexical search finds identifiers from natural words, camelCase and snake_case queries', async () => {
  await inFixture(async (ws) => {
    const index = await WorkspaceIndex.open(ws, { storageDir: path.join(ws, '..', 'idx'), logger: memoryLogger() });
    await index.update();
    const top = async (q: string) => (await index.search(q, { limit: 3 }))[0];
    assert.equal((await top('start http server'))?.path, 'js/server.js');
    assert.equal((await top('findUserById'))?.path, 'ts/userRepository.ts');
    assert.equal((await top('find_user_by_id'))?.path, 'ts/userRepository.ts');
    assert.equal((await top('ParseConfigFile'))?.path, 'py/geometry.py');
    const append = await top('list append');
    assert.equal(append?.path, 'c/list.c');
    assert.ok(append!.startLine >= 1 && append!.endLine >= append!.startLine && append!.snippet.length > 0);
    assert.deepEqual(await index.search('"; DROP TABLE chunks; --'), [], 'query text is never SQL or FTS syntax');
    await assert.rejects(index.search('x', { mode: 'dense' }), ModeUnavailableError);
    await index.close();
  });
});
