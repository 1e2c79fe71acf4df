#!/bin/bash
# t_metrics.sh - the Prometheus metrics of `stsguard serve`
# (metrics_listen): scraped with curl, every scrape checked by promtool
# (Debian's prometheus package: `promtool check metrics`, the format's
# own linter), and the counters followed as requests are made: policy
# fetches by result (200, 404, 421), TLS handshakes (full, resumed,
# failed), HTTPS intake (stored, duplicate, invalid, refused), a report
# mailed with swaks (smtp stored) and a mail to an address not ours (smtp
# refused), reports stored, duplicates,
# quarantine, the store's gauges (reports, conflicts, quarantine size)
# and the commit latency histogram. Then the listener's bounds: GET
# /metrics only (405 with Allow, 404 elsewhere), a head over 8 KiB gets
# 431, an idle connection is closed after LIMIT_METRICS_SECONDS (5 s),
# more than LIMIT_METRICS_CONNS (8) at once are closed at accept while a
# scrape still gets through once they go. And off by default: a daemon
# started without metrics_listen opens no such port.
#
# Own loopback address and random high ports; bounded (curl --max-time,
# raw_client's timeout); the trap stops the daemon it started.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.example.net
MPORT=$(( PORT + 1 ))
SPORT=$(( PORT + 2 ))
command -v promtool > /dev/null ||
    { echo "promtool missing (scripts/deps.sh: prometheus)"; exit 1; }
command -v swaks > /dev/null || { echo "swaks missing (scripts/deps.sh)"; exit 1; }

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.example.com:$PORT:$IP" \
	    --resolve "mta-sts.example.org:$PORT:$IP" \
	    --resolve "mta-sts.nowhere.example:$PORT:$IP" "$@"
}
n=0
# scrape: the metrics into $DIR/m.N (N counts up), checked by promtool;
# M is the file.
scrape() {
	n=$((n + 1))
	M="$DIR/m.$n"
	curl -sS --max-time 10 -o "$M" -w '%{http_code} %{content_type}' \
	    "http://$IP:$MPORT/metrics" > "$DIR/m.$n.status"
	if ! grep -q '^200 text/plain; version=0.0.4' "$DIR/m.$n.status"; then
		bad "scrape $n: $(cat "$DIR/m.$n.status")"
		return
	fi
	if promtool check metrics < "$M" > "$DIR/m.$n.lint" 2>&1; then
		ok "scrape $n: promtool check metrics finds nothing"
	else
		bad "scrape $n: promtool: $(head -5 "$DIR/m.$n.lint")"
	fi
}
# v 'NAME{LABELS}' [FILE]: the sample's value ("-" when absent).
v() {
	awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "-" }' \
	    "${2:-$M}"
}
# moved 'SAMPLE' BY: the sample grew by exactly BY since the last scrape.
moved() {
	local before after
	before=$(v "$1" "$DIR/m.$((n - 1))")
	after=$(v "$1")
	check "$1 grew by $2 ($before -> $after)" "$2" \
	    "$($PY -c "print(int(float('$after') - float('$before')))" 2>&1)"
}

echo "address $IP https $PORT metrics $MPORT smtp $SPORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
sg domain add example.org --mode testing --mx mx.example.org \
    --max-age 86400 > /dev/null || exit 1
RUA=$(sg dns example.com --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        v = r["value"]
        print(re.search(r"(https://[^,; ]+)", v).group(1),
              re.search(r"mailto:([^,; ]+)", v).group(1))')
read -r URL TO <<< "$RUA"
URL=${URL/$SH/$SH:$PORT}

# --- off by default ---------------------------------------------------
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 1 2> "$DIR/serve0.log" &
PID=$!
wait_up "$DIR/serve0.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1
if tcp_open "$IP" "$MPORT"; then bad "a metrics port without metrics_listen"
else ok "no metrics listener unless metrics_listen is set"; fi
serve_stop

# --- the daemon under test ----------------------------------------------
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --metrics-listen "$IP:$MPORT" --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" tcp_open "$IP" "$MPORT" || exit 1
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1
log_wait "$DIR/serve.log" 'event=serving'
grepf "the serving line names the metrics listener" "$DIR/serve.log" \
    "serving .*metrics=\"?$IP:$MPORT"
scrape
check "two hosted policies" 2 "$(v stsguard_policies_served)"
check "the store is read" 1 "$(v stsguard_store_up)"
check "no report yet" 0 "$(v stsguard_reports)"
check "no ACME metrics without certificates = acme" - \
    "$(v stsguard_acme_orders_total)"
# The monitor's alerts (t_monitor.sh raises one and sees it counted).
check "alerts raised: none yet, by severity" \
    'stsguard_alerts_total{severity="critical"} 0
stsguard_alerts_total{severity="error"} 0
stsguard_alerts_total{severity="warning"} 0' \
    "$(grep '^stsguard_alerts_total' "$M")"

# --- policy fetches and handshakes --------------------------------------
for i in 1 2 3; do
	c -o /dev/null "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt"
done
# Three policies on one connection (one handshake), and a 404 for a Host
# we do not serve on an SNI we do.
c -o /dev/null -o /dev/null -o /dev/null \
    "https://mta-sts.example.org:$PORT/.well-known/mta-sts.txt" \
    "https://mta-sts.example.org:$PORT/.well-known/mta-sts.txt" \
    "https://mta-sts.example.org:$PORT/.well-known/mta-sts.txt"
c -o /dev/null -H "Host: mta-sts.nowhere.example" \
    "https://mta-sts.example.org:$PORT/.well-known/mta-sts.txt"
# 421: the certificate is for example.com, the Host example.org.
c -o /dev/null -H "Host: mta-sts.example.org" \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt"
# Resumed: two sessions of one openssl process.
openssl s_client -connect "$IP:$PORT" -servername mta-sts.example.com \
    -CAfile "$DIR/data/local-ca.pem" -sess_out "$DIR/sess" \
    < /dev/null > "$DIR/first.out" 2>&1
openssl s_client -connect "$IP:$PORT" -servername mta-sts.example.com \
    -CAfile "$DIR/data/local-ca.pem" -sess_in "$DIR/sess" \
    < /dev/null > "$DIR/resumed.out" 2>&1
# Failed: a name we do not serve (unrecognized_name), and plain bytes.
openssl s_client -connect "$IP:$PORT" -servername mta-sts.nowhere.example \
    < /dev/null > /dev/null 2>&1
raw_client "$IP" "$PORT" 's:GET / HTTP/1.1\r\n\r\n' > /dev/null
sleep 0.3
scrape
moved 'stsguard_policy_fetches_total{result="served"}' 6
moved 'stsguard_policy_fetches_total{result="unknown_host"}' 1
moved 'stsguard_policy_fetches_total{result="misdirected"}' 1
# curl: 3 + 1 + 1 + 1 handshakes; openssl: 2, the second resumed when
# the first got its session ticket before it hung up (not always so on
# a slow machine: then -sess_in has no file, and the second never
# connects): count those that say they finished.
ossl=$(cat "$DIR/first.out" "$DIR/resumed.out" | grep -cE '^(New|Reused), ')
full=$(( $(v 'stsguard_tls_handshakes_total{result="full"}') -
    $(v 'stsguard_tls_handshakes_total{result="full"}' "$DIR/m.1") ))
resumed=$(( $(v 'stsguard_tls_handshakes_total{result="resumed"}') -
    $(v 'stsguard_tls_handshakes_total{result="resumed"}' "$DIR/m.1") ))
check "handshakes: full + resumed grew by 6 + $ossl ($full + $resumed)" \
    $(( 6 + ossl )) $(( full + resumed ))
check "openssl: at least the first handshake" 1 "$(( ossl >= 1 ))"
if grep -q 'Reused' "$DIR/resumed.out"; then
	check "openssl resumed its session: resumed grew by 1" 1 "$resumed"
else
	echo "note: openssl did not resume (resumed grew by $resumed)"
fi
moved 'stsguard_tls_handshakes_total{result="failed"}' 2

# --- HTTPS intake -------------------------------------------------------
R="$TOP/tests/data/reports"
post() { # post FILE TYPE -> status
	c -o /dev/null -w '%{http_code}' -H "Content-Type: $2" \
	    --data-binary @"$1" "$URL"
}
check "a report: 201" 201 \
    "$(post "$R/001-google-style-success.json.gz" application/tlsrpt+gzip)"
check "another: 201" 201 \
    "$(post "$R/003-failures-mismatch.json" application/tlsrpt+json)"
check "the first again: 200" 200 \
    "$(post "$R/001-google-style-success.json" application/tlsrpt+json)"
printf '{"not": "a report"}' > "$DIR/bad.json"
check "not a report: 400" 400 "$(post "$DIR/bad.json" application/tlsrpt+json)"
check "wrong media type: 415" 415 "$(post "$DIR/bad.json" text/plain)"
scrape
moved 'stsguard_intake_total{route="https",outcome="stored"}' 2
moved 'stsguard_intake_total{route="https",outcome="duplicate"}' 1
moved 'stsguard_intake_total{route="https",outcome="invalid"}' 1
moved 'stsguard_intake_total{route="https",outcome="refused"}' 1
moved 'stsguard_reports_stored_total{route="https"}' 2
moved 'stsguard_report_duplicates_total{route="https"}' 1
moved 'stsguard_quarantined_total{route="https"}' 1
check "reports in the store" 2 "$(v stsguard_reports)"
check "one quarantine entry" 1 "$(v stsguard_quarantine_entries)"
if [ "$(v stsguard_quarantine_bytes)" != - ] &&
    [ "$(v stsguard_quarantine_bytes)" -gt 0 ]; then
	ok "quarantine bytes $(v stsguard_quarantine_bytes)"
else bad "quarantine bytes: $(v stsguard_quarantine_bytes)"; fi
# Four commits at least (each answer waits for its own), all counted in
# the histogram whose +Inf bucket is its count.
check "histogram: +Inf bucket = count" \
    "$(v 'stsguard_store_commit_seconds_bucket{le="+Inf"}')" \
    "$(v stsguard_store_commit_seconds_count)"
if [ "$(v stsguard_store_commit_seconds_count)" -ge 3 ]; then
	ok "commits timed: $(v stsguard_store_commit_seconds_count)"
else bad "commits timed: $(v stsguard_store_commit_seconds_count)"; fi

# A conflict: the same (organization-name, report-id), another report.
$PY - "$R/003-failures-mismatch.json" "$DIR/conflict.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["policies"][0]["summary"]["total-successful-session-count"] += 1
json.dump(r, open(sys.argv[2], "w"))
EOF
check "a conflicting report: 201" 201 \
    "$(post "$DIR/conflict.json" application/tlsrpt+json)"
scrape
check "two reports flagged a conflict" 2 "$(v stsguard_report_conflicts)"
moved 'stsguard_reports_stored_total{route="https"}' 1

# --- SMTP intake ----------------------------------------------------------
timeout 30 swaks --server "$IP" --port "$SPORT" --ehlo mail.example.test \
    --from noreply-smtp-tls-reporting@example.test --to "$TO" \
    --h-Subject "Report Domain: example.com Submitter: example.net" \
    --body "a TLS report" --attach-type application/tlsrpt+json \
    --attach-name report.json --attach "@$R/004-no-policy-found.json" \
    > "$DIR/swaks.out" 2>&1
grepf "report mail: 250" "$DIR/swaks.out" '250 2\.0\.0 Ok: report stored'
timeout 30 swaks --server "$IP" --port "$SPORT" --ehlo mail.example.test \
    --from someone@example.test --to "postmaster@$SH" --body "hello" \
    > "$DIR/swaks2.out" 2>&1
grepf "mail to another address: 550" "$DIR/swaks2.out" '<\*\* +550 '
scrape
moved 'stsguard_intake_total{route="smtp",outcome="stored"}' 1
moved 'stsguard_intake_total{route="smtp",outcome="refused"}' 1
moved 'stsguard_reports_stored_total{route="smtp"}' 1

# --- the listener's own rules -------------------------------------------
check "POST /metrics: 405" "405 GET" "$(curl -sS --max-time 5 -o /dev/null \
    -D "$DIR/h" -w '%{http_code}' -X POST "http://$IP:$MPORT/metrics") $(
    tr -d '\r' < "$DIR/h" | awk -F': ' 'tolower($1) == "allow" { print $2 }')"
check "HEAD /metrics: 405" 405 "$(curl -sS --max-time 5 -o /dev/null \
    -w '%{http_code}' -I "http://$IP:$MPORT/metrics")"
check "GET /: 404" 404 "$(curl -sS --max-time 5 -o /dev/null \
    -w '%{http_code}' "http://$IP:$MPORT/")"
raw_client "$IP" "$MPORT" \
    "s:GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nX-Big: $(head -c 9000 \
    /dev/zero | tr '\0' a)\\r\\n\\r\\n" > "$DIR/big.out"
grepf "a head over 8 KiB: 431, closed" "$DIR/big.out" '^HTTP/1.1 431'
grepf "... and closed" "$DIR/big.out" '\[closed\]'
# Eight idle connections hold every slot: a ninth is closed at once.
idle=()
for i in 1 2 3 4 5 6 7 8; do
	raw_client "$IP" "$MPORT" 'w:8' > "$DIR/idle.$i" &
	idle+=($!)
done
sleep 1
check "a ninth connection: closed at accept, no answer" "[closed]" \
    "$(raw_client "$IP" "$MPORT" 's:GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' |
    tr -d '\r' | head -1)"
wait "${idle[@]}"
check "idle connections closed after 5 s" 8 \
    "$(grep -l '^\[closed\]' "$DIR"/idle.* | wc -l)"
scrape
check "policies still counted after all that" \
    "$(v 'stsguard_policy_fetches_total{result="served"}' "$DIR/m.2")" \
    "$(v 'stsguard_policy_fetches_total{result="served"}')"

serve_stop
log_clean "$DIR/serve.log" "$DIR/serve0.log"
finish
