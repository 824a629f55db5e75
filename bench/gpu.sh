#!/usr/bin/env bash
# GPU throughput benchmark of the engine (see bench/gpu_bench.py and bench/README.md "GPU throughput").
# Needs only Python with torch, transformers, peft (and tokenizers): no Node, no network.
#   bench/gpu.sh [--smoke] [--big] [--out results.json]
# The Python is $ISHEEP_PYTHON, else the engine's venv under ~/.cache/isheep when there is one, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${ISHEEP_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in "$HOME"/.cache/isheep/venv-*/bin/python; do
    [ -x "$cand" ] && py="$cand" && break
  done
fi
py="${py:-python3}"
export PYTHONPATH="$here/../engine${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$py" "$here/gpu_bench.py" "$@"
