#!/bin/bash
# t_intake_group.sh - group commit of HTTPS reports (daemon_intake.c): a
# worker hands a parsed report to the writer thread and answers when the
# batch holding it is committed.
#
#   1. pipelined POSTs on one TLS connection are answered in order, and
#      the second of two identical reports in the pipeline is 200
#      duplicate with the first one's id;
#   2. 64 parallel senders whose connections are cut after 20 ms (some
#      while their report is with the writer), then a full resend: the
#      daemon lives on, and every report is stored exactly once;
#   3. SIGTERM while 64 senders are posting (NB reports): the daemon
#      exits 0, and every report acknowledged (201/200) before it did is
#      in the store.
#
# Own loopback address, random high ports; the trap stops what it started.
set -u
. "$(dirname "$0")/lib.sh"
STOP_SIGNAL=KILL
PY=/usr/bin/python3
N=${N:-300}
NB=${NB:-1500}		# set b: long enough for a SIGTERM to land in it
SH=sts.group.test

# Every sender here is one address, 64 at once and thousands of reports
# a minute: the per-client limits (t_intake_limits.sh tests them) are
# off, or they would answer most of this load 429.
start_daemon() { # start_daemon N
	"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
	    --http-listen off --service-host $SH --workers 2 \
	    --intake-client-rate 0 --intake-client-concurrent 0 \
	    --log-level warn 2> "$DIR/serve.$1.log" &
	PID=$!
	wait_up "$DIR/serve.$1.log" curl -s -o /dev/null --max-time 2 \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" "https://$SH:$PORT/"
}

# curl_cfg SET [EXTRA]: one block per report of r/SET, answers "code id"
curl_cfg() {
	local f first=1
	for f in "$DIR"/r/"$1"/*.json; do
		[ $first -eq 1 ] || echo next
		first=0
		printf 'url = "https://%s:%s/tlsrpt/%s"\n' "$SH" "$PORT" "$TOKEN"
		printf 'data-binary = "@%s"\n' "$f"
		printf 'header = "Content-Type: application/tlsrpt+json"\n'
		printf 'cacert = "%s/data/local-ca.pem"\n' "$DIR"
		printf 'resolve = "%s:%s:%s"\n' "$SH" "$PORT" "$IP"
		printf 'output = "/dev/null"\nsilent\n'
		printf 'write-out = "%%{http_code} %s\\n"\n' "${f##*/}"
		[ -n "${2:-}" ] && printf '%s\n' "$2"
	done
}

sg domain add group.test --mode testing --mx mx.group.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show group.test --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
[ -n "$TOKEN" ] || { echo "no token"; exit 1; }
$PY - "$DIR/r" "$N" "$NB" <<'EOF' || exit 1
import json, os, sys
out = sys.argv[1]
for s, n in (("a", int(sys.argv[2])), ("b", int(sys.argv[3]))):
    os.makedirs("%s/%s" % (out, s))
    for i in range(n):
        rep = {"organization-name": "Org %d" % (i % 3),
               "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                              "end-datetime": "2026-11-01T23:59:59Z"},
               "contact-info": "tlsrpt@sender.example",
               "report-id": "%s-%04d" % (s, i),
               "policies": [{"policy": {"policy-type": "sts",
                                        "policy-domain": "group.test"},
                             "summary": {"total-successful-session-count": 3,
                                         "total-failure-session-count": 0}}]}
        open("%s/%s/%04d.json" % (out, s, i), "w").write(json.dumps(rep))
EOF
echo "address $IP https $PORT; $N reports per set"
start_daemon 0 || exit 1

# --- 1. pipelining ----------------------------------------------------------
got=$($PY - "$DIR/data/local-ca.pem" "$IP" "$PORT" "$SH" "$TOKEN" <<'EOF'
import json, socket, ssl, sys
ca, ip, port, sh, tok = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((ip, int(port)), timeout=20),
                    server_hostname=sh)
def post(rid, token=tok):
    b = json.dumps({"organization-name": "Pipe",
        "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                       "end-datetime": "2026-11-01T23:59:59Z"},
        "contact-info": "a@b.example", "report-id": rid,
        "policies": [{"policy": {"policy-type": "sts",
                                 "policy-domain": "group.test"},
                      "summary": {"total-successful-session-count": 1,
                                  "total-failure-session-count": 0}}]}).encode()
    return (("POST /tlsrpt/%s HTTP/1.1\r\nHost: %s\r\n"
             "Content-Type: application/tlsrpt+json\r\n"
             "Content-Length: %d\r\n\r\n") % (token, sh, len(b))).encode() + b
last = ("GET /no-such-page HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sh).encode()
s.sendall(post("p1") + post("p1") + post("p2") + post("p3", "0" * 32) + last)
data = b""
while True:
    x = s.recv(65536)
    if not x:
        break
    data += x
# Status lines and JSON ids, in order.
out, ids = [], {}
for part in data.split(b"HTTP/1.1 ")[1:]:
    code = part[:3].decode()
    body = part.split(b"\r\n\r\n", 1)[1]
    if body.startswith(b"{") and b'"id"' in body:
        code += ":" + str(json.loads(body)["id"])
    out.append(code)
print(" ".join(out))
EOF
)
set -- $got
check "pipelined answers, in order" "201 200 201 404 404" \
    "${1%%:*} ${2%%:*} ${3%%:*} ${4%%:*} ${5%%:*}"
[ -n "${1#*:}" ] && [ "${1#*:}" = "${2#*:}" ] && [ "${1#*:}" != "${3#*:}" ] &&
    ok "the duplicate in the pipeline has the first one's id" ||
    bad "ids of the pipelined reports: [$got]"

# --- 2. connections cut while reports are with the writer -----------------
curl_cfg a 'max-time = 0.02' > "$DIR/a-short.cfg"
curl_cfg a > "$DIR/a.cfg"
curl --parallel --parallel-max 64 -K "$DIR/a-short.cfg" > "$DIR/a1.codes" 2>/dev/null
echo "     cut pass: $(awk '{ c[$1]++ } END { for (k in c) printf "%s x %s ", c[k], k }' "$DIR/a1.codes")"
kill -0 "$PID" 2>/dev/null && ok "daemon alive after connections cut mid-request" ||
    bad "daemon died: $(tail -3 "$DIR/serve.0.log")"
curl --parallel --parallel-max 64 -K "$DIR/a.cfg" > "$DIR/a2.codes" 2>/dev/null
check "resend: every report acknowledged" "$N" \
    "$(grep -cE '^20[01] ' "$DIR/a2.codes")"
check "stored exactly once (count, distinct)" "$((N + 2)) $((N + 2))" "$(reports_stored)"

# --- 3. SIGTERM while senders post ------------------------------------------
curl_cfg b > "$DIR/b.cfg"
curl --parallel --parallel-max 64 -K "$DIR/b.cfg" > "$DIR/b.codes" 2>/dev/null &
CP=$!
for _ in $(seq 1000); do	# until one is acknowledged, at most 10 s
	grep -qE '^20[01] ' "$DIR/b.codes" && break
	sleep 0.01
done
kill -TERM "$PID"
wait "$PID"
check "SIGTERM with reports in flight: exit status" 0 "$?"
PID=
wait "$CP"
acked=$(grep -cE '^20[01] ' "$DIR/b.codes")
echo "     acknowledged before the exit: $acked/$NB"
[ "$acked" -gt 0 ] && [ "$acked" -lt "$NB" ] &&
    ok "the SIGTERM landed during the stream" ||
    bad "the SIGTERM missed the stream ($acked/$NB acknowledged)"
missing=$(sg report list --json | $PY -c 'import json, sys
have = {r["report-id"] for r in json.load(sys.stdin)}
n = 0
for line in open(sys.argv[1]):
    code, f = line.split()
    if code in ("200", "201") and "b-" + f[:4] not in have:
        n += 1
print(n)' "$DIR/b.codes")
check "every acknowledged report is stored" 0 "$missing"
log_clean "$DIR"/serve.*.log

finish
