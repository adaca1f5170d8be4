#!/usr/bin/env bash
# Prepared GPU run (one short script): the bench at the paper's shapes and realistic batches,
# plus a 2-step DDP smoke test on every visible GPU. Writes benchmarks/gpu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total --format=csv
arlearn bench device=cuda reps=10 layer_batches=256,1024 linear_batch=64 mlp_batch=64 \
    -o benchmarks/gpu.json --no-progress "$@"
n=$(nvidia-smi -L | wc -l)
torchrun --nproc_per_node="$n" -m arlearn.train --preset quick --steps 20 --no-progress \
    --set train.batch_size=$((256 * n)) -o "$(mktemp -d)/ddp-smoke"
