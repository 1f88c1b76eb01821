#!/usr/bin/env bash
# Mutation testing with cargo-mutants (crates.io): each mutant of the named files is built and
# the tests that cover them run against it; a mutant that no test catches is a gap in the suite.
#   cargo install cargo-mutants --locked
#   bash tools/mutants.sh                 # every group below, in this order
#   bash tools/mutants.sh GROUP ...       # some of them
#   bash tools/mutants.sh --files FILE ...  # chosen files, against the tests of their crate
# Groups, in the order of priority they were run in for issue 16. On a machine shared by five
# builders a mutant took 15-50 s, so the first pass leaves out the mutants of argument checking
# and formatting (FIRST_PASS_SKIP), and 80 minutes reached `book` up to part of rmsprop.rs (269 of
# its 323 mutants; sgd.rs and the groups after it not reached). `reduction` was run earlier;
# later, on a quiet machine, `--files` over sgd.rs (38 mutants, 6 min) and over rmsprop.rs,
# adamax.rs and lion.rs (120 mutants, 9 min). Then on one core (taskset -c 1), with the
# MUTANTS_TEST_ARGS below: `--files` over muon.rs, nadam.rs, radam.rs and schedule_free.rs
# (393 mutants in 34 min), over algorithms/mod.rs, optimizer.rs, state.rs, average.rs and init.rs
# (325 in 42 min, the core shared with test builds), and adafactor.rs's 87 in an earlier run with
# the doc tests (about 12 s a mutant instead of 5). Each run first rebuilds the dependencies in its
# copy of target/ (3-4 min). The missed ones were then run again alone (cargo mutants with one
# `--re '^FILE:LINE:COL: DESCRIPTION$'` each). A mutant of the core crate took 2.5 min on the
# shared core (three builds of descent-nn, then the train tests' 20-40 s), so `train` (531
# mutants) and `lab` (548) are for sampling with MUTANTS_EXTRA="--shard K/N", N of 25-50 for
# a shard within 25 minutes; `checkpoint`'s 27 were started and only partly run (see README).
#   reduction   optim's parallel reduction and clipping
#   book        learning-rate schedules and the chapter's algorithms (SGD, momentum, AdaGrad,
#               RMSProp, AdaDelta, Adam), against optim's unit tests and the PyTorch schedule replay
#   algorithms  the other optimizers (Adamax, NAdam, RAdam, Lion, schedule-free, Muon, Adafactor)
#               and algorithms/mod.rs (conventions, gradient preparation, dispatch)
#   optim-rest  optimizer.rs, state.rs, init.rs, elementwise.rs, exp.rs, tanh.rs, float.rs
#   train       the trainer (crates/core/src/train/)
#   checkpoint  checkpoints and resume
#   lab         the lab's runs, statistics and results (lab/{mod,stats,results}.rs)
# One job at a time (the machine is shared) and fixed timeouts instead of a baseline run.
# Results land in mutants.out/GROUP/mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
# MUTANTS_EXTRA adds arguments (e.g. MUTANTS_EXTRA="--re run_book" to repeat a few mutants);
# MUTANTS_ALL=1 drops FIRST_PASS_SKIP. MUTANTS_TEST_ARGS, with --files, gives cargo test's arguments
# (by default every test of the mutated file's package, doc tests included), e.g.
#   MUTANTS_TEST_ARGS="--lib --test torch_schedules -- --skip within_one_ulp"
# leaves out the doc tests and exp's and tanh's ulp sweeps (6 of a mutant's 12 s on one core).
set -euo pipefail
cd "$(dirname "$0")/.."

common=(--no-shuffle --jobs 1 --baseline skip --timeout 120 --build-timeout 600 --copy-target true)
# shellcheck disable=SC2206
extra=(${MUTANTS_EXTRA:-})
FIRST_PASS_SKIP='validate|fmt|from_str|parse|Display|describe|name'
if [ -z "${MUTANTS_ALL:-}" ]; then extra+=(--exclude-re "$FIRST_PASS_SKIP"); fi

# run GROUP "FILE..." TEST_PACKAGE CARGO_TEST_ARGS...
run() {
    local group=$1 files=$2 package=$3
    shift 3
    local args=()
    for f in $files; do args+=(--file "$f"); done
    mkdir -p "mutants.out/$group"
    cargo mutants "${common[@]}" "${extra[@]}" "${args[@]}" --test-package "$package" \
        --output "mutants.out/$group" -- "$@" || true
    for kind in caught missed timeout unviable; do
        printf '%s %s: %s\n' "$group" "$kind" \
            "$(wc -l <"mutants.out/$group/mutants.out/$kind.txt" 2>/dev/null || echo 0)"
    done
}

group() {
    case $1 in
        reduction)
            run reduction "crates/optim/src/parallel.rs crates/optim/src/clip.rs" descent-optim --lib ;;
        book)
            run book "crates/optim/src/schedule.rs crates/optim/src/algorithms/sgd.rs
                crates/optim/src/algorithms/rmsprop.rs crates/optim/src/algorithms/adam.rs
                crates/optim/src/algorithms/adagrad.rs crates/optim/src/algorithms/adadelta.rs" \
                descent-optim --lib --test torch_schedules ;;
        algorithms)
            run algorithms "crates/optim/src/algorithms/adamax.rs crates/optim/src/algorithms/nadam.rs
                crates/optim/src/algorithms/radam.rs crates/optim/src/algorithms/lion.rs
                crates/optim/src/algorithms/schedule_free.rs crates/optim/src/algorithms/muon.rs
                crates/optim/src/algorithms/adafactor.rs crates/optim/src/algorithms/mod.rs" descent-optim --lib ;;
        optim-rest)
            run optim-rest "crates/optim/src/optimizer.rs crates/optim/src/state.rs crates/optim/src/init.rs
                crates/optim/src/elementwise.rs crates/optim/src/exp.rs crates/optim/src/tanh.rs
                crates/optim/src/float.rs" descent-optim --lib ;;
        train)
            run train "crates/core/src/train/*.rs" descent-nn --lib --test train --test no_allocation ;;
        checkpoint)
            run checkpoint "crates/core/src/checkpoint.rs" descent-nn --lib --test train ;;
        lab)
            run lab "crates/core/src/lab/mod.rs crates/core/src/lab/stats.rs crates/core/src/lab/results.rs" \
                descent-nn --lib --test lab ;;
        *)
            echo "tools/mutants.sh: unknown group '$1' (reduction, book, algorithms, optim-rest, train, checkpoint, lab)" >&2
            exit 2 ;;
    esac
}

if [ "${1:-}" = "--files" ]; then
    shift
    args=()
    for f in "$@"; do args+=(--file "$f"); done
    # shellcheck disable=SC2206
    test_args=(${MUTANTS_TEST_ARGS:-})
    if [ ${#test_args[@]} -gt 0 ]; then test_args=(-- "${test_args[@]}"); fi
    cargo mutants "${common[@]}" "${extra[@]}" "${args[@]}" "${test_args[@]}"
    exit
fi
groups=("$@")
if [ ${#groups[@]} -eq 0 ]; then
    groups=(reduction book algorithms optim-rest train checkpoint lab)
fi
for g in "${groups[@]}"; do group "$g"; done
