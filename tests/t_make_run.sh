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
HPORT=$(( PORT + 1 ))

echo "address $IP https $PORT http $HPORT"
cd "$DIR" || exit 1
DATA=$DIR/data HTTPS_LISTEN=$IP:$PORT HTTP_LISTEN=$IP:$HPORT \
    sh "$TOP/scripts/demo.sh" "$STSGUARD" > "$DIR/out" 2> "$DIR/err" &
PID=$!	# the script execs the daemon: this is it, in the end
line=
for _ in $(seq 100); do
	line=$(sed -n 's/^   \(curl .*\)$/\1/p' "$DIR/out")
	[ -n "$line" ] && grep -q 'event=serving' "$DIR/err" && break
	kill -0 $PID 2> /dev/null || break
	sleep 0.1
done
if [ -z "$line" ]; then
	bad "the demo did not get to serving:"
	cat "$DIR/out" "$DIR/err"
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
echo "     $line"
body=$(eval "$line" 2> "$DIR/curl.err")
check "the printed curl line fetches the policy" "version: STSv1" \
    "$(head -1 <<< "$body" | tr -d '\r')"
grep -q '^mx: \*\.mx\.example\.net' <<< "$(tr -d '\r' <<< "$body")" &&
    ok "the demo domain's policy" || bad "policy: $body $(cat "$DIR/curl.err")"
# The dashboard, as printed: log in, see yesterday's sessions.
dash=$(sed -n 's/^   \(https:.*\)  user \(.*\)  password \(.*\)$/\1 \2 \3/p' "$DIR/out")
read -r url user pass <<< "$dash"
host=$(sed 's|https://\([^:/]*\):.*|\1|' <<< "$url")
dc() { curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
    --resolve "$host:$PORT:$IP" -b "$DIR/jar" -c "$DIR/jar" "$@"; }
csrf=$(dc "${url}login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
check "the printed dashboard user logs in" 303 "$(dc -o /dev/null -w '%{http_code}' \
    --data-urlencode "csrf=$csrf" --data-urlencode "email=$user" \
    --data-urlencode "password=$pass" "${url}login")"
dc -o "$DIR/page" "${url}domains/example.com"
yday=$(date -u -d yesterday +%Y-%m-%d)
grep -q "<title>$yday: 4210 successful, 7 failed</title>" "$DIR/page" &&
    ok "the dashboard charts yesterday's demo report" ||
    bad "no bar for $yday in the domain page"
kill -TERM $PID; wait $PID; st=$?; PID=
check "SIGTERM exit code" 0 "$st"
grep -E 'panic|AddressSanitizer|runtime error' "$DIR/err" &&
    bad "panic or sanitizer report" || ok "no panic or sanitizer report"
finish
