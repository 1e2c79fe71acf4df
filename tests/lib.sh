# lib.sh - sourced (never run) by every black-box test, first thing:
#     . "$(dirname "$0")/lib.sh"
# It gives:
#   TOP BUILD STSGUARD CORPUS  as tests/run.sh exports them, with the same
#                   defaults when a test is run alone (STSGUARD made absolute)
#   ok, bad, check  one "ok   ..." or "FAIL ..." line per check; bad counts
#                   into $fails
#   finish          prints "failures: N" and is true when N is 0: a test's
#                   last command, so that it is the exit status
#   IP, PORT        a loopback address of the test's own, so that tests run
#                   side by side, and a random high port (PORT+1 too is free
#                   to use): 127.A.B.C, A and C from the shell's pid (two
#                   running tests never have the same), B at random
#   DIR             a fresh directory under /tmp, removed at exit (kept, and
#                   named, when KEEP is set)
#   sg              stsguard with --data-dir $DIR/data
#   PID             the daemon under test: the test sets it to $! when it
#                   starts one and clears it when it stopped it itself
#   wait_up         waits until the daemon just started answers
#   cleanup_add     one more command for the exit trap
# At exit, and on INT or TERM, the trap stops $PID with $STOP_SIGNAL (TERM
# unless the test says KILL) and waits for it, kills every background job
# of the test still running, runs the cleanup_add commands in order, and
# removes $DIR.

TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
STSGUARD=${STSGUARD:-$TOP/$BUILD/stsguard}
case $STSGUARD in /*) ;; *) STSGUARD=$PWD/$STSGUARD ;; esac
CORPUS=${CORPUS:-$TOP/../shared/corpus}

fails=0
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else
		bad "$1: expected [$2], got [$3]"; fi
}
finish() {
	echo "failures: $fails"
	[ "$fails" -eq 0 ]
}

IP=127.$(( $$ % 200 + 20 )).$(( RANDOM % 200 + 20 )).$(( $$ / 200 % 200 + 20 ))
PORT=$(( 20000 + RANDOM % 20000 ))

DIR=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX") || exit 1
sg() { "$STSGUARD" --data-dir "$DIR/data" "$@"; }

PID=
STOP_SIGNAL=TERM
CLEANUP=()
cleanup_add() { CLEANUP+=("$1"); }	# cleanup_add 'SHELL COMMAND'
cleanup() {
	local running c
	[ -n "$PID" ] && kill -"$STOP_SIGNAL" "$PID" 2>/dev/null &&
	    wait "$PID" 2>/dev/null
	# -r: running jobs only, never a finished one whose pid may be reused
	running=$(jobs -pr)
	if [ -n "$running" ]; then
		kill $running 2>/dev/null
		wait $running 2>/dev/null
	fi
	for c in "${CLEANUP[@]}"; do eval "$c"; done
	[ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_up LOG CMD...: after starting the daemon ($PID, its stderr in LOG),
# runs CMD every 0.1 s until it succeeds. False, with LOG printed, if the
# daemon exits first or 10 s pass.
wait_up() {
	local log=$1 _
	shift
	for _ in $(seq 100); do
		"$@" 2>/dev/null && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "serve did not come up:"; cat "$log"
	return 1
}
