// Runs the mocha suite inside a real VS Code: the VS Code server bundled in code-server (Node 24), opened
// in headless Chromium by playwright-core. The workbench runs the tests in its extension host and reports
// the exit code through the smoke-test driver hook `codeAutomationExit`.
// The tests can ask this harness to act on the page (keys, typing, waiting for DOM text, screenshots)
// through a small HTTP endpoint whose address they find in INFINI_LENS_HARNESS.
//
// Usage: node scripts/integration/run.mjs --suite=dev|multi|vsix|semantic|responsiveness|lens|firstRun|restricted|extension [--workspace=DIR] [--install=FILE.vsix] [--bulk=N] [--port=N]
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import {
  cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import util from 'node:util';

const REPO = path.resolve(import.meta.dirname, '../..');
const CACHE = process.env.INFINI_TEST_CACHE ?? `${REPO}/.test-cache`;
const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const suite = arg('suite', 'dev');
const TIMEOUT_MS = Number(arg('timeout', 300_000));
const SHOTS = path.join(REPO, 'test-results', 'screenshots');
const NODE24 = `${CACHE}/node24/bin/node`;
const SERVER = `${CACHE}/code-server/node_modules/code-server/lib/vscode/out/server-main.js`;
const SYSROOT = `${CACHE}/sysroot`;
const t0 = Date.now();
const say = (...a) => console.log(`[harness ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const needed of [NODE24, SERVER, `${SYSROOT}/usr/lib/chromium/chromium`]) {
  if (!existsSync(needed)) { console.error(`missing ${needed}: run scripts/integration/setup.sh first`); process.exit(1); }
}

// A scratch run folder: VS Code's user data, extensions, HOME/TMPDIR and a copy of the fixture workspace.
mkdirSync(`${CACHE}/runs`, { recursive: true });
// Keep the last few runs of this suite for their logs; older ones only take space.
readdirSync(`${CACHE}/runs`).filter((d) => d.startsWith(`${suite}-`))
  .map((d) => ({ d, t: statSync(`${CACHE}/runs/${d}`).mtimeMs })).sort((a, b) => b.t - a.t).slice(2)
  .forEach(({ d }) => rmSync(`${CACHE}/runs/${d}`, { recursive: true, force: true }));
const RUN = mkdtempSync(`${CACHE}/runs/${suite}-`);
// This suite's screenshots from an earlier run would pass for this run's: start without them.
if (existsSync(SHOTS)) for (const f of readdirSync(SHOTS)) if (f.startsWith(`${suite}-`)) rmSync(path.join(SHOTS, f));
const ws = `${RUN}/workspace`;
cpSync(path.resolve(arg('workspace', `${REPO}/test/fixtures/vscode-workspace`)), ws, { recursive: true });
// The multi-root suite opens a .code-workspace of two folders: the fixture and a small second one.
const multiRoot = `${RUN}/two-folders.code-workspace`;
if (suite === 'multi') {
  mkdirSync(`${RUN}/second/lib`, { recursive: true });
  writeFileSync(`${RUN}/second/lib/pelican.py`, 'def pelican_migration_route(start, end):\n    return [start, end]\n');
  writeFileSync(multiRoot, JSON.stringify({ folders: [{ path: 'workspace' }, { path: 'second' }] }));
}
// Enough generated files that the first build takes a few seconds: its progress notification can be seen and cancelled.
const BULK_FILES = Number(arg('bulk', suite === 'dev' || suite === 'extension' ? 2000 : 0));
if (BULK_FILES > 0) mkdirSync(`${ws}/bulk`, { recursive: true });
for (let i = 0; i < BULK_FILES; i++) {
  writeFileSync(`${ws}/bulk/module${i}.ts`, Array.from({ length: 6 }, (_, j) =>
    `export function generated${i}x${j}(value: number): number {\n  return value * ${j} + ${i};\n}\n`).join('\n'));
}
for (const d of ['user-data/User', 'extensions', 'server-data', 'home', 'tmp']) mkdirSync(`${RUN}/${d}`, { recursive: true });
writeFileSync(`${RUN}/user-data/User/settings.json`, JSON.stringify({
  'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false, 'extensions.autoUpdate': false, 'update.mode': 'none',
  'workbench.tips.enabled': false,
  // restricted: Workspace Trust on and the folder untrusted (no start-up prompt): the extension runs in Restricted Mode.
  ...(suite === 'restricted' ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'always' } : { 'security.workspace.trust.enabled': false }),
  // The run folder sits inside the repo: keep git's prompt and the fixture's type errors out of the screenshots.
  'git.openRepositoryInParentFolders': 'never', 'typescript.validate.enable': false,
  // dev's 2,000 bulk files are there to watch and cancel lexical indexing; embedding their 12,000 chunks on a
  // small CPU would only slow the suite. Its semantic test turns embeddings on with bulk/ excluded.
  // responsiveness: its own tests turn embeddings on (for a subfolder) once the lexical measurement is done.
  ...(['dev', 'extension', 'lens', 'responsiveness'].includes(suite) ? { 'infiniLens.embeddings.enabled': false } : {}),
}));
const env = {
  ...process.env, HOME: `${RUN}/home`, TMPDIR: `${RUN}/tmp`, XDG_CONFIG_HOME: `${RUN}/home/.config`,
  XDG_DATA_HOME: `${RUN}/home/.local/share`, XDG_CACHE_HOME: `${RUN}/home/.cache`, INFINI_LENS_SUITE: suite,
};
const common = ['--user-data-dir', `${RUN}/user-data`, '--extensions-dir', `${RUN}/extensions`,
  ...(suite === 'restricted' ? [] : ['--disable-workspace-trust'])];

const install = arg('install');
if (install) {
  say('installing', path.basename(install));
  execFileSync(NODE24, [SERVER, '--accept-server-license-terms', '--server-data-dir', `${RUN}/server-data`, ...common,
    '--install-extension', path.resolve(install)], { env, stdio: 'inherit' });
}

let page;
const rpc = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', async () => {
    try {
      const result = await act(JSON.parse(body));
      res.end(JSON.stringify({ ok: true, result }));
    } catch (err) {
      res.end(JSON.stringify({ ok: false, error: String(err?.message ?? err) }));
    }
  });
});

/** What a test may ask of the page. */
async function act(request) {
  switch (request.op) {
    case 'press': return void (await page.keyboard.press(request.key));
    case 'type': return void (await page.keyboard.type(request.text, { delay: 40 }));
    case 'click': {
      const locator = page.locator(request.selector).filter(request.text ? { hasText: request.text } : {}).first();
      return void (await locator.click({ timeout: request.timeoutMs ?? 30_000 }));
    }
    case 'waitFor': {
      const locator = page.locator(request.selector).filter(request.text ? { hasText: request.text } : {}).first();
      await locator.waitFor({ state: 'visible', timeout: request.timeoutMs ?? 30_000 });
      return locator.innerText();
    }
    case 'screenshot': {
      mkdirSync(SHOTS, { recursive: true });
      writeFileSync(path.join(SHOTS, '..', '.gitignore'), '*\n'); // test output, never committed
      const file = path.join(SHOTS, `${suite}-${request.name}.png`);
      await page.screenshot({ path: file });
      say('screenshot', path.relative(REPO, file));
      return file;
    }
    case 'lensProbe': {
      // The lens webview's frame (VS Code nests it in two iframes): what its DOM holds after rendering hostile
      // file content. Counts elements that only a broken escape could have created, and the pwned flag an
      // injected handler would set.
      for (const frame of page.frames()) {
        const probe = await frame.evaluate(() => {
          if (!document.getElementById('lens-root')) return undefined;
          return {
            injectedImages: document.querySelectorAll('img').length,
            scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('pwned')).length,
            pwned: document.body.dataset.pwned ?? null,
            text: document.body.innerText.slice(0, 200_000),
          };
        }).catch(() => undefined);
        if (probe) return JSON.stringify(probe);
      }
      throw new Error('no lens webview frame');
    }
    case 'resize': return void (await page.setViewportSize({ width: request.width, height: request.height }));
    case 'lensHeatmap': {
      // What the Attention tab's heatmap shows: its height, the source lines drawn inside its visible box, and
      // the selected tokens with whether each is inside that box.
      for (const frame of page.frames()) {
        const probe = await frame.evaluate(() => {
          const heat = document.querySelector('.heatmap');
          if (!heat) return undefined;
          const box = heat.getBoundingClientRect();
          const inBox = (r) => r.height > 0 && r.bottom > box.top && r.top < box.bottom;
          return {
            height: heat.clientHeight, panelHeight: window.innerHeight,
            lines: [...heat.querySelectorAll('.row')].filter((r) => inBox(r.getBoundingClientRect()))
              .map((r) => Number(r.querySelector('.gutter')?.textContent)),
            selected: [...heat.querySelectorAll('.tok.selected')].map((t) => ({ token: Number(t.dataset.token), inView: inBox(t.getBoundingClientRect()) })),
            busy: !document.querySelector('.busy-panel')?.hidden, busyText: document.querySelector('.busy-panel')?.innerText ?? '',
          };
        }).catch(() => undefined);
        if (probe) return JSON.stringify(probe);
      }
      throw new Error('no lens webview frame');
    }
    case 'lensClickToken': {
      // A click on one token of the heatmap, with modifier keys (Control: add to the selection).
      for (const frame of page.frames()) {
        if (!(await frame.locator('#lens-root').count().catch(() => 0))) continue;
        return void (await frame.locator(`.tok[data-token="${Number(request.token)}"]`).first()
          .click({ modifiers: request.modifiers ?? [], timeout: 30_000 }));
      }
      throw new Error('no lens webview frame');
    }
    case 'lensClick': {
      // A click inside the lens webview (a tab, a button) by its visible text.
      for (const frame of page.frames()) {
        if (!(await frame.locator('#lens-root').count().catch(() => 0))) continue;
        return void (await frame.getByText(request.text, { exact: true }).first().click({ timeout: 30_000 }));
      }
      throw new Error('no lens webview frame');
    }
    default: throw new Error(`unknown op ${request.op}`);
  }
}

const listen = (server) => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
const freePort = async () => { const s = createServer(); const p = await listen(s); s.close(); return p; };
const rpcPort = await listen(rpc);
const port = Number(arg('port', 0)) || (await freePort());
env.INFINI_LENS_HARNESS = `http://127.0.0.1:${rpcPort}`;

const server = spawn(NODE24, [SERVER, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token',
  '--accept-server-license-terms', '--enable-smoke-test-driver', '--disable-telemetry',
  '--server-data-dir', `${RUN}/server-data`, ...common],
{ env, stdio: ['ignore', openSync(`${RUN}/server.log`, 'w'), openSync(`${RUN}/server.err`, 'w')] });

const NOISE = /AgentHost|ChatModelSelection|AccountPolicyGate|open-vsx|authentication provider|connection token|Creating a socket|grace time|Service Worker|builtin extensions cache|\[ExtensionGalleryService]|DefaultAccount/;
let code = 1;
let browser;
try {
  while (!(await fetch(`http://127.0.0.1:${port}/version`).then((r) => r.ok, () => false))) {
    if (server.exitCode !== null) throw new Error(`server exited: ${readFileSync(`${RUN}/server.err`, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
  say('VS Code server up on port', port);
  browser = await chromium.launch({
    executablePath: `${SYSROOT}/usr/lib/chromium/chromium`, headless: true,
    env: { ...env, LD_LIBRARY_PATH: `${SYSROOT}/usr/lib/x86_64-linux-gnu:${SYSROOT}/usr/lib/x86_64-linux-gnu/pulseaudio` },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  let exit;
  const exited = new Promise((r) => (exit = r));
  await page.exposeFunction('codeAutomationLog', (_type, args) => {
    const line = util.format(...args);
    if (process.env.VERBOSE || !NOISE.test(line)) console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (c) => exit(c));
  page.on('pageerror', (e) => console.log('[pageerror]', e.message.slice(0, 300)));
  const authority = `127.0.0.1:${port}`;
  const devPath = suite === 'vsix' ? `${REPO}/test/integration/vsix-host` : REPO;
  const payload = [['extensionDevelopmentPath', `vscode-remote://${authority}${devPath}`],
    ['extensionTestsPath', `vscode-remote://${authority}${REPO}/dist/test/integration/index.js`]];
  const open = suite === 'multi' ? `workspace=${encodeURIComponent(multiRoot)}` : `folder=${encodeURIComponent(ws)}`;
  // A loaded machine can take longer than the default 30 s to serve the workbench.
  await page.goto(`http://${authority}/?${open}&payload=${encodeURIComponent(JSON.stringify(payload))}`, { timeout: 120_000 });
  say('workbench opened; tests running in the extension host');
  code = await Promise.race([exited, sleep(TIMEOUT_MS).then(() => 'timeout')]);
  if (code === 'timeout') {
    await act({ op: 'screenshot', name: 'timeout' }).catch(() => {});
    console.error(`tests did not finish within ${TIMEOUT_MS / 1000} s`);
    code = 2;
  }
} catch (err) {
  console.error('harness failed:', err);
  code = 1;
} finally {
  await browser?.close().catch(() => {});
  server.kill('SIGTERM');
  rpc.close();
  say(`suite ${suite} exit code ${code}; logs in ${path.relative(REPO, RUN)}`);
  process.exit(code);
}
