#!/usr/bin/env bash
# Packages descent-optim and descent-nn (the library `descent`) and builds each from its
# tarball, as crates.io would receive them (`cargo publish --dry-run`), without publishing.
#
# Cargo verifies descent-nn against the freshly packaged descent-optim, which it treats as a
# crates.io release: it reuses any copy of descent-optim 0.1.0 it unpacked or compiled in an
# earlier run (a registry release never changes), so descent-nn would be checked against an old
# descent-optim. Those copies are removed first.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/descent-optim-[0-9]*
rm -rf "$target"/debug/.fingerprint/descent-optim-* "$target"/debug/deps/libdescent_optim-* \
    "$target"/debug/deps/descent_optim-*
cargo publish --dry-run --quiet -p descent-optim -p descent-nn
