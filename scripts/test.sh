#!/usr/bin/env bash
# `npm test`: typecheck, build, unit tests, then the integration tests in a real VS Code (the server bundled
# in code-server, driven by headless Chromium): the extension from this repo (one folder, then two), then
# the linux-x64 VSIX installed into a fresh VS Code. Set SKIP_INTEGRATION=1 to stop after the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo; echo "=== [test.sh ${SECONDS}s] $*"; }

step "typecheck"
npm run -s typecheck
step "build"
node scripts/build.mjs --quiet
step "unit tests"
npm run -s test:unit
step "hostile tree: 600 entries indexed, every skip reason and count checked (scripts/fuzz-tree.mjs)"
node scripts/fuzz-tree.mjs --entries 600
step "training package: pytest and the smoke recipe (kernels/train)"
bash scripts/test-train.sh
step "sharded build on Dask (scheduler + 2 workers on loopback): merged digest = single build"
bash scripts/test-dask.sh
[ "${SKIP_INTEGRATION:-}" = 1 ] && { echo "SKIP_INTEGRATION=1: integration tests skipped"; exit 0; }

step "integration setup (cached in .test-cache/)"
bash scripts/integration/setup.sh
step "integration tests: extension from the repo"
node scripts/integration/run.mjs --suite=dev --timeout=600000
step "integration tests: a multi-root workspace"
node scripts/integration/run.mjs --suite=multi
step "integration tests: an untrusted folder (Restricted Mode)"
node scripts/integration/run.mjs --suite=restricted
step "package the linux-x64 VSIX"
node scripts/package.mjs --target=linux-x64
step "integration tests: the installed linux-x64 VSIX"
node scripts/integration/run.mjs --suite=vsix \
  --install="out/vsix/infini-lens-$(node -p "require('./package.json').version")-linux-x64.vsix"
step "all tests passed in ${SECONDS}s; screenshots in test-results/screenshots/"
