#!/usr/bin/env bash
# A sharded build on a real engine: a Dask scheduler and two workers on this machine (loopback only) run
# `index --shard 0/2` and `--shard 1/2` of the fixture workspace (with embeddings and the workspace memory) as two
# tasks, scripts/dask-index.py merges them, and the merged index's digest (lexical, vectors, vector index,
# memory) must equal a single build's. Installs Debian's python3-distributed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
if ! $PY -c 'import distributed' 2>/dev/null; then
  echo "installing python3-distributed (apt)"
  (apt-get install -y -q python3-distributed >/dev/null 2>&1) || { apt-get update -q >/dev/null && apt-get install -y -q python3-distributed >/dev/null; }
fi
[ -f dist/cli.js ] || node scripts/build.mjs --quiet
FX=test/fixtures/workspace
T=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

dask scheduler --host 127.0.0.1 --port 0 --no-dashboard --scheduler-file "$T/scheduler.json" >"$T/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/scheduler.json" ] && break; sleep 0.2; done
[ -s "$T/scheduler.json" ] || { cat "$T/scheduler.log"; echo "dask scheduler did not start"; exit 1; }
for w in 1 2; do
  dask worker --scheduler-file "$T/scheduler.json" --host 127.0.0.1 --nthreads 1 --nworkers 1 --no-dashboard --name "w$w" >"$T/worker$w.log" 2>&1 &
  pids+=($!)
done
$PY - "$T/scheduler.json" <<'EOF'
import sys
from distributed import Client
c = Client(scheduler_file=sys.argv[1], timeout=60)
c.wait_for_workers(2, timeout=60)
c.close()
EOF

FLAGS=(--embed --memory on --workers 0)
node dist/cli.js index "$FX" "${FLAGS[@]}" --index-dir "$T/single" >"$T/single.log" 2>&1 &
single=$!
$PY scripts/dask-index.py "$FX" --shards 2 --out "$T/dask" --scheduler-file "$T/scheduler.json" -- "${FLAGS[@]}"
wait $single || { cat "$T/single.log"; exit 1; }
a=$(node dist/cli.js digest --workspace "$FX" --index-dir "$T/single")
b=$(node dist/cli.js digest --workspace "$FX" --index-dir "$T/dask/merged")
grep -q '"memory"' <<<"$a" && grep -q '"index":"loaded' <<<"$b" || { echo "digest without memory or vector index:"; echo "$a"; echo "$b"; exit 1; }
da=$(sed -E 's/^\{"digest":"([0-9a-f]+)".*/\1/' <<<"$a"); db=$(sed -E 's/^\{"digest":"([0-9a-f]+)".*/\1/' <<<"$b")
echo "single build: $a"
echo "dask merged:  $b"
if [ "$da" != "$db" ]; then echo "DIFFERENT: the merged sharded build does not equal the single build"; exit 1; fi
grep -c "shard-" "$T"/worker*.log >/dev/null || true
echo "EQUAL: 2 shards on 2 Dask workers, merged = single build ($da)"
