#!/usr/bin/env bash
# kernels/train's checks, part of `npm test`: the training package's pytest suite (kernels/train/tests) and the smoke
# recipe (recipes/smoke.json: every stage of the shipped model's recipe at toy size on a CPU, through reproduce.py).
# Installs what they need from Debian (python3-torch, -onnx, -pytest, -scipy) when missing; uses /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
PKGS=(python3-torch python3-onnx python3-pytest python3-scipy python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get)"
  [ "$(id -u)" = 0 ] || { echo "test-train.sh: ${missing[*]} missing and not root to install them" >&2; exit 1; }
  apt-get update -qq
  for p in "${missing[@]}"; do   # a package without an install candidate fails here with its name
    apt-cache policy "$p" | grep -q 'Candidate: [0-9]' || { echo "test-train.sh: apt has no candidate for $p" >&2; exit 1; }
  done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

t0=$SECONDS
rc=0; (cd kernels/train && "$PY" -m pytest -q -p no:cacheprovider tests) || rc=$?
case $rc in
  0) echo "kernels/train pytest: passed in $((SECONDS - t0)) s" ;;
  5) echo "kernels/train pytest: no tests collected (exit code 5)" >&2; exit 1 ;;
  *) echo "kernels/train pytest: exit code $rc (1: tests failed, 2: interrupted, 3: internal error, 4: usage)" >&2; exit 1 ;;
esac

t1=$SECONDS
RUN=$(mktemp -d /tmp/lens-smoke.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
"$PY" kernels/train/reproduce.py --recipe kernels/train/recipes/smoke.json --out "$RUN"
for s in $("$PY" -c "import json; print(' '.join(s['stage'] for s in json.load(open('kernels/train/recipes/smoke.json'))['stages']))"); do
  [ -f "$RUN/$s/manifest.json" ] || { echo "smoke recipe: no manifest for stage $s" >&2; exit 1; }
done
echo "smoke recipe: every stage's manifest written in $((SECONDS - t1)) s"
