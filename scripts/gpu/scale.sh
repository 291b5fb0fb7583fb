#!/usr/bin/env bash
# bench:scale on the GPU machine's CPU (issue #27's 10M record, docs/scale.md). That machine has no Node, so:
#   bash scripts/gpu/scale.sh pack     here: .gpu-bench/ (ignored) with this Node, usearch's linux-x64 prebuild and
#                                      an int8 copy of the real data; dist/bench-scale.mjs, the bench as one file
#   bash scripts/gpu/scale.sh run ARGS there (carry .gpu-bench and dist/bench-scale.mjs): Node and usearch unpacked,
#                                      then `node dist/bench-scale.mjs --real … ARGS --json`, results under $OUT
# e.g. run --chunks 10M --workers 15 --queries 800 --no-truth   (the exact truth at 10M takes longer than a command)
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  pack)
    mkdir -p .gpu-bench
    xz -T0 -c "$(command -v node)" > .gpu-bench/node.xz
    tar cJf .gpu-bench/nm.tar.xz --exclude='node_modules/usearch/prebuilds/[!l]*' --exclude='node_modules/usearch/prebuilds/linux-arm64' \
      node_modules/usearch/package.json node_modules/usearch/prebuilds node_modules/usearch/javascript node_modules/node-gyp-build
    # the int8 copy of the cached real data (the cache is written by the first local bench:scale run) and the bench
    # as one file, which also starts its worker threads
    npm run -s bench:scale -- --write-i8 .gpu-bench/dev-vectors.i8.bin
    xz -f .gpu-bench/dev-vectors.i8.bin
    npm run -s bench:scale -- --bundle
    ls -la .gpu-bench dist/bench-scale.mjs ;;
  run)
    shift
    OUT=${OUT:-/tmp/scale-out}; mkdir -p "$OUT" /tmp/n
    xz -dc .gpu-bench/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
    tar xJf .gpu-bench/nm.tar.xz -C . && xz -dkf .gpu-bench/dev-vectors.i8.bin.xz
    (nproc; free -g | head -2; lscpu | grep -E "Model name|^CPU\(s\)") > "$OUT/machine.txt" 2>&1
    node dist/bench-scale.mjs --real .gpu-bench/dev-vectors.i8.bin "$@" --json > "$OUT/scale.json" 2> "$OUT/scale.log" || true
    tail -n 5 "$OUT/scale.log"; cat "$OUT/scale.json" ;;
  *) echo "usage: bash scripts/gpu/scale.sh pack | run <bench:scale arguments>" >&2; exit 2 ;;
esac
