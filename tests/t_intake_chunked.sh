#!/bin/bash
# t_intake_chunked.sh - report intake of bodies sent with
# Transfer-Encoding: chunked (RFC 9112 §7.1; issue 12) against a running
# `stsguard serve`, with curl as the sender and a raw TLS client
# (lib.sh raw_client) for the bytes curl will not send:
#
#   1. curl POSTs a JSON report and a gzip report chunked: 201 stored,
#      and `report list --json` has each with route https; the same two
#      again: 200 duplicate with the same id.
#   2. a 1.6 MB report chunked: curl asks Expect: 100-continue, gets the
#      interim 100, then 201 (decoded across buffer growth).
#   3. refused while decoded, each with its JSON {"error": ...} and the
#      connection closed: 3 MB of data (413, after the 100), a chunk size
#      that is not hex (400), 70 trailer fields (431), 4 KiB chunk
#      extensions around 1-byte chunks (400: more framing than data).
#   4. the framing kept whole: an empty chunked body ("0\r\n\r\n") is the
#      400 of an empty body and the connection goes on (a report
#      pipelined behind it is stored); two chunked reports pipelined in
#      one write are answered 201 then 200, in order, on one connection;
#      curl's chunked POST and a policy GET after it share a connection.
#   5. a chunked body sent to the policy URL (no body read there): 405,
#      Connection: close, closed.
#   Then: nothing was stored but the reports of 1 and 2 and 4; the log
#   has no panic or sanitizer report.
#
# What is checked is answers and their order, never how long they took.
# Own loopback address and random high port; bounded clients (curl
# --max-time, raw_client's own bound); the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.example.net
DATA=$TOP/tests/data/reports

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.example.com:$PORT:$IP" \
	    "$@"
}
# postc FILE TYPE: curl POSTs FILE chunked; prints the status code, the
# answer's body in $DIR/resp, curl's trace in $DIR/trace
postc() {
	c -v -o "$DIR/resp" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	    -H "Content-Type: $2" --data-binary @"$1" "$URL" 2> "$DIR/trace"
}
# raw STEP...: raw_client over TLS to the service host
raw() {
	raw_client --tls "$SH" "$DIR/data/local-ca.pem" "$IP" "$PORT" "$@"
}
# chunk FILE: FILE as one chunk and the last chunk, escaped for raw_client
chunk() {
	$PY - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
body = b"%x\r\n" % len(d) + d + b"\r\n0\r\n\r\n"
print("".join("\\x%02x" % b for b in body), end="")
EOF
}
# id_of ORG REPORT-ID: "ROUTE ID" of the stored report, from report list
id_of() {
	sg report list --json | $PY -c '
import json, sys
for r in json.load(sys.stdin):
    if r["organization-name"] == sys.argv[1] and r["report-id"] == sys.argv[2]:
        print(r["route"], r["id"])' "$1" "$2"
}

echo "address $IP https $PORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
TOK=$(sg domain show example.com --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
URL="https://$SH:$PORT/tlsrpt/$TOK"
HEAD="POST /tlsrpt/$TOK HTTP/1.1\r\nHost: $SH\r\nContent-Type: application/tlsrpt+json\r\nTransfer-Encoding: chunked\r\n\r\n"

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1

# --- 1. curl, chunked, JSON and gzip: stored, then duplicates ------------
J=$DATA/002-microsoft-style-sts-tlsa.json
G=$DATA/001-google-style-success.json.gz
check "chunked JSON report: 201" 201 "$(postc "$J" application/tlsrpt+json)"
grep -q '^> Transfer-Encoding: chunked' "$DIR/trace" &&
    ! grep -qi '^> Content-Length' "$DIR/trace" &&
    ok "curl sent it chunked, without a Content-Length" ||
    bad "curl did not send chunked: $(grep '^>' "$DIR/trace")"
jid=$(sed -n 's/^{"status": "stored", "id": \([0-9]*\)}$/\1/p' "$DIR/resp")
check "chunked gzip report: 201" 201 "$(postc "$G" application/tlsrpt+gzip)"
gid=$(sed -n 's/^{"status": "stored", "id": \([0-9]*\)}$/\1/p' "$DIR/resp")
check "report list: the JSON one, route https" "https $jid" \
    "$(id_of 'Example Corporation' '134236118400000001+example.com')"
check "report list: the gzip one, route https" "https $gid" \
    "$(id_of 'Bigmail Inc.' '2026-05-12T00:00:00Z_example.com')"
check "the JSON one again: 200" 200 "$(postc "$J" application/tlsrpt+json)"
check "  duplicate of the same id" "{\"status\": \"duplicate\", \"id\": $jid}" \
    "$(cat "$DIR/resp")"
check "the gzip one again: 200" 200 "$(postc "$G" application/tlsrpt+gzip)"
check "  duplicate of the same id" "{\"status\": \"duplicate\", \"id\": $gid}" \
    "$(cat "$DIR/resp")"

# --- 2. a 1.6 MB report: Expect: 100-continue, then 201 ------------------
$PY - > "$DIR/large.json" <<'EOF'
import json
det = [{"result-type": "certificate-expired",
        "sending-mta-ip": "192.0.2.%d" % (i % 250 + 1),
        "receiving-mx-hostname": "mx%d.example.com" % i,
        "failed-session-count": 1} for i in range(11000)]
print(json.dumps({"organization-name": "Large Sender", "report-id": "chunked-large-1",
  "date-range": {"start-datetime": "2026-05-20T00:00:00Z",
                 "end-datetime": "2026-05-20T23:59:59Z"},
  "contact-info": "tls@large.example", "policies": [{"policy": {
  "policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing",
  "mx: *.example.com", "max_age: 86400"], "policy-domain": "example.com"},
  "summary": {"total-successful-session-count": 5,
  "total-failure-session-count": 11000}, "failure-details": det}]}))
EOF
check "1.6 MB report chunked: 201" 201 \
    "$(postc "$DIR/large.json" application/tlsrpt+json)"
grep -q '^> Expect: 100-continue' "$DIR/trace" &&
    grep -q '^< HTTP/1.1 100 Continue' "$DIR/trace" &&
    ok "Expect: 100-continue asked, interim 100 sent" ||
    bad "no 100 Continue: $(grep -E '^[<>]' "$DIR/trace" | head)"
check "  stored whole: its 11000 failed sessions" 11000 \
    "$(sg report list --json | $PY -c 'import json, sys
print(sum(r["failed"] for r in json.load(sys.stdin)
          if r["report-id"] == "chunked-large-1"))')"

# --- 3. refused while decoded: answer, JSON, close -----------------------
head -c 3000000 /dev/zero > "$DIR/big"
check "3 MB chunked: 413" 413 "$(postc "$DIR/big" application/tlsrpt+gzip)"
check "  413 JSON body" \
    '{"error": "report larger than the limit of 2097152 bytes"}' \
    "$(cat "$DIR/resp")"
grep -q '^< HTTP/1.1 100 Continue' "$DIR/trace" &&
    grep -qi '^< Connection: close' "$DIR/trace" &&
    ok "  after the 100 (the size is known only once read), then closed" ||
    bad "  413: $(grep -E '^[<>]' "$DIR/trace" | head)"

raw "s:${HEAD}zz\r\n" > "$DIR/r.bad"
check "chunk size not hex: 400" "HTTP/1.1 400 Bad Request" \
    "$(head -1 "$DIR/r.bad" | tr -d '\r')"
grepf "  JSON reason" "$DIR/r.bad" '^\{"error": "chunked body: malformed framing"\}$'
grepf "  Connection: close" "$DIR/r.bad" '^Connection: close'
grepf "  closed" "$DIR/r.bad" '^\[closed\]$'

T=$($PY -c 'print("".join("X%d: y\\r\\n" % i for i in range(70)), end="")')
raw "s:${HEAD}1\r\nx\r\n0\r\n${T}\r\n" > "$DIR/r.trailer"
check "70 trailer fields: 431" "HTTP/1.1 431 Request Header Fields Too Large" \
    "$(head -1 "$DIR/r.trailer" | tr -d '\r')"
grepf "  JSON reason" "$DIR/r.trailer" '^\{"error": "chunked body: trailer section'
grepf "  closed" "$DIR/r.trailer" '^\[closed\]$'

E=$($PY -c 'print(("1;" + "e" * 4000 + "\\r\\nx\\r\\n") * 20, end="")')
raw "s:${HEAD}$E" > "$DIR/r.framing"
check "4 KiB extensions on 1-byte chunks: 400" "HTTP/1.1 400 Bad Request" \
    "$(head -1 "$DIR/r.framing" | tr -d '\r')"
grepf "  JSON reason" "$DIR/r.framing" '^\{"error": "chunked body: more framing than the data allows"\}$'
grepf "  closed" "$DIR/r.framing" '^\[closed\]$'

# --- 4. the framing kept whole: keep-alive and pipelining ----------------
raw "s:${HEAD}0\r\n\r\n${HEAD}$(chunk "$DATA/004-no-policy-found.json")" \
    'u:"stored"' > "$DIR/r.empty"
check "empty chunked body: 400, then the report pipelined behind it: 201" \
    "HTTP/1.1 400 Bad Request|{\"error\": \"empty body: no report\"}|HTTP/1.1 201 Created" \
    "$(grep -E '^HTTP/|^\{"error' "$DIR/r.empty" | tr -d '\r' | paste -sd '|')"

F=$DATA/003-failures-mismatch.json
B=$(chunk "$F")
raw "s:${HEAD}${B}${HEAD}${B}" 'u:duplicate' > "$DIR/r.pipe"
check "two chunked reports pipelined in one write: 201, then 200" \
    "HTTP/1.1 201 Created|HTTP/1.1 200 OK" \
    "$(grep '^HTTP/' "$DIR/r.pipe" | tr -d '\r' | paste -sd '|')"
check "  the second a duplicate of the first" 1 \
    "$(grep -o '"id": [0-9]*' "$DIR/r.pipe" | sort -u | wc -l)"
if grep -q '^\[closed\]$' "$DIR/r.pipe"; then bad "  connection closed"; else
	ok "  connection still open"; fi

c -v -o /dev/null -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/tlsrpt+json' --data-binary @"$F" "$URL" \
    --next --cacert "$DIR/data/local-ca.pem" -o "$DIR/pol" \
    "https://$SH:$PORT/.well-known/mta-sts.txt" 2> "$DIR/ka.err"
check "curl: chunked POST, then a GET on the same connection" 1 \
    "$(grep -c 'Re-using existing' "$DIR/ka.err")"

# --- 5. a chunked body where no body is read -----------------------------
raw_client --tls mta-sts.example.com "$DIR/data/local-ca.pem" "$IP" "$PORT" \
    "s:POST /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" \
    > "$DIR/r.policy"
check "chunked POST to the policy URL: 405" "HTTP/1.1 405 Method Not Allowed" \
    "$(head -1 "$DIR/r.policy" | tr -d '\r')"
grepf "  Connection: close" "$DIR/r.policy" '^Connection: close'
grepf "  closed" "$DIR/r.policy" '^\[closed\]$'

# Stored: the two of 1, the large one of 2, the two of 4; nothing else.
check "stored reports (rows, distinct)" "5 5" "$(reports_stored)"

serve_stop
log_clean "$DIR/serve.log"
finish
