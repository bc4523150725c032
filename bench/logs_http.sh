#!/usr/bin/env bash
# logs_http.sh: the logs path end to end over HTTP. Generates Fluent Bit batches (bench/
# logs_batches.h: 1 000 records of ~900 bytes, 20 % Primus performance lines) and a SQLite
# cluster state that knows their pods, starts the release processor on it, posts the batches to
# /logs with wrk (keep-alive) and reports the records/s accepted and the processor's CPU cores.
#
#   bench/logs_http.sh [options]
#
# Options:
#   --build DIR      build tree with telemetry-processor and bench/logs_http_data
#                    (default build/release)
#   --duration S     measured load (default 30)     --warmup S   load before it (default 3)
#   --conns N        wrk connections (default 2)    --batches N  distinct batches (default 8)
#   --port P         processor port (default 8990)
#   --pin            processor on CPU 1, wrk on CPU 0 (taskset)
#   --keep           keep the scratch directory (data, queue, processor log)
#
# "accepted" counts log_records_received_total, which only batches answered 200 add to; 503s
# (the training row buffer full) are reported apart. CPU is utime + stime of the processor from
# /proc/PID/stat over the measured interval.
set -euo pipefail

BUILD=build/release DURATION=30 WARMUP=3 CONNS=2 BATCHES=8 PORT=8990 PIN=0 KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --pin) PIN=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROCESSOR="$BUILD/telemetry-processor"
GENERATOR="$BUILD/bench/logs_http_data"
for need in "$PROCESSOR" "$GENERATOR"; do
  [[ -x "$need" ]] || { echo "missing $need: build it (ninja -C $BUILD telemetry-processor logs_http_data)" >&2; exit 1; }
done
for cmd in wrk curl taskset; do
  command -v "$cmd" >/dev/null || { echo "missing '$cmd' (apt-get install $cmd)" >&2; exit 1; }
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
TMP="$(mktemp -d -t logs-http.XXXXXX)"
PID=""
cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

PROC_PREFIX=() WRK_PREFIX=()
if [[ $PIN == 1 ]]; then PROC_PREFIX=(taskset -c 1); WRK_PREFIX=(taskset -c 0); fi

RECORDS_PER_BATCH="$("$GENERATOR" "$TMP/data" "$BATCHES")"
log "data: $BATCHES batches of $RECORDS_PER_BATCH records ($(du -sh "$TMP/data" | cut -f1)) in $TMP/data"

"${PROC_PREFIX[@]}" "$PROCESSOR" --httpPort="$PORT" --http.listenAddress=127.0.0.1 \
  --db.path="$TMP/data/lens.db" --queue.dir="$TMP/queue" >"$TMP/processor.log" 2>&1 &
PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 300); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" == 200 ]] && break
  kill -0 "$PID" 2>/dev/null || { cat "$TMP/processor.log" >&2; exit 1; }
  sleep 0.1
done
[[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" == 200 ]] ||
  { echo "processor not ready; its log:" >&2; cat "$TMP/processor.log" >&2; exit 1; }

run_wrk() {  # run_wrk SECONDS OUTFILE
  "${WRK_PREFIX[@]}" wrk -t1 -c"$CONNS" -d"${1}s" --timeout 10s -s "$HERE/logs_http.lua" \
    "$BASE/logs" -- "$TMP/data/batches.txt" >"$2" 2>&1
}
metric() { curl -s "$BASE/metrics" | awk -v name="$1" '$1 == name { print $2 }'; }
cpu_ticks() { sed 's/^.*) //' "/proc/$PID/stat" | awk '{ print $12 + $13 }'; }
json_num() { grep -o "\"$2\":[-0-9.eE+]*" <<<"$1" | head -1 | cut -d: -f2; }

[[ "$WARMUP" == 0 ]] || run_wrk "$WARMUP" "$TMP/wrk-warmup.txt"
RECORDS_A="$(metric log_records_received_total)"
TICKS_A="$(cpu_ticks)"
run_wrk "$DURATION" "$TMP/wrk.txt"
TICKS_B="$(cpu_ticks)"
RECORDS_B="$(metric log_records_received_total)"

WJ="$(grep -o 'WRK_JSON .*' "$TMP/wrk.txt" | cut -d' ' -f2-)"
[[ -n "$WJ" ]] || { echo "wrk produced no result:" >&2; cat "$TMP/wrk.txt" >&2; exit 1; }
awk -v ra="$RECORDS_A" -v rb="$RECORDS_B" -v ta="$TICKS_A" -v tb="$TICKS_B" \
    -v hz="$(getconf CLK_TCK)" -v d="$(json_num "$WJ" duration_s)" \
    -v req="$(json_num "$WJ" requests)" -v non2xx="$(json_num "$WJ" err_status)" \
    -v p50="$(json_num "$WJ" lat_p50_ms)" -v p99="$(json_num "$WJ" lat_p99_ms)" \
    -v conns="$CONNS" -v pin="$PIN" 'BEGIN {
  records = (rb - ra) / d; cores = (tb - ta) / hz / d
  printf "requests: %d in %.1f s (%d non-2xx), %d connections, %s\n", req, d, non2xx, conns, (pin ? "pinned" : "shared")
  printf "latency: p50 %.1f ms, p99 %.1f ms\n", p50, p99
  printf "accepted: %.0f records/s\n", records
  printf "processor: %.2f cores\n", cores
  printf "RECORDS_PER_S %.0f\nPROCESSOR_CORES %.3f\nRECORDS_PER_CORE_S %.0f\n", records, cores, (cores > 0 ? records / cores : 0)
}'
