#!/usr/bin/env bash
# Mutation testing with cargo-mutants (crates.io): each mutant of the named files is built and
# the crate's tests run against it; a mutant that no test catches is a gap in the suite.
#   cargo install cargo-mutants --locked
#   bash tools/mutants.sh [FILE ...]   # default: the optimizer's reduction, clipping, schedules and Adam
# Results land in mutants.out/ (caught.txt, missed.txt, timeout.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(crates/optim/src/parallel.rs crates/optim/src/clip.rs crates/optim/src/schedule.rs crates/optim/src/algorithms/adam.rs)
fi
args=()
for f in "${files[@]}"; do args+=(--file "$f"); done
cargo mutants --no-shuffle "${args[@]}"
