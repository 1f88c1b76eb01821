#!/usr/bin/env bash
# README's figures, rerun: every block README encloses in `<!-- figure: NAME -->` … `<!-- /figure -->` is compared with what
# its command prints today (crates/cli/tests/readme.rs names the commands), the ones that take
# minutes included (about 5 minutes on 2 cores). `bash tools/readme-figures.sh update` rewrites the
# stale blocks in README.md; then reread the prose around them.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
if [[ "${1:-}" == update ]]; then mode=update; fi
DESCENT_README_FIGURES=$mode cargo test --release -p descent-cli --test readme -- --nocapture
