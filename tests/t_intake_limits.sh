#!/bin/bash
# t_intake_limits.sh - the per-client limits of anonymous report intake
# (issue 12): a rate of reports per client address, shared by HTTPS and
# SMTP (setting intake_client_rate), and HTTPS uploads at once per client
# (intake_client_concurrent), against `stsguard serve
# --intake-client-rate 3 --intake-client-concurrent 2` with curl and
# swaks as senders, each from its own source address (curl --interface,
# swaks --local-interface; any 127.0.0.0/8 address works on loopback):
#
#   1. rate: address A posts 3 reports (201), the 4th is 429 with
#      Retry-After (1..20 s: one report comes back every 20 s) and a JSON
#      error naming the rate, and is not stored; address B's report is
#      stored at once (201); A's report mail gets 450 4.7.1 at RCPT,
#      saying when to come back, and DATA is never sent.
#   2. one bucket for HTTPS and SMTP: address C mails a report (250),
#      posts 2 (201), the next post is 429 and the next mail 450.
#   3. a flood: D posts its 3 (201, then 200 200), then 60 more, 30 at
#      once: all 429, and only the 3 reached the writer (its log lines);
#      a report from E posted during the flood is stored (201).
#   4. uploads at once: two uploads from F, their bodies sent slowly
#      (Expect: 100-continue: each held once the daemon admitted it);
#      the next POST from F is 429 (Retry-After: 5, a JSON error naming
#      uploads at once), one from G is 201; then the two finish (201
#      each) and F's next report is 201 again.
#   Then: a policy fetch is answered, SIGTERM exits 0, no panic or
#   sanitizer report in the log.
#
# What is checked is answers and their order, never how long they took.
# The rate is a minute's worth at once and then one report every 20 s,
# so each address's checks rely on finishing within 20 s of its first
# report (seconds even under the sanitizers); the held uploads send fast
# enough for the minimum upload rate and are let go as soon as the
# checks that need them are done (at most 45 s: a hang guard). Own
# loopback address (and others in its /24 as clients), random high
# ports; bounded clients; the trap stops the daemon and the holders.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.example.net
SPORT=$((PORT + 1))
NET=${IP%.*}
src() { echo "$NET.$(( ($1 + ${IP##*.}) % 250 + 2 ))"; }	# src N
command -v swaks > /dev/null || { echo "swaks missing (scripts/deps.sh)"; exit 1; }

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.example.com:$PORT:$IP" \
	    "$@"
}
# post SRC ID: POSTs report ID from SRC; prints the status code; the
# answer's head in $DIR/head, its body in $DIR/resp
post() {
	report "$2" > "$DIR/r.$2.json"
	c --interface "$1" -D "$DIR/head" -o "$DIR/resp" -w '%{http_code}' \
	    -H 'Content-Type: application/tlsrpt+json' \
	    --data-binary @"$DIR/r.$2.json" "$URL"
}
# report ID: a valid report for example.com with report-id ID
report() {
	printf '{"organization-name":"Limits Test","date-range":{"start-datetime":"2026-05-12T00:00:00Z","end-datetime":"2026-05-12T23:59:59Z"},"contact-info":"x@limits.test","report-id":"%s","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx1.example.com","max_age: 86400"],"policy-domain":"example.com"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}' "$1"
}
# mail SRC ID: mails report ID from SRC with swaks (plain, as report
# senders without STARTTLS do); the session in $DIR/mail.ID
mail() {
	report "$2" | gzip -n > "$DIR/m.$2.json.gz"
	timeout 30 swaks --server "$IP" --port "$SPORT" --local-interface "$1" \
	    --ehlo mail.limits.test --from noreply@limits.test \
	    --to "tlsrpt+$TOK@$SH" \
	    --h-Subject "Report Domain: example.com Submitter: limits.test Report-ID: <$2>" \
	    --body "This is an aggregate TLS report" \
	    --attach-type application/tlsrpt+gzip \
	    --attach-name "limits.test!example.com!1778544000!1778630399.json.gz" \
	    --attach "@$DIR/m.$2.json.gz" > "$DIR/mail.$2" 2>&1
}
stored() { # stored ID: 1 when report ID is in the store, else 0
	sg report list --json | $PY -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["report-id"] == sys.argv[1]))' "$1"
}
retry_after() { # the Retry-After of $DIR/head, or ""
	sed -n 's/^Retry-After: \([0-9]*\)\r$/\1/p' "$DIR/head"
}

echo "address $IP https $PORT smtp $SPORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
TOK=$(sg domain show example.com --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
URL="https://$SH:$PORT/tlsrpt/$TOK"

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --workers 2 --intake-client-rate 3 --intake-client-concurrent 2 \
    2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1
log_wait "$DIR/serve.log" 'event=serving'
grepf "the limits are logged at start" "$DIR/serve.log" \
    'event=serving .*intake_client_rate=3 intake_client_concurrent=2'

# --- 1. the rate: 3 a minute, one address over it, another not ---------
A=$(src 1) B=$(src 2)
got=
for i in 1 2 3; do got="$got $(post "$A" a$i)"; done
check "A: three reports at once (a minute's worth)" " 201 201 201" "$got"
check "A: the fourth: 429" 429 "$(post "$A" a4)"
ra=$(retry_after)
[ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 20 ] &&
    ok "  Retry-After: $ra (1..20 s)" ||
    bad "  Retry-After [$ra]: $(tr -d '\r' < "$DIR/head" | paste -sd '|')"
grep -q '^{"error": "too many reports from this address (at most 3 a minute); retry in [0-9]* seconds"}$' \
    "$DIR/resp" && ok "  its JSON error names the rate" ||
    bad "  JSON: $(cat "$DIR/resp")"
check "  and it is not stored" 0 "$(stored a4)"
check "B, meanwhile: 201" 201 "$(post "$B" a4)"
mail "$A" a5
grepf "A's report mail: 450 4.7.1 at RCPT, with when to come back" \
    "$DIR/mail.a5" '^<\*\* 450 4\.7\.1 <tlsrpt\+[0-9a-f]+@sts\.example\.net>: too many reports from your address \(at most 3 a minute\); try again in [0-9]+ seconds$'
if grep -q -- '-> DATA' "$DIR/mail.a5"; then bad "  DATA was sent"; else
	ok "  DATA never sent"; fi
check "  not stored" 0 "$(stored a5)"

# --- 2. one bucket for both routes ---------------------------------------
C=$(src 3)
mail "$C" c1
grepf "C: a report mail: 250" "$DIR/mail.c1" '^<-  250 2\.0\.0 '
check "C: two reports posted: 201 201" "201 201" \
    "$(post "$C" c2) $(post "$C" c3)"
check "C: the next post: 429 (the mail took a report)" 429 "$(post "$C" c4)"
mail "$C" c5
grepf "C: the next mail: 450" "$DIR/mail.c5" '^<\*\* 450 4\.7\.1 '

# --- 3. a flood from one address beside an honest sender -----------------
D=$(src 4) E=$(src 5)
check "D: its minute's worth" "201 200 200" \
    "$(post "$D" d1) $(post "$D" d1) $(post "$D" d1)"
# 60 more at once, 30 in parallel (one curl block each).
for i in $(seq 60); do
	[ "$i" -gt 1 ] && printf 'next\n'
	printf 'url = "%s"\ninterface = "%s"\ncacert = "%s"\n' "$URL" "$D" \
	    "$DIR/data/local-ca.pem"
	printf 'resolve = "%s:%s:%s"\nmax-time = 20\n' "$SH" "$PORT" "$IP"
	printf 'header = "Content-Type: application/tlsrpt+json"\n'
	printf 'data-binary = "@%s"\n' "$DIR/r.d1.json"
	printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
done > "$DIR/flood.cfg"
curl -sS --parallel --parallel-max 30 -K "$DIR/flood.cfg" \
    > "$DIR/flood.codes" 2> "$DIR/flood.err" &
FLOOD=$!
check "E, during D's flood: 201" 201 "$(post "$E" e1)"
wait "$FLOOD"
check "D's flood: all 60 refused, 429" "60 429" \
    "$(sort "$DIR/flood.codes" | uniq -c | awk '{ print $1, $2 }' | paste -sd '|')"
check "  only D's 3 admitted reports reached the writer" 3 \
    "$(grep -c "event=intake_report .*client=\"$D\"" "$DIR/serve.log")"

# --- 4. uploads at once ----------------------------------------------------
F=$(src 6) G=$(src 7)
# hold SRC ID: one upload of report ID from SRC with Expect:
# 100-continue and a body padded with blanks to 1.9 MB, sent at 24 KiB/s
# (over the minimum upload rate) once the daemon answered 100; writes
# $DIR/held.ID when admitted (or "refused STATUS"), finishes the body
# when $DIR/release exists (or after 45 s, a hang guard), and writes its
# final status line to $DIR/done.ID.
hold() {
	report "$2" > "$DIR/h.$2.json"
	$PY - "$1" "$IP" "$PORT" "$SH" "$DIR/data/local-ca.pem" "$TOK" \
	    "$DIR/h.$2.json" "$DIR/held.$2" "$DIR/release" "$DIR/done.$2" <<'EOF'
import os, socket, ssl, sys, time
src, ip, port, host, ca, tok, rep, held, release, done = sys.argv[1:]
body = open(rep, "rb").read()
body += b" " * (1900000 - len(body))
s = socket.create_connection((ip, int(port)), timeout=30,
                             source_address=(src, 0))
s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname=host)
s.sendall(b"POST /tlsrpt/%s HTTP/1.1\r\nHost: %s\r\n"
          b"Content-Type: application/tlsrpt+json\r\nContent-Length: %d\r\n"
          b"Expect: 100-continue\r\n\r\n" % (tok.encode(), host.encode(),
                                             len(body)))
def answer():
    got = b""
    while b"\r\n\r\n" not in got:
        b = s.recv(4096)
        if not b:
            break
        got += b
    return got.split(b"\r\n")[0].decode("latin1")
first = answer()
if " 100 " not in first:
    open(held, "w").write("refused %s\n" % first)
    sys.exit(0)
open(held, "w").write("admitted\n")
sent, t0 = 0, time.time()
while not os.path.exists(release) and time.time() - t0 < 45:
    want = min(len(body), int((time.time() - t0 + 2) * 24 * 1024))
    if want > sent:
        s.sendall(body[sent:want])
        sent = want
    time.sleep(0.1)
s.sendall(body[sent:])
open(done, "w").write(answer() + "\n")
EOF
}
hold "$F" f1 &
HOLD1=$!
hold "$F" f2 &
HOLD2=$!
for _ in $(seq 300); do	# until both are admitted; a hang guard of 30 s
	[ -s "$DIR/held.f1" ] && [ -s "$DIR/held.f2" ] && break
	sleep 0.1
done
check "F: two uploads admitted and held" "admitted admitted" \
    "$(cat "$DIR/held.f1" "$DIR/held.f2" 2> /dev/null | paste -sd ' ')"
check "F: a third report meanwhile: 429" 429 "$(post "$F" f3)"
check "  Retry-After: 5" 5 "$(retry_after)"
check "  its JSON error names uploads at once" \
    '{"error": "too many uploads at once from this address (at most 2); retry in 5 seconds"}' \
    "$(cat "$DIR/resp")"
check "G, meanwhile: 201" 201 "$(post "$G" g1)"
[ -s "$DIR/done.f1" ] || [ -s "$DIR/done.f2" ] &&
    bad "a held upload ended before it was let go: the checks above prove nothing"
touch "$DIR/release"
wait "$HOLD1" "$HOLD2"
check "the held uploads, let go: 201 and 201" \
    "HTTP/1.1 201 Created|HTTP/1.1 201 Created" \
    "$(cat "$DIR/done.f1" "$DIR/done.f2" 2> /dev/null | sort | paste -sd '|')"
check "F: after them, a report: 201" 201 "$(post "$F" f4)"

check "a policy fetch at the end: 200" 200 "$(c -o /dev/null -w '%{http_code}' \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt")"
serve_stop
log_clean "$DIR/serve.log"
finish
