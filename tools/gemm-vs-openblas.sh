#!/usr/bin/env bash
# descent's f32 product kernels beside OpenBLAS's Haswell kernel, alternately, ROUNDS times:
#   bash tools/gemm-vs-openblas.sh [ROUNDS]
# Needs a release build (cargo build --release) and numpy (tools/torch-venv.sh installs it in
# /work/torch-venv; PYTHON overrides the interpreter).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/work/torch-venv/bin/python}
for round in $(seq "${1:-2}"); do
    echo "== round $round"
    ./target/release/descent bench gemm --repeats 5
    "$PYTHON" tools/openblas_gemm.py --repeats 5
done
