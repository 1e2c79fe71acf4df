#!/bin/bash
# t_smtp_swaks.sh - black-box test of the SMTP listener (src/smtp) with
# swaks, a real SMTP client, plus a raw socket client for what swaks
# cannot do (bare LF, commands out of order, injection, stalling).
#
# This is the library-level test of src/smtp and src/mime: a small
# driver (tests/smtp_driver.c) with hooks that save what they get, so the
# checks see the exact bytes handed to the hooks and can use limits and
# timeouts far below the daemon's (SIZE 20000, 2-3 s timeouts, 3
# connections per client) and a hook that fails on demand (451). It is
# compiled here against libstsguard.a, started on a random loopback port
# with a certificate made here. The daemon's own wiring (`stsguard serve
# --smtp-listen`, the token set, the store, quarantine) is tested by
# t_intake_smtp.sh and t_intake_badinput.sh.
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

# --- a raw client: raw PORT STEP...  s:TEXT sends (\r \n escapes),
# w:SECS waits while reading; prints all it got, then "[closed]" if the
# server closed the connection.
cat > "$DIR/raw.py" <<'EOF'
import codecs, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
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
for step in sys.argv[2:]:
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
raw() { timeout 30 python3 "$DIR/raw.py" "$PORT" "$@"; }

# --- start the driver ------------------------------------------------
mkdir "$DIR/out"
"$DIR/smtp_driver" -d "$DIR/out" -p "$DIR/port" -c "$DIR/smtp.pem" -k "$DIR/smtp.key" \
    -H stshost.test -s 20000 -t 3 -T 2 -n 3 2> "$DIR/driver.log" &
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
	grepf "EHLO advertises $ext" "$DIR/1.out" "<-  250[- ]$ext"
done

# 2. A report with an application/tlsrpt+gzip attachment over STARTTLS.
report_mail tlsrpt+tok1@stshost.test --attach "@$DIR/report.json.gz" > "$DIR/2.out" 2>&1
grepf "STARTTLS handshake verified" "$DIR/2.out" '=== TLS started with cipher'
grepf "report mail accepted with 250" "$DIR/2.out" '<~  250 2.0.0 Ok: report stored'
grepf_not "no STARTTLS offered after TLS" "$DIR/2.out" '<~  250-STARTTLS'
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
grepf "QUIT: 221 and closed" "$DIR/5.out" '^221 2\.0\.0 .*\[closed\]|\[closed\]'

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
grepf "served another client during the stall" "$DIR/8b.out" '<~  250 2\.0\.0 Ok: report stored'
wait "$STALL"
grepf "stalled DATA: 421 timeout and closed" "$DIR/8.out" \
    '^421 4\.4\.2 stshost\.test Error: timeout in DATA, closing'
grepf "stalled DATA: connection closed" "$DIR/8.out" '\[closed\]'

# 9. No report in the message: 554 with the reason, quarantined.
"${SW[@]}" "${TLS[@]}" --to tlsrpt+tok1@stshost.test --body "hello, no report" \
    > "$DIR/9.out" 2>&1
grepf "no report: 554 5.6.0 with the reason" "$DIR/9.out" \
    '<~\* +554 5\.6\.0 Error: no application/tlsrpt part or \*\.json\(\.gz\) attachment in 1 MIME part'
if ls "$DIR"/out/quarantine-*.eml > /dev/null 2>&1; then ok "no-report message quarantined"
else bad "no-report message quarantined"; fi

# 10. Storage failing temporarily: 451.
report_mail tlsrpt+tempfail@stshost.test --attach "@$DIR/report.json.gz" > "$DIR/10.out" 2>&1
grepf "temporary storage failure: 451 4.3.0" "$DIR/10.out" '<~\* +451 4\.3\.0 '

# 11. STARTTLS with commands pipelined behind it (CVE-2011-0411).
raw 's:EHLO x\r\n' 's:STARTTLS\r\nMAIL FROM:<injected@example.test>\r\n' > "$DIR/11.out"
grepf "pipelined after STARTTLS: refused, closed" "$DIR/11.out" \
    '^554 5\.5\.1 Error: command pipelined after STARTTLS'
grepf_not "injected command not run" "$DIR/11.out" '^250 2\.1\.0'

# 12. Connections per client address (3 here): the 4th gets 421.
HOLD=()
for i in 1 2 3; do raw 'w:2.5' > "$DIR/12.$i.out" & HOLD+=($!); done
sleep 0.8
raw > "$DIR/12.4.out"
wait "${HOLD[@]}"
grepf "4th connection from one address: 421" "$DIR/12.4.out" \
    '^421 4\.7\.0 stshost\.test Error: too many connections from your address'
grepf "3rd connection from one address: 220" "$DIR/12.3.out" '^220 stshost\.test'

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

finish
