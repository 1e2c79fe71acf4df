#!/bin/sh
# demo.sh STSGUARD - what `make run` does: set up a demo data dir, host a
# demo domain, import the reports the project ships as its test data,
# print the DNS records and the statistics of those reports, make a
# dashboard user with a random password (kept in DATA/demo-password) and
# a report of yesterday (so the dashboard's charts have a day to show),
# then start the daemon on loopback with the local CA and show how to
# fetch the policy and open the dashboard. tests/t_make_run.sh runs this same script, so CI runs the demo.
#
# Environment (defaults in brackets): DATA [./data], HTTPS_LISTEN
# [127.0.0.1:8443], HTTP_LISTEN [127.0.0.1:8080], SERVICE_HOST
# [sts.localhost: two labels, and *.localhost is loopback (RFC 6761)].
set -eu
BIN=${1:-build/stsguard}
TOP=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA:-./data}
HTTPS=${HTTPS_LISTEN:-127.0.0.1:8443}
HTTP=${HTTP_LISTEN:-127.0.0.1:8080}
SH=${SERVICE_HOST:-sts.localhost}
sts() { "$BIN" --data-dir "$DATA" "$@"; }

echo "== stsguard demo (data dir $DATA)"
mkdir -p "$DATA"
if ! sts domain show example.com >/dev/null 2>&1; then
	sts domain add example.com --mode testing \
	    --mx mail.example.com --mx '*.mx.example.net' --max-age 604800
fi
echo
echo "== DNS records to publish for example.com"
sts dns example.com --service-host "$SH"
echo
echo "== importing the sample reports in tests/data/reports"
# One sample is invalid on purpose: it is kept in quarantine (exit 1).
sts report import "$TOP"/tests/data/reports/*.json \
    "$TOP"/tests/data/reports/*.json.gz || true
echo
echo "== statistics of example.com (the samples are of May 2026)"
sts stats example.com --from 2026-05-01 --to 2026-05-31
echo
echo "== a report of yesterday, for the dashboard's charts"
day=$(date -u -d yesterday +%Y-%m-%d)
printf '{"organization-name":"Demo Mail","date-range":{"start-datetime":"%sT00:00:00Z","end-datetime":"%sT23:59:59Z"},"contact-info":"tlsrpt@demo-mail.example","report-id":"demo-%s","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mail.example.com","mx: *.mx.example.net","max_age: 604800"],"policy-domain":"example.com","mx-host":["mail.example.com"]},"summary":{"total-successful-session-count":4210,"total-failure-session-count":7},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.25","receiving-mx-hostname":"mail.example.com","failed-session-count":7}]}]}\n' \
    "$day" "$day" "$day" > "$DATA/demo-report.json"
sts report import "$DATA/demo-report.json" || true
if [ ! -f "$DATA/demo-password" ]; then
	umask 077
	head -c 12 /dev/urandom | base64 | tr -d '/+=' > "$DATA/demo-password"
	sts user add demo@example.com --tenant default --role owner \
	    --password-file "$DATA/demo-password"
fi
echo
echo "== starting the daemon with the local CA (Ctrl-C stops it)"
echo "   fetch the policy as a sender would:"
echo "   curl --cacert $DATA/local-ca.pem --resolve mta-sts.example.com:${HTTPS##*:}:${HTTPS%:*} https://mta-sts.example.com:${HTTPS##*:}/.well-known/mta-sts.txt"
echo "   the dashboard (trust $DATA/local-ca.pem in the browser, or accept"
echo "   the warning; *.localhost is this machine):"
echo "   https://$SH:${HTTPS##*:}/  user demo@example.com  password $(cat "$DATA/demo-password")"
echo
exec "$BIN" --data-dir "$DATA" serve --https-listen "$HTTPS" \
    --http-listen "$HTTP" --service-host "$SH" --certificates local
