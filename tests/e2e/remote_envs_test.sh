#!/usr/bin/env bash
# End-to-end test of remote reinforcement-learning environments against a
# real eprop-server process on a free local port (issue 6):
#   1. `eprop env run --game breakout --count 8` feeds a remote Breakout job
#      until the job reaches its frame budget; the environments end cleanly
#      (exit 0) and the job succeeds with 8 environments connected.
#   2. The Python adapter (`python3 -m eprop_env`) connects two pure-Python
#      corridor environments to a remote_environment job until it finishes.
#   3. A job cancelled while environments are connected ends them cleanly.
#
# Usage: tests/e2e/remote_envs_test.sh BIN_DIR PYTHON_STUBS_DIR
set -euo pipefail

BIN_DIR=${1:?usage: remote_envs_test.sh BIN_DIR PYTHON_STUBS_DIR}
STUBS=${2:?usage: remote_envs_test.sh BIN_DIR PYTHON_STUBS_DIR}
EPROP="$BIN_DIR/eprop"
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$WORK/server.log" >&2 || true
  exit 1
}
pass() { echo "ok: $*"; }

PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN_DIR/eprop-server" --host=127.0.0.1 --port="$PORT" \
  --data_dir="$WORK/data" --workers=2 2>"$WORK/server.log" &
SERVER_PID=$!
CLI=("$EPROP" --server="127.0.0.1:$PORT" --timeout-s=30)
for _ in $(seq 100); do "${CLI[@]}" health >/dev/null 2>&1 && break; sleep 0.1; done
"${CLI[@]}" health >/dev/null || fail "the server did not start"

job_field() {  # job_field ID KEY: a field of `eprop status --output json`
  "${CLI[@]}" --output=json status "$1" |
    /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)$2)"
}

# 1. Eight Breakout environments in one process.
JOB=$("${CLI[@]}" --output=json submit --task=breakout --source=remote \
  --envs=8 --frames=24000 --report-every-frames=4000 --threads=1 |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])')
"${CLI[@]}" env run --game=breakout --job="$JOB" --count=8 \
  --progress-every-s=60 --output=json >"$WORK/env.json" 2>"$WORK/env.err" ||
  fail "eprop env run exited $? ($(tail -n 3 "$WORK/env.err"))"
[[ "$(job_field "$JOB" '["state"]')" == succeeded ]] ||
  fail "job $JOB did not succeed"
"${CLI[@]}" --output=json metrics "$JOB" >"$WORK/metrics.json"
/usr/bin/python3 - "$WORK/metrics.json" <<'PY' || fail "metrics of $JOB"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert rows[-1]["frames"] >= 24000, rows[-1]
assert max(r["connected_environments"] for r in rows) == 8, rows
assert rows[-1]["episodes"] > 0 and rows[-1]["updates"] > 0, rows[-1]
PY
pass "eprop env run --count 8 fed job $JOB to its frame budget"

# 2. The Python adapter with two pure-Python environments.
cat >"$WORK/corridor.py" <<'PY'
"""A 5-cell corridor: action 1 moves right, 0 left; the right end pays 1."""
import numpy as np


class Corridor:
    class _Space:
        n = 2
    action_space = _Space()

    def reset(self):
        self.pos = 2
        return self._obs(), {}

    def _obs(self):
        return np.eye(5, dtype=np.float32)[self.pos]

    def step(self, action):
        self.pos += 1 if action == 1 else -1
        done = self.pos in (0, 4)
        return self._obs(), float(self.pos == 4), done, False, {}


def make():
    return Corridor()
PY
JOB=$("${CLI[@]}" --output=json submit --task=remote_environment \
  --observation=features:5 --num-actions=2 --envs=2 --frames=4000 \
  --report-every-frames=1000 --threads=1 |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])')
PYTHONPATH="$HERE/client/python:$STUBS:$WORK" timeout 120 /usr/bin/python3 \
  -m eprop_env --server="127.0.0.1:$PORT" --job="$JOB" --env=corridor:make \
  --count=2 --progress=0 2>"$WORK/py.err" ||
  fail "python3 -m eprop_env exited $? ($(tail -n 3 "$WORK/py.err"))"
[[ "$(job_field "$JOB" '["state"]')" == succeeded ]] ||
  fail "job $JOB did not succeed"
pass "python3 -m eprop_env --count 2 fed job $JOB to its frame budget"

# 3. Cancel while connected.
JOB=$("${CLI[@]}" --output=json submit --task=breakout --source=remote \
  --envs=4 --frames=1000000000 --threads=1 |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["job_id"])')
"${CLI[@]}" env run --game=breakout --job="$JOB" --count=4 \
  --progress-every-s=60 >"$WORK/cancel.out" 2>&1 &
ENV_PID=$!
for _ in $(seq 100); do
  [[ $(grep -c "environment_joined.*$JOB" "$WORK/server.log") -ge 4 ]] && break
  sleep 0.1
done
"${CLI[@]}" cancel "$JOB" >/dev/null || fail "cancel $JOB"
wait "$ENV_PID" || fail "eprop env run exited $? after the cancel ($(tail -n 3 "$WORK/cancel.out"))"
[[ "$(job_field "$JOB" '["state"]')" == cancelled ]] ||
  fail "job $JOB is not cancelled"
pass "cancelling job $JOB ended its 4 environments cleanly"
