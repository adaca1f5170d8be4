#!/usr/bin/env bash
# The README's main job: set up if needed, then a small real end-to-end run on the CPU.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
exec .venv/bin/arlearn demo "$@"
