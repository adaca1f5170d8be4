#!/usr/bin/env bash
# The CPU figures of docs/results/speed.md: one `arlearn bench` run, everything side by side.
# Usage: benchmarks/cpu.sh [extra key=value options]   (writes benchmarks/cpu-2core-idle.json)
set -euo pipefail
cd "$(dirname "$0")/.."
uptime
arlearn bench threads=1 mlp_batch=8 rounds=3 -o benchmarks/cpu-2core-idle.json "$@"
uptime
