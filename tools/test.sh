#!/usr/bin/env bash
# The test suite: installs the headless browser the report test opens the HTML report in and
# Open MPI, runs every test of the workspace, then the data-parallel tests through mpirun with
# the binary built with MPI. In here, a missing browser fails that test instead of skipping it.
# The tests build in the release profile, so that after README's main job (`cargo run
# --release`) they reuse what it built instead of building everything again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-browser.sh
bash tools/install-mpi.sh
DESCENT_BROWSER_TESTS=require cargo test --release --workspace "$@"
cargo test --release -p descent-cli --features mpi --test mpi "$@"
