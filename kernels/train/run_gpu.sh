#!/usr/bin/env bash
# The one command on the GPU machine: tests (smoke), train, export, ORT check + fixtures, probes, dev run,
# ORT CPU benchmark; every step bounded by a wall-clock deadline so $OUT is always written.
# Usage (repo root): bash kernels/train/run_gpu.sh smoke|full|full2|run3|...|run17 [SECONDS]   (needs carry: .data .evalcarry)
# run16 / run17 train one recipe a GPU at once (configs/big16?.json, big17?.json) and keep the best on val
# run5 carries .r5data (pairs/pack.py) and .evalcarry, and .r5ckpt/ckpt16.pt to go on from an earlier run-5 call
set -u
shopt -s extglob
MODE=${1:-smoke}; BUDGET=${2:-170}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
# NVLink multicast stays off on the shared hosts (device KINDS.md); set here too, for any program started below
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
ROOT=$(pwd); R=/tmp/lens-run; OUT=${OUT:-/tmp/out}; mkdir -p "$R" "$OUT"
DEADLINE=$(( $(date +%s) + BUDGET ))
left() { echo $(( DEADLINE - $(date +%s) )); }
# python3 -c "$HALF" IN OUT: a checkpoint's weights in fp16 (lossless after train_chunks' rounding), for $OUT's parts
HALF="import sys, torch; c = torch.load(sys.argv[1]); c['model'] = {k: (v.half() if v.is_floating_point() else v) for k, v in c['model'].items()}; torch.save(c, sys.argv[2])"
step() {  # step NAME RESERVE_S cmd...: run with a timeout that leaves RESERVE_S for what follows
  local name=$1 reserve=$2; shift 2
  local t=$(( $(left) - reserve )); [ $t -lt 5 ] && { echo "SKIP $name (no time)"; return; }
  echo "=== $name (limit ${t}s) $(date +%T)"
  timeout $t "$@" || echo "FAILED $name rc=$?"
}
cd "$ROOT/kernels/train"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
NGPU=$(nvidia-smi -L | wc -l)
python3 -c "import torch, onnx, onnxruntime, tokenizers; print(torch.__version__, onnx.__version__, onnxruntime.__version__, tokenizers.__version__)"
TOKARG=(); [ -f "$ROOT/kernels/model/tokenizer.json" ] && TOKARG=(--tokenizer "$ROOT/kernels/model/tokenizer.json")
if [ "$MODE" = smoke ]; then
  step pytest 140 python3 -m pytest -q -x tests
  step train 100 python3 train.py --config configs/base.json --out $R --data "$ROOT/.data" --smoke "${TOKARG[@]}"
  QUICK=--quick; TOKS=4096,16384; DEVARG=()
elif [ "$MODE" = full2 ]; then   # second full run: tests and ORT benchmark already measured
  step train 120 python3 train.py --config configs/base.json --out $R --data "$ROOT/.data" "${TOKARG[@]}" \
    --deadline $(( DEADLINE - 122 ))
  QUICK=; TOKS=; DEVARG=(--dev "$ROOT/.evalcarry")
elif [ "$MODE" = run3 ]; then   # chunk-alone contrastive from the shipped weights (chunks.py, train_chunks.py)
  step train 110 python3 train_chunks.py --config configs/chunks.json --init "$ROOT/kernels/model" --out $R \
    --data "$ROOT/.r3data" --deadline $(( DEADLINE - 112 ))
  step export 95 python3 export.py --run $R --out $R/model
  step fixtures 60 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
  step evaluate 30 python3 evaluate.py --run $R --dev "$ROOT/.evalcarry" --chunk
  step dev-run2 12 python3 evaluate.py --run $R --ckpt ckpt_init.pt --dev "$ROOT/.evalcarry" --chunk --skip-probes
  QUICK=; TOKS=; DEVARG=()
elif [ "$MODE" = run4 ]; then   # run 3 + identifier/docstring pairs built here (pairs/build_pairs.py), from run 3
  step train 97 python3 train_chunks.py --config configs/chunks4.json --init "$ROOT/kernels/model" --out $R \
    --data "$ROOT/.r3data" --deadline $(( DEADLINE - 99 ))
  step export 85 python3 export.py --run $R --out $R/model
  step fixtures 50 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
  step evaluate 10 python3 evaluate.py --run $R --dev "$ROOT/.evalcarry" --chunk
  QUICK=; TOKS=; DEVARG=()
elif [[ "$MODE" = run@(5|6|7|8|9|10|11|13|14|15|16|17|18|19|20|21|22|23) ]]; then   # packed data; weights rounded to fp16, one weights.bin
  # run5: + comment pairs, batch 2048; run6: run 4's mix + identifier words before each chunk (chunks.ident_words)
  # run7: run 4-like mix whose original-pair part is built from BM25 neighbourhoods (pairs/hard_negatives.py)
  # run8: run 7 selected on the val hybrid (ValSet.hybrid_mrr: BM25 fused with dense as HYBRID_DEFAULTS)
  # run9: run 4-like mix + Go/Java doc pairs (pairs/build_xlang.py, xlang_pairs.jsonl.xz in the pack)
  # run10: from run 9 (kernels/model), Java constructors too (build_xlang.py --ctors), 512 Go/Java pairs a batch, lr 4e-4
  # run11: run 9's mix and lr from the shipped weights, with residual dropout 0.1 (Encoder.set_dropout)
  # run13, run14, run15: run 12's larger encoder (configs/big*.json) from its masked-token checkpoint .r12ckpt/ckpt.pt (run15: 12d)
  # run17: run 16a's recipe + TypeScript declaration pairs (pairs/build_dts.py) in three mixes, from call 12h
  # run16, run17: several recipes at once, one a GPU (configs/big16a.json, big16b.json; big17a..d.json), as many as
  #   there are GPUs; val picks one
  # run18: run 17c's recipe with four seeds, one a GPU, from call 12j; soup.py averages them (model soup) and val
  #   picks among the single runs, the uniform and the greedy soup
  # run19: run 18 with new seeds from call 12l; each seed also keeps its weights at every val pass of its second
  #   half (snapshots.pt), and the soup adds each seed's trajectory average (SWA) to its ingredients
  # run20: run 19's recipe on a 12-layer encoder grown from the 6 (model.grow_depth) and pretrained on
  #   (.r12ckpt/ckpt.pt packed as int8: quant8.py pack), one seed a GPU; the soup's matrices are rounded to int8
  #   (quant8.py round) before export, which stores them as int8; the memory probes are a later call
  # run21: run 20 from a checkpoint pretrained with recall facts (configs/big21.json), the facts kept up in the aux
  #   loss; export, fixtures and probes are a later call (mode export, not run yet), so the seeds get the time.
  #   SEEDS_PER_GPU seeds share each GPU: only for a model whose step fits twice (the 12-layer one peaks at 124 GiB
  #   of the H200's 140: its second seeds ran out of memory at step 0)
  # run22: run 20's recipe (configs/big22?.json, from call 20a), no soup: every seed's weights come back (fp16 parts),
  #   for a soup across calls; SEED_VARIANTS picks the letters this call trains (default: the first, one a GPU);
  #   the device returns about 48 MB a call, so two such checkpoints at most
  # run23: run 19's recipe (no snapshots) with four new seeds from call 12l, two a GPU on two GPUs; the soup's
  #   ingredients also take each folder under .r23x/ (run 19's soup, packed as int8 for the carry limit); the
  #   chosen weights come back as fp16 parts, nothing else: export and fixtures are mode export's, if it ships
  N=${MODE#run}; VARIANTS=()   # CONF: the config's path without .json (a variant adds its letter)
  if [[ "$MODE" = run@(13|14|15|16|17|18|19|20|21|22|23) ]]; then CONF=configs/big$N; CKPT="$ROOT/.r12ckpt/ckpt.pt"
  else CONF=configs/chunks$N; CKPT="$ROOT/.r5ckpt/ckpt16.pt"; fi
  SOUP_S=0; [ "$MODE" = run18 ] && SOUP_S=70; [ "$MODE" = run19 ] && SOUP_S=100   # time kept for soup.py's val passes
  POST=105; [ "$MODE" = run20 ] && SOUP_S=80 && POST=230   # run20: 12 layers export and write fixtures more slowly
  [ "$MODE" = run21 ] && SOUP_S=110 && POST=45              # run21: int8 round and pack only
  [ "$MODE" = run22 ] && POST=40                             # run22: each seed's weights out, nothing else
  [ "$MODE" = run23 ] && SOUP_S=90 && POST=40                # run23: the soup's weights out, nothing else
  PER_GPU=${SEEDS_PER_GPU:-1}; [ "$PER_GPU" -gt 1 ] && export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  if [[ "$MODE" = run@(16|17|18|19|20|21|22|23) ]]; then
    for c in $CONF?.json; do v=${c%.json}; VARIANTS+=("${v#$CONF}"); done
    [ -n "${SEED_VARIANTS:-}" ] && read -r -a VARIANTS <<< "$SEED_VARIANTS"
    VARIANTS=("${VARIANTS[@]:0:$(( NGPU * PER_GPU ))}")
    [ ${#VARIANTS[@]} -lt 2 ] || [ "$MODE" = run22 ] && SOUP_S=0   # one seed: nothing to average; run22: later
  fi
  RES=(); [ -f "$CKPT" ] && RES=(--resume "$CKPT")
  if [ ${#VARIANTS[@]} -gt 0 ]; then
    t=$(( $(left) - POST - SOUP_S )); echo "=== train ${VARIANTS[*]} (limit ${t}s) $(date +%T)"
    for i in "${!VARIANTS[@]}"; do v=${VARIANTS[$i]}
      ( CUDA_VISIBLE_DEVICES=$(( i % NGPU )) timeout $t python3 train_chunks.py --config $CONF$v.json --init "$ROOT/kernels/model" \
          --out $R.$v --data "$ROOT/.r5data" --deadline $(( DEADLINE - POST - 2 - SOUP_S )) "${RES[@]}" > $R.$v.log 2>&1 \
        || echo "FAILED train $v rc=$?" ) &
    done
    wait
    for v in "${VARIANTS[@]}"; do echo "--- variant $v"; grep -v "^  " $R.$v.log | tail -40; done
    BEST=$(python3 -c "
import json, os, sys
val = lambda v: json.load(open(f'$R.{v}/train_log.json'))['summary']['val_mrr10_best'] if os.path.exists(f'$R.{v}/train_log.json') else -1
print(max(sys.argv[1:], key=val))" "${VARIANTS[@]}")
    echo "selected on val: variant $BEST"
    # every variant's log under its letter, the selected one's included (copied before its folder becomes $R)
    for v in "${VARIANTS[@]}"; do [ -f $R.$v/train_log.json ] && cp $R.$v/train_log.json $R.$BEST/train_log.$v.json; done
    if [ "$MODE" = run22 ]; then   # every seed's weights (fp16: lossless, train_chunks rounded them), 15 MB parts
      for v in "${VARIANTS[@]}"; do
        [ -f $R.$v/ckpt.pt ] || continue
        python3 -c "$HALF" $R.$v/ckpt.pt $R.$v/ckpt16.pt && split -b 15M $R.$v/ckpt16.pt "$OUT/ckpt16_$v.pt.part-" && rm -f $R.$v/ckpt16.pt $R.$v/ckpt.pt
      done
    fi
    rm -rf $R
    if [ "$SOUP_S" -gt 0 ]; then   # the soup's folder takes $R (its ckpt.pt: the best on val of singles and soups)
      EXTRA=(); for d in "$ROOT"/.r23x/*/; do [ "$MODE" = run23 ] && [ -f "$d/ckpt.pt" ] && EXTRA+=("${d%/}"); done
      step soup $POST python3 soup.py --runs "${VARIANTS[@]/#/$R.}" "${EXTRA[@]}" --data "$ROOT/.r5data" --config $CONF${VARIANTS[0]}.json --out $R
      [ -f $R/ckpt.pt ] || { echo "soup wrote nothing: keeping variant $BEST"; rm -rf $R; mv $R.$BEST $R; }
    else mv $R.$BEST $R; fi
  else
    step train 105 python3 train_chunks.py --config $CONF.json --init "$ROOT/kernels/model" --out $R \
      --data "$ROOT/.r5data" --deadline $(( DEADLINE - 107 )) "${RES[@]}"
  fi
  if [ "$MODE" = run22 ]; then
    QUICK=; TOKS=; DEVARG=()
  elif [ "$MODE" = run23 ]; then
    step ckpt16 5 python3 -c "$HALF" $R/ckpt.pt $R/ckpt16.pt
    [ -f $R/ckpt16.pt ] && split -b 15M $R/ckpt16.pt "$OUT/ckpt16.pt.part-" && rm -f $R/ckpt16.pt
    QUICK=; TOKS=; DEVARG=()
  elif [[ "$MODE" = run@(20|21) ]]; then   # int8 matrices; the checkpoint comes back packed (load: quant8.load_state)
    X=0; [ "$MODE" = run20 ] && X=200                        # run20 exports here
    step int8 $(( 20 + X )) python3 quant8.py round --run $R
    step ckpt8 $(( 15 + X )) python3 quant8.py pack --ckpt $R/ckpt.pt --out $R/ckpt8.pt
    [ -f $R/ckpt8.pt ] && split -b 15M $R/ckpt8.pt "$OUT/ckpt8.pt.part-" && rm -f $R/ckpt8.pt
    # the val stream the memory probes read (evaluate.py --run DIR needs DIR/val_stream.npy): int16 ids, 4 MB
    VS=$R.${VARIANTS[0]}/val_stream.npy; [ -f $VS ] || VS=$R/val_stream.npy
    python3 -c "import numpy as np; np.save('$OUT/val_stream16.npy', np.load('$VS').astype(np.int16))" || true
    if [ "$MODE" = run20 ]; then
      step export 150 python3 export.py --run $R --out $R/model
      step fixtures 5 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
    fi
    QUICK=; TOKS=; DEVARG=()
  else
  # the selected weights in fp16, split to fit $OUT's 16 MiB a file (reassemble: cat ckpt16.pt.part-* > ckpt16.pt)
  step ckpt16 95 python3 -c "$HALF" $R/ckpt.pt $R/ckpt16.pt
  [ -f $R/ckpt16.pt ] && split -b 15M $R/ckpt16.pt "$OUT/ckpt16.pt.part-" && rm -f $R/ckpt16.pt
  step export 80 python3 export.py --run $R --out $R/model
  step fixtures 45 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
  step evaluate 8 python3 evaluate.py --run $R --dev "$ROOT/.evalcarry" --chunk
  QUICK=; TOKS=; DEVARG=()
  fi
elif [ "$MODE" = export ]; then   # a packed int8 run (EXPORT_RUN: ckpt.pt, tokenizer.json, val_stream16.npy):
  # export, fixtures and the memory probes (masked tokens by segment, passkey), e.g. after run21
  cp -r "${EXPORT_RUN:-$ROOT/.r21}" $R
  [ -f $R/val_stream16.npy ] && python3 -c "import numpy as np; np.save('$R/val_stream.npy', np.load('$R/val_stream16.npy').astype(np.int64))"
  step export 110 python3 export.py --run $R --out $R/model
  step fixtures 50 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
  step probes 8 python3 evaluate.py --run $R
  rm -f $R/val_stream16.npy $R/ckpt.pt                        # the packed checkpoint is the caller's already
  QUICK=; TOKS=; DEVARG=()
elif [[ "$MODE" = run@(24|25|26) ]]; then   # the memory, A/B: configs/big24a.json (linear rule) and big24b.json (delta rule), one
  # a GPU, each from .r12ckpt/ckpt.pt (6 layers) with every gate reopened (reset_beta) and recall facts in every
  # sequence; then each one's probes (evaluate.py: masked tokens by segment, passkey with code and repeated filler)
  # and its fp16 checkpoint back (ckpt_mlm_<letter>.pt parts; two fit the return limit)
  # run25: configs/big25?.json from run 24a's checkpoint (in .r12ckpt), each value drawn apart from its name
  #   (recall_shuffle: in runs 21a and 24 a name kept its bank value, which the weights can learn)
  # run26: configs/big26?.json (SEED_VARIANTS=a on one GPU): the memory's own q/k/v projections (mem_proj), grafted
  #   onto the checkpoint in .r12ckpt (the shipped run 18 weights, chunks.load_from_onnx)
  N=${MODE#run}; PR=120; V=(a b); [ -n "${SEED_VARIANTS:-}" ] && read -r -a V <<< "$SEED_VARIANTS"
  mkdir -p $R
  for i in "${!V[@]}"; do v=${V[$i]}
    ( export CUDA_VISIBLE_DEVICES=$(( i % NGPU ))
      timeout $(( $(left) - 10 )) python3 pretrain_mlm.py --config configs/big$N$v.json --tokenizer "$ROOT/kernels/model/tokenizer.json" \
        --data "${MLM_DATA:-$ROOT/.data}" --out $R/$v --deadline $(( DEADLINE - PR )) --attn-probe flex \
        --resume "$ROOT/.r12ckpt/ckpt.pt" > $R/$v.log 2>&1 || echo "FAILED mlm $v rc=$?"
      timeout $(( $(left) - 12 )) python3 evaluate.py --run $R/$v --ckpt ckpt_mlm.pt >> $R/$v.log 2>&1 || echo "FAILED probes $v rc=$?"
      if [ "$MODE" = run25 ] && [ $i = 0 ]; then   # the starting checkpoint's probes too (memory_probe.init.json)
        cp "$ROOT/.r12ckpt/ckpt.pt" $R/$v/init.pt
        timeout $(( $(left) - 12 )) python3 evaluate.py --run $R/$v --ckpt init.pt >> $R/$v.log 2>&1 || echo "FAILED probes init rc=$?"
        rm -f $R/$v/init.pt
      fi
      [ -f $R/$v/ckpt_mlm.pt ] && split -b 15M $R/$v/ckpt_mlm.pt "$OUT/ckpt_mlm_$v.pt.part-" ) &
  done
  wait
  for v in "${V[@]}"; do echo "--- $v"; grep -v "^  \|^ \[\|^  *[0-9.,-]*$\|^ *\]" $R/$v.log | tail -60; done
  QUICK=; TOKS=; DEVARG=()
elif [ "$MODE" = run12 ]; then   # a larger encoder from scratch: masked tokens only over the whole shard (.data)
  # MLM_DATA: another shard (data/build_mlm_shard.py: .mlmdata); several GPUs: one process each (torchrun)
  RES=(); [ -f "$ROOT/.r12ckpt/ckpt.pt" ] && RES=(--resume "$ROOT/.r12ckpt/ckpt.pt")
  # the fused-kernel path joins the timing probe only once it is shown equal to the naive one here (float64)
  PROBE=flex; timeout 60 python3 -m pytest -q -x tests -k masked_equals_naive && PROBE=flex,masked
  LAUNCH=(python3); [ "$NGPU" -ge 2 ] && LAUNCH=(python3 -m torch.distributed.run --standalone --nproc_per_node "$NGPU")
  # MLM_CONF: another model config (configs/big20.json: 12 layers, grown from the checkpoint's 6 at the first call)
  # MLM_PROBE=1: the memory probes (evaluate.py: masked tokens by segment, passkey) on the new checkpoint, 70 s kept
  PR=0; [ -n "${MLM_PROBE:-}" ] && PR=70
  step mlm $(( 20 + PR )) "${LAUNCH[@]}" pretrain_mlm.py --config ${MLM_CONF:-configs/big12.json} --tokenizer "$ROOT/kernels/model/tokenizer.json" \
    --data "${MLM_DATA:-$ROOT/.data}" --out $R --deadline $(( DEADLINE - 22 - PR )) --attn-probe $PROBE "${RES[@]}"
  [ "$PR" -gt 0 ] && step probe-mlm 20 python3 evaluate.py --run $R --ckpt ckpt_mlm.pt
  split -b 15M $R/ckpt_mlm.pt "$OUT/ckpt_mlm.pt.part-"
  QUICK=; TOKS=; DEVARG=()
else
  step pytest-flex 500 python3 -m pytest -q -x tests -k "flex or encoder_paths"
  step train 150 python3 train.py --config configs/base.json --out $R --data "$ROOT/.data" "${TOKARG[@]}" \
    --deadline $(( DEADLINE - 175 ))
  QUICK=; TOKS=4096,16384,65536; DEVARG=(--dev "$ROOT/.evalcarry")
fi
if [[ "$MODE" != @(export|run@(3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|18|19|20|21|22|23|24|25|26)) ]]; then   # the modes above did their own steps
  step export 95 python3 export.py --run $R --out $R/model
  step fixtures 60 python3 fixtures.py --graphs --run $R --model $R/model --out $R/fixtures
  step probe-mlm 45 python3 evaluate.py --run $R --ckpt ckpt_mlm.pt $QUICK
  step evaluate 12 python3 evaluate.py --run $R "${DEVARG[@]}" $QUICK
fi
[ -n "$TOKS" ] && step bench 12 python3 bench_ort.py --model $R/model --out $R/bench.json --tokens $TOKS
cd $R && python3 - <<'PY' || true
import json, os
m = {}
for k, p in [("train", "train_log.json"), ("probe", "memory_probe.json"), ("probe_mlm", "memory_probe.ckpt_mlm.json"), ("dev_init", "memory_probe.ckpt_init.json"), ("equivalence", "equivalence.json"),
             ("bench", "bench.json"), ("export", "model/export_report.json")]:
    if os.path.exists(p):
        d = json.load(open(p))
        m[k] = d.get("summary", d) if k == "train" else d
json.dump(m, open(os.path.join(os.environ.get("OUT", "/tmp/out"), "metrics.json"), "w"), indent=1)
PY
[ -f "$OUT/ckpt16.pt.part-aa" ] || [ -f "$OUT/ckpt8.pt.part-aa" ] && rm -f $R/ckpt.pt   # ckpt16.pt's parts hold the same (fp16-rounded) weights
tar czf /tmp/art.tgz --exclude=snapshots.pt --exclude=val_stream.npy --exclude=ckpt_init.pt --exclude=ckpt_mlm.pt -C $R . && split -b 15M /tmp/art.tgz "$OUT/art.tgz.part-"
ls -la "$OUT"; echo "done, $(left)s left"
