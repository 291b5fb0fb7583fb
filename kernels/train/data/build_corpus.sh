#!/usr/bin/env bash
# Download and unpack the allowed training sources (see /work/shared/training-sources.md).
# Usage: build_corpus.sh [WORK_DIR]   (default /tmp/lens-data)
# Needs: apt-get (Debian 12 sources), npm (registry access), dpkg-deb, tar, xz.
# Result: WORK/deb/<pkg>/ (dpkg-deb -x trees), WORK/tar/{glibc,xorg-server}/ (upstream tarballs
#         shipped inside the *-source debs), WORK/npm/<pkg>/package/ (npm pack tarballs),
#         WORK/tools/node_modules/typescript (parser used by the shared eval builder for JS/TS).
set -euo pipefail
WORK=${1:-/tmp/lens-data}
mkdir -p "$WORK"/{deb,tar,npm,tools,dl}
cd "$WORK"

# Python (Debian 12). mercurial's Python sources live in mercurial-common, so both are fetched.
PY_DEBS="libpython3.11-stdlib libpython3.11-minimal python3-numpy python3-scipy python3-pandas
python3-matplotlib python3-sklearn python3-statsmodels python3-astropy python3-sqlalchemy mercurial
mercurial-common python3-nova python3-cinder python3-neutron calibre python3-numba python3-mne
python3-biopython python3-dask python3-xarray python3-nltk python3-mypy python3-pygments python3-pip"
C_DEBS="glibc-source xorg-server-source"
# JS/TS (npm), versions pinned for reproducibility.
NPM_PKGS="phaser@4.2.1 ol@10.11.0 webpack@5.113.0 pixi.js@8.22.0 @babylonjs/core@9.35.0 echarts@6.1.0 puppeteer-core@24.43.1 typeorm@1.1.1 zod@4.6.7 mathjs@15.2.0 date-fns@4.4.0 lodash@4.18.1 node-forge@1.4.3 graphql@16.15.0 mocha@12.0.3 jquery@4.0.0 moment@2.31.0 luxon@3.7.2 konva@10.9.1 fp-ts@2.16.11 pdfjs-dist@5.6.205"

[ -f dl/.apt-updated ] || { apt-get update -qq; touch dl/.apt-updated; }
( cd dl && for p in $PY_DEBS $C_DEBS; do ls ${p}_*.deb >/dev/null 2>&1 || apt-get download -q "$p"; done )
for p in $PY_DEBS $C_DEBS; do
  [ -d "deb/$p" ] || { d=$(ls dl/${p}_*.deb | head -1); dpkg-deb -x "$d" "deb/$p.tmp" && mv "deb/$p.tmp" "deb/$p"; }
done
# the -source debs ship upstream tarballs: unpack them
for p in glibc xorg-server; do
  [ -d "tar/$p" ] && continue
  t=$(find "deb/$p-source/usr/src" -maxdepth 2 -name "*.tar.*" | head -1)
  mkdir -p "tar/$p.tmp" && tar xf "$t" -C "tar/$p.tmp" && mv "tar/$p.tmp" "tar/$p"
done

for spec in $NPM_PKGS; do
  name=${spec%@*}; safe=${name//\//+}; safe=${safe//@/}
  [ -d "npm/$safe/package" ] && continue
  mkdir -p "npm/$safe"
  tgz=$(cd dl && npm pack --silent "$spec" | tail -1)
  tar xzf "dl/$tgz" -C "npm/$safe"
done

[ -d tools/node_modules/typescript ] || ( cd tools && npm install --silent --no-audit --no-fund typescript@5.9.3 )
echo "sources ready in $WORK"
