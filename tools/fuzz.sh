#!/usr/bin/env bash
# A long run of the readers' damage tests (crates/core/tests/readers.rs): CASES damaged files per
# reader (IDX raw and gzipped, CSV, checkpoint, config.toml, experiment TOML, results.json).
#   bash tools/fuzz.sh [CASES]      # default 100000 per reader
set -euo pipefail
cd "$(dirname "$0")/.."
DESCENT_FUZZ_CASES="${1:-100000}" cargo test --release -p descent-nn --test readers
