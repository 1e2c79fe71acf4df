# lib.sh - sourced (never run) by every black-box test, first thing:
#     . "$(dirname "$0")/lib.sh"
# It gives:
#   TOP BUILD STSGUARD CORPUS  as tests/run.sh exports them, with the same
#                   defaults when a test is run alone (STSGUARD made absolute)
#   ok, bad, check  one "ok   ..." or "FAIL ..." line per check; bad counts
#                   into $fails
#   finish          prints "failures: N" and is true when N is 0: a test's
#                   last command, so that it is the exit status
#   IP, PORT        a loopback address of the test's own, so that tests run
#                   side by side, and a random high port (PORT+1 too is free
#                   to use): 127.A.B.C, A and C from the shell's pid (two
#                   running tests never have the same), B at random
#   DIR             a fresh directory under /tmp, removed at exit (kept, and
#                   named, when KEEP is set)
#   sg              stsguard with --data-dir $DIR/data
#   PID             the daemon under test: the test sets it to $! when it
#                   starts one and clears it when it stopped it itself
#   wait_up         waits until the daemon just started answers
#   cleanup_add     one more command for the exit trap
# and, for what several tests do (each function has its contract below):
#   grepf           a check that a file has a line matching a regex
#   serve_stop, log_clean   SIGTERM -> exit 0; no panic/sanitizer lines
#   reports_stored  "COUNT DISTINCT" of the stored reports
#   tcp_open, smtp_ready    is a TCP listener (the SMTP one) accepting?
#   raw_client      a raw TCP or TLS client that sends what it is told
#   netns_new       a network namespace with its /etc/netns files
#   nsd_start, nsd_stop     nsd serving a `test.` zone file
#   zone_dkim       a zone with the DKIM test key of reporter.test
#   zone_acme       the `test.` zone of the two ACME tests
#   pebble_start    the Pebble test CA, with its listener certificate
#   pg_start, pg_up, pg_stop  a PostgreSQL 15 of the test's own (PG_URL)
#   test_ca, test_cert      a test CA and certificates it signs
#   dns_txt         the TXT values `stsguard dns` prints for a domain
#   webhook_start   an alert webhook receiver
#   demo_start, demo_dc, demo_login   the `make run` demo, serving, and
#                   its dashboard
# At exit, and on INT or TERM, the trap stops $PID with $STOP_SIGNAL (TERM
# unless the test says KILL) and waits for it, kills every background job
# of the test still running, runs the cleanup_add commands in order, and
# removes $DIR.

TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
STSGUARD=${STSGUARD:-$TOP/$BUILD/stsguard}
case $STSGUARD in /*) ;; *) STSGUARD=$PWD/$STSGUARD ;; esac
CORPUS=${CORPUS:-$TOP/../shared/corpus}

fails=0
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else
		bad "$1: expected [$2], got [$3]"; fi
}
finish() {
	echo "failures: $fails"
	[ "$fails" -eq 0 ]
}

IP=127.$(( $$ % 200 + 20 )).$(( RANDOM % 200 + 20 )).$(( $$ / 200 % 200 + 20 ))
PORT=$(( 20000 + RANDOM % 20000 ))

DIR=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX") || exit 1
sg() { "$STSGUARD" --data-dir "$DIR/data" "$@"; }
# STSGUARD_TEST_STORE=postgresql:///DB?host=...: the test's data dir
# keeps its store in a database of its own on that server (tests/
# run_pg.sh), named in the data dir's stsguard.conf, which every
# command reads; a test writing its own stsguard.conf goes back to
# SQLite for all of its commands.
if [ -n "${STSGUARD_TEST_STORE:-}" ]; then
	mkdir -p "$DIR/data"
	TEST_DB=t_$$_$RANDOM
	psql -q "$STSGUARD_TEST_STORE" -c "CREATE DATABASE $TEST_DB" ||
	    exit 1
	echo "store = $(sed "s|:///[^?]*|:///$TEST_DB|" \
	    <<< "$STSGUARD_TEST_STORE")" > "$DIR/data/stsguard.conf"
fi

PID=
STOP_SIGNAL=TERM
CLEANUP=()
cleanup_add() { CLEANUP+=("$1"); }	# cleanup_add 'SHELL COMMAND'
cleanup() {
	local running c
	[ -n "$PID" ] && kill -"$STOP_SIGNAL" "$PID" 2>/dev/null &&
	    wait "$PID" 2>/dev/null
	# -r: running jobs only, never a finished one whose pid may be reused
	running=$(jobs -pr)
	if [ -n "$running" ]; then
		kill $running 2>/dev/null
		wait $running 2>/dev/null
	fi
	for c in "${CLEANUP[@]}"; do eval "$c"; done
	[ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_up LOG CMD...: after starting the daemon ($PID, its stderr in LOG),
# runs CMD every 0.1 s until it succeeds. False, with LOG printed, if the
# daemon exits first or 10 s pass.
wait_up() {
	local log=$1 _
	shift
	for _ in $(seq 100); do
		"$@" 2>/dev/null && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "serve did not come up:"; cat "$log"
	return 1
}

# log_wait LOG REGEX: waits up to 10 s for a line of the daemon's LOG to
# match the extended REGEX (a listener may answer before the thread that
# logs "serving" has written it, on a loaded machine). True when it did.
log_wait() {
	local _
	for _ in $(seq 100); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# grepf DESCRIPTION FILE REGEX: ok when a line of FILE matches the
# extended REGEX; else bad, with the last 20 lines of FILE.
grepf() {
	if grep -qE -- "$3" "$2"; then ok "$1"; else
		bad "$1 (no /$3/ in:)"; sed 's/^/    | /' "$2" | tail -n 20; fi
}

# serve_stop: sends SIGTERM to the daemon $PID, waits for it and checks
# that it exited 0; PID is cleared (the trap has nothing left to stop).
serve_stop() {
	local rc
	kill -TERM "$PID"
	wait "$PID"; rc=$?
	PID=
	check "SIGTERM exit code" 0 "$rc"
}

# log_clean LOG...: ok when no LOG has a panic line or a sanitizer report
# (ASan, LSan, UBSan); else bad, with the first such lines.
log_clean() {
	if grep -qE 'level=panic|Sanitizer|runtime error' "$@"; then
		bad "panic or sanitizer report in the daemon log: $(grep -hE \
		    'level=panic|Sanitizer|runtime error' "$@" | head -3)"
	else
		ok "no panic or sanitizer report in the daemon log"
	fi
}

# reports_stored: "COUNT DISTINCT" of the reports in the store of sg:
# rows, and distinct (organization-name, report-id) among them.
reports_stored() {
	sg report list --json | /usr/bin/python3 -c 'import json, sys
d = json.load(sys.stdin)
print(len(d), len({(r["organization-name"], r["report-id"]) for r in d}))'
}

# tcp_open ADDR PORT [PREFIX...]: true when a TCP connection to ADDR:PORT
# is accepted (it is closed at once; a connect still pending after 2 s
# counts as not open). PREFIX runs the probe elsewhere, e.g. in a
# network namespace: tcp_open 127.0.0.25 25 nsenter --net=/run/netns/N --
tcp_open() {
	local a=$1 p=$2
	shift 2
	"$@" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$a" "$p" \
	    2> /dev/null
}

# smtp_ready ADDR PORT: true once `stsguard serve` has written its local
# CA ($DIR/data/local-ca.pem, which STARTTLS clients trust) and its SMTP
# listener ADDR:PORT accepts. For wait_up.
smtp_ready() {
	[ -f "$DIR/data/local-ca.pem" ] && tcp_open "$1" "$2"
}

# raw_client [--tls SNI CAFILE] ADDR PORT STEP...: a client that sends
# exactly what it is told, for what curl and swaks will not send. With
# --tls it first completes a TLS handshake for SNI, trusting CAFILE only.
# Steps:
#   s:TEXT   send TEXT (Python escapes: \r \n \t \\ \xNN), read 0.3 s
#   S:N      send N bytes of 80-byte lines "xx...x\r\n", read 0.5 s
#   w:SECS   read for SECS seconds, or until the server closes
#   u:TEXT   read until TEXT (escaped as in s:) has come or the server
#            closes (30 s at the most)
#   x        close at once; later steps are not run
# It reads 0.3 s after connecting (for a greeting) and, unless the
# connection is closed, 1 s after the last step. Prints all it received
# (as latin-1), then "[closed]" when the server closed the connection.
# Exit 0; not 0 when it cannot connect or the handshake fails; bounded
# (60 s).
raw_client() {
	timeout 60 /usr/bin/python3 -c "$RAW_CLIENT_PY" "$@"
}
read -r -d '' RAW_CLIENT_PY <<'EOPY' || true	# (read is false at the end)
import codecs, socket, ssl, sys, time
args = sys.argv[1:]
tls = None
if args[0] == "--tls":
    tls, args = args[1:3], args[3:]
s = socket.create_connection((args[0], int(args[1])), timeout=30)
if tls:
    ctx = ssl.create_default_context(cafile=tls[1])
    s = ctx.wrap_socket(s, server_hostname=tls[0])
got, closed = b"", False
def pump(secs, until=None):
    global got, closed
    end = time.time() + secs
    while not closed and time.time() < end:
        if until is not None and until in got:
            break
        s.settimeout(max(0.01, end - time.time()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True; break
        if not b: closed = True
        got += b
def text(t):
    return codecs.decode(t, "unicode_escape").encode("latin1")
pump(0.3)
for step in args[2:]:
    try:
        if step.startswith("s:"):
            s.sendall(text(step[2:]))
            pump(0.3)
        elif step.startswith("S:"):
            line = b"x" * 78 + b"\r\n"
            s.sendall(line * (int(step[2:]) // len(line)))
            pump(0.5)
        elif step.startswith("w:"):
            pump(float(step[2:]))
        elif step.startswith("u:"):
            pump(30, text(step[2:]))
        elif step == "x":
            s.close(); closed = True; break
    except (BrokenPipeError, ConnectionResetError):
        closed = True
if not closed: pump(1.0)
sys.stdout.write(got.decode("latin1"))
if closed: print("[closed]")
EOPY

# netns_new NAME [HOSTS-LINE...]: a network namespace of the test's own,
# its loopback up (every 127.x address usable, port 53 and the like
# free), and the files `ip netns exec NAME` puts over /etc:
# /etc/netns/NAME/resolv.conf (nameserver 127.0.0.1: the test's nsd on
# port 53) and hosts (localhost, then each HOSTS-LINE). Sets NETNS=NAME
# and NETNS_EXEC=(nsenter --net=... --), the prefix that starts a daemon
# in it as a simple command, so that $! is the daemon (nsenter execs; a
# shell function would run in a subshell); clients that resolve names
# use `ip netns exec NAME` (it mounts the /etc/netns files). At exit
# (cleanup_add: after the trap stopped $PID and the test's jobs, and
# after the cleanup commands added before this call) it kills what still
# runs in the namespace (only the test's own processes), deletes it and
# /etc/netns/NAME. Needs root; false, with the reason, when the
# namespace cannot be made.
netns_new() {
	local l
	NETNS=$1
	shift
	NETNS_EXEC=(nsenter --net="/run/netns/$NETNS" --)
	ip netns add "$NETNS" ||
	    { echo "ip netns add $NETNS failed (root needed)"; return 1; }
	cleanup_add "netns_del $NETNS"
	ip -n "$NETNS" link set lo up || return 1
	mkdir -p "/etc/netns/$NETNS"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' \
	    > "/etc/netns/$NETNS/resolv.conf"
	{
		printf '127.0.0.1 localhost\n::1 localhost\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "/etc/netns/$NETNS/hosts"
}
netns_del() { # netns_del NAME: netns_new's exit command
	local p
	if [ -e "/run/netns/$1" ]; then
		for p in $(ip netns pids "$1" 2> /dev/null); do
			kill -KILL "$p" 2> /dev/null
		done
		ip netns del "$1" 2> /dev/null
	fi
	rm -rf "/etc/netns/$1"
}

# nsd_start ZONEFILE PORT [PREFIX...]: nsd, authoritative for the zone
# `test.` in ZONEFILE (an absolute path; checked with nsd-checkzone
# first), on 127.0.0.1:PORT (UDP and TCP), in the foreground as a job of
# the test: NSD_PID is nsd itself (stopped by the exit trap, or earlier
# by nsd_stop). Its files are $DIR/nsd.*, its log $DIR/nsd.log. PREFIX
# starts it elsewhere and must exec (e.g. "${NETNS_EXEC[@]}", not a
# shell function). Returns once nsd answers the SOA of test. (dig, run
# with PREFIX too); 1, with the reason, when the zone is refused or nsd
# has not answered after 10 s. NSD_EXTRA_ZONES, when set, is appended
# to its config (more "zone:" blocks, e.g. a child zone of test.).
# (../shared/PEERS.md §1)
nsd_start() {
	local zone=$1 port=$2 _
	shift 2
	nsd-checkzone test "$zone" > "$DIR/nsd.check" 2>&1 || {
		echo "nsd-checkzone refused $zone:"
		cat "$DIR/nsd.check" "$zone"
		return 1
	}
	cat > "$DIR/nsd.conf" <<EOC
server:
  ip-address: 127.0.0.1@$port
  port: $port
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$DIR"
  pidfile: "$DIR/nsd.pid"
  database: ""
  xfrdfile: "$DIR/nsd.xfrd.state"
  zonelistfile: "$DIR/nsd.zone.list"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: test
  zonefile: "$zone"
${NSD_EXTRA_ZONES:-}
EOC
	"$@" nsd -d -c "$DIR/nsd.conf" > "$DIR/nsd.log" 2>&1 &
	NSD_PID=$!
	for _ in $(seq 100); do
		[ -n "$("$@" dig +short +time=1 +tries=1 -p "$port" \
		    @127.0.0.1 test. SOA 2> /dev/null)" ] && return 0
		kill -0 "$NSD_PID" 2> /dev/null || break
		sleep 0.1
	done
	echo "nsd did not answer on 127.0.0.1:$port:"
	cat "$DIR/nsd.log"
	return 1
}
nsd_stop() { # nsd_stop: stops the nsd of nsd_start
	kill "$NSD_PID" 2> /dev/null
	wait "$NSD_PID" 2> /dev/null
	NSD_PID=
}

# demo_start: runs scripts/demo.sh (what `make run` does) from $DIR, its
# data dir $DIR/data, HTTPS on $IP:$PORT and HTTP on $IP:PORT+1, its
# stdout in $DIR/out and stderr in $DIR/err, until the daemon it execs
# serves (20 s at most). Sets PID (that daemon), DEMO_CURL (the policy
# fetch it printed) and DEMO_URL, DEMO_USER, DEMO_PASS (the dashboard
# and its user). False, with the demo's output printed, when it did not
# get to serving.
demo_start() {
	local _
	cd "$DIR" || return 1
	DATA=$DIR/data HTTPS_LISTEN=$IP:$PORT HTTP_LISTEN=$IP:$(( PORT + 1 )) \
	    sh "$TOP/scripts/demo.sh" "$STSGUARD" > "$DIR/out" 2> "$DIR/err" &
	PID=$!	# the script execs the daemon: this is it, in the end
	for _ in $(seq 200); do
		DEMO_CURL=$(sed -n 's/^   \(curl .*\)$/\1/p' "$DIR/out")
		if [ -n "$DEMO_CURL" ] && grep -q 'event=serving' "$DIR/err"
		then
			read -r DEMO_URL DEMO_USER DEMO_PASS <<< "$(sed -n \
			    's/^   \(https:.*\)  user \(.*\)  password \(.*\)$/\1 \2 \3/p' \
			    "$DIR/out")"
			return 0
		fi
		kill -0 "$PID" 2> /dev/null || break
		sleep 0.1
	done
	cat "$DIR/out" "$DIR/err"
	return 1
}
# demo_dc CURL-ARGS...: curl to the demo's dashboard host, trusting its
# local CA, with the cookie jar $DIR/jar.
demo_dc() {
	local host
	host=$(sed 's|https://\([^:/]*\):.*|\1|' <<< "$DEMO_URL")
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$host:$PORT:$IP" -b "$DIR/jar" -c "$DIR/jar" "$@"
}
# demo_login [PASSWORD]: logs the demo's user in with PASSWORD (default:
# the one it printed) through the login form; prints the HTTP status
# (303 when in: the session's cookie is then in the jar).
demo_login() {
	local csrf
	csrf=$(demo_dc "${DEMO_URL}login" |
	    sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
	demo_dc -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$csrf" \
	    --data-urlencode "email=$DEMO_USER" \
	    --data-urlencode "password=${1:-$DEMO_PASS}" "${DEMO_URL}login"
}

# pg_start: a PostgreSQL 15 of its own in $DIR/pg, on a Unix socket
# there (no TCP port: parallel tests do not collide), with a database
# stsguard; sets PG_URL (libpq URL), PG_DIR and PG_BIN, and registers
# pg_stop for cleanup. initdb refuses root: the server runs as the
# postgres user Debian's package creates. (../shared/PEERS.md §10)
PG_BIN=/usr/lib/postgresql/15/bin
pg_start() {
	PG_DIR="$DIR/pg"
	mkdir -p "$PG_DIR"
	chown postgres "$PG_DIR"
	chmod 755 "$DIR"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust \
	    -U stsguard > "$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log"; return 1; }
	pg_up || return 1
	cleanup_add pg_stop
	"$PG_BIN/psql" -q -h "$PG_DIR" -U stsguard -d postgres \
	    -c 'CREATE DATABASE stsguard' || return 1
	PG_URL="postgresql:///stsguard?host=$PG_DIR&user=stsguard"
}
pg_up() { # pg_up: starts (again) the server of pg_start
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" \
	    -o "-k $PG_DIR -c listen_addresses=''" -l "$PG_DIR/log" \
	    -w start > /dev/null || { cat "$PG_DIR/log"; return 1; }
}
pg_stop() { # pg_stop [MODE]: fast by default; immediate as in a crash
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" \
	    -m "${1:-fast}" -w stop > /dev/null 2>&1
}

# test_ca NAME CN: a CA of the test's own, $DIR/NAME.pem and NAME.key
# (P-256, 60 days). test_cert CA NAME [DNS...]: a leaf signed by it,
# $DIR/NAME.pem and NAME.key, for the DNS names (NAME alone when none
# is given; the first is the CN). Both print openssl's output and are
# false when it failed.
test_ca() {
	(cd "$DIR" && openssl req -x509 -newkey ec -pkeyopt \
	    ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
	    -days 60 -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign) > "$DIR/openssl.log" 2>&1 ||
	    { cat "$DIR/openssl.log"; return 1; }
}
test_cert() {
	local ca=$1 n=$2 san
	shift 2
	[ $# -gt 0 ] || set -- "$n"
	san=$(printf 'DNS:%s,' "$@")
	(cd "$DIR" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$1" &&
	    printf 'subjectAltName=%s\n' "${san%,}" > "$n.ext" &&
	    openssl x509 -req -in "$n.csr" -CA "$ca.pem" -CAkey "$ca.key" \
	    -CAcreateserial -days 60 -extfile "$n.ext" -out "$n.pem") \
	    > "$DIR/openssl.log" 2>&1 || { cat "$DIR/openssl.log"; return 1; }
}

# dns_txt DOMAIN _mta-sts|_smtp._tls: the TXT value `stsguard dns`
# prints for it (the record a customer publishes).
dns_txt() {
	sg dns "$1" --json | /usr/bin/python3 -c 'import json, sys
for r in json.load(sys.stdin):
    if r["name"].startswith(sys.argv[1] + "."): print(r["value"])' "$2"
}

# webhook_start IP PORT OUT REFUSE [WRAPPER...]: an alert webhook (a
# Python http.server, run under WRAPPER, e.g. a netns exec) on IP:PORT:
# each POST's Content-Type a line of OUT.tries; the first REFUSE POSTs
# answered 500, the others 204 with their body a line of OUT. Waits
# until it listens (5 s).
webhook_start() {
	local ip=$1 port=$2 out=$3 refuse=$4 _
	shift 4
	cat > "$DIR/hook.py" <<'EOPY'
import http.server, sys
ip, port, out, refuse = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    int(sys.argv[4])
tries = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global tries
        body = self.rfile.read(int(self.headers["Content-Length"]))
        tries += 1
        with open(out + ".tries", "a") as f:
            f.write(self.headers.get("Content-Type", "") + "\n")
        if tries <= refuse:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer((ip, port), H).serve_forever()
EOPY
	: > "$out"
	"$@" /usr/bin/python3 "$DIR/hook.py" "$ip" "$port" "$out" "$refuse" \
	    > "$DIR/hook.log" 2>&1 &
	for _ in $(seq 50); do tcp_open "$ip" "$port" "$@" && return 0; sleep 0.1; done
	cat "$DIR/hook.log"; return 1
}

# zone_head: the first lines of every `test.` zone the tests serve: its
# SOA and NS, ns.test at 127.0.0.1.
zone_head() {
	cat <<EOZ
\$ORIGIN test.
\$TTL 60
@                  SOA ns.test. admin.test. 1 3600 600 86400 60
@                  NS  ns.test.
ns                 A   127.0.0.1
EOZ
}

# zone_acme ADDR: prints the `test.` zone the ACME tests serve:
# stshost.test A ADDR (the service host), mta-sts.customer1.test CNAME
# to it, mta-sts.customer2.test A ADDR; no record for customer3 or
# customer4 (so a CA cannot validate them).
zone_acme() {
	zone_head
	cat <<EOZ
stshost            A   $1
mta-sts.customer1  CNAME stshost.test.
mta-sts.customer2  A   $1
EOZ
}

# zone_dkim: prints a `test.` zone with the DKIM key of
# tests/data/dkim/reporter.key published for reporter.test and for
# other.test under the selector "sel" (RFC 6376 §3.6.2: v=DKIM1; k=rsa;
# p=..., in strings of at most 255 bytes), and no other selector: the
# report mails of the DKIM tests are signed with that key.
zone_dkim() {
	local p
	p=$(tr -d '\n' < "$TOP/tests/data/dkim/reporter.pub.b64")
	zone_head
	cat <<EOZ
sel._domainkey.reporter TXT "v=DKIM1; k=rsa; " "p=${p:0:200}" "${p:200}"
sel._domainkey.other    TXT "v=DKIM1; k=rsa; " "p=${p:0:200}" "${p:200}"
EOZ
}

# pebble_start ACME_PORT MGMT_PORT HTTP_PORT TLS_PORT DNS [PREFIX...]:
# the Pebble test CA (../shared/PEERS.md §2) on 127.0.0.1:ACME_PORT, its
# management interface on 127.0.0.1:MGMT_PORT, validating http-01 on
# HTTP_PORT and tls-alpn-01 on TLS_PORT of the address a name resolves
# to, resolving with the DNS server DNS (ADDR:PORT). No sleep before a
# validation, no reuse of authorizations; PEBBLE_NONCEREJECT (percent of
# good nonces refused, default 0) and PEBBLE_VALIDITY (certificate
# lifetime, seconds; default Pebble's) when set. Its listener
# certificate comes from a test CA made here: ACME clients trust
# $DIR/test-ca.pem. PREFIX as for nsd_start (it also runs the curl
# calls here). Sets PEBBLE_PID (stopped by the exit trap) and
# PEBBLE_DIR_URL; writes this run's root and intermediate to
# $DIR/pebble-root.pem and $DIR/pebble-int.pem; log $DIR/pebble.log.
# Returns 1, with the reason, when openssl fails or Pebble has not
# answered after 10 s.
pebble_start() {
	local acme=$1 mgmt=$2 http=$3 tls=$4 dns=$5 validity= _
	shift 5
	(
		cd "$DIR" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout test-ca.key -out test-ca.pem -days 2 \
		    -subj /CN=test-ca \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout pebble-listener.key -out listener.csr \
		    -subj /CN=localhost &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf &&
		openssl x509 -req -in listener.csr -CA test-ca.pem \
		    -CAkey test-ca.key -CAcreateserial -days 2 \
		    -extfile ext.cnf -out pebble-listener.pem
	) > "$DIR/openssl.log" 2>&1 ||
	    { echo "openssl: $(cat "$DIR/openssl.log")"; return 1; }
	[ -n "${PEBBLE_VALIDITY:-}" ] &&
	    validity=", \"certificateValidityPeriod\": $PEBBLE_VALIDITY"
	cat > "$DIR/pebble.json" <<EOJ
{ "pebble": {
  "listenAddress": "127.0.0.1:$acme",
  "managementListenAddress": "127.0.0.1:$mgmt",
  "certificate": "$DIR/pebble-listener.pem",
  "privateKey": "$DIR/pebble-listener.key",
  "httpPort": $http, "tlsPort": $tls,
  "ocspResponderURL": "", "externalAccountBindingRequired": false$validity } }
EOJ
	"$@" env PEBBLE_VA_NOSLEEP=1 \
	    PEBBLE_WFE_NONCEREJECT="${PEBBLE_NONCEREJECT:-0}" \
	    PEBBLE_AUTHZREUSE=0 pebble -config "$DIR/pebble.json" \
	    -strict=false -dnsserver "$dns" > "$DIR/pebble.log" 2>&1 &
	PEBBLE_PID=$!
	PEBBLE_DIR_URL=https://127.0.0.1:$acme/dir
	for _ in $(seq 100); do
		"$@" curl -sf --cacert "$DIR/test-ca.pem" "$PEBBLE_DIR_URL" \
		    > /dev/null && break
		kill -0 "$PEBBLE_PID" 2> /dev/null || break
		sleep 0.1
	done
	"$@" curl -sf --cacert "$DIR/test-ca.pem" -o "$DIR/pebble-root.pem" \
	    "https://127.0.0.1:$mgmt/roots/0" &&
	"$@" curl -sf --cacert "$DIR/test-ca.pem" -o "$DIR/pebble-int.pem" \
	    "https://127.0.0.1:$mgmt/intermediates/0" || {
		echo "pebble did not start: $(tail -5 "$DIR/pebble.log")"
		return 1
	}
}
