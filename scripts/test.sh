#!/usr/bin/env bash
# Installs the Debian packages, checks formatting, builds with AddressSanitizer +
# UndefinedBehaviorSanitizer and runs every test: unit, golden, integration (real peers on
# loopback) and the fuzz corpora.
# Usage: scripts/test.sh [ctest arguments], e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Formatting is part of the contract (.clang-format); a misformatted file fails the run.
find src tests fuzz bench \( -name '*.cpp' -o -name '*.h' \) -print0 |
  xargs -0 clang-format --dry-run --Werror
scripts/build.sh dev
ctest --preset dev --parallel "$(nproc)" "$@"
