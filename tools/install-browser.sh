#!/usr/bin/env bash
# Installs what the report's browser test needs, if it is missing: Debian's Chromium, and
# playwright-core (pinned in tests/browser/package-lock.json) to drive it. Node.js comes with the
# machine. Safe to run again: it installs only what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (Debian package)..."
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "installing playwright-core (npm)..."
    npm ci --prefix tests/browser --no-audit --no-fund --silent
fi
