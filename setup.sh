#!/usr/bin/env bash
# Create .venv with the CPU build of PyTorch 2.13.0 and arlearn (editable) plus test tools.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
python -c "import torch; assert torch.__version__.startswith('2.13.0')" 2>/dev/null \
  || pip install -q torch==2.13.0
python -c "import arlearn, pytest, hypothesis, tokenizers, yaml, tensorboard, build, datasets" 2>/dev/null \
  || pip install -q -e ".[dev]"
