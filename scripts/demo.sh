#!/bin/sh
# demo.sh STSGUARD - what `make run` does: set up a demo data dir, host a
# demo domain, import the reports the project ships as its test data,
# print the DNS records and the statistics, then start the daemon on
# loopback with the local CA and show how to fetch the policy.
set -eu
BIN=${1:-build/stsguard}
DATA=${DATA:-./data}
HTTPS=${HTTPS_LISTEN:-127.0.0.1:8443}
HTTP=${HTTP_LISTEN:-127.0.0.1:8080}
sts() { "$BIN" --data-dir "$DATA" "$@"; }

echo "== stsguard demo (data dir $DATA)"
if ! sts domain show example.com >/dev/null 2>&1; then
	sts domain add example.com --mode testing \
	    --mx mail.example.com --mx '*.mx.example.net' --max-age 604800
fi
echo
echo "== DNS records to publish for example.com"
sts dns example.com --service-host localhost
echo
echo "== importing the sample reports in tests/data/reports"
sts report import tests/data/reports/*.json tests/data/reports/*.json.gz || true
echo
sts stats example.com
echo "== starting the daemon with the local CA (Ctrl-C stops it)"
echo "   fetch the policy as a sender would:"
echo "   curl --cacert $DATA/local-ca.pem --resolve mta-sts.example.com:${HTTPS##*:}:${HTTPS%:*} https://mta-sts.example.com:${HTTPS##*:}/.well-known/mta-sts.txt"
echo
exec "$BIN" --data-dir "$DATA" serve --https-listen "$HTTPS" \
    --http-listen "$HTTP" --service-host localhost --certificates local
