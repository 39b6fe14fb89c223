#!/usr/bin/env bash
# Create .venv in the repo and install ACE-Step Studio's pinned dependencies.
#   ./install.sh          the studio
#   ./install.sh --dev    the studio and the test tools
# Idempotent: a second run with unchanged requirement files returns in about a second.
# PyTorch: with an NVIDIA driver, the CUDA build that driver supports; otherwise the
# default build for this platform (macOS: the Apple Silicon / Intel wheels).
set -euo pipefail
cd "$(dirname "$0")"

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
PYTHON="${PYTHON:-python3}"
VENV=.venv
TORCH_VERSION=2.11.0
TORCHAUDIO_VERSION=2.11.0

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

files=(requirements.txt)
[ "$DEV" = 1 ] && files+=(requirements-dev.txt)
stamp="$VENV/.installed-$(cat "${files[@]}" install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  echo "ACE-Step Studio: environment up to date ($VENV)"
  exit 0
fi

# Pick the PyTorch wheel index from the NVIDIA driver, if there is one.
# torch 2.11's default Linux wheels are CUDA 13.0 builds (driver >= 580); older drivers
# get the CUDA 12.8 (>= 570) or 12.6 (>= 560) builds from PyTorch's own index.
index_args=()
if [ "$(uname -s)" = "Linux" ] && command -v nvidia-smi >/dev/null 2>&1; then
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 | cut -d. -f1 || true)
  if [ -n "$driver" ]; then
    if [ "$driver" -ge 580 ]; then cuda=""
    elif [ "$driver" -ge 570 ]; then cuda=cu128
    elif [ "$driver" -ge 560 ]; then cuda=cu126
    else
      echo "NVIDIA driver $driver is too old for PyTorch $TORCH_VERSION (needs >= 560); update the driver." >&2
      exit 1
    fi
    if [ -n "$cuda" ]; then
      index_args=(--index-url "https://download.pytorch.org/whl/$cuda" --extra-index-url https://pypi.org/simple)
    fi
    echo "NVIDIA driver $driver: PyTorch ${cuda:-default CUDA} build"
  fi
fi

"$PY" -m pip install --disable-pip-version-check -q --upgrade pip
"$PY" -m pip install --disable-pip-version-check -q "${index_args[@]}" \
  "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
for f in "${files[@]}"; do
  "$PY" -m pip install --disable-pip-version-check -q -r "$f"
done
"$PY" -m pip check
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "ACE-Step Studio: installed into $VENV"
