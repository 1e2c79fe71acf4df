#!/bin/bash
# t_monitor.sh - the monitor inside `stsguard serve` (issue 14) against
# real peers, in a network namespace of the test's own (as t_check.sh):
#
#   nsd                 127.0.0.1:53    the `test.` zone: good.test hosted
#                                       in enforce, its records as
#                                       `stsguard dns` prints them
#   stsguard serve      127.0.0.10:443  policy host and API; :25 its MX
#                                       (certificates = files, from a
#                                       test CA that the monitor trusts)
#   python3 (ssl)       127.0.0.22:25   a second MX with STARTTLS and a
#                                       valid certificate (mx2.good.test)
#   python3 http.server 127.0.0.30:8080 the alert webhook: refuses the
#                                       first POST (500), keeps the rest
#   python3 (socket)    127.0.0.31:25   the SMTP relay for alert e-mails
#                                       and the weekly digest
#
# With monitor_interval = 2 the first checks pass and raise nothing; then
# the zone gets an MX that the policy does not cover: exactly one alert
# reaches the webhook (after a refused try: retried next round), kind
# mx-uncovered, critical, and one e-mail the relay (which got the
# tenant's weekly digest at the start, once); GET .../check shows the failure; the MX gone
# and back again within the cool-down raises no second alert; POST
# .../check runs a check now (403 with a read-only token).
#
# Needs root (network namespace); the trap stops every daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
for t in nsd dig openssl ip nsenter curl; do
	command -v $t > /dev/null || { echo "$t missing (scripts/deps.sh)"; exit 1; }
done

netns_new "sgmo$$" || exit 1
NX=("${NETNS_EXEC[@]}")

# --- a test CA, certificates for the service, mta-sts.good.test, mx2 ---
mkdir -p "$DIR/data/certs"
test_ca ca monitor-test-ca || exit 1
for n in stshost.test mta-sts.good.test mx2.good.test; do test_cert ca "$n" || exit 1; done
for n in stshost.test mta-sts.good.test; do
	cat "$DIR/$n.pem" "$DIR/ca.pem" > "$DIR/data/certs/$n.pem"
	install -m 600 "$DIR/$n.key" "$DIR/data/certs/$n.key"
done

# --- the hosted domain, the settings, the zone --------------------------
cat > "$DIR/data/stsguard.conf" <<EOC
service_host = stshost.test
nameserver = 127.0.0.1:53
certificates = files
monitor_interval = 2
monitor_allow_private = yes
monitor_ca_file = $DIR/ca.pem
alert_cooldown = 3600
alert_webhook = http://127.0.0.30:8080/hook
alert_email = ops@good.test
alert_smtp_relay = 127.0.0.31:25
weekly_digest = yes
EOC
sg domain add good.test --mode enforce --mx stshost.test --max-age 1209600 \
    > /dev/null || { echo "domain add failed"; exit 1; }
printf 'monitor-test-pw-1\n' > "$DIR/pw"
sg user add viewer@good.test --tenant default --role viewer \
    --password-file "$DIR/pw" > /dev/null || { echo "user add failed"; exit 1; }
sg user add owner@good.test --tenant default --role owner \
    --password-file "$DIR/pw" > /dev/null || { echo "user add failed"; exit 1; }
TW=$(sg token create --tenant default | tail -1)
TR=$(sg token create --tenant default --read-only | tail -1)
GOOD_STS=$(dns_txt good.test _mta-sts)
GOOD_RPT=$(dns_txt good.test _smtp._tls)
zone() { # zone [extra MX]: the zone file, with mx2.good.test as an MX or not
	zone_head
	cat <<EOZ
stshost            A     127.0.0.10
mta-sts.good       CNAME stshost.test.
_mta-sts.good      TXT   "$GOOD_STS"
good               MX    10 stshost.test.
_smtp._tls.good    TXT   "$GOOD_RPT"
mx2.good           A     127.0.0.22
EOZ
	[ "${1:-}" = mx2 ] && echo "good               MX    20 mx2.good.test."
}
zone > "$DIR/test.zone"
nsd_start "$DIR/test.zone" 53 "${NX[@]}" || exit 1
rezone() { # rezone [mx2]: nsd again with the zone changed
	nsd_stop
	zone "$@" > "$DIR/test.zone"
	nsd_start "$DIR/test.zone" 53 "${NX[@]}" || exit 1
}

# --- mx2.good.test: STARTTLS with a valid certificate -------------------
cat > "$DIR/mx2.py" <<'EOPY'
import socketserver, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 mx2.good.test ESMTP\r\n")
        for line in self.rfile:
            cmd = line[:8].upper()
            if cmd.startswith(b"EHLO"):
                self.wfile.write(b"250-mx2.good.test\r\n250 STARTTLS\r\n")
            elif cmd.startswith(b"STARTTLS"):
                self.wfile.write(b"220 go ahead\r\n")
                self.wfile.flush()
                try:
                    s = ctx.wrap_socket(self.connection, server_side=True)
                    s.recv(1024)
                except (ssl.SSLError, OSError):
                    pass
                return
            else:
                self.wfile.write(b"221 bye\r\n")
                return
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.22", 25), H).serve_forever()
EOPY
cat "$DIR/mx2.good.test.pem" "$DIR/ca.pem" > "$DIR/mx2.chain.pem"
"${NX[@]}" $PY "$DIR/mx2.py" "$DIR/mx2.chain.pem" "$DIR/mx2.good.test.key" \
    > "$DIR/mx2.log" 2>&1 &
for _ in $(seq 50); do tcp_open 127.0.0.22 25 "${NX[@]}" && break; sleep 0.1; done

# --- the webhook: 500 for the first POST, then 204; each body kept ------
webhook_start 127.0.0.30 8080 "$DIR/hook.out" 1 "${NX[@]}" || exit 1

# --- the SMTP relay: every message into relay.out, ended by a line "." --
cat > "$DIR/relay.py" <<'EOPY'
import socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 relay.test ESMTP\r\n")
        env = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line[:4].upper()
            if cmd == b"EHLO" or cmd == b"HELO":
                self.wfile.write(b"250 relay.test\r\n")
            elif cmd == b"MAIL" or cmd == b"RCPT":
                env.append(line.strip())
                self.wfile.write(b"250 ok\r\n")
            elif cmd == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                self.wfile.flush()
                msg = []
                for l in self.rfile:
                    if l == b".\r\n":
                        break
                    msg.append(l)
                with open(sys.argv[1], "ab") as f:
                    f.write(b"".join(e + b"\r\n" for e in env))
                    f.write(b"".join(msg) + b".\r\n")
                env = []
                self.wfile.write(b"250 queued\r\n")
            elif cmd == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.31", 25), H).serve_forever()
EOPY
: > "$DIR/relay.out"
"${NX[@]}" $PY "$DIR/relay.py" "$DIR/relay.out" > "$DIR/relay.log" 2>&1 &
for _ in $(seq 50); do tcp_open 127.0.0.31 25 "${NX[@]}" && break; sleep 0.1; done

# --- stsguard serve ------------------------------------------------------
"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" serve \
    --https-listen 127.0.0.10:443 --http-listen off \
    --smtp-listen 127.0.0.10:25 --metrics-listen 127.0.0.10:9464 \
    --workers 1 2> "$DIR/serve.log" &
PID=$!
up() { tcp_open 127.0.0.10 25 "${NX[@]}" && tcp_open 127.0.0.10 443 "${NX[@]}"; }
wait_up "$DIR/serve.log" up || exit 1

api() { # api METHOD TOKEN: .../domains/good.test/check into $DIR/api.out; the status
	"${NX[@]}" curl -sS -o "$DIR/api.out" -w '%{http_code}' -X "$1" \
	    --cacert "$DIR/ca.pem" -H "Authorization: Bearer $2" \
	    --resolve stshost.test:443:127.0.0.10 \
	    https://stshost.test/api/v1/domains/good.test/check
}
field() { # field EXPR: a Python expression of the last answer's JSON (j)
	$PY -c 'import json, sys
j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$DIR/api.out" "$1" 2>&1
}
checks() { grep -c 'event=monitor domain="good.test"' "$DIR/serve.log"; }
wait_checks() { # wait_checks N: until N more checks are logged (at most 30 s)
	local want=$(( $(checks) + $1 )) _
	for _ in $(seq 300); do
		[ "$(checks)" -ge "$want" ] && return 0
		sleep 0.1
	done
	bad "the monitor did not check $1 more times in 30 s"; return 1
}
alerts() { wc -l < "$DIR/hook.out"; }
raised() { # raised SEVERITY: the metrics' count of alerts raised
	"${NX[@]}" curl -sS --max-time 5 http://127.0.0.10:9464/metrics |
	    sed -n "s/^stsguard_alerts_total{severity=\"$1\"} //p"
}

wait_checks 2
check "GET .../check: 200 once a check ran" 200 "$(api GET "$TR")"
# The weekly digest: mailed to the tenant's owner at the first rounds.
for _ in $(seq 100); do grep -q '^Subject: \[stsguard\] weekly digest' "$DIR/relay.out" && break; sleep 0.1; done
check "the weekly digest at the relay" 1 \
    "$(grep -c '^Subject: \[stsguard\] weekly digest: default' "$DIR/relay.out")"
grepf "the digest goes to the owner" "$DIR/relay.out" '^RCPT TO:<owner@good\.test>'
grepf "the digest names the domain" "$DIR/relay.out" '^good\.test \(enforce\)'
grepf "the digest has its sessions" "$DIR/relay.out" '^  sessions: no report this week'
check "the first checks pass" "pass 0" "$(field 'j["verdict"] + " " + str(j["failures"])')"
check "the MX is covered" "pass" "$(field '" ".join(f["level"] for f in j["findings"] if f["subject"] == "stshost.test" and f["area"] == "mx")')"
check "no alert while all is well" 0 "$(alerts)"
check "metrics: no alert raised" "0 0 0" \
    "$(raised critical) $(raised error) $(raised warning)"
check "no alert kept" 0 "$(field 'len(j["alerts"])')"

# --- an MX the policy does not cover -----------------------------------
rezone mx2
for _ in $(seq 300); do [ "$(alerts)" -ge 1 ] && break; sleep 0.1; done
check "one alert at the webhook" 1 "$(alerts)"
check "the alert: domain, kind, severity, subject" \
    "good.test mx-uncovered critical mx2.good.test" \
    "$($PY -c 'import json, sys
a = json.loads(open(sys.argv[1]).readline())
print(a["domain"], a["kind"], a["severity"], a["subject"])' "$DIR/hook.out")"
mails() { grep -c '^Subject: \[stsguard\] critical: ' "$DIR/relay.out"; }
for _ in $(seq 100); do [ "$(mails)" -ge 1 ] && break; sleep 0.1; done
check "one alert e-mail at the relay" 1 "$(mails)"
grepf "the e-mail's envelope" "$DIR/relay.out" '^MAIL FROM:<stsguard@stshost\.test>'
grepf "the e-mail's recipient" "$DIR/relay.out" '^RCPT TO:<ops@good\.test>'
grepf "the e-mail's subject" "$DIR/relay.out" \
    '^Subject: \[stsguard\] critical: good\.test: mx-uncovered mx2\.good\.test'
grepf "the e-mail's fix" "$DIR/relay.out" '^fix: add "mx: mx2\.good\.test"'
check "the webhook's first try was refused, the second taken" 2 \
    "$(wc -l < "$DIR/hook.out.tries")"
check "POSTed as application/json" "application/json" \
    "$(head -1 "$DIR/hook.out.tries")"
grepf "the refused try is logged" "$DIR/serve.log" \
    'webhook: alert [0-9]+ of good\.test: the webhook answered 500; tried again next round'
check "GET .../check shows the failure" 200 "$(api GET "$TR")"
check "the check: the uncovered MX fails" "fail fail mx-uncovered" \
    "$(field '" ".join([j["verdict"]] + [f["level"] + " " + f["kind"] for f in j["findings"] if f["subject"] == "mx2.good.test" and f["level"] != "pass"])')"
check "the check: the alert kept, sent both ways" "mx-uncovered critical sent sent" \
    "$(field 'j["alerts"][0]["kind"] + " " + j["alerts"][0]["severity"] + " " + " ".join("sent" if (j["alerts"][0][k] or "")[:2] == "20" else str(j["alerts"][0][k]) for k in ("webhook", "email"))')"

wait_checks 3
check "the failure persists: no second alert" 1 "$(alerts)"
check "metrics: one critical alert raised" "1 0" \
    "$(raised critical) $(raised error)"

# --- gone and back within the cool-down --------------------------------
rezone
wait_checks 2
api GET "$TR" > /dev/null
check "MX gone: the check passes again" "pass" "$(field 'j["verdict"]')"
rezone mx2
wait_checks 3
check "MX back within the cool-down: no second alert" 1 "$(alerts)"
check "nor a second e-mail" 1 "$(mails)"
grepf "the cool-down is logged" "$DIR/serve.log" \
    'event=alert domain="good\.test" kind="mx-uncovered" severity="critical" subject="mx2\.good\.test" raised="no \(cool-down\)"'

# --- the dashboard: the flag in the overview, the check on the page ----
as() { # as PATH [curl args]: the dashboard as the viewer; body in $DIR/body
	local p=$1
	shift
	"${NX[@]}" curl -sS --cacert "$DIR/ca.pem" \
	    --resolve stshost.test:443:127.0.0.10 -b "$DIR/jar" -c "$DIR/jar" \
	    -o "$DIR/body" -w '%{http_code}' "$@" "https://stshost.test$p"
}
: > "$DIR/jar"
as /login > /dev/null
CSRF=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$DIR/body" | head -1)
check "dashboard login" 303 "$(as /login --data-urlencode "csrf=$CSRF" \
    --data-urlencode email=viewer@good.test \
    --data-urlencode password=monitor-test-pw-1)"
check "overview" 200 "$(as /)"
grepf "overview: the failing check flagged" "$DIR/body" \
    'href="/domains/good\.test#check">check: 1 failure</a>'
check "domain page" 200 "$(as /domains/good.test)"
grepf "domain page: the check with its time" "$DIR/body" \
    '<h2 id="check">Deployment check</h2><p>Checked [^<]*20[0-9-]+[^<]*: <span class="bad">1 failure</span>'
grepf "domain page: the failure and its fix" "$DIR/body" \
    '<li><span class="bad">fail</span> mx2\.good\.test: MX 20 mx2\.good\.test: no mx pattern of the policy covers it.*<br>fix: add &quot;mx: mx2\.good\.test&quot;'
grepf "domain page: the alert" "$DIR/body" \
    '<td class="bad">critical</td><td>mx-uncovered</td><td>mx2\.good\.test</td>'

# --- POST: a check now ----------------------------------------------------
check "POST .../check with a read-only token: 403" 403 "$(api POST "$TR")"
api GET "$TR" > /dev/null
BEFORE=$(field 'j["checked"]')
sleep 1
check "POST .../check: 200 when done" 200 "$(api POST "$TW")"
check "POST .../check: a newer check" "yes" \
    "$(field '"yes" if j["checked"] > "'"$BEFORE"'" else "no: " + j["checked"]')"
check "POST .../check: the failure named" "fail" "$(field 'j["verdict"]')"
check "still one alert" 1 "$(alerts)"
check "the digest once a week" 1 \
    "$(grep -c '^Subject: \[stsguard\] weekly digest' "$DIR/relay.out")"
check "the viewer gets no digest" 0 "$(grep -c '^RCPT TO:<viewer@' "$DIR/relay.out")"

serve_stop
log_clean "$DIR/serve.log"
finish
