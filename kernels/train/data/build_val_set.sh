#!/usr/bin/env bash
# Builds the VALIDATION code-search set (same format as the shared dev set) from the encoder's validation
# packages, which are never trained on (build_shard.py VAL): python3-nltk (Python), luxon src/ (JS),
# zod src/ (TS), xorg-server hw/ (C). Spec: val_set.json beside this script. Used to tune search (e.g. the
# hybrid fusion weights) so that the dev set and the held-out acceptance set stay untouched.
# Usage: build_val_set.sh [OUT_DIR] [LENS_DATA]   (defaults /tmp/evalval and /tmp/lens-data)
# Needs: the sources unpacked by build_corpus.sh (LENS_DATA/{deb,npm,tar}, LENS_DATA/tools/node_modules/typescript)
#        and the shared eval kit (LENS_SHARED_EVAL, default /work/shared/eval), run in place.
# Result: OUT_DIR/{corpus/,queries.jsonl,targets_meta.jsonl,stats.json,stats.md}.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(realpath -m "${1:-/tmp/evalval}")
DATA=$(realpath -m "${2:-/tmp/lens-data}")
KIT=${LENS_SHARED_EVAL:-/work/shared/eval}
TS="$DATA/tools/node_modules/typescript"
[ -d "$TS" ] || { echo "no TypeScript module at $TS (run build_corpus.sh first)" >&2; exit 1; }
cd "$KIT"
python3 build_eval.py --spec "$HERE/val_set.json" --src-base "$DATA" --out "$OUT" --ts-module "$TS"
echo "val set: $(wc -l < "$OUT/queries.jsonl") queries, $(find "$OUT/corpus" -type f | wc -l) files in $OUT"
