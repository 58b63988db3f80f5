#!/usr/bin/env bash
# The whole suite: SQLite, and PostgreSQL when reachable (required with CI=true).
#
# Phase 1 runs the two backends side by side (each pytest is one process; the machine has
# two cores), without the tests marked `heavy` (several processes, kill -9, real-time
# loops), which would starve each other. Phase 2 runs the heavy tests, one backend at a
# time. DUTYDESK_TEST_SERIAL=1 runs everything one backend after the other instead.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
ARGS=("$@")
mkdir -p var

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests"
  (apt-get install -y -q chromium >/dev/null 2>&1 ||
    (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) ||
    echo "could not install chromium: the browser tests will say so"
fi

backends=(sqlite)
if "$BIN/python" scripts/pg_reachable.py; then
  backends+=(postgresql)
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at $DUTYDESK_TEST_PG_URL and CI=true: failing"
  exit 1
else
  echo "PostgreSQL not reachable at $DUTYDESK_TEST_PG_URL: skipped the PostgreSQL run"
fi

failed=()
run() {  # run NAME [pytest args…]; a run that selects no test (exit 5) is not a failure
  local name=$1
  shift
  "$BIN/pytest" "$@"
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then failed+=("$name (exit $rc)"); fi
}

if [ "${DUTYDESK_TEST_SERIAL:-}" = "1" ]; then
  for db in "${backends[@]}"; do
    echo "== $db"
    run "$db" --db="$db" "${ARGS[@]}"
  done
else
  pids=()
  for db in "${backends[@]:1}"; do
    echo "== $db (not heavy) runs in the background; its output follows"
    "$BIN/pytest" --db="$db" -m "not heavy" "${ARGS[@]}" >"var/test-$db.log" 2>&1 &
    pids+=("$!")
  done
  echo "== sqlite (not heavy)"
  run "sqlite (not heavy)" --db=sqlite -m "not heavy" "${ARGS[@]}"
  i=0
  for db in "${backends[@]:1}"; do
    wait "${pids[$i]}"
    rc=$?
    echo "== $db (not heavy)"
    cat "var/test-$db.log"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then failed+=("$db (not heavy) (exit $rc)"); fi
    i=$((i + 1))
  done
  for db in "${backends[@]}"; do
    echo "== $db (heavy)"
    run "$db (heavy)" --db="$db" -m heavy "${ARGS[@]}"
  done
fi

if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all runs passed on: ${backends[*]}"
