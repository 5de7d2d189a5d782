#!/usr/bin/env bash
# End-to-end test of the eprop CLI's job commands against a real
# eprop-server on a free local port with a fresh data directory.
#
# Usage: tests/e2e/cli_jobs_test.sh BIN_DIR
#   BIN_DIR holds eprop and eprop-server (e.g. build/bin). The environment
#   variable EPROP_SERVER_BIN overrides the server binary.
# Prints one line per check; exits 0 when all pass, 1 at the first failure
# (with the server's log).
set -euo pipefail

BIN_DIR=${1:?usage: cli_jobs_test.sh BIN_DIR}
EPROP="$BIN_DIR/eprop"
SERVER_BIN="${EPROP_SERVER_BIN:-$BIN_DIR/eprop-server}"
for program in "$EPROP" "$SERVER_BIN"; do
  [[ -x "$program" ]] || { echo "FAIL: $program is not executable" >&2; exit 1; }
done

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
  echo "--- last lines of the server log:" >&2
  tail -n 20 "$WORK/server.log" >&2 || true
  exit 1
}
pass() { echo "ok: $*"; }

PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SERVER_BIN" --host=127.0.0.1 --port="$PORT" --data_dir="$WORK/data" \
  --workers=2 2>"$WORK/server.log" &
SERVER_PID=$!

# The CLI against this server.
ep() { "$EPROP" --server "127.0.0.1:$PORT" "$@"; }

# Runs a command that must exit with code $1; its stdout goes to $WORK/out
# and its stderr to $WORK/err.
expect_exit() {
  local want=$1
  shift
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [[ $got -eq $want ]] ||
    fail "'$*' exited $got, want $want; stdout: $(cat "$WORK/out"); stderr: $(cat "$WORK/err")"
}

# The job_id of the first JSON line of $WORK/out.
job_id_of_output() {
  grep -o -m 1 '"job_id":"[^"]*"' "$WORK/out" | cut -d '"' -f 4 || true
}

# Waits up to $2 seconds for job $1 to reach state $3.
wait_for_state() {
  local job=$1 seconds=$2 state=$3
  for ((i = 0; i < seconds * 10; i++)); do
    local status
    status=$(ep status --output json "$job" 2>/dev/null || true)
    [[ "$status" == *"\"state\":\"$state\""* ]] && return 0
    sleep 0.1
  done
  fail "$job did not reach $state within $seconds s: $(ep status "$job" 2>&1)"
}

# --- The server comes up.
for ((i = 0; i < 200; i++)); do
  if ep --timeout-s 1 health >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "eprop-server exited at start-up"
  sleep 0.1
done
expect_exit 0 ep health
grep -q "SERVING" "$WORK/out" || fail "health: $(cat "$WORK/out")"
pass "health: SERVING"
expect_exit 0 ep --output json server-info
grep -q '"workers":2' "$WORK/out" || fail "server-info: $(cat "$WORK/out")"
pass "server-info"

# --- A short job, followed to its end.
expect_exit 0 ep submit --task pattern_generation --max-iterations 60 \
  --name "e2e short" --follow --output json
JOB1=$(job_id_of_output)
[[ -n "$JOB1" ]] || fail "submit --follow printed no job_id: $(cat "$WORK/out")"
head -n 1 "$WORK/out" | grep -q '"state":"queued"' || fail "first line: $(head -n 1 "$WORK/out")"
grep -q '^{"iteration":[0-9]*,"loss":' "$WORK/out" || fail "no metrics lines: $(cat "$WORK/out")"
tail -n 1 "$WORK/out" | grep -q "\"job_id\":\"$JOB1\",\"state\":\"succeeded\",\"iterations\":60" ||
  fail "final line: $(tail -n 1 "$WORK/out")"
tail -n 1 "$WORK/out" | grep -q '"nmse":' || fail "final line has no nmse: $(tail -n 1 "$WORK/out")"
pass "submit --follow --output json: $JOB1 succeeded"

expect_exit 0 ep submit --task pattern_generation --max-iterations 30 --wait
grep -q "succeeded after 30 iterations" "$WORK/out" || fail "submit --wait: $(cat "$WORK/out")"
pass "submit --wait (table)"

# --- A job submitted without waiting.
expect_exit 0 ep submit --task pattern_generation --max-iterations 60 --seed 2 --output json
JOB2=$(job_id_of_output)
[[ -n "$JOB2" && "$JOB2" != "$JOB1" ]] || fail "submit --output json: $(cat "$WORK/out")"
grep -q '"state":"' "$WORK/out" || fail "submit prints no state: $(cat "$WORK/out")"
pass "submit --output json: $JOB2"

expect_exit 0 ep status --output json "$JOB1"
grep -q '"state":"succeeded"' "$WORK/out" || fail "status: $(cat "$WORK/out")"
grep -q '"latest_metrics":{"iteration":60' "$WORK/out" || fail "status metrics: $(cat "$WORK/out")"
expect_exit 0 ep status "$JOB1"
grep -q "^state  *succeeded" "$WORK/out" || fail "status table: $(cat "$WORK/out")"
pass "status"

expect_exit 0 ep list --output json
grep -q "\"job_id\":\"$JOB1\".*\"display_name\":\"e2e short\"" "$WORK/out" || fail "list: $(cat "$WORK/out")"
grep -q "\"job_id\":\"$JOB2\"" "$WORK/out" || fail "list lacks $JOB2: $(cat "$WORK/out")"
expect_exit 0 ep list --state succeeded
head -n 1 "$WORK/out" | grep -q "^JOB  *STATE  *TASK  *ALGORITHM  *ITERATIONS  *ERROR/NMSE  *NAME" ||
  fail "list header: $(head -n 1 "$WORK/out")"
grep -q "^$JOB1 .*e2e short" "$WORK/out" || fail "list table: $(cat "$WORK/out")"
pass "list"

expect_exit 0 ep metrics --output json "$JOB1"
[[ $(grep -c '^{"iteration":' "$WORK/out") -eq 7 ]] || fail "metrics json: $(cat "$WORK/out")"
expect_exit 0 ep metrics --format csv "$JOB1"
head -n 1 "$WORK/out" | grep -q '^iteration,loss,reg_loss,error,nmse,rate_hz,' ||
  fail "metrics csv header: $(head -n 1 "$WORK/out")"
[[ $(wc -l <"$WORK/out") -eq 8 ]] || fail "metrics csv rows: $(cat "$WORK/out")"
expect_exit 0 ep metrics --from-iteration 30 --output json "$JOB1"
head -n 1 "$WORK/out" | grep -q '^{"iteration":30,' || fail "metrics --from-iteration: $(cat "$WORK/out")"
pass "metrics (json, csv, --from-iteration)"

expect_exit 0 ep watch --output json "$JOB1"
tail -n 1 "$WORK/out" | grep -q '"state":"succeeded"' || fail "watch: $(cat "$WORK/out")"
pass "watch of a finished job"

expect_exit 0 ep export "$JOB1" --out "$WORK/job1.eprop"
[[ -s "$WORK/job1.eprop" ]] || fail "export wrote nothing"
[[ $(head -c 8 "$WORK/job1.eprop") == "EPROPCKP" ]] || fail "export: not a checkpoint"
grep -q "iteration 60" "$WORK/out" || fail "export output: $(cat "$WORK/out")"
pass "export ($(stat -c %s "$WORK/job1.eprop") bytes)"

expect_exit 0 ep plot "$JOB1" --out-dir "$WORK/plots"
for svg in learning_curves.svg trial.svg; do
  grep -q "<svg" "$WORK/plots/$svg" || fail "plot: $svg missing or not SVG"
done
pass "plot"

# --- A job spec from a file, with a flag overriding it.
cat >"$WORK/spec.json" <<'EOF'
{"task": "TASK_PATTERN_GENERATION", "schedule": {"maxIterations": "40", "validateEveryIterations": 20}, "displayName": "from file"}
EOF
expect_exit 0 ep submit --job-file "$WORK/spec.json" --max-iterations 20 --wait --output json
tail -n 1 "$WORK/out" | grep -q '"state":"succeeded","iterations":20' || fail "job file: $(cat "$WORK/out")"
pass "submit --job-file with an overriding flag"

# --- A long job, cancelled.
expect_exit 0 ep submit --task evidence_accumulation --max-iterations 100000 --output json
JOB3=$(job_id_of_output)
[[ -n "$JOB3" ]] || fail "submit of the long job: $(cat "$WORK/out")"
expect_exit 1 ep delete "$JOB3"
grep -q "FAILED_PRECONDITION" "$WORK/err" || fail "delete of an active job: $(cat "$WORK/err")"
expect_exit 0 ep cancel "$JOB3"
wait_for_state "$JOB3" 30 cancelled
expect_exit 1 ep watch "$JOB3"
grep -q "cancelled" "$WORK/out" || fail "watch of a cancelled job: $(cat "$WORK/out")"
expect_exit 1 ep cancel "$JOB3"
grep -q "FAILED_PRECONDITION" "$WORK/err" || fail "second cancel: $(cat "$WORK/err")"
pass "cancel ($JOB3)"

expect_exit 0 ep delete "$JOB3"
expect_exit 1 ep status "$JOB3"
grep -q "^eprop status: NOT_FOUND: " "$WORK/err" || fail "status of a deleted job: $(cat "$WORK/err")"
pass "delete"

# --- Errors.
expect_exit 2 ep list --no-such-flag
expect_exit 2 ep --no-such-flag list
expect_exit 2 ep submit --task atari
grep -q "unknown task 'atari'" "$WORK/err" || fail "bad task message: $(cat "$WORK/err")"
expect_exit 1 ep submit --task pattern_generation --batch 0
grep -q "^eprop submit: INVALID_ARGUMENT: .*batch" "$WORK/err" || fail "batch 0: $(cat "$WORK/err")"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "error is not one line: $(cat "$WORK/err")"
expect_exit 1 ep status job-999999
pass "usage errors exit 2, server errors exit 1"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
expect_exit 1 ep --timeout-s 2 status "$JOB1"
grep -q "^eprop status: cannot reach eprop-server at 127.0.0.1:$PORT (UNAVAILABLE)" "$WORK/err" ||
  fail "unreachable server: $(cat "$WORK/err")"
pass "unreachable server"

echo "all CLI job checks passed"
