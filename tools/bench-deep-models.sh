#!/usr/bin/env bash
# descent against PyTorch on the deep models, run alternately so both see the same machine:
#   bash tools/bench-deep-models.sh [ROUNDS] [PROBLEM...]
# (defaults: 2 rounds of mnist-2c2d and mnist-autoencoder). Adam, batch 128, $THREADS threads
# (default 2). Each round runs `descent bench train` (five timed runs, with the GEMM peak measured
# after each) and then tools/torch_deep_models.py --bench (three timed repeats), and prints both
# lines. PyTorch runs from $TORCH_PYTHON (default /work/torch-venv/bin/python, which
# tools/torch-venv.sh creates); descent from target/release (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-2}"
shift || true
problems=("$@")
[ ${#problems[@]} -eq 0 ] && problems=(mnist-2c2d mnist-autoencoder)
threads="${THREADS:-2}"
python="${TORCH_PYTHON:-/work/torch-venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "tools/bench-deep-models.sh: no PyTorch at $python (run tools/torch-venv.sh, or set TORCH_PYTHON)" >&2
    exit 2
fi
cargo build --release --quiet -p descent-cli
for problem in "${problems[@]}"; do
    for round in $(seq "$rounds"); do
        echo "== $problem, round $round of $rounds, $threads threads"
        target/release/descent bench train --problem "$problem" --threads "$threads" --steps 30 |
            sed 's/^/descent: /'
        "$python" tools/torch_deep_models.py --problem "$problem" --bench --steps 30 --repeats 3 \
            --threads "$threads" | grep -v '^repeat' | sed 's/^/pytorch: /'
    done
done
