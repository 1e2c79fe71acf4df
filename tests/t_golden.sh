#!/bin/bash
# t_golden.sh - golden tests of the command line.
#
# Each tests/data/cli/NNN-name.in is a small script of stsguard commands
# (one per line; '#' lines are comments; $TD is tests/data) run in a fresh
# empty directory, so the default data dir ./data starts empty. Its
# transcript - each command, its stdout, its stderr prefixed "! ", and its
# exit code - must equal NNN-name.out byte for byte, after values that
# change from run to run (policy ids, tokens, times of now) are replaced
# by placeholders (times from yesterday to a week ahead become <NOW>). UPDATE=1 rewrites the .out files (review the diff!).
set -u
. "$(dirname "$0")/lib.sh"
export TD="$TOP/tests/data"
pass=0

stsguard() { "$STSGUARD" "$@"; }

# Policy ids are YYYYMMDDhhmmss + r + revision; tokens 32 hex digits.
normalize() {
	sed -E -e "s|$TD|\$TD|g" \
	    -e 's/[0-9]{14}r[0-9]+/<POLICY-ID>/g' \
	    -e 's/\b[0-9a-f]{32}\b/<TOKEN>/g' \
	    -e "s/($near)T[0-9:]{8}Z/<NOW>/g"
}
# Times of now, and up to 8 days ahead (a removed domain's serve_until).
near=$(for d in -1 0 1 2 3 4 5 6 7 8; do
	date -u -d "$d days" +%Y-%m-%d; done | paste -sd'|')

transcript() {
	local line
	while IFS= read -r line; do
		case $line in ''|'#'*) continue ;; esac
		printf '$ %s\n' "$line"
		eval "$line" > "$DIR/out" 2> "$DIR/err" < /dev/null
		printf '[exit %d]\n' $?
		cat "$DIR/out"
		sed 's/^/! /' "$DIR/err"
	done
}

for in in "$TD"/cli/*.in; do
	name=$(basename "$in" .in)
	exp="${in%.in}.out"
	rm -rf "$DIR/run" && mkdir "$DIR/run"
	(cd "$DIR/run" && transcript < "$in") | normalize > "$DIR/got"
	if [ "${UPDATE:-0}" = 1 ]; then
		cp "$DIR/got" "$exp"
	fi
	if cmp -s "$DIR/got" "$exp"; then
		ok "$name"
		pass=$((pass + 1))
	else
		bad "$name:"
		diff -u "$exp" "$DIR/got" | head -40
	fi
done
echo "golden: $pass passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$pass" -gt 0 ]
