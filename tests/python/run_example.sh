#!/usr/bin/env bash
# Runs client/python/examples/evidence_accumulation.py against a fresh
# eprop-server. Usage: run_example.sh BIN_DIR [example flags]
set -euo pipefail
BIN="$1"
shift
WORK="$(mktemp -d -t eprop-python-XXXXXX)"
"$BIN/eprop-server" --data_dir="$WORK/data" --port=0 2>"$WORK/server.log" &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
PORT=""
for _ in $(seq 200); do
  PORT="$(sed -n 's/.*"event":"listening".*"port":"\([0-9]*\)".*/\1/p' "$WORK/server.log")"
  [[ -n "$PORT" ]] && break
  sleep 0.05
done
[[ -n "$PORT" ]] || { cat "$WORK/server.log" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
/usr/bin/python3 "$HERE/client/python/examples/evidence_accumulation.py" \
  --server "127.0.0.1:$PORT" "$@"
