#!/usr/bin/env bash
# The whole suite: SQLite, and PostgreSQL when reachable (required with CI=true).
#
# The backends run side by side, one lane each (the machine has two cores): a lane runs its
# backend's tests without the ones marked `heavy` (several processes, kill -9, real-time
# loops), then the heavy ones, so the heavy tests of one backend overlap the other lane
# rather than each other. DUTYDESK_TEST_SERIAL=1 runs everything one backend after the other.
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
  # One lane per backend, side by side: each lane runs its backend's tests without the
  # heavy ones, then the heavy ones. The PostgreSQL lane logs to a file shown afterwards.
  # A full run also balances the lanes: the PostgreSQL lane is the longer one, so its
  # browser tests run in the SQLite lane once that lane is done with its own.
  shared=()
  if [ "${#ARGS[@]}" -eq 0 ] && [ "${#backends[@]}" -gt 1 ]; then
    shared=(tests/web/*_browser.py)
  fi
  check() {  # check NAME EXIT: records a failed run (exit 5, no test selected, is no failure)
    if [ "$2" -ne 0 ] && [ "$2" -ne 5 ]; then echo "$1 (exit $2)" >>"var/test-failed"; fi
  }
  lane() {  # lane DB [--ignore FILE…]: the backend's tests, not heavy, then heavy
    local db=$1
    shift
    echo "== $db (not heavy)"
    "$BIN/pytest" --db="$db" -m "not heavy" "$@" "${ARGS[@]}"
    check "$db (not heavy)" $?
    echo "== $db (heavy)"
    "$BIN/pytest" --db="$db" -m heavy "$@" "${ARGS[@]}"
    check "$db (heavy)" $?
  }
  rm -f var/test-failed
  pids=()
  ignore=()
  for file in "${shared[@]}"; do ignore+=(--ignore="$file"); done
  for db in "${backends[@]:1}"; do
    echo "== the $db lane runs in the background; its output follows the sqlite lane's"
    lane "$db" "${ignore[@]}" >"var/test-$db.log" 2>&1 &
    pids+=("$!")
  done
  lane sqlite
  if [ "${#shared[@]}" -gt 0 ]; then
    echo "== postgresql (browser tests, in the sqlite lane)"
    "$BIN/pytest" --db=postgresql -m "not heavy" "${shared[@]}"
    check "postgresql (browser tests)" $?
  fi
  i=0
  for db in "${backends[@]:1}"; do
    wait "${pids[$i]}"
    cat "var/test-$db.log"
    i=$((i + 1))
  done
  if [ -f var/test-failed ]; then
    while IFS= read -r line; do failed+=("$line"); done <var/test-failed
  fi
fi

if [ "${#failed[@]}" -ne 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all runs passed on: ${backends[*]}"
