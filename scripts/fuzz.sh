#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan) and runs each for N minutes (default 10),
# starting from its committed corpus. New crashes land in fuzz-out/<target>/.
# Usage: scripts/fuzz.sh [MINUTES] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
scripts/install-deps.sh
scripts/build.sh fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for corpus in fuzz/corpus/*/; do targets+=("$(basename "$corpus")"); done
fi
status=0
for target in "${targets[@]}"; do
  out="fuzz-out/$target"
  mkdir -p "$out/corpus"
  echo "== $target: $minutes min"
  if ! "build/fuzz/fuzz/${target}_fuzz" "$out/corpus" "fuzz/corpus/$target" \
      -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$out/" -print_final_stats=1 2>"$out/log.txt"; then
    echo "   FAILED: see $out/log.txt"
    status=1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$out/log.txt" || true
done
exit $status
