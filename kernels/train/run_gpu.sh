#!/usr/bin/env bash
# The GPU machine's one command: the environment, then reproduce.py under a deadline, then what comes back.
# Usage (repo root, on the device): bash kernels/train/run_gpu.sh RECIPE RUN_DIR [SECONDS] [reproduce.py flags...]
#   RECIPE   kernels/train/recipes/NAME.json
#   RUN_DIR  a git-ignored run folder in the tree (.runs/NAME), carried so a later call goes on from it
#   SECONDS  reproduce.py --deadline (default 540: the device's 10 minutes less start-up and packing)
# Exit code: reproduce.py's (0 done, 3 stopped at the deadline: call again with RUN_DIR carried back).
# Back in $OUT: RUN_DIR as run.tgz.part-* (stage outputs, manifests, logs; *.npy left out), and the log.
# Here, after the call: mkdir -p RUN_DIR && cat /work/.device/N/run.tgz.part-* | tar xzf - -C RUN_DIR
set -u
RECIPE=$1; RUN=$2; BUDGET=${3:-540}; shift 2; [ $# -gt 0 ] && shift
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" "$RUN"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
# NVLink multicast stays off on the shared hosts (device KINDS.md), for every process started below
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, onnx, tokenizers; print('torch', torch.__version__, 'onnx', onnx.__version__, 'tokenizers', tokenizers.__version__, 'gpus', torch.cuda.device_count())"
python3 kernels/train/reproduce.py --recipe "$RECIPE" --out "$RUN" --deadline "$BUDGET" "$@" 2>&1 | tee "$OUT/log.txt"
rc=${PIPESTATUS[0]}
# $OUT takes 8 files of 16 MiB: leave out what no later stage reads (EXCLUDE: more tar patterns)
tar czf - -C "$RUN" --exclude='*.npy' --exclude='ckpt_init.pt' --exclude='snapshots.pt' ${EXCLUDE:-} . \
  | split -b 15M - "$OUT/run.tgz.part-"
echo "reproduce.py exit code $rc; $(du -sh "$RUN" | cut -f1) in $RUN"
exit "$rc"
