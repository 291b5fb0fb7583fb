// Entry the VS Code extension host loads (extensionTestsPath): runs the mocha suite chosen by the harness.
// Bundled by scripts/build.mjs into dist/test/integration/index.js; mocha itself stays external.
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 60_000, color: false, reporter: 'spec' });
  // The suites call suite()/test(): make mocha's globals exist before their modules are evaluated.
  mocha.suite.emit('pre-require', globalThis, 'infini-lens', mocha);
  const suite = process.env.INFINI_LENS_SUITE;
  if (suite === 'vsix') require('./vsix.test');
  else if (suite === 'multi') require('./multiRoot.test');
  else if (suite === 'lens') require('./lens.test');
  else if (suite === 'semantic') require('./semantic.test');
  else if (suite === 'responsiveness') require('./responsiveness.test');
  else if (suite === 'restricted') require('./restricted.test');
  else if (suite === 'firstRun') require('./firstRun.test');
  else if (suite === 'extension') require('./extension.test');
  // firstRun first: its welcome view needs the results view still empty.
  else { require('./firstRun.test'); require('./extension.test'); require('./lens.test'); require('./semantic.test'); }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
  });
}
