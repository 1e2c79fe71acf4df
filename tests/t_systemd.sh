#!/bin/bash
# t_systemd.sh - contrib/stsguard.service and the daemon's side of
# Type=notify.
#
# The unit: `systemd-analyze verify` (systemd's own parser: every key
# known, every value valid, the binary there, the man pages of
# Documentation= found) must print nothing, and does print for a copy
# with a typo (so the check can fail); the hardening the issue asks
# for is there (User=, AmbientCapabilities=CAP_NET_BIND_SERVICE,
# NoNewPrivileges, ProtectSystem=strict, ProtectHome, PrivateTmp,
# ReadWritePaths= the --data-dir of ExecStart, SystemCallFilter=
# @system-service); `systemd-analyze security --offline` rates its
# exposure at most 3.0 ("OK"; --threshold counts in tenths).
#
# The notify protocol, without systemd: a Unix datagram socket made here
# (by a path, then in the abstract namespace, '@'), NOTIFY_SOCKET set,
# `serve` started: READY=1 must come, and only once its HTTPS listener
# accepts and a policy is served; at SIGTERM, STOPPING=1. Without
# NOTIFY_SOCKET it starts as before.
#
# The system call filter: `serve` run under strace -f -c through start,
# policy fetches, an intake POST, a metrics scrape, SIGHUP and SIGTERM
# makes only system calls that @system-service allows.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
UNIT="$TOP/contrib/stsguard.service"
command -v systemd-analyze > /dev/null ||
    { echo "systemd-analyze missing (Debian: systemd)"; exit 1; }

# --- the unit -----------------------------------------------------------
# verify needs ExecStart's binary: the one just built stands in for the
# installed one; the man pages are found through MANPATH as man(1) would
# in $(PREFIX)/share/man after make install.
mkdir -p "$DIR/units" "$DIR/man/man8" "$DIR/man/man5"
cp "$TOP/docs/man/stsguard.8" "$DIR/man/man8/"
cp "$TOP/docs/man/stsguard.conf.5" "$DIR/man/man5/"
sed "s|^ExecStart=/usr/local/bin/stsguard |ExecStart=$STSGUARD |" "$UNIT" \
    > "$DIR/units/stsguard.service"
grep -q "^ExecStart=$STSGUARD " "$DIR/units/stsguard.service" ||
    bad "ExecStart is not /usr/local/bin/stsguard ..."
MANPATH="$DIR/man" systemd-analyze verify "$DIR/units/stsguard.service" \
    > "$DIR/verify.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$DIR/verify.out" ]; then
	ok "systemd-analyze verify: clean (man pages found too)"
else
	bad "systemd-analyze verify (exit $rc): $(head -5 "$DIR/verify.out")"
fi
# The same check sees a typo.
sed 's/^ProtectHome=yes/ProtectHome=yess/; s/^Type=notify/Type=notifi/' \
    "$DIR/units/stsguard.service" > "$DIR/units/broken.service"
MANPATH="$DIR/man" systemd-analyze verify "$DIR/units/broken.service" \
    > "$DIR/broken.out" 2>&1
grepf "verify reports a broken copy" "$DIR/broken.out" "Type|notifi"

for want in '^Type=notify$' '^User=stsguard$' \
    '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' '^NoNewPrivileges=yes$' \
    '^ProtectSystem=strict$' '^ProtectHome=yes$' '^PrivateTmp=yes$' \
    '^SystemCallFilter=@system-service$' '^ReadWritePaths=/var/lib/stsguard$'
do
	grepf "unit has /$want/" "$UNIT" "$want"
done
check "ReadWritePaths is the data dir of ExecStart" "/var/lib/stsguard" \
    "$(sed -n 's/^ExecStart=.*--data-dir \([^ ]*\) .*/\1/p' "$UNIT")"
systemd-analyze security --offline=yes --threshold=30 \
    "$DIR/units/stsguard.service" > "$DIR/security.out" 2>&1
rc=$?
check "systemd-analyze security: exposure at most 3.0 ($(grep -o \
    'exposure level[^:]*: [0-9.]*' "$DIR/security.out"))" 0 "$rc"

# --- sd_notify ----------------------------------------------------------
sg domain add example.com --mode testing --mx mx.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
# listen ADDR OUT: receives datagrams on ADDR (a path, or @name) and
# writes each, one a line (newlines as |), to OUT, with whether the
# HTTPS listener accepted at that moment; for 30 s or until STOPPING=1.
listen() {
	$PY - "$1" "$2" "$IP" "$PORT" <<'EOF' &
import socket, sys, time
addr, out, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".ready", "w").close()
s.settimeout(30)
with open(out, "w") as f:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        try:
            socket.create_connection((ip, port), timeout=1).close()
            up = "accepting"
        except OSError:
            up = "closed"
        f.write(msg.replace("\n", "|") + " " + up + "\n"); f.flush()
        if "STOPPING=1" in msg:
            break
EOF
	LISTENER=$!
	for _ in $(seq 50); do [ -f "$2.ready" ] && return 0; sleep 0.1; done
	return 1
}

for addr in "$DIR/notify.sock" "@stsguard-test-$$-$RANDOM"; do
	out="$DIR/notify.$([ "${addr#@}" = "$addr" ] && echo path || echo abstract)"
	listen "$addr" "$out" || { bad "no listener at $addr"; continue; }
	NOTIFY_SOCKET="$addr" "$STSGUARD" --data-dir "$DIR/data" serve \
	    --https-listen "$IP:$PORT" --http-listen off --workers 1 \
	    2> "$out.log" &
	PID=$!
	for _ in $(seq 100); do
		grep -q READY=1 "$out" 2> /dev/null && break
		sleep 0.1
	done
	check "$addr: READY=1 once, the listener accepting" \
	    "READY=1|STATUS=serving accepting" "$(grep READY "$out")"
	curl -sS --max-time 10 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.example.com:$PORT:$IP" -o "$DIR/policy" \
	    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt"
	grepf "$addr: serving the policy" "$DIR/policy" '^mode: testing'
	serve_stop
	wait "$LISTENER"
	grepf "$addr: STOPPING=1 at SIGTERM" "$out" '^STOPPING=1'
	check "$addr: two messages in all" 2 "$(wc -l < "$out")"
	log_clean "$out.log"
done

# --- SystemCallFilter=@system-service: what the daemon really calls ----
# serve under strace -f -c (every thread, from exec to exit): start,
# policy fetches, a report POSTed, a metrics scrape, SIGHUP, SIGTERM.
# Each system call it made must be in @system-service as this systemd
# expands it, or systemd would kill it (SIGSYS) in production.
if command -v strace > /dev/null; then
	SH=sts.example.net
	URL=$(sg dns example.com --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        print(re.search(r"(https://[^,; ]+)", r["value"]).group(1))')
	URL=${URL/$SH/$SH:$PORT}
	# LeakSanitizer cannot run under ptrace (the sanitizer build).
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	    strace -f -c -o "$DIR/strace.out" "$STSGUARD" --data-dir "$DIR/data" \
	    serve --https-listen "$IP:$PORT" --http-listen off --workers 2 \
	    --service-host "$SH" --metrics-listen "$IP:$((PORT + 1))" \
	    2> "$DIR/strace-serve.log" &
	TRACER=$!
	for _ in $(seq 100); do
		SPID=$(pgrep -P "$TRACER" -x stsguard) && break
		sleep 0.1
	done
	PID=$SPID
	cleanup_add 'kill $TRACER 2>/dev/null; wait $TRACER 2>/dev/null'
	c() { curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" \
	    --resolve "mta-sts.example.com:$PORT:$IP" "$@"; }
	wait_up "$DIR/strace-serve.log" c -o /dev/null \
	    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1
	check "under strace: a report stored" 201 "$(c -o /dev/null \
	    -w '%{http_code}' -H 'Content-Type: application/tlsrpt+gzip' \
	    --data-binary @"$TOP/tests/data/reports/001-google-style-success.json.gz" \
	    "$URL")"
	curl -sS --max-time 10 -o "$DIR/m" "http://$IP:$((PORT + 1))/metrics"
	grepf "under strace: metrics scraped" "$DIR/m" '^stsguard_reports 1$'
	kill -HUP "$PID"; sleep 0.3
	c -o /dev/null "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt"
	kill -TERM "$PID"
	wait "$TRACER"
	PID=
	awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { print $NF }' "$DIR/strace.out" |
	    sort -u > "$DIR/used"
	for g in $(systemd-analyze syscall-filter @system-service |
	    grep -o '@[a-z-]*' | sort -u); do
		systemd-analyze syscall-filter "$g"
	done | grep -v -e '^@' -e '#' | tr -d ' ' | sort -u > "$DIR/allowed"
	outside=$(comm -23 "$DIR/used" "$DIR/allowed" | tr '\n' ' ')
	if [ "$(wc -l < "$DIR/used")" -gt 20 ] && [ -z "$outside" ]; then
		ok "the $(wc -l < "$DIR/used") system calls serve made are all in @system-service"
	else
		bad "system calls outside @system-service: [$outside] (of $(wc -l < "$DIR/used"))"
	fi
	log_clean "$DIR/strace-serve.log"
else
	echo "note: no strace: the system calls were not compared"
fi

# Without NOTIFY_SOCKET (not under systemd): starts as before.
env -u NOTIFY_SOCKET "$STSGUARD" --data-dir "$DIR/data" serve \
    --https-listen "$IP:$PORT" --http-listen off --workers 1 \
    2> "$DIR/plain.log" &
PID=$!
wait_up "$DIR/plain.log" tcp_open "$IP" "$PORT" || exit 1
ok "serves without NOTIFY_SOCKET"
serve_stop
log_clean "$DIR/plain.log"
finish
