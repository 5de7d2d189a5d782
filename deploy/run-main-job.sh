#!/usr/bin/env bash
# The main job, end to end on this machine: starts eprop-server on a fresh
# temporary data directory, submits the default job (evidence accumulation,
# paper Fig. 3, random e-prop, the paper's constants), follows it with live
# progress, prints the final error and the plot paths, and stops the
# server. Usage: bash deploy/run-main-job.sh [extra `eprop submit` flags]
set -euo pipefail

BIN="${EPROP_BIN:-build/bin}"
WORK="$(mktemp -d -t eprop-main-XXXXXX)"
LOG="$WORK/server.log"

# One job at a time, with every core.
"$BIN/eprop-server" --data_dir="$WORK/data" --port=0 --workers=1 \
  --threads_per_job="$(nproc)" 2>"$LOG" &
SERVER=$!
stop_server() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
}
trap stop_server EXIT

# The server logs its port (picked by the kernel) once it listens.
PORT=""
for _ in $(seq 200); do
  PORT="$(sed -n 's/.*"event":"listening".*"port":"\([0-9]*\)".*/\1/p' "$LOG")"
  [[ -n "$PORT" ]] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$PORT" ]] || { echo "eprop-server did not start; log: $LOG" >&2; exit 1; }
echo "eprop-server listening on 127.0.0.1:$PORT (data in $WORK/data, log in $LOG)"

"$BIN/eprop" --server "127.0.0.1:$PORT" submit --task evidence_accumulation \
  --follow --plots-dir "$WORK/plots" "$@"
