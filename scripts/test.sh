#!/usr/bin/env bash
# Installs the Debian packages, checks formatting and clang-tidy, builds with
# AddressSanitizer + UndefinedBehaviorSanitizer (warnings are errors) and runs every test: unit,
# golden, integration (real peers on loopback) and the fuzz corpora; then builds with
# ThreadSanitizer and runs the unit and integration tests again.
# Usage: scripts/test.sh [ctest arguments], e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Formatting is part of the contract (.clang-format); a misformatted file fails the run.
find src tests fuzz bench \( -name '*.cpp' -o -name '*.h' \) -print0 |
  xargs -0 clang-format --dry-run --Werror

cmake --preset dev -DTP_WERROR=ON >/dev/null
cmake --build --preset dev
# The product's code passes .clang-tidy (its warnings are errors).
run-clang-tidy -p build/dev -quiet -j "$(nproc)" "$PWD/src/.*\.cpp$" >build/dev/clang-tidy.log 2>&1 ||
  { grep -E 'error:|warning:' build/dev/clang-tidy.log | sort -u; exit 1; }
# The image test (label image: scripts/image-test.sh builds the whole image, a release build of
# the binary included) is left out unless TP_TEST_IMAGE=1: it would take CI past its budget.
image_test=(--label-exclude "^image$")
[ "${TP_TEST_IMAGE:-0}" = 1 ] && image_test=()
ctest --preset dev --parallel "$(nproc)" "${image_test[@]}" "$@"

cmake --preset tsan -DTP_WERROR=ON -DTP_BUILD_BENCH=OFF -DTP_FUZZ_REPLAY=OFF >/dev/null
cmake --build --preset tsan
ctest --preset tsan --parallel "$(nproc)" -L 'unit|integration' "$@"
