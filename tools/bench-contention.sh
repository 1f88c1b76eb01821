#!/usr/bin/env bash
# How descent's training speed holds up when another process takes CPU: runs `descent bench
# train` alone and beside `yes > /dev/null` (one core's worth of load), alternating, ROUNDS
# times. If examples per CPU-second hold, the slowdown is no more than the share of CPU lost.
#
# usage: bash tools/bench-contention.sh [ROUNDS] [extra bench train flags, e.g. --threads 1]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
shift || true
cargo build --release --quiet
descent=target/release/descent
# Prints one line from bench train's JSON on stdin, labelled $1.
show() {
  python3 -c "$summary" "$1"
}
summary=$(cat <<'PY'
import json, sys
d = json.load(sys.stdin)
print(f"{sys.argv[1]:11s} {d['examples_per_sec']:7.0f} examples/s  {d['cores_used']:.2f} cores  "
      f"{d['examples_per_cpu_second']:6.0f} per CPU-second")
PY
)
for _ in $(seq "$rounds"); do
  "$descent" bench train --json "$@" 2>/dev/null | show alone
  yes > /dev/null &
  load=$!
  "$descent" bench train --json "$@" 2>/dev/null | show "beside yes"
  kill "$load"
done
