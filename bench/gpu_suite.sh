#!/usr/bin/env bash
# One-shot GPU suite (see bench/gpu_suite.py): about 8 minutes on one H100/H200 (XL and int8 rows included); writes
# bench/results/gpu_suite_full.json. Run from anywhere; uses the project's .venv when present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m bench gpu-suite "$@"
