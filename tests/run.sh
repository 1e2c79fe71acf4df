#!/bin/bash
# run.sh BUILD - run every test of stsguard, one line per test, then a
# closing "tests: N passed, M failed" line. Exit 0 only if all pass.
#
# Tests are found by name, so adding a file adds a test:
#   BUILD/tests/test_*   cmocka unit tests (tests/unit/)
#   BUILD/fuzz/fuzz_*    fuzz targets replaying fuzz/corpus/<name>/
#   tests/t_*.sh         black-box tests of the binary and real peers
# They run two at a time (the machine has 2 cores); each is bounded by
# TEST_TIMEOUT seconds (default 600). ONLY=regex runs a subset.
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
LOGS="$TOP/$BUILD/test-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
export STSGUARD="$TOP/$BUILD/stsguard" TOP BUILD LOGS
export CORPUS="${CORPUS:-$TOP/../shared/corpus}"
export TEST_TIMEOUT="${TEST_TIMEOUT:-600}"

run_one() {
	local kind=$1 path=$2 name log start cmd
	name=$(basename "$path" .sh)
	log="$LOGS/$name.log"
	case $kind in
	unit) cmd=("$path") ;;
	fuzz) cmd=("$path" "$TOP/fuzz/corpus/${name#fuzz_}") ;;
	sh)   cmd=(bash "$path") ;;
	esac
	start=$(date +%s)
	if (cd "$TOP" && timeout -k 10 "$TEST_TIMEOUT" "${cmd[@]}") \
	    > "$log" 2>&1 < /dev/null; then
		echo "ok   $name ($(( $(date +%s) - start ))s)"
	else
		echo "FAIL $name ($(( $(date +%s) - start ))s), log $log:"
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
} | grep -E "${ONLY:-.}" > "$LOGS/list"

xargs -P 2 -L 1 bash -c 'run_one "$0" "$1"' < "$LOGS/list" |
    tee "$LOGS/results"
pass=$(grep -c '^ok ' "$LOGS/results")
fail=$(grep -c '^FAIL ' "$LOGS/results")
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
