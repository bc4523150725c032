#!/usr/bin/env bash
# Installs the Debian packages, builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# every test: unit, golden, integration (real peers on loopback) and the fuzz corpora.
# Usage: scripts/test.sh [ctest arguments], e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh dev
ctest --preset dev --parallel "$(nproc)" "$@"
