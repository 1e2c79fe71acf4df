#!/bin/sh
# run.sh [SECONDS [NAME...]] - runs the libFuzzer targets that `make fuzz`
# built in build-fuzz/, one after the other, each for SECONDS (default 60),
# seeded from fuzz/corpus/NAME/; new inputs go to a scratch directory
# (printed), so the checked-in corpus only grows by hand. NAME is a
# target without "fuzz_" (http, smtp_server, ...); default: every one.
# Stops at the first target that finds a crash (libFuzzer exits non-zero
# and leaves crash-* here).
#
# Options per target:
#   fuzz_http  -max_len=65536: the head limit is 8 KiB
#              (LIMIT_HTTP_HEADER_BYTES) and libFuzzer's default max_len
#              is 4096 (or the largest seed), so mutated inputs would
#              never reach the 431 path past it.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
if [ $# -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do
		n=${f#fuzz/fuzz_}
		set -- "$@" "${n%.c}"
	done
fi
for n in "$@"; do
	case $n in
	http)	opts=-max_len=65536 ;;
	*)	opts= ;;
	esac
	out=$(mktemp -d)
	echo "== fuzz_$n $opts for ${secs}s, new inputs in $out"
	build-fuzz/fuzz_$n $opts -max_total_time="$secs" -print_final_stats=1 \
	    "$out" "fuzz/corpus/$n"
done
