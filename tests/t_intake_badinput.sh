#!/bin/bash
# t_intake_badinput.sh - hostile input to report intake while the daemon
# keeps serving: after each case a policy fetch must still be answered.
#
# HTTPS POST (each 400 with a JSON reason, and kept in quarantine): a gzip
# bomb, truncated gzip, invalid JSON, wrong JSON types, a 1,000-level
# nested array, non-UTF-8 bytes. SMTP (raw client, plaintext): a message
# over the size limit (552, declared with SIZE= and undeclared), bare LF
# (500), commands out of order (503), a client that stops mid-DATA
# (nothing stored, nothing quarantined, others served meanwhile).
#
# Own loopback address, random high ports, bounded clients; the trap stops
# the daemon it started.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SPORT=$(( PORT + 1 ))
SH=sts.example.net

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.example.com:$PORT:$IP" \
	    "$@"
}
alive() { # the daemon still answers a policy fetch
	local s
	s=$(c -o /dev/null -w '%{http_code}' \
	    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" 2>&1)
	check "  ... policy fetch still answered after $1" 200 "$s"
}

echo "address $IP https $PORT smtp $SPORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
TOK=$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])')
URL="https://$SH:$PORT/tlsrpt/$TOK"
RCPT="tlsrpt+$TOK@$SH"

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1

# --- HTTPS: each 400 with a reason --------------------------------------
$PY - "$DIR" "$TOP/tests/data/reports/001-google-style-success.json" <<'EOF' || exit 1
import gzip, json, os, sys
d, good = sys.argv[1], open(sys.argv[2], "rb").read()
w = lambda n, b: open(os.path.join(d, n), "wb").write(b)
# 64 MiB of zeros: about 64 KiB gzipped, a ratio of ~1000.
w("bomb.gz", gzip.compress(b"\0" * (64 << 20), 9))
g = gzip.compress(good)
w("trunc.gz", g[: len(g) // 2])
w("invalid.json", b'{"organization-name": "x", "report-id": ')
r = json.loads(good)
r["policies"][0]["summary"]["total-successful-session-count"] = "12"
w("types.json", json.dumps(r).encode())
w("nested.json", b"[" * 1000 + b"]" * 1000)
r = json.loads(good)
w("nonutf8.json", json.dumps(r).encode().replace(b"Bigmail Inc.", b"Bigmail \xff\xfe Inc."))
EOF
for case in "bomb.gz:application/tlsrpt+gzip:gzip bomb" \
    "trunc.gz:application/tlsrpt+gzip:truncated gzip" \
    "invalid.json:application/tlsrpt+json:invalid JSON" \
    "types.json:application/tlsrpt+json:wrong JSON types" \
    "nested.json:application/tlsrpt+json:1000-level nested array" \
    "nonutf8.json:application/tlsrpt+json:non-UTF-8 bytes"; do
	f=${case%%:*}; rest=${case#*:}; t=${rest%%:*}; what=${rest#*:}
	s=$(c -o "$DIR/resp" -w '%{http_code}' -H "Content-Type: $t" \
	    --data-binary @"$DIR/$f" "$URL")
	check "$what: 400" 400 "$s"
	if $PY -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; sys.exit(0 if len(e) > 5 else 1)' \
	    "$DIR/resp" 2>/dev/null; then ok "  ... with a JSON reason: $(cat "$DIR/resp")"
	else bad "  ... no JSON reason: $(head -c 200 "$DIR/resp")"; fi
	alive "$what"
done
check "each kept in quarantine as a report" "6 report" "$(sg report quarantine list --json |
    $PY -c 'import json,sys; q=json.load(sys.stdin); print(len(q), " ".join(sorted(set(x["kind"] for x in q))))')"
check "nothing stored" 0 "$(sg report list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# --- SMTP, a raw client (lib.sh's raw_client) -----------------------------
raw() { raw_client "$IP" "$SPORT" "$@"; }
ENV="s:EHLO x.example\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<$RCPT>\r\n"

raw 's:EHLO x.example\r\nMAIL FROM:<a@example.test> SIZE=999999999\r\n' > "$DIR/s1.out"
grepf "SIZE= over the limit: 552" "$DIR/s1.out" '^552 5\.3\.4 '
raw "$ENV" 's:DATA\r\n' 's:From: a@example.test\r\nSubject: big\r\n\r\n' \
    'S:9000000' 's:\r\n.\r\n' 'w:2' > "$DIR/s2.out"
grepf "undeclared message over the limit: 552" "$DIR/s2.out" '^552 5\.3\.4 '
alive "an oversized message"

raw 's:EHLO x.example\n' 's:NOOP\r\n' > "$DIR/s3.out"
grepf "bare LF in a command: 500" "$DIR/s3.out" '^500 5\.5\.2 '
alive "bare LF"

raw 's:MAIL FROM:<a@example.test>\r\n' 's:EHLO x.example\r\n' \
    "s:RCPT TO:<$RCPT>\r\n" 's:MAIL FROM:<a@example.test>\r\n' \
    's:DATA\r\n' 's:QUIT\r\n' > "$DIR/s4.out"
grepf "MAIL before EHLO: 503" "$DIR/s4.out" '^503 5\.5\.1 .*HELO'
grepf "RCPT before MAIL: 503" "$DIR/s4.out" '^503 5\.5\.1 .*MAIL'
grepf "DATA before RCPT: 554 no valid recipients" "$DIR/s4.out" '^554 5\.5\.1 .*recipients'
grepf "QUIT: 221" "$DIR/s4.out" '^221 '
alive "commands out of order"

# A client that stops mid-DATA: one hangs (stays connected), one drops
# the connection. Another client is served meanwhile; nothing of theirs is
# stored or quarantined.
nq=$(sg report quarantine list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
raw "$ENV" 's:DATA\r\n' 's:From: a@example.test\r\n\r\n{"organization-name": "half' \
    'w:5' > "$DIR/s5.out" &
BG=$!
raw "$ENV" 's:DATA\r\n' 's:From: a@example.test\r\n\r\n{"organization-name": "half' \
    'x' > "$DIR/s6.out"
grepf "mid-DATA client got 354 before it stopped" "$DIR/s6.out" '^354 '
gzip -n < "$TOP/tests/data/reports/001-google-style-success.json" > "$DIR/r.gz"
timeout 30 swaks --server "$IP" --port "$SPORT" --ehlo mail.example.test \
    --from noreply@example.test --to "$RCPT" \
    --tls --tls-verify --tls-ca-path "$DIR/data/local-ca.pem" --tls-sni "$SH" \
    --attach-type application/tlsrpt+gzip --attach-name r.json.gz \
    --attach "@$DIR/r.gz" > "$DIR/s7.out" 2>&1
grepf "another sender served while one hangs mid-DATA: 250" "$DIR/s7.out" '<~  250 2\.0\.0 '
alive "a client stopping mid-DATA"
wait "$BG"
check "only the good report stored" 1 \
    "$(sg report list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "nothing quarantined for the cut messages" "$nq" \
    "$(sg report quarantine list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"

kill -0 "$PID" 2>/dev/null && ok "daemon still running" || bad "daemon died"
serve_stop
log_clean "$DIR/serve.log"
finish
