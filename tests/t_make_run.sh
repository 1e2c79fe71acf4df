#!/bin/bash
# t_make_run.sh - the demo a newcomer starts first: `make run` runs
# scripts/demo.sh, and so does this test, in a fresh directory, on the
# test's own loopback address and ports (the script's DATA, HTTPS_LISTEN
# and HTTP_LISTEN), from another working directory than the project's.
#
# Checks: the script gets as far as serving (records printed, sample
# reports imported); the statistics it prints show those reports (not
# "(none)"); the curl line it prints, run as printed, fetches the policy;
# the dashboard line it prints logs in with the printed user and password
# and shows the demo domain with yesterday's report in its chart; the
# daemon stops on SIGTERM with exit 0.
set -u
. "$(dirname "$0")/lib.sh"

echo "address $IP https $PORT http $(( PORT + 1 ))"
if ! demo_start; then
	bad "the demo did not get to serving"
	finish
	exit
fi
ok "the demo got to serving"
grep -q '^_smtp._tls.example.com. 3600 IN TXT "v=TLSRPTv1; rua=mailto:' \
    "$DIR/out" && ok "the DNS records printed" || bad "no DNS records"
grep -q '^imported 6, duplicates 2' "$DIR/err" &&
    ok "the sample reports imported" || bad "sample reports not imported"
stats=$(sed -n '/^== statistics/,/^== starting/p' "$DIR/out")
if grep -q '(none)' <<< "$stats"; then
	bad "statistics show no reports: $stats"
elif grep -qE '^  total +[1-9][0-9]* +[0-9]+' <<< "$stats"; then
	ok "the statistics show the sample reports"
else
	bad "no totals in the statistics: $stats"
fi
echo "     $DEMO_CURL"
body=$(eval "$DEMO_CURL" 2> "$DIR/curl.err")
check "the printed curl line fetches the policy" "version: STSv1" \
    "$(head -1 <<< "$body" | tr -d '\r')"
grep -q '^mx: \*\.mx\.example\.net' <<< "$(tr -d '\r' <<< "$body")" &&
    ok "the demo domain's policy" || bad "policy: $body $(cat "$DIR/curl.err")"
# The dashboard, as printed: log in, see yesterday's sessions.
check "the printed dashboard user logs in" 303 "$(demo_login)"
demo_dc -o "$DIR/page" "${DEMO_URL}domains/example.com"
yday=$(date -u -d yesterday +%Y-%m-%d)
grep -q "<title>$yday: 4210 successful, 7 failed</title>" "$DIR/page" &&
    ok "the dashboard charts yesterday's demo report" ||
    bad "no bar for $yday in the domain page"
kill -TERM $PID; wait $PID; st=$?; PID=
check "SIGTERM exit code" 0 "$st"
grep -E 'panic|AddressSanitizer|runtime error' "$DIR/err" &&
    bad "panic or sanitizer report" || ok "no panic or sanitizer report"
finish
