#!/usr/bin/env bash
# Installs the Debian packages, builds the release binary and starts the processor in the
# foreground on its embedded default (port 8989, SQLite under data/). With no arguments and no
# TP_* variables, it first puts the small demo cluster into that SQLite file so the cache
# endpoints show something. Arguments are passed to the processor, e.g.
#   scripts/run.sh --httpPort=9000 --metricsWrite.endpoints=http://vm:8428
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release --target telemetry-processor
if [ $# -eq 0 ] && ! env | grep -q '^TP_'; then
  build/release/telemetry-processor seed-demo
fi
exec build/release/telemetry-processor "$@"
