#!/usr/bin/env bash
# The test suite: installs the headless browser the report test opens the HTML report in, then
# runs every test of the workspace. In here, a missing browser fails that test instead of
# skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-browser.sh
DESCENT_BROWSER_TESTS=require cargo test --workspace "$@"
