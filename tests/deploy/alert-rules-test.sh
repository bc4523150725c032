#!/usr/bin/env bash
# ctest alert_rules (label deploy): the example alert rules of deploy/alerts with the tools that
# load them. promtool (Prometheus) checks the rule file and runs its unit tests
# (training.rules.test.yaml: input series over time, the alerts expected at given times);
# vmalert loads it in -dryRun (MetricsQL parses every expression and template); every series
# and event type the rules name is one the processor writes; and `kubectl kustomize
# deploy/alerts` renders the file unchanged into its ConfigMap.
# Exits 77 (skipped) without promtool; a missing vmalert or kubectl skips only its own check.
# Usage: tests/deploy/alert-rules-test.sh   (scripts/install-deps.sh installs the tools)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
alerts="$root/deploy/alerts"
rules="$alerts/training.rules.yaml"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

command -v promtool >/dev/null ||
  { echo "alert-rules-test: skipped: no promtool (Debian package prometheus, scripts/install-deps.sh)"; exit 77; }
echo "alert-rules-test: $(promtool --version 2>&1 | head -n 1)"
promtool check rules "$rules"
# promtool resolves rule_files against the test file's directory.
(cd "$alerts" && promtool test rules training.rules.test.yaml)

if command -v vmalert >/dev/null; then
  vmalert -dryRun -rule="$rules" -loggerLevel=ERROR ||
    { echo "alert-rules-test: vmalert refuses $rules" >&2; exit 1; }
  echo "alert-rules-test: vmalert -dryRun loads $rules"
else
  echo "alert-rules-test: vmalert check skipped: no vmalert (Debian package victoria-metrics)"
fi

# A series, event type or run state renamed in the processor would leave an alert that never fires.
missing=0
for name in $(grep -o 'workload_training_[a-z_]*' "$rules" | sort -u); do
  grep -rqF "\"$name\"" "$root/src" ||
    { echo "alert-rules-test: the processor writes no series $name" >&2; missing=1; }
done
for type in $(grep -o 'type="[A-Za-z]*"' "$rules" | sed 's/type="\(.*\)"/\1/' | sort -u); do
  grep -rqF "\"$type\"" "$root/src/storage" ||
    { echo "alert-rules-test: the processor records no event type $type" >&2; missing=1; }
done
for state in $(grep -o 'state=~"[a-z|]*"' "$rules" | sed 's/state=~"\(.*\)"/\1/' | tr '|' '\n' | sort -u); do
  grep -rqF "\"$state\"" "$root/src/storage" ||
    { echo "alert-rules-test: the processor has no run state $state" >&2; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
echo "alert-rules-test: every series, event type and run state the rules name is the processor's"

if command -v kubectl >/dev/null; then
  kubectl kustomize "$alerts" >"$out/alerts.yaml"
  grep -q '^  name: telemetry-processor-alerts$' "$out/alerts.yaml" ||
    { cat "$out/alerts.yaml" >&2; echo "alert-rules-test: no ConfigMap telemetry-processor-alerts" >&2; exit 1; }
  # The literal block of the key, its 4-space indent removed (blank lines come unindented).
  awk '/^  training\.rules\.yaml: \|$/ { inside = 1; next }
       inside && /^(  )?[^ ]/ { inside = 0 }
       inside { sub(/^    /, ""); print }' "$out/alerts.yaml" >"$out/training.rules.yaml"
  cmp -s "$rules" "$out/training.rules.yaml" ||
    { diff "$rules" "$out/training.rules.yaml" >&2 || true
      echo "alert-rules-test: the ConfigMap does not hold $rules as it is" >&2; exit 1; }
  echo "alert-rules-test: kubectl kustomize deploy/alerts: ConfigMap telemetry-processor-alerts holds the rules"
else
  echo "alert-rules-test: ConfigMap check skipped: no kubectl (scripts/install-deps.sh)"
fi
echo "alert-rules-test: passed"
