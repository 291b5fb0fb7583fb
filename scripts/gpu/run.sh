#!/usr/bin/env bash
# Issue #6 on the GPU machine, ONE command (docs/gpu.md): the PyTorch peer, the extension's runtime on WebGPU and
# on the CPU, an onnxruntime profile, and indexing a large real codebase with the extension's own CLI; each step
# under a deadline, results under $OUT (8 files at most), a summary table last.
#   bash scripts/gpu/run.sh           on the GPU machine (needs .gpu/ from /work/shared/gpu/pack-node-ort.sh and
#                                     dist/ from `npm run build && node scripts/gpu/build.mjs`)
#   bash scripts/gpu/run.sh --dry     here, no GPU: tiny sizes, CPU fallbacks, a small folder; checks the plumbing
# Env: GPU_BUDGET (s, default 540), STEPS (default "torch webgpu cpu profile count index"), PY (python with torch).
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0; [ "${1:-}" = --dry ] && DRY=1
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
BUDGET=${GPU_BUDGET:-540}; T0=$(date +%s)
STEPS=${STEPS:-torch webgpu cpu profile count index}
exec > >(tee -a "$OUT/run.log") 2>&1

left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
want() { [[ " $STEPS " == *" $1 "* ]]; }
# step NAME LIMIT_S CMD...: runs CMD under `timeout`, never past the overall budget (minus a reserve for the summary)
step() {
  local name=$1 limit=$2; shift 2
  local l=$(( $(left) - 15 ))
  if (( l < 10 )); then echo "== $name: skipped, $(left) s of the budget left"; return 124; fi
  (( limit > l )) && limit=$l
  echo "== $name (limit ${limit} s, $(left) s of the budget left)"
  local s=$(date +%s)
  timeout -k 5 "$limit" "$@"; local rc=$?
  echo "== $name: exit $rc after $(( $(date +%s) - s )) s"
  return $rc
}

# ---- environment: Node + onnxruntime-node + the Vulkan loader from .gpu (the GPU machine has none of them)
if (( DRY == 0 )); then
  [ -f .gpu/unpack.sh ] || { echo "no .gpu/unpack.sh: pack it with bash /work/shared/gpu/pack-node-ort.sh .gpu and carry it"; exit 2; }
  bash .gpu/unpack.sh >/dev/null || { echo "unpack failed"; exit 2; }
  # the NVIDIA Vulkan ICD (libGLX_nvidia) needs the GL vendor-neutral dispatch libraries: carried as .gl/*.deb
  if ls .gl/*.deb >/dev/null 2>&1; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  export PATH=/tmp/gpu-node:$PATH NODE_PATH=/tmp/gpu-node/node_modules
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  PY=${PY:-python3}
else
  export NODE_PATH=$PWD/node_modules
  PY=${PY:-/usr/bin/python3}
fi
for f in dist/gpuBench.js dist/cli.js dist/worker.js dist/node-sqlite3-wasm.wasm; do
  [ -f "$f" ] || { echo "missing $f: run npm run build && node scripts/gpu/build.mjs first, and carry dist"; exit 2; }
done
echo "node $(node --version); cores $(nproc); $(date -u +%FT%TZ); dry=$DRY; steps: $STEPS"
nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv 2>/dev/null \
  || echo "nvidia-smi: no GPU here"

# ---- GPU memory, sampled in the background (epoch ms, MiB used, % util) for the whole run
SMI_PID=
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  ( while :; do echo "$(date +%s%3N), $(nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits | head -1)"; sleep 0.2; done ) > "$OUT/nvidia_smi.csv" &
  SMI_PID=$!
fi
trap '[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null' EXIT

if (( DRY )); then SZ="1k,2k,4k"; Q="--quick"; else SZ="4k,64k,1M"; Q=""; fi

# ---- 1. PyTorch peer (also measures the card's bf16 matmul peak and copy bandwidth)
if want torch; then
  if (( DRY )); then step torch 240 env PYTHONUNBUFFERED=1 PYTHONPATH=kernels/train "$PY" -m lens_train.bench_torch --smoke --model kernels/model --out "$OUT/torch.json"
  else step torch 110 env PYTHONUNBUFFERED=1 PYTHONPATH=kernels/train "$PY" -m lens_train.bench_torch --model kernels/model --out "$OUT/torch.json" --budget 90; fi
fi
# ---- 2./3. the extension's runtime: WebGPU, then the CPU with every core
want webgpu && step webgpu 150 node dist/gpuBench.js encoder --provider webgpu --sizes "$SZ" $Q --budget $(( DRY ? 20 : 135 )) --out "$OUT/bench_webgpu.json"
want cpu && step cpu 75 node dist/gpuBench.js encoder --provider cpu --sizes "$SZ" $Q --budget $(( DRY ? 60 : 65 )) --out "$OUT/bench_cpu.json"
# ---- 4. onnxruntime profile of the encoder on WebGPU (which provider ran each node, the costliest kernels)
if want profile; then
  step profile 40 node dist/gpuBench.js profile --provider webgpu --out "$OUT/profile_webgpu.json" \
    || { (( DRY )) && step profile-cpu 60 node dist/gpuBench.js profile --provider cpu --segments 1 --out "$OUT/profile_webgpu.json"; }
fi
# ---- 5. a large real codebase already on the machine: count what the indexer accepts, then index it on the GPU
IDX=/tmp/gpu-index; CORPUS=/tmp/gpu-corpus
if want count; then
  if (( DRY )); then
    step count 30 node dist/gpuBench.js count --out "$OUT/corpus.json" --link-dir "$CORPUS" --min-files 20 --min-lines 3000 --budget 20 extension/src/search extension/src/index
  else
    # each package folder of the Python site-packages is a root, in name order, until the bar is met: a corpus just
    # over 20,000 files / 5M lines (the whole site-packages, ~47k files / 14M lines, does not embed in one command)
    ROOTS=$("$PY" -c 'import site, sysconfig, os
dirs = site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
seen = set()
for d in dirs:
    if os.path.isdir(d) and os.path.realpath(d) not in seen:
        seen.add(os.path.realpath(d))
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            if os.path.isdir(p) and not n.endswith((".dist-info", ".egg-info", ".libs", "__pycache__")):
                print(p)' 2>/dev/null)
    step count 45 node dist/gpuBench.js count --out "$OUT/corpus.json" --link-dir "$CORPUS" --budget 40 \
      $ROOTS /usr/lib/python3/dist-packages /usr/local/cuda/include /usr/include
  fi
fi
if want index && [ -d "$CORPUS" ]; then
  rm -rf "$IDX"
  PROV=webgpu; (( DRY )) && PROV=auto  # here: WebGPU has no adapter, auto falls back to the CPU
  lim=$(( $(left) - 60 )); (( DRY )) && lim=90
  s=$(date +%s%3N)
  step index "$lim" node dist/cli.js index "$CORPUS" --follow-symlinks --embed --provider "$PROV" --index-dir "$IDX" --verbose 2> /tmp/gpu-index.err
  rc=$?; wall=$(( $(date +%s%3N) - s ))
  echo "index stderr (last lines):"; grep -v '^skip ' /tmp/gpu-index.err | tail -n 8
  step index-stats 40 node dist/gpuBench.js index-stats --root "$CORPUS" --index-dir "$IDX" --budget 30 \
    --wall "$wall" --exit "$rc" --provider "$PROV" --log /tmp/gpu-index.err --out "$OUT/index_stats.json"
fi
[ -n "$SMI_PID" ] && kill "$SMI_PID" 2>/dev/null; SMI_PID=
node dist/gpuBench.js summary "$OUT"
echo "files under $OUT:"; ls -la "$OUT"
