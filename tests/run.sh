#!/bin/bash
# run.sh BUILD - run every test of stsguard, one line per test, then a
# closing "tests: N passed, M failed" line. Exit 0 only if all pass.
#
# Tests are found by name, so adding a file adds a test:
#   BUILD/tests/test_*   cmocka unit tests (tests/unit/)
#   BUILD/fuzz/fuzz_*    fuzz targets replaying fuzz/corpus/<name>/
#   tests/t_*.sh         black-box tests of the binary and real peers
# They run two at a time (the machine has 2 cores); each is bounded by
# TEST_TIMEOUT seconds (default 600). ONLY=regex runs a subset, and
# EXCLUDE=regex leaves some out; TEST_LOGS names the logs' directory.
#
# A test passes when it exits 0; a black-box test must also have made a
# check: its log has at least one "ok   ..." line (lib.sh's ok()) and no
# line starting with "FAIL", so that a script which ran nothing, or
# printed a failure and still exited 0, fails. A cmocka test that skipped
# cases (skip(), e.g. no corpus) passes with ", N skipped" on its line.
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
LOGS="${TEST_LOGS:-$TOP/$BUILD/test-logs}"
rm -rf "$LOGS"
mkdir -p "$LOGS"
export STSGUARD="$TOP/$BUILD/stsguard" TOP BUILD LOGS
export CORPUS="${CORPUS:-$TOP/../shared/corpus}"
export TEST_TIMEOUT="${TEST_TIMEOUT:-600}"

run_one() {
	local kind=$1 path=$2 name log start cmd why secs skipped
	name=$(basename "$path" .sh)
	log="$LOGS/$name.log"
	case $kind in
	unit) cmd=("$path") ;;
	fuzz) cmd=("$path" "$TOP/fuzz/corpus/${name#fuzz_}") ;;
	sh)   cmd=(bash "$path") ;;
	esac
	start=$(date +%s)
	why=
	if ! (cd "$TOP" && timeout -k 10 "$TEST_TIMEOUT" "${cmd[@]}") \
	    > "$log" 2>&1 < /dev/null; then
		why=-
	elif [ "$kind" = sh ] && grep -q '^FAIL' "$log"; then
		why="exit 0, but its log has a FAIL line"
	elif [ "$kind" = sh ] && ! grep -q '^ok   ' "$log"; then
		why="exit 0, but no check passed (no \"ok   \" line in its log)"
	fi
	secs=$(( $(date +%s) - start ))
	if [ -z "$why" ]; then
		# cmocka closes a group with skips by "[  SKIPPED ] N test(s), ..."
		skipped=$(awk '/^\[  SKIPPED \] [0-9]+ test/ { n += $4 }
		    END { print n + 0 }' "$log")
		echo "ok   $name (${secs}s)$([ "$skipped" -gt 0 ] &&
		    echo ", $skipped skipped")"
	else
		echo "FAIL $name (${secs}s), log $log:"
		[ "$why" = - ] || echo "    $why"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
}
export -f run_one

{
	for t in "$TOP/$BUILD"/tests/test_*; do
		[ -x "$t" ] && echo "unit $t"
	done
	for t in "$TOP/$BUILD"/fuzz/fuzz_*; do
		[ -x "$t" ] && echo "fuzz $t"
	done
	for t in "$TOP"/tests/t_*.sh; do
		[ -f "$t" ] && echo "sh $t"
	done
} | grep -E "${ONLY:-.}" | grep -vE "${EXCLUDE:-^$}" > "$LOGS/list"

xargs -P 2 -L 1 bash -c 'run_one "$0" "$1"' < "$LOGS/list" |
    tee "$LOGS/results"
pass=$(grep -c '^ok ' "$LOGS/results")
fail=$(grep -c '^FAIL ' "$LOGS/results")
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
