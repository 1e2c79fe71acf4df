#!/bin/bash
# t_hostile_https.sh - the HTTPS intake of `stsguard serve` against the
# attacks a security review found (issue 10), each with an honest sender
# or a policy fetch beside it that must keep working:
#
#   A. gzip output exactly filling the inflater's buffer (the NUL once
#      went one byte past it): a 279-byte POST inflating to exactly 16 KiB,
#      a 2,049-byte NUL-padded one inflating to exactly 8 x 2,049 bytes;
#      the daemon answers, then serves a policy. (Under ASan the old code
#      crashed on the first; tests/run.sh runs this in the sanitizer
#      build too.)
#   B. a JSON token bomb: 16 MiB of "{},[]," gzipped under the ratio
#      limit, POSTed 4 times at once: refused (400) quickly, resident
#      memory (VmHWM) grows by less than 100 MB, policy fetches answered
#      meanwhile.
#   C. slot starvation: 40 slow uploads announcing 2 MiB each; an honest
#      report still gets 201 at once, and the slow ones are dropped within
#      seconds (minimum upload rate), not after a minute. One address
#      filling 2 MiB uploads gets 503 past its share while another's
#      report is stored.
#   D. the quarantine: an identical invalid body is kept once and counted;
#      one address keeps at most quarantine_max_per_client entries (its
#      oldest give way); the total stays under quarantine_max_bytes.
#
# Clients: tests/hostile.py (python3 ssl). Own loopback addresses (lib.sh:
# the daemon's, and others in the same /24 as clients); bounded by each
# client's timeouts; the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.hostile.test
NET=${IP%.*}
src() { echo "$NET.$(( ($1 + ${IP##*.}) % 250 + 2 ))"; }	# src N
H() { $PY "$TOP/tests/hostile.py" --ca "$DIR/data/local-ca.pem" \
    --connect "$IP:$PORT" "$@"; }
fetch() { # fetch: a policy fetch, prints the status code
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.hostile.test:$PORT:$IP" \
	    "https://mta-sts.hostile.test:$PORT/.well-known/mta-sts.txt"
}
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$PID/status"; }	# KiB

echo "address $IP https $PORT"
sg domain add hostile.test --mode testing --mx mx.hostile.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show hostile.test --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
URL="https://$SH:$PORT/tlsrpt/$TOKEN"

# C holds 40 and 10 uploads from one address: uploads at once per client
# (default 8, t_intake_limits.sh tests it) are raised so that the byte
# share and the minimum upload rate are what stops them.
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 \
    --quarantine-max-per-client 3 --quarantine-max-bytes 60000 \
    --intake-client-concurrent 64 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" fetch > /dev/null || exit 1

report() { # report ID PADTO: a valid report, padded with blanks to PADTO
	$PY - "$1" "$2" <<'EOF'
import json, sys
rid, n = sys.argv[1], int(sys.argv[2])
b = json.dumps({"organization-name": "Hostile Test", "report-id": rid,
  "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                 "end-datetime": "2026-11-01T23:59:59Z"},
  "contact-info": "x@hostile.test",
  "policies": [{"policy": {"policy-type": "sts", "policy-domain": "hostile.test"},
                "summary": {"total-successful-session-count": 1,
                            "total-failure-session-count": 0}}]}).encode()
sys.stdout.buffer.write(b + b" " * (n - len(b)) if n else b)
EOF
}

# --- A. gzip at the buffer's boundaries ---------------------------------
echo "== A. gzip output exactly filling a buffer"
$PY - "$DIR" <<'EOF'
import sys, zlib
d = sys.argv[1]
def gz(b):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(b) + c.flush()
open(d + "/a16384.gz", "wb").write(gz(b"a" * 16384))
EOF
report gz-16384 16384 | gzip -9n > "$DIR/r16384.gz"
report gz-8x2049 16392 | gzip -9n > "$DIR/r8x.gz"
head -c 2049 /dev/zero | dd of="$DIR/r8x.gz" bs=1 seek="$(stat -c %s \
    "$DIR/r8x.gz")" count=$(( 2049 - $(stat -c %s "$DIR/r8x.gz") )) \
    conv=notrunc 2> /dev/null
check "padded body is 2049 bytes" 2049 "$(stat -c %s "$DIR/r8x.gz")"
check "16 KiB of 'a' (not JSON): 400" "status=400" \
    "$(H post "$URL" "$DIR/a16384.gz" --type application/tlsrpt+gzip)"
check "report inflating to exactly 16384: 201" "status=201" \
    "$(H post "$URL" "$DIR/r16384.gz" --type application/tlsrpt+gzip)"
check "NUL-padded 2049 bytes inflating to 8 x 2049: 201" "status=201" \
    "$(H post "$URL" "$DIR/r8x.gz" --type application/tlsrpt+gzip)"
check "the same daemon serves a policy after them" 200 "$(fetch)"
kill -0 $PID 2> /dev/null && ok "daemon alive" || bad "daemon died"

# --- B. JSON token bomb -------------------------------------------------
echo "== B. 16 MiB of {},[], (a token bomb)"
H bomb "$DIR/bomb.gz"
echo "     bomb: $(stat -c %s "$DIR/bomb.gz") bytes gzipped"
before=$(hwm)
# Policy fetches all along, until the bombs are answered.
touch "$DIR/fetching"
( n=0 bad=0; while [ -f "$DIR/fetching" ]
  do n=$((n + 1)); [ "$(fetch)" = 200 ] || bad=$((bad + 1)); sleep 0.05
  done; echo "$n $bad" > "$DIR/fetches" ) &
FETCHER=$!
start=$(date +%s.%N)
BOMBS=
for i in 1 2 3 4; do
	H post "$URL" "$DIR/bomb.gz" --type application/tlsrpt+gzip \
	    > "$DIR/bomb.$i" &
	BOMBS="$BOMBS $!"
done
wait $BOMBS
secs=$(echo "$(date +%s.%N) - $start" | bc)
rm -f "$DIR/fetching"
wait $FETCHER
for i in 1 2 3 4; do
	check "bomb $i refused" "status=400" "$(cat "$DIR/bomb.$i")"
done
grep -q 'more than 200000 values and keys' "$DIR/serve.log" &&
    ok "the reason names the token limit" || bad "no token-limit reason"
echo "     4 bombs answered in ${secs}s (each client waits at most 30 s)"
grow=$(( ($(hwm) - before) / 1024 ))
echo "     VmHWM grew by $grow MB"
if ldd "$STSGUARD" | grep -q libasan; then
	# ASan keeps freed memory in quarantine and adds redzones and shadow:
	# its peak says nothing of ours. The plain build checks it.
	echo "     (sanitizer build: peak memory not checked)"
elif [ "$grow" -lt 100 ]; then
	ok "peak memory grew by less than 100 MB"
else
	bad "peak memory grew by $grow MB"
fi
read -r n nbad < "$DIR/fetches"
[ "$n" -ge 1 ] && [ "$nbad" -eq 0 ] &&
    ok "policy fetches while the bombs were in: $n, all 200" ||
    bad "policy fetches while the bombs were in: $n, $nbad failed"

# --- C. slow uploads ----------------------------------------------------
echo "== C. slot starvation by slow uploads"
H body "$URL" --length 2097152 --send 1024 --conns 40 --src "$(src 1)" \
    --hold 12 > "$DIR/slow" &
SLOW=$!
sleep 1
report honest-1 0 > "$DIR/honest1.json"
check "an honest report beside 40 slow uploads: 201" "status=201" \
    "$(H post "$URL" "$DIR/honest1.json" --src "$(src 2)")"
wait $SLOW
read -r busy closed open by < "$DIR/slow"
check "slow uploads: none answered 503 (no slot starvation)" busy=0 "$busy"
check "slow uploads: all dropped" "closed=40 open=0" "$closed $open"
by=${by#closed_by=}
[ "$(echo "$by < 10" | bc)" = 1 ] &&
    ok "dropped within ${by}s (minimum upload rate), not 60 s" ||
    bad "dropped after ${by}s"
grep -q 'why="upload too slow"' "$DIR/serve.log" &&
    ok "logged as too slow" || bad "no 'upload too slow' log line"
# One address holding 2 MiB uploads: 8 fill its 16 MiB share.
H body "$URL" --length 2097152 --send 2080000 --conns 10 --src "$(src 3)" \
    --hold 10 > "$DIR/hog" &
HOG=$!
sleep 2
report honest-2 0 > "$DIR/honest2.json"
check "an honest report while one address holds its share: 201" \
    "status=201" "$(H post "$URL" "$DIR/honest2.json" --src "$(src 4)")"
wait $HOG
read -r busy closed open rest < "$DIR/hog"
echo "     one address, 10 uploads of 2 MiB: $busy $closed $open"
check "8 uploads fill the address's 16 MiB share and stay" open=8 "$open"
busy=${busy#busy=} closed=${closed#closed=}
[ "$busy" -ge 1 ] && [ $((busy + closed)) -eq 2 ] &&
    ok "the 2 past the share are refused (503, or closed while sending)" ||
    bad "past the share: busy=$busy closed=$closed"

# --- D. the quarantine ---------------------------------------------------
echo "== D. quarantine: folded, capped per client and in total"
printf '{"organization-name": "x", "report-id": 1}' > "$DIR/bad.json"
for i in 1 2; do
	check "the same invalid body, try $i: 400" status=400 \
	    "$(H post "$URL" "$DIR/bad.json" --src "$(src 5)")"
done
for i in 1 2 3 4 5; do
	printf '{"organization-name": "x%d", "report-id": 1}' $i \
	    > "$DIR/bad$i.json"
	H post "$URL" "$DIR/bad$i.json" --src "$(src 6)" > /dev/null
done
sg report quarantine list --all --json > "$DIR/q.json"
$PY - "$DIR/q.json" "$(src 5)" "$(src 6)" > "$DIR/q.out" <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
same = [e for e in q if e["client"] == sys.argv[2]]
print("same_entries=%d same_seen=%s" % (len(same),
      same[0]["seen"] if same else "-"))
six = sorted(e["id"] for e in q if e["client"] == sys.argv[3])
print("client6=%d" % len(six))
print(six[0] if six else 0)
EOF
check "identical body kept once" "same_entries=1 same_seen=2" \
    "$(sed -n 1p "$DIR/q.out")"
check "one address keeps 3 entries (of 5)" "client6=3" \
    "$(sed -n 2p "$DIR/q.out")"
check "its oldest gave way: the first kept is the third sent" \
    '{"organization-name": "x3", "report-id": 1}' \
    "$(sg report quarantine show "$(sed -n 3p "$DIR/q.out")" --raw)"
# Poorly compressible junk from many addresses: over the 60000 bytes.
for a in $(seq 10 29); do
	head -c 6000 /dev/urandom | base64 -w0 > "$DIR/junk$a"
	H post "$URL" "$DIR/junk$a" --src "$(src "$a")" > /dev/null
done
sg report quarantine list > "$DIR/q.txt"
bytes=$(sed -n 's/^in all: .* pending, \([0-9]*\) bytes stored.*/\1/p' \
    "$DIR/q.txt")
dropped=$(sed -n 's/.*dropped by the caps: \([0-9]*\)$/\1/p' "$DIR/q.txt")
echo "     $(tail -1 "$DIR/q.txt")"
[ -n "$bytes" ] && [ "$bytes" -le 60000 ] &&
    ok "stored quarantine bytes $bytes <= 60000" ||
    bad "stored quarantine bytes [$bytes] over 60000"
[ -n "$dropped" ] && [ "$dropped" -ge 2 ] &&
    ok "the caps dropped $dropped entries" || bad "dropped [$dropped]"
check "the newest entry is kept (the oldest gave way)" "$(src 29)" \
    "$(sg report quarantine list --json --limit 1 | $PY -c \
    'import json, sys; print(json.load(sys.stdin)[0]["client"])')"

check "policy still served at the end" 200 "$(fetch)"
kill -TERM $PID; wait $PID; st=$?; PID=
check "SIGTERM exit code" 0 "$st"
grep -E 'panic|AddressSanitizer|runtime error' "$DIR/serve.log" &&
    bad "panic or sanitizer report" || ok "no panic or sanitizer report"
finish
