#!/bin/bash
# t_hostile_smtp.sh - the SMTP intake of `stsguard serve` against the
# attacks a security review found, each with an honest sender beside it
# that must keep working:
#
#   A. connections per client: an IPv6 client is its /64, so 10 sessions
#      from 10 addresses of one /64 are admitted (220) and an 11th from
#      yet another address of it is refused (421 4.7.0 ... too many
#      connections from your address), while one from another /64 is
#      admitted. (The limit was once keyed on the exact address: over
#      IPv6 an attacker has 2^64 of them.) In a network namespace of the
#      test's own, whose lo carries 2001:db8:1::1..12/64 and
#      2001:db8:1:1::1/64 (the next /64: the same /48 and /56, so that a
#      key wider than a /64 shows); the daemon there listens for SMTP on
#      the wildcard ":PORT" (so on [2001:db8:1::1]:PORT too), as a
#      deployment's ":25" does, so IPv4 clients arrive v4-mapped:
#      10 from 127.0.0.2 admitted, the 11th refused, 127.0.0.3 admitted
#      (a mapped address is its own client, not one /64 of all IPv4).
#      Then plain IPv4 on an IPv4 listener (the main daemon, outside).
#   B. junk commands: a session of NOOP/RSET/VRFY/HELP gets 100 answers,
#      then "421 4.7.0 ... too many commands without mail, closing" and
#      is closed; a session that delivers a report after a few NOOPs and
#      RSETs gets 250.
#   C. message bytes per client (16 MiB; a message buffer doubles up to
#      8 MiB): one address holds 3 sessions in DATA, each having sent a
#      7 MiB report mail (a real report after a padding part); the first
#      two hold 8 MiB each, the third does not fit: at their final "."
#      the two get 250 (stored), the third 452 4.3.1. Meanwhile a report
#      from another address is stored (250). Afterwards a new session
#      from the first address delivers a report (250): the bytes were
#      given back.
#   D. a report sent after all that is stored, every report that got 250
#      is in `report list`, the policy is still served over HTTPS,
#      SIGTERM exits 0, and the log has no sanitizer report.
#
# Needs root (ip netns; CI runs as root): fails loudly otherwise. The
# namespace is the test's own (named after its pid) and removed at exit;
# outside it, the test's own loopback address and ports (lib.sh).
# Clients: tests/hostile.py, every one bounded by socket timeouts.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.hostile.test
SPORT=$(( PORT + 1 ))
NET=${IP%.*}
src() { echo "$NET.$(( ($1 + ${IP##*.}) % 250 + 2 ))"; }	# src N
H() { $PY "$TOP/tests/hostile.py" "$@"; }
fetch() { # fetch: a policy fetch from the main daemon, prints the status
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.hostile.test:$PORT:$IP" \
	    "https://mta-sts.hostile.test:$PORT/.well-known/mta-sts.txt"
}
stop() { # stop: SIGTERM to the daemon; its exit code in $st
	kill -TERM "$PID"; wait "$PID"; st=$?; PID=
}
sanitizer_free() { # sanitizer_free LOG WHAT
	if grep -E 'panic|AddressSanitizer|LeakSanitizer|runtime error' "$1"
	then bad "$2: panic or sanitizer report"
	else ok "$2: no panic or sanitizer report"; fi
}

echo "address $IP https $PORT smtp $SPORT"
if [ "$(id -u)" != 0 ]; then
	bad "not root: this test needs ip netns (CI runs it as root)"
	finish
	exit 1
fi

sg domain add hostile.test --mode testing --mx mx.hostile.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show hostile.test --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
TO="tlsrpt+$TOKEN@$SH"
case $TOKEN in [0-9a-f]*) ok "report address $TO" ;;
	*) bad "no token: [$TOKEN]"; exit 1 ;; esac

# --- A. connections per client, IPv6 /64 and IPv4 (in a netns) ---------
echo "== A. connections per client: an IPv6 /64, an IPv4 address"
NS=stsg-hostile-smtp-$$
ip netns add "$NS" || { bad "ip netns add $NS failed"; finish; exit 1; }
cleanup_add "ip netns del $NS 2> /dev/null"
NX() { ip netns exec "$NS" "$@"; }
V6=2001:db8:1
NX ip link set lo up || bad "lo up in the netns"
for i in $(seq 1 18); do
	NX ip -6 addr add "$V6::$(printf %x "$i")/64" dev lo nodad ||
	    bad "address $V6::$i"
done
NX ip -6 addr add $V6:1::1/64 dev lo nodad || bad "address $V6:1::1"

"$STSGUARD" --data-dir "$DIR/data6" domain add hostile.test --mode testing \
    --mx mx.hostile.test > /dev/null || bad "domain add (netns data dir)"
# Not through NX: $! must be the daemon (ip netns exec execs it).
ip netns exec "$NS" "$STSGUARD" --data-dir "$DIR/data6" serve \
    --https-listen "[$V6::1]:$PORT" --http-listen off \
    --smtp-listen ":$SPORT" --service-host $SH --workers 2 \
    2> "$DIR/serve6.log" &
PID=$!
# Up when HTTPS answers (the SMTP servers start before the workers run);
# an SMTP probe would count as one of a client's sessions.
wait_up "$DIR/serve6.log" NX curl -s -o /dev/null --max-time 2 \
    --cacert "$DIR/data6/local-ca.pem" --resolve "$SH:$PORT:[$V6::1]" \
    "https://$SH:$PORT/" ||
    { bad "serve in the netns did not start"; finish; exit 1; }

# 10 addresses of 2001:db8:1::/64 (::2..::b), then ::c, then the next /64.
srcs=$(for i in $(seq 2 11); do printf '%s::%x,' $V6 "$i"; done)
NX $PY "$TOP/tests/hostile.py" smtp-greet "$V6::1" "$SPORT" \
    --srcs "${srcs}$V6::c,$V6:1::1" > "$DIR/a6" 2>&1
sed 's/^/     /' "$DIR/a6"
check "IPv6: 10 of one /64 admitted, an 11th refused, the next /64 admitted" \
    "codes=220,220,220,220,220,220,220,220,220,220,421,220" \
    "$(grep '^codes=' "$DIR/a6")"
grep -q '^refusal=421 4\.7\.0 .*too many connections from your address' \
    "$DIR/a6" && ok "IPv6: the refusal says why (421 4.7.0)" ||
    bad "IPv6: refusal text: $(grep '^refusal' "$DIR/a6")"

# IPv4 on the dual-stack listener: v4-mapped clients.
srcs=$(for i in $(seq 10); do printf '127.0.0.2,'; done)
NX $PY "$TOP/tests/hostile.py" smtp-greet 127.0.0.1 "$SPORT" \
    --srcs "${srcs}127.0.0.2,127.0.0.3" > "$DIR/a4m" 2>&1
check "v4-mapped: 10 from one address admitted, an 11th refused, another admitted" \
    "codes=220,220,220,220,220,220,220,220,220,220,421,220" \
    "$(grep '^codes=' "$DIR/a4m")"
# Every slot given back (once the server has seen them close): the same
# /64 is admitted again.
sleep 0.3
NX $PY "$TOP/tests/hostile.py" smtp-greet "$V6::1" "$SPORT" \
    --srcs "$V6::d,$V6::e" > "$DIR/a6b" 2>&1
check "IPv6: after they closed, the /64 is admitted again" "codes=220,220" \
    "$(grep '^codes=' "$DIR/a6b")"
stop; check "netns daemon: SIGTERM exit code" 0 "$st"
# (Workers buffer their log lines: read the log once the daemon is gone.)
grep -q 'client="2001:db8:1::c" .*too many connections from this address' \
    "$DIR/serve6.log" && ok "IPv6: the refusal is logged" ||
    bad "IPv6: no log line of the refusal"
sanitizer_free "$DIR/serve6.log" "netns daemon"

# --- the main daemon, on the test's own IPv4 loopback address ----------
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" fetch > /dev/null ||
    { bad "serve did not start"; finish; exit 1; }

srcs=$(for i in $(seq 10); do printf '%s,' "$(src 1)"; done)
H smtp-greet "$IP" "$SPORT" --srcs "${srcs}$(src 1),$(src 2)" \
    > "$DIR/a4" 2>&1
check "IPv4: 10 from one address admitted, the 11th refused, another admitted" \
    "codes=220,220,220,220,220,220,220,220,220,220,421,220" \
    "$(grep '^codes=' "$DIR/a4")"
grep -q '^refusal=421 4\.7\.0 .*too many connections from your address' \
    "$DIR/a4" && ok "IPv4: the refusal says why (421 4.7.0)" ||
    bad "IPv4: refusal text: $(grep '^refusal' "$DIR/a4")"

# --- B. junk commands ---------------------------------------------------
echo "== B. commands without mail"
H smtp-junk "$IP" "$SPORT" --junk 100 --src "$(src 3)" > "$DIR/b" 2>&1
sed 's/^/     /' "$DIR/b"
check "100 commands without mail answered" answered=100 \
    "$(grep '^answered=' "$DIR/b")"
grep -q '^then=421 4\.7\.0 .*too many commands without mail, closing' \
    "$DIR/b" && ok "the 101st: 421 4.7.0 too many commands without mail" ||
    bad "the 101st: $(grep '^then=' "$DIR/b")"
check "and the server closed the session" closed=1 \
    "$(grep '^closed=' "$DIR/b")"
check "a report after 6 NOOP/RSETs: 250" code=250 \
    "$(H smtp-report "$IP" "$SPORT" --rcpt "$TO" --domain hostile.test \
    --id junk-then-report --noops 6 --src "$(src 4)")"

# --- C. message bytes per client ---------------------------------------
echo "== C. one address holding 3 messages of 7 MiB"
start=$(date +%s.%N)
H smtp-hold "$IP" "$SPORT" --rcpt "$TO" --domain hostile.test --id bytes \
    --src "$(src 5)" --other-src "$(src 6)" --conns 3 \
    --data $(( 7 * 1024 * 1024 )) > "$DIR/c" 2>&1
echo "     ($(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s)"
sed 's/^/     /' "$DIR/c"
check "3 sessions in DATA with 7 MiB each" "held=3 bytes=7340032" \
    "$(grep '^held=' "$DIR/c")"
check "meanwhile a report from another address: 250" other=250 \
    "$(grep '^other=' "$DIR/c")"
check "at the final dots: two stored, the third past the client's share" \
    dots=250,250,452 "$(grep '^dots=' "$DIR/c")"
grep -q '^refused=452 4\.3\.1 ' "$DIR/c" && ok "the refusal is 452 4.3.1" ||
    bad "no 452 4.3.1"
check "then a new session from the first address: 250 (bytes given back)" \
    after=250 "$(grep '^after=' "$DIR/c")"

# --- D. the daemon afterwards -------------------------------------------
echo "== D. afterwards"
check "a report after all that: 250" code=250 \
    "$(H smtp-report "$IP" "$SPORT" --rcpt "$TO" --domain hostile.test \
    --id final --src "$(src 7)")"
check "every report answered 250 is stored" \
    "bytes-after bytes-held-0 bytes-held-1 bytes-other final junk-then-report" \
    "$(sg report list --json | $PY -c '
import json, sys
print(" ".join(sorted(r["report-id"] for r in json.load(sys.stdin)
                      if r["organization-name"] == "Hostile SMTP")))')"
check "policy still served" 200 "$(fetch)"
stop; check "SIGTERM exit code" 0 "$st"
grep -q "client=\"$(src 5)\" .*452 no room" "$DIR/serve.log" &&
    ok "the 452 is logged" || bad "no log line of the 452"
sanitizer_free "$DIR/serve.log" "main daemon"
finish
