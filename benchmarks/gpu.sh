#!/usr/bin/env bash
# Prepared GPU run (one short script): the bench at the paper's shapes and realistic batches
# (its report includes the MFU of the TinyStories step in bf16 and the projected hours for one
# epoch of the full TinyStories set), bf16-vs-fp32 loss parity on the GPU (tolerance 5%, as on
# the CPU), plus a 20-step DDP smoke test on every visible GPU.
# Runs from the source tree with whatever python3 holds a CUDA PyTorch (no install needed);
# writes gpu.json and gpu.log to $OUT if set (the device tool's folder), else to benchmarks/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
out="${OUT:-benchmarks}"
py="${PYTHON:-python3}"
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'
date -u
"$py" -m arlearn bench device=cuda reps=10 layer_batches=256,1024 linear_batch=64 mlp_batch=64 \
    -o "$out/gpu.json" --no-progress "$@"
date -u
"$py" benchmarks/bf16_parity.py --steps 100 --set train.device=cuda
date -u
n=$(nvidia-smi -L | wc -l)
"$py" -m torch.distributed.run --nproc_per_node="$n" -m arlearn.cli.train --preset quick --steps 20 --no-progress \
    --set train.batch_size=$((256 * n)) -o "$(mktemp -d)/ddp-smoke"
date -u
} 2>&1 | tee "$out/gpu.log"
