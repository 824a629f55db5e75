#!/usr/bin/env bash
# Creates, once, the virtual environment of a benchmark's Python reference and prints the path of its python on
# stdout; everything else goes to stderr.
#
#   bash bench/setup-python.sh                                      # rouge-score (bench/requirements.txt)
#   bash bench/setup-python.sh requirements-llama.txt llama_cpp     # llama.cpp, built from PyPI's source package
#
# The first argument is a requirements file in bench/ (pinned), the second a module the venv must import.
# The venv lives outside the clone, at ${ISHEEP_CACHE:-~/.cache/isheep}/bench-venv-<key>, where <key> is the first
# 16 hex digits of the sha256 of the requirements file and the base Python's version (a venv is tied to the
# interpreter it was made from). It is reused when complete; it is built in a temporary folder and renamed, so an
# interrupted install never looks complete. ISHEEP_BENCH_BASE_PYTHON picks the base interpreter (default
# python3.11, else python3). Needs PyPI the first time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/${1:-requirements.txt}"
check="${2:-rouge_score.rouge_scorer}"
base="${ISHEEP_BENCH_BASE_PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
if [ -z "$base" ]; then
  echo "[bench] python3 is not installed: the benchmark's reference needs Python 3.9 or later" >&2
  exit 1
fi
cache="${ISHEEP_CACHE:-$HOME/.cache/isheep}"
key="$({ "$base" --version 2>&1; cat "$requirements"; } | "$base" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')"
venv="$cache/bench-venv-$key"
if [ ! -f "$venv/.isheep-complete" ]; then
  tmp="$venv.tmp-$$"
  trap 'rm -rf "$tmp"' EXIT
  rm -rf "$tmp"
  mkdir -p "$cache"
  echo "[bench] creating $venv ($(basename "$requirements"), pinned, from PyPI; packages without a wheel are built from source)" >&2
  "$base" -m venv "$tmp"
  "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2
  "$tmp/bin/python" -c "import $check" >&2
  echo "$key" >"$tmp/.isheep-complete"
  # Another process may have finished the same venv meanwhile: keep the one that is there.
  if [ ! -f "$venv/.isheep-complete" ]; then
    rm -rf "$venv"
    mv "$tmp" "$venv"
  fi
fi
echo "$venv/bin/python"
