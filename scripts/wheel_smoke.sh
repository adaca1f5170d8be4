#!/usr/bin/env bash
# Build arlearn's wheel and use it outside the source tree: a fresh venv, the wheel installed
# (CPU torch 2.13.0 first), then `arlearn list`, a 50-step demo, a circuit compile + verify and
# `arlearn reproduce --tier smoke` run from an empty directory, so missing package data (presets,
# machine specs, claims) shows up here, and so does a change that breaks a smoke claim.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m build --wheel --no-isolation --outdir "$work/dist" . >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/arlearn-*.whl)
echo "wheel-smoke: built $(basename "$wheel")"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0 2>/dev/null
"$work/venv/bin/pip" install -q "$wheel" 2>/dev/null
mkdir "$work/elsewhere" && cd "$work/elsewhere"   # no source tree in sight
"$work/venv/bin/arlearn" --version
"$work/venv/bin/arlearn" list >/dev/null
"$work/venv/bin/arlearn" run-tm bb-2 >/dev/null                       # shipped machine specs
"$work/venv/bin/arlearn" demo --no-progress --set train.steps=50 --set train.train_examples=5000 \
  --set eval.examples=100 -o demo >/dev/null                           # shipped presets
bench="$repo/../shared/data/circuits/c17.bench"
if [ -f "$bench" ]; then
  "$work/venv/bin/arlearn" compile circuit "$bench" -o c17 >/dev/null
  "$work/venv/bin/arlearn" verify c17 --no-progress >/dev/null
else
  "$work/venv/bin/arlearn" compile circuit adder4 -o c17 >/dev/null
  "$work/venv/bin/arlearn" verify c17 --no-progress >/dev/null
  echo "wheel-smoke: ../shared/data absent: compiled the adder4 generator instead of c17.bench"
fi
# the example plug-in installed beside the wheel is found by its entry points and trains
cp -r "$repo/tests/plugin_example" "$work/plugin_example"
"$work/venv/bin/pip" install -q --no-deps "$work/plugin_example" 2>/dev/null
listing=$("$work/venv/bin/arlearn" list)  # read whole: `| grep -q` would close the pipe early (pipefail)
grep -q "majority (v1).*plug-in arlearn_majority" <<<"$listing" \
  || { echo "wheel-smoke: the installed example plug-in is not listed"; exit 1; }
"$work/venv/bin/arlearn" train --task majority --model bag --steps 20 --set train.warmup=2 \
  --set train.train_examples=256 --set eval.examples=20 --no-progress -o plugin-run >/dev/null
# the smoke tier of the claims registry (shipped claims): a change that breaks a result, not only
# an API, fails here; exit 1 when a claim fails
"$work/venv/bin/arlearn" reproduce --tier smoke -o reproduce --no-progress >"$work/reproduce.json" \
  || { cat "$work/reproduce.json"; echo "wheel-smoke: a smoke claim failed"; exit 1; }
echo "wheel-smoke: the installed wheel ran list, run-tm, demo, compile, verify, an installed plug-in and the smoke claims outside the source tree"
