#!/bin/bash
# t_intake_smtp_group.sh - SMTP report intake through the writer thread
# (group commit, daemon_intake.c): the SMTP session waits for the commit
# of its message without holding up its worker.
#
#   1. A held write lock on the store (BEGIN IMMEDIATE from python,
#      until the test lets it go) keeps every commit waiting: 8 SMTP
#      senders send a message each meanwhile, and a policy fetch from
#      the one worker that holds their sessions is answered while the
#      lock is still held, before any of them gets its 250; every 250
#      comes after the lock is released (250 means "committed").
#   2. Pipelining on the real listener, plain and after STARTTLS:
#      "." + RSET + NOOP + QUIT in one packet are answered 250 (stored),
#      250, 250, 221, in order; "." + the next MAIL/RCPT/DATA likewise.
#   3. 8 parallel senders x NMSG messages, every third message carrying
#      two reports: each message 250, every report stored exactly once;
#      the same stream again: each 250 "duplicate", nothing added.
#   4. Connections dropped right after their "." while the lock is held:
#      a policy fetch is answered meanwhile, the daemon lives on and
#      stores their reports, exactly once.
#   5. SIGTERM while deliveries wait for the lock: the daemon stops
#      accepting (its listener closes while the lock is still held),
#      waits for the commit (in-flight messages finish, up to
#      LIMIT_SHUTDOWN_SECONDS), sends each its 250, and exits 0.
#
# What is checked is what happened and in what order (the times the
# clients saw each event, compared), never how long it took: the lock is
# let go when the test has seen what it waits for. HOLD only caps it, as
# a hang guard kept under the store's own 5 s wait for a lock (past that
# a commit fails). Own loopback address, random high ports, bounded
# clients; the trap stops what it started.
set -u
. "$(dirname "$0")/lib.sh"
STOP_SIGNAL=KILL
PY=/usr/bin/python3
NMSG=${NMSG:-12}
HOLD=4			# seconds the lock is held at the most (the store
			# waits 5 s for a lock before it fails a commit)
SPORT=$(( PORT + 1 ))
SH=sts.smtpgroup.test

start_daemon() { # start_daemon N: one worker, so it holds every session
	"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
	    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
	    --workers 1 --log-level warn 2> "$DIR/serve.$1.log" &
	PID=$!
	wait_up "$DIR/serve.$1.log" smtp_ready "$IP" "$SPORT"
}

policy() { # policy: the HTTP status of a policy fetch (bounded: 20 s)
	curl -sS --max-time 20 -o /dev/null -w '%{http_code}' \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.smtpgroup.test:$PORT:$IP" \
	    "https://mta-sts.smtpgroup.test:$PORT/.well-known/mta-sts.txt"
}

# hold SECS: takes the store's write lock ("locked" once taken) and
# keeps it until release (or SECS at the most); the time it is let go is
# written to "released"
hold() {
	rm -f "$DIR/locked" "$DIR/release" "$DIR/released"
	$PY - "$DIR/data/stsguard.db" "$1" "$DIR" <<'EOF' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[3] + "/locked", "w").close()
end = time.time() + float(sys.argv[2])
while time.time() < end and not os.path.exists(sys.argv[3] + "/release"):
    time.sleep(0.01)
open(sys.argv[3] + "/released", "w").write("%.6f\n" % time.time())
db.execute("ROLLBACK")
EOF
	HPID=$!
	local _
	for _ in $(seq 100); do [ -f "$DIR/locked" ] && return 0; sleep 0.05; done
	return 1
}
release() { touch "$DIR/release"; wait "$HPID"; }
now() { $PY -c 'import time; print("%.6f" % time.time())'; }

# wait_sent DIR N: until N senders have sent their first message (files
# in DIR) or the lock is gone; then checks that all N were sent meanwhile
wait_sent() {
	while [ "$(ls "$1" | wc -l)" -lt "$2" ] && [ ! -f "$DIR/released" ]; do
		sleep 0.02
	done
	[ -f "$DIR/released" ] &&
	    bad "the lock was let go (after $HOLD s) before $2 senders had sent"
	check "$2 senders sent their message while the store was locked" "$2" \
	    "$(ls "$1" | wc -l)"
}

# fetch_while_locked WHAT: a policy fetch is answered while the lock is
# still held (so not after the deliveries WHAT names)
fetch_while_locked() {
	local code
	code=$(policy)
	[ -f "$DIR/released" ] &&
	    bad "the policy fetch ended after the lock was let go"
	check "policy fetch answered while $1" 200 "$code"
}


# The client: smtpc.py MODE ... (see the modes below). Each reply is
# read whole (multi-line ones too); replies are logged as "code time".
cat > "$DIR/smtpc.py" <<'EOF'
import gzip, json, socket, ssl, sys, threading, time
from email.message import EmailMessage
from email import policy as emailpolicy

mode, ip, port, to, ca, sh = sys.argv[1:7]
args = sys.argv[7:]
port = int(port)

def report(rid):
    return json.dumps({"organization-name": "SMTP Group",
        "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                       "end-datetime": "2026-11-01T23:59:59Z"},
        "contact-info": "tlsrpt@sender.example", "report-id": rid,
        "policies": [{"policy": {"policy-type": "sts",
                                 "policy-domain": "smtpgroup.test"},
                      "summary": {"total-successful-session-count": 2,
                                  "total-failure-session-count": 0}}]}).encode()

def message(rids):
    m = EmailMessage(policy=emailpolicy.SMTP)
    m["From"] = "noreply@sender.example"
    m["To"] = to
    m["Subject"] = "Report Domain: smtpgroup.test Submitter: sender.example"
    m.set_content("This is an aggregate TLS report.")
    for rid in rids:
        m.add_attachment(gzip.compress(report(rid), mtime=0),
            maintype="application", subtype="tlsrpt+gzip",
            filename="sender.example!smtpgroup.test!%s.json.gz" % rid)
    b = m.as_bytes()
    if b.startswith(b"."):
        b = b"." + b
    b = b.replace(b"\r\n.", b"\r\n..")
    if not b.endswith(b"\r\n"):
        b += b"\r\n"
    return b + b".\r\n"

class Conn:
    def __init__(self, tls=False):
        self.s = socket.create_connection((ip, port), timeout=30)
        self.buf = b""
        self.reply()
        self.send(b"EHLO client.sender.example\r\n")
        self.reply()
        if tls:
            self.send(b"STARTTLS\r\n")
            assert self.reply()[0] == "220"
            ctx = ssl.create_default_context(cafile=ca)
            self.s = ctx.wrap_socket(self.s, server_hostname=sh)
            self.send(b"EHLO client.sender.example\r\n")
            self.reply()
    def send(self, b):
        self.s.sendall(b)
    def reply(self):
        text = []
        while True:
            while b"\r\n" not in self.buf:
                x = self.s.recv(65536)
                if not x:
                    raise EOFError("closed after %r" % text)
                self.buf += x
            line, self.buf = self.buf.split(b"\r\n", 1)
            text.append(line.decode("latin1"))
            if len(line) < 4 or line[3:4] != b"-":
                return line[:3].decode(), " ".join(text)
    def envelope(self):
        return ("MAIL FROM:<noreply@sender.example>\r\nRCPT TO:<%s>\r\n"
                "DATA\r\n" % to).encode()
    def begin(self):
        self.send(self.envelope())
        codes = [self.reply()[0] for _ in range(3)]
        assert codes == ["250", "250", "354"], codes

if mode == "stream":
    # stream NCONN NMSG PREFIX OUT SENTDIR: NCONN connections in
    # parallel, NMSG messages each (every third, from the third on,
    # with two reports); OUT
    # gets "code time text | rids" per message; SENTDIR/c<N> appears
    # once connection N has sent its first message's final "."
    nconn, nmsg, prefix, out, sentdir = args
    lines, lock = [], threading.Lock()
    def run(c):
        try:
            k = Conn()
            for i in range(int(nmsg)):
                rids = ["%s-%d-%d-a" % (prefix, c, i)]
                if i % 3 == 2:
                    rids.append("%s-%d-%d-b" % (prefix, c, i))
                k.begin()
                k.send(message(rids))
                if i == 0:
                    open("%s/c%d" % (sentdir, c), "w").close()
                code, text = k.reply()
                with lock:
                    lines.append("%s %.6f %s | %s" % (code, time.time(),
                        text, ",".join(rids)))
            k.send(b"QUIT\r\n")
            k.reply()
        except Exception as e:
            with lock:
                lines.append("ERR %.6f %r | -" % (time.time(), e))
    ts = [threading.Thread(target=run, args=(c,)) for c in range(int(nconn))]
    for t in ts: t.start()
    for t in ts: t.join()
    open(out, "w").write("".join(l + "\n" for l in lines))
elif mode == "pipeline":
    # pipeline TLS PREFIX: prints the reply codes, in order
    tls, prefix = args
    k = Conn(tls == "1")
    got = []
    k.begin()
    k.send(message([prefix + "-1"]) + b"RSET\r\nNOOP\r\n" + k.envelope())
    got += [k.reply()[0] for _ in range(6)]
    k.send(message([prefix + "-2"]) + b"QUIT\r\n")
    got += [k.reply()[0] for _ in range(2)]
    got.append("closed" if k.s.recv(100) == b"" else "open")
    print(" ".join(got))
elif mode == "drop":
    # drop PREFIX N: N connections, each closed right after its "."
    prefix, n = args
    for i in range(int(n)):
        k = Conn()
        k.begin()
        k.send(message(["%s-%d" % (prefix, i)]))
        k.s.close()
EOF
smtpc() { timeout 60 $PY "$DIR/smtpc.py" "$1" "$IP" "$SPORT" "$TO" \
    "$DIR/data/local-ca.pem" "$SH" "${@:2}"; }

sg domain add smtpgroup.test --mode testing --mx mx.smtpgroup.test \
    > /dev/null || { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show smtpgroup.test --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
[ -n "$TOKEN" ] || { echo "no token"; exit 1; }
TO="tlsrpt+$TOKEN@$SH"
echo "address $IP https $PORT smtp $SPORT"
start_daemon 0 || exit 1

# --- 1. the worker serves policies while its deliveries wait -------------
hold "$HOLD" || { bad "could not take the store's write lock"; exit 1; }
mkdir -p "$DIR/sent1"
smtpc stream 8 1 lock "$DIR/s1.out" "$DIR/sent1" &
SP=$!
wait_sent "$DIR/sent1" 8
fetch_while_locked "8 deliveries are pending"
fetched=$(now)
release
wait "$SP"
check "each sender: 250" 8 "$(grep -c '^250 ' "$DIR/s1.out")"
check "no 250 before the fetch ended nor before the commit could run" 0 \
    "$($PY -c 'import sys
fetched, released = float(sys.argv[1]), float(open(sys.argv[2]).read())
print(sum(1 for l in open(sys.argv[3])
          if float(l.split()[1]) < max(fetched, released)))' \
    "$fetched" "$DIR/released" "$DIR/s1.out")"
check "stored once each (count, distinct)" "8 8" "$(reports_stored)"

# --- 2. pipelining behind the final "." -------------------------------------
check "pipelined after \".\", plain: answers in order" \
    "250 250 250 250 250 354 250 221 closed" "$(smtpc pipeline 0 pipe-plain)"
check "pipelined after \".\", STARTTLS: answers in order" \
    "250 250 250 250 250 354 250 221 closed" "$(smtpc pipeline 1 pipe-tls)"
check "the pipelined messages stored" "12 12" "$(reports_stored)"

# --- 3. many senders, each message 250, each report once -----------------
mkdir -p "$DIR/sent3"
smtpc stream 8 "$NMSG" many "$DIR/s3.out" "$DIR/sent3"
nrep=$(( 8 * (NMSG + NMSG / 3) ))
check "8 x $NMSG messages: each 250 stored" "$((8 * NMSG))" \
    "$(grep -c '^250 .*report stored' "$DIR/s3.out")"
check "every report stored exactly once (count, distinct)" \
    "$((12 + nrep)) $((12 + nrep))" "$(reports_stored)"
smtpc stream 8 "$NMSG" many "$DIR/s3b.out" "$DIR/sent3"
check "the same again: each 250 duplicate" "$((8 * NMSG))" \
    "$(grep -c '^250 .*duplicate' "$DIR/s3b.out")"
check "nothing added by the resend" "$((12 + nrep)) $((12 + nrep))" "$(reports_stored)"

# --- 4. connections dropped while their delivery is pending --------------
hold "$HOLD" || { bad "could not take the store's write lock"; exit 1; }
smtpc drop drop 5
sleep 0.2	# lets the daemon read the dropped messages; no check needs it
fetch_while_locked "5 dropped deliveries are pending"
release
for _ in $(seq 600); do	# the commit follows the lock's release
	[ "$(reports_stored)" = "$((17 + nrep)) $((17 + nrep))" ] && break
	sleep 0.05
done
kill -0 "$PID" 2>/dev/null && ok "daemon alive after connections dropped mid-delivery" ||
    bad "daemon died: $(tail -3 "$DIR/serve.0.log")"
check "the dropped connections' reports stored once" \
    "$((17 + nrep)) $((17 + nrep))" "$(reports_stored)"

# --- 5. SIGTERM while deliveries are pending ------------------------------
hold "$HOLD" || { bad "could not take the store's write lock"; exit 1; }
mkdir -p "$DIR/sent5"
smtpc stream 4 1 term "$DIR/s5.out" "$DIR/sent5" &
SP=$!
wait_sent "$DIR/sent5" 4
kill -TERM "$PID"
# Taken: the (one) worker closes its listeners while the lock is held.
while tcp_open "$IP" "$PORT" && [ ! -f "$DIR/released" ]; do sleep 0.02; done
closed=$(now)
tcp_open "$IP" "$PORT" && bad "the daemon still listens after SIGTERM"
[ -f "$DIR/released" ] &&
    bad "the lock was let go (after $HOLD s) before the daemon stopped listening"
release
wait "$PID"
check "SIGTERM with deliveries pending: exit status" 0 "$?"
PID=
wait "$SP"
check "SIGTERM: the pending messages got their 250 before the exit" 4 \
    "$(grep -c '^250 ' "$DIR/s5.out")"
check "their 250 came after the daemon stopped listening" 0 \
    "$($PY -c 'import sys
print(sum(1 for l in open(sys.argv[2]) if float(l.split()[1]) < float(sys.argv[1])))' \
    "$closed" "$DIR/s5.out")"
check "their reports stored" "$((21 + nrep)) $((21 + nrep))" "$(reports_stored)"

log_clean "$DIR"/serve.*.log
finish
