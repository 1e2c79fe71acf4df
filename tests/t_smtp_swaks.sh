#!/bin/bash
# t_smtp_swaks.sh - black-box test of the SMTP listener (src/smtp) with
# swaks, a real SMTP client, plus raw socket clients for what swaks
# cannot do (bare LF, commands out of order, injection, stalling).
#
# Most checks are library-level checks of src/smtp and src/mime: a small
# driver (tests/smtp_driver.c) with hooks that save what they get, so the
# checks see the exact bytes handed to the hooks and can use limits and
# timeouts far below the daemon's (SIZE 20000, 2-3 s timeouts) and a hook
# that fails on demand (451). It is compiled here against libstsguard.a,
# started on a random loopback port with a certificate made here.
#
# Two checks are about what the daemon does, so they run against the real
# `stsguard serve --smtp-listen` (own loopback address, lib.sh) after the
# driver has stopped: STARTTLS with a command pipelined behind it
# (CVE-2011-0411: 554 and closed; a client that goes on into TLS is never
# answered for the injected command; and, as the control that shows the
# client would see such an answer, a clean STARTTLS is answered inside
# TLS), and the connection limit per client address across the daemon's
# two workers (README: 10; the 11th gets 421 and is closed, and a slot
# freed by a close is given again). The rest of the daemon's wiring (the
# token set, the store, quarantine) is tested by t_intake_smtp.sh and
# t_intake_badinput.sh.
#
# Every check here can fail: each grepf names a reply the server must
# send, and each grepf_not comes with a grepf showing that the part of
# the conversation it looks at took place.
#
# Bounded: every client has a timeout; the whole test takes ~20 s.
set -u
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 2

grepf() { # grepf NAME FILE REGEX: FILE must match REGEX (grep -E)
	if grep -qE -- "$3" "$2"; then ok "$1"; else
		bad "$1 (no /$3/ in $2:)"; sed 's/^/    | /' "$2" | tail -n 25
	fi
}
grepf_not() {
	if grep -qE -- "$3" "$2"; then
		bad "$1 (unexpected /$3/ in $2:)"; sed 's/^/    | /' "$2" | tail -n 25
	else ok "$1"; fi
}

command -v swaks >/dev/null || { echo "swaks missing (scripts/deps.sh)"; exit 1; }
perl -MNet::SSLeay -e1 2>/dev/null ||
	{ echo "libnet-ssleay-perl missing: swaks --tls needs it"; exit 1; }

# --- build the driver ------------------------------------------------
PKGS="gmime-3.0 libevent libevent_openssl openssl jansson zlib"
CFLAGS="-std=c17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wshadow
	-Wstrict-prototypes -Wno-unused-parameter -Isrc"
case $BUILD in *san*) CFLAGS="$CFLAGS -fsanitize=address,undefined
	-fno-omit-frame-pointer -fno-sanitize-recover=all" ;; esac
case $BUILD in /*) LIB="$BUILD/libstsguard.a" ;; *) LIB="$TOP/$BUILD/libstsguard.a" ;; esac
if [ -f "$LIB" ] && nm "$LIB" 2>/dev/null | grep -q ' T smtp_server_start$'
then SRCS="$LIB"
else
	echo "note: $LIB has no smtp module yet; compiling the sources"
	SRCS="src/smtp/smtp_session.c src/smtp/smtp_server.c
		src/mime/mime_report.c src/lib/err.c"
fi
# shellcheck disable=SC2086
gcc $CFLAGS $(pkg-config --cflags $PKGS) -o "$DIR/smtp_driver" \
    tests/smtp_driver.c $SRCS $(pkg-config --libs $PKGS) -lpthread ||
	{ echo "FAIL cannot build the driver"; exit 1; }

# --- a CA and the service certificate --------------------------------
(
	cd "$DIR" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj /CN=stsguard-test-ca -keyout ca.key -out ca.pem &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj /CN=smtp.stshost.test -keyout smtp.key -out smtp.csr &&
	printf 'subjectAltName=DNS:smtp.stshost.test\nbasicConstraints=CA:FALSE\n' \
	    > ext &&
	openssl x509 -req -in smtp.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile ext -out smtp.pem
) > "$DIR/openssl.log" 2>&1 || { cat "$DIR/openssl.log"; exit 1; }

# --- a raw client: raw.py HOST PORT STEP...  s:TEXT sends (\r \n
# escapes), w:SECS waits while reading; prints all it got, then "[closed]"
# if the server closed the connection.
cat > "$DIR/raw.py" <<'EOF'
import codecs, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
got, closed = b"", False
def pump(secs):
    global got, closed
    end = time.time() + secs
    while not closed and time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True; break
        if not b:
            closed = True
        got += b
pump(0.3)
for step in sys.argv[3:]:
    if step.startswith("s:"):
        try:
            s.sendall(codecs.decode(step[2:], "unicode_escape").encode("latin1"))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        pump(0.3)
    elif step.startswith("w:"):
        pump(float(step[2:]))
pump(1.0)
sys.stdout.write(got.decode("latin1"))
if closed:
    print("[closed]")
EOF
raw() { timeout 30 python3 "$DIR/raw.py" 127.0.0.1 "$PORT" "$@"; }

# --- start the driver ------------------------------------------------
DPORT=$PORT		# lib.sh's ports, for the daemon at the end
DSPORT=$(( PORT + 1 ))
mkdir "$DIR/out"
"$DIR/smtp_driver" -d "$DIR/out" -p "$DIR/port" -c "$DIR/smtp.pem" -k "$DIR/smtp.key" \
    -H stshost.test -s 20000 -t 3 -T 2 2> "$DIR/driver.log" &
PID=$!
for _ in $(seq 50); do [ -s "$DIR/port" ] && break; sleep 0.1; done
[ -s "$DIR/port" ] || { cat "$DIR/driver.log"; echo "FAIL driver did not start"; exit 1; }
PORT=$(cat "$DIR/port")
echo "driver on 127.0.0.1:$PORT"

SW=(timeout 30 swaks --server 127.0.0.1 --port "$PORT" --ehlo mail.example.test
    --from noreply-smtp-tls-reporting@example.test)
TLS=(--tls --tls-verify --tls-ca-path "$DIR/ca.pem" --tls-sni smtp.stshost.test)
printf '{"organization-name":"Example","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"},"contact-info":"x@example.test","report-id":"t-%s","policies":[]}' \
    "$$" | gzip -n > "$DIR/report.json.gz"
NAME='example.test!customer1.test!1767225600!1767311999!001.json.gz'
report_mail() { # report_mail TO [extra swaks args]
	local to=$1; shift
	"${SW[@]}" "${TLS[@]}" --to "$to" \
	    --h-Subject "Report Domain: customer1.test Submitter: example.test Report-ID: <t>" \
	    --add-header "TLS-Report-Domain: customer1.test" \
	    --add-header "TLS-Report-Submitter: example.test" \
	    --body "This is an aggregate TLS report from example.test" \
	    --attach-type application/tlsrpt+gzip --attach-name "$NAME" "$@"
}

# 1. EHLO advertises the extensions; STARTTLS only before TLS.
"${SW[@]}" --to tlsrpt+tok1@stshost.test --quit-after EHLO > "$DIR/1.out" 2>&1
for ext in PIPELINING 'SIZE 20000' 8BITMIME STARTTLS ENHANCEDSTATUSCODES; do
	grepf "EHLO advertises $ext" "$DIR/1.out" "^<-  250[- ]$ext\$"
done

# 2. A report with an application/tlsrpt+gzip attachment over STARTTLS.
report_mail tlsrpt+tok1@stshost.test --attach "@$DIR/report.json.gz" > "$DIR/2.out" 2>&1
grepf "STARTTLS handshake verified" "$DIR/2.out" '=== TLS started with cipher'
grepf "report mail accepted with 250" "$DIR/2.out" '<~  250 2.0.0 Ok: report stored'
grepf "EHLO answered again inside TLS" "$DIR/2.out" '^<~  250 ENHANCEDSTATUSCODES$'
grepf_not "no STARTTLS offered after TLS" "$DIR/2.out" '^<~  250[- ]STARTTLS'
if cmp -s "$DIR/out/report-1-0.bin" "$DIR/report.json.gz"; then
	ok "the hook got the report bytes"
else bad "the hook got the report bytes"; ls -l "$DIR/out"; fi
grepf "the hook saw TLS" "$DIR/driver.log" 'message 1 from <noreply-smtp-tls-reporting@example.test> tls=1'

# 3. The same report again: 250 duplicate. Recipient with +tags and case.
report_mail TLSRPT+tok1+google@STSHOST.TEST --attach "@$DIR/report.json.gz" > "$DIR/3.out" 2>&1
grepf "duplicate report answered 250" "$DIR/3.out" '<~  250 2.0.0 Ok: duplicate report'

# 4. Relay attempts to foreign domains: 550, never accepted.
for to in victim@gmail.com tlsrpt+tok1@stshost.test.evil.example \
    'tlsrpt+tok1@stshost.test@gmail.com' tlsrpt+unknown@stshost.test; do
	"${SW[@]}" --to "$to" --quit-after RCPT > "$DIR/4.out" 2>&1
	grepf "relay to <$to> refused with 550" "$DIR/4.out" '<\*\* 550 5\.7\.1 '
done
raw 's:EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<@stshost.test:victim@gmail.com>\r\n' \
    > "$DIR/4b.out"
grepf "source-routed relay refused" "$DIR/4b.out" '^550 5\.7\.1 <victim@gmail\.com>'

# 5. Commands out of order: 503.
raw 's:MAIL FROM:<a@example.test>\r\n' 's:EHLO x\r\n' \
    's:RCPT TO:<tlsrpt+tok1@stshost.test>\r\n' 's:DATA\r\n' 's:QUIT\r\n' > "$DIR/5.out"
grepf "MAIL before EHLO: 503" "$DIR/5.out" '^503 5\.5\.1 Error: send HELO/EHLO first'
grepf "RCPT before MAIL: 503" "$DIR/5.out" '^503 5\.5\.1 Error: need MAIL command'
# The reply to QUIT, and then the close (raw.py prints "[closed]" on a
# line of its own, last, only when the server closed).
check "QUIT: 221, then closed" "221 2.0.0 stshost.test Bye|[closed]" \
    "$(tail -n 2 "$DIR/5.out" | tr -d '\r' | paste -sd '|')"

# 6. Over the size limit (20000 bytes here): 552, declared or not.
head -c 30000 /dev/urandom > "$DIR/big.bin"
report_mail tlsrpt+tok1@stshost.test --attach "@$DIR/big.bin" > "$DIR/6.out" 2>&1
grepf "message over the size limit: 552" "$DIR/6.out" '<~\* +552 5\.3\.4 '
raw 's:EHLO x\r\nMAIL FROM:<a@example.test> SIZE=20001\r\n' > "$DIR/6b.out"
grepf "SIZE= over the limit: 552" "$DIR/6b.out" '^552 5\.3\.4 '

# 7. Bare LF: refused in commands; in DATA a line end, but "<LF>.<LF>"
# does not end the message (SMTP smuggling).
raw 's:EHLO x\n' 's:EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<tlsrpt+tok2@stshost.test>\r\nDATA\r\n' \
    's:From: a@example.test\nSubject: bare\n\n{"report-id":"bare-lf"}\n.\nMAIL FROM:<smuggled@example.test>\n.\r\n' \
    's:\r\n.\r\n' > "$DIR/7.out"
grepf "bare LF in a command: 500" "$DIR/7.out" '^500 5\.5\.2 Error: bare LF'
grepf "bare-LF message stored: 250" "$DIR/7.out" '^250 2\.0\.0 Ok: report stored'
if [ "$(grep -c '^250 2\.1\.0' "$DIR/7.out")" = 1 ] &&
    [ "$(grep -c '^250 2\.0\.0' "$DIR/7.out")" = 1 ]; then
	ok "<LF>.<LF> did not end DATA, the smuggled MAIL was not run"
else bad "<LF>.<LF> did not end DATA"; sed 's/^/    | /' "$DIR/7.out"; fi
if grep -lq 'smuggled@example.test' "$DIR"/out/msg-*.eml 2>/dev/null; then
	ok "smuggled text stayed inside the message"
else bad "smuggled text stayed inside the message"; fi

# 8. A client that stops mid-DATA is timed out (2 s here) while the
# server goes on serving others.
raw 's:EHLO x\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<tlsrpt+tok3@stshost.test>\r\nDATA\r\n' \
    's:From: a@example.test\r\n\r\nhalf a mess' 'w:4' > "$DIR/8.out" &
STALL=$!
sleep 0.7
printf '{"organization-name":"Example","report-id":"during-stall-%s"}' "$$" |
    gzip -n > "$DIR/r2.json.gz"
report_mail tlsrpt+tok1@stshost.test --attach "@$DIR/r2.json.gz" > "$DIR/8b.out" 2>&1
grepf "the other client's report stored: 250" "$DIR/8b.out" '<~  250 2\.0\.0 Ok: report stored'
wait "$STALL"
grepf "stalled DATA: 421 timeout and closed" "$DIR/8.out" \
    '^421 4\.4\.2 stshost\.test Error: timeout in DATA, closing'
grepf "stalled DATA: connection closed" "$DIR/8.out" '\[closed\]'
# "During": the driver logs from its one event loop, so the other
# client's message comes before the stalled session's timeout in its log
# only if it was served while the stalled session was open (a server
# that served one session at a time would store it after the timeout,
# and the 250 above would still come, 2 s late).
n=$(for f in "$DIR"/out/report-*-0.bin; do
	cmp -s "$f" "$DIR/r2.json.gz" && { f=${f##*/report-}; echo "${f%%-*}"; }
done | head -1)
first=$(grep -E "^driver: message ${n:-none} from |closing: timeout in DATA" \
    "$DIR/driver.log" | head -1)
case $first in
"driver: message ${n:-none} from "*) ok "served another client during the stall" ;;
*) bad "served another client during the stall: first in driver.log: [$first]" ;;
esac

# 9. No report in the message: 554 with the reason, quarantined.
"${SW[@]}" "${TLS[@]}" --to tlsrpt+tok1@stshost.test --body "hello, no report" \
    > "$DIR/9.out" 2>&1
grepf "no report: 554 5.6.0 with the reason" "$DIR/9.out" \
    '<~\* +554 5\.6\.0 Error: no application/tlsrpt part or \*\.json\(\.gz\) attachment in 1 MIME part'
if grep -lq 'hello, no report' "$DIR"/out/quarantine-*.eml 2>/dev/null; then
	ok "no-report message quarantined"
else bad "no-report message quarantined"; fi

# 10. Storage failing temporarily: 451.
report_mail tlsrpt+tempfail@stshost.test --attach "@$DIR/report.json.gz" > "$DIR/10.out" 2>&1
grepf "temporary storage failure: 451 4.3.0" "$DIR/10.out" '<~\* +451 4\.3\.0 '

# 13. Idle client: command timeout (3 s here).
raw 's:EHLO x\r\n' 'w:4.5' > "$DIR/13.out"
grepf "idle client: 421 timeout" "$DIR/13.out" '^421 4\.4\.2 stshost\.test Error: timeout, closing'

# 14. The corpus e-mails, replayed over SMTP: each yields its report; the
# one that is not a report gets 554.
if [ -d "$CORPUS/tlsrpt/emails" ]; then
	n=0
	for eml in "$CORPUS"/tlsrpt/emails/*.eml; do
		"${SW[@]}" "${TLS[@]}" --to tlsrpt+tok9@stshost.test \
		    --data "@$eml" > "$DIR/14.out" 2>&1
		case $(basename "$eml") in
		kravietz-not-a-report-*)
			grepf "corpus $(basename "$eml"): 554" "$DIR/14.out" '<~\* +554 5\.6\.0 ' ;;
		*)
			grepf "corpus $(basename "$eml"): 250" "$DIR/14.out" '<~  250 2\.0\.0 Ok' ;;
		esac
		n=$((n + 1))
	done
	[ "$n" -ge 15 ] && ok "replayed $n corpus e-mails" || bad "only $n corpus e-mails"
else
	echo "skip corpus replay: $CORPUS/tlsrpt/emails absent"
fi

# The driver is still alive and stops cleanly (sanitizer builds report
# leaks and errors at exit).
if kill -0 "$PID" 2>/dev/null; then ok "driver still running"; else bad "driver died"; fi
kill -TERM "$PID"
if wait "$PID"; then ok "driver stopped cleanly"; else
	bad "driver exit status $?"; tail -n 40 "$DIR/driver.log"; fi
PID=
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$DIR/driver.log"; then
	bad "sanitizer report in the driver log"; grep -A20 -E 'Sanitizer|runtime error' "$DIR/driver.log" | head -40
fi

# --- the daemon: `stsguard serve --smtp-listen` ------------------------
DSH=sts.swaks.test
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$DPORT" \
    --http-listen off --smtp-listen "$IP:$DSPORT" --service-host $DSH \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
if ! wait_up "$DIR/serve.log" timeout 2 bash -c \
    "[ -f '$DIR/data/local-ca.pem' ] && exec 3<>/dev/tcp/$IP/$DSPORT"; then
	bad "stsguard serve --smtp-listen did not start"
	finish; exit
fi
echo "daemon on $IP:$DSPORT"

# starttls.py HOST PORT clean|inject: EHLO, then STARTTLS alone (clean)
# or with a MAIL in the same packet (inject). Prints the replies to it as
# "S: ...". On a 220 it goes on into TLS (any certificate) the way a
# client would, prints as "TLS: ..." whatever the server sends unprompted
# within 1 s (a server that ran the injected MAIL answers it here) and
# then its reply to an EHLO. "[closed]" last when the server closed.
cat > "$DIR/starttls.py" <<'EOF'
import socket, ssl, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=5)
closed = False
def read(sock, secs, until=None):
    """Reads for SECS, or until a line starting with UNTIL, or EOF."""
    global closed
    got, end = b"", time.time() + secs
    while not closed and time.time() < end:
        sock.settimeout(max(0.01, end - time.time()))
        try:
            b = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError):
            closed = True; break
        if not b:
            closed = True; break
        got += b
        if until and any(l.startswith(until) for l in got.split(b"\r\n")):
            break
    return [l.decode("latin1") for l in got.split(b"\r\n") if l]
read(s, 3, b"220 ")
s.sendall(b"EHLO client.example\r\n")
read(s, 3, b"250 ")
s.sendall(b"STARTTLS\r\n" + (b"MAIL FROM:<injected@example.test>\r\n"
                             if mode == "inject" else b""))
replies = read(s, 1.5)
for l in replies:
    print("S:", l)
if not closed and replies and replies[0].startswith("220"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(s, server_hostname=host)
        for l in read(t, 1):
            print("TLS:", l)
        t.sendall(b"EHLO client.example\r\n")
        for l in read(t, 3, b"250 "):
            print("TLS:", l)
    except (OSError, ssl.SSLError) as e:
        print("TLS handshake failed:", e)
if closed:
    print("[closed]")
EOF
starttls() { timeout 30 /usr/bin/python3 "$DIR/starttls.py" "$IP" "$DSPORT" "$1"; }

# D1. STARTTLS with a command pipelined behind it (CVE-2011-0411). The
# control first: a clean STARTTLS reaches TLS and is answered there, so
# the client does see what a server sends inside TLS.
starttls clean > "$DIR/d1a.out" 2>&1
grepf "daemon: clean STARTTLS: 220, then EHLO answered inside TLS" "$DIR/d1a.out" \
    '^TLS: 250 ENHANCEDSTATUSCODES$'
starttls inject > "$DIR/d1b.out" 2>&1
grepf "daemon: STARTTLS with a pipelined MAIL: 554" "$DIR/d1b.out" \
    '^S: 554 5\.5\.1 Error: command pipelined after STARTTLS'
check "daemon: ... and closed at once, nothing else said" "[closed]" \
    "$(grep -v '^S: 554 ' "$DIR/d1b.out")"
grepf_not "daemon: the injected MAIL never answered, in plain text or TLS" \
    "$DIR/d1b.out" '^S: (220|250)|^TLS: '

# D2. Connections per client address: README says 10, counted across the
# workers. conns.py HOST PORT N opens N connections and keeps them open,
# printing "I REPLY" for each greeting (one that gets 421 is retried for
# up to 2 s: the wait_up probe may not have been counted out yet); then
# the N+1th, with "[closed]" if it was closed; then closes the first and
# connects again until it gets a 220 (up to 2 s).
cat > "$DIR/conns.py" <<'EOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def greet():
    s = socket.create_connection((host, port), timeout=5)
    got = b""
    while b"\r\n" not in got:
        b = s.recv(4096)
        if not b:
            break
        got += b
    line = got.split(b"\r\n")[0].decode("latin1")
    if not line.startswith("220"):
        s.settimeout(1)
        try:
            if s.recv(4096) == b"":
                line += " [closed]"
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        s = None
    return s, line
def until_220(i):
    for k in range(20):
        s, line = greet()
        if s is not None or k == 19:
            print(i, line, "(try %d)" % (k + 1) if k else "")
            return s
        time.sleep(0.1)
held = [until_220(i + 1) for i in range(n)]
s, line = greet()
print(n + 1, line)
if held[0] is not None:
    held[0].close()
again = until_220(n + 2)
EOF
timeout 30 /usr/bin/python3 "$DIR/conns.py" "$IP" "$DSPORT" 10 > "$DIR/d2.out" 2>&1
check "daemon: 10 connections from one address: 220 each" 10 \
    "$(grep -cE '^([1-9]|10) 220 ' "$DIR/d2.out")"
grepf "daemon: the 11th: 421 too many from your address, closed" "$DIR/d2.out" \
    "^11 421 4\.7\.0 $DSH Error: too many connections from your address.*\[closed\]"
grepf "daemon: a slot freed by a close is given again: 220" "$DIR/d2.out" '^12 220 '

kill -TERM "$PID"
wait "$PID"; rc=$?
PID=
check "daemon: SIGTERM exit status" 0 "$rc"
if grep -qE 'level=panic|Sanitizer|runtime error' "$DIR/serve.log"; then
	bad "daemon log: $(grep -E 'panic|Sanitizer|runtime error' "$DIR/serve.log" | head -3)"
fi

finish
