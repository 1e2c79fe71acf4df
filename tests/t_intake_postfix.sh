#!/bin/bash
# t_intake_postfix.sh - a real MTA delivers a TLS-RPT report e-mail to
# stsguard's SMTP listener (issue 4): Debian's Postfix, configured here in
# its own config dir, relays with smtp_tls_security_level = verify to
# [sts.pf.test]:PORT, so it must verify the service certificate (issued by
# stsguard's local CA) for that name.
#
#   swaks --(SMTP)--> Postfix 127.0.0.26:25 --(STARTTLS, verify)-->
#       stsguard serve --smtp-listen 127.0.0.25:PORT --> store
#
# Everything runs in a network namespace made here (its own loopback, so
# fixed addresses and port 25 are ours). The name sts.pf.test resolves
# through /etc/netns/NS/hosts, bind-mounted over /etc/hosts in a private
# mount namespace for the Postfix instance (smtp_host_lookup = native).
# Daemons are started with `nsenter --net=...` (no fork: $! is the
# daemon). Checked: Postfix logs "Verified TLS connection established to
# sts.pf.test" and status=sent, and `report list --json` holds the report
# with its totals. Postfix traps (../shared/PEERS.md §4): master.cf with
# chroot n, inet_interfaces needs `ip addr add`, maillog_file=/dev/stdout,
# `postfix check` prints only to a tty, start-fg.
#
# Bounded (~10 s when it works, < 60 s when it does not); the trap stops
# stsguard by pid and Postfix with `postfix stop`, kills what is left in
# the namespace (only our processes live there), deletes the namespace and
# every file.
set -u
. "$(dirname "$0")/lib.sh"
NS=stsg-pf-$$
chmod 755 "$DIR"		# Postfix daemons run as postfix
PF=$DIR/postfix			# config directory
Q=$DIR/spool			# queue directory
SH=sts.pf.test			# service_host: the certificate's name
SIP=127.0.0.25			# stsguard
PIP=127.0.0.26			# Postfix
SPORT=$PORT			# stsguard's SMTP listener
PPID_=

in_ns() { nsenter --net=/run/netns/$NS -- "$@"; }
# At exit, after the trap has stopped stsguard ($PID) and our jobs:
# Postfix; then (netns_new's exit command, added after this one) whatever
# is still in our namespace (ours: Postfix's children), and the namespace.
stop_postfix() {
	[ -n "$PPID_" ] && in_ns postfix -c "$PF" stop > /dev/null 2>&1
}
cleanup_add stop_postfix

js() { # js CODE: run Python CODE with d = the JSON document on stdin
	/usr/bin/python3 -c "import json, sys; d = json.load(sys.stdin)
$1"
}
wait_for() { # wait_for SECONDS FILE REGEX
	local _
	for _ in $(seq $(( $1 * 10 ))); do
		grep -qE -- "$3" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

for c in postfix postconf swaks nsenter unshare script; do
	command -v $c > /dev/null || { echo "$c missing (scripts/deps.sh)"; exit 1; }
done
perl -MNet::SSLeay -e1 2>/dev/null || { echo "libnet-ssleay-perl missing"; exit 1; }

# --- namespace and names ---------------------------------------------------
netns_new "$NS" "$SIP $SH" "$PIP mail.sender.test" || exit 1
ip -n "$NS" addr add $PIP/8 dev lo	# Postfix inet_interfaces wants an interface address
echo "netns $NS: stsguard smtp $SIP:$SPORT ($SH), postfix $PIP:25"

# --- stsguard: a hosted domain, its intake address, the SMTP listener -----
sg domain add customer.test --mode enforce --mx mx.customer.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show customer.test --json | js 'print(d["token"])')
RCPT=$(sg dns customer.test --json --service-host $SH |
    js 'print(*[r["value"] for r in d if r["name"] == "_smtp._tls.customer.test"])' |
    sed -n 's/.*rua=mailto:\([^,;]*\).*/\1/p')
check "intake address from stsguard dns" "tlsrpt+$TOKEN@$SH" "$RCPT"
in_ns "$STSGUARD" --data-dir "$DIR/data" serve --https-listen $SIP:8443 \
    --http-listen $SIP:8080 --smtp-listen $SIP:$SPORT --service-host $SH \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_for 10 "$DIR/serve.log" 'event=serving' && [ -f "$DIR/data/local-ca.pem" ] ||
    { echo "serve did not start:"; cat "$DIR/serve.log"; exit 1; }
for _ in $(seq 50); do
	tcp_open $SIP $SPORT in_ns && break
	sleep 0.1
done
tcp_open $SIP $SPORT in_ns ||
    { echo "FAIL SMTP listener $SIP:$SPORT not open:"; cat "$DIR/serve.log"; exit 1; }
ok "stsguard serving, SMTP listener open (pid $PID)"

# --- the report and the e-mail ---------------------------------------------
RID="postfix-$$-$RANDOM@sender.test"
/usr/bin/python3 - "$DIR/report.json.gz" "$RID" <<'PY' || exit 1
import gzip, json, sys
rep = {"organization-name": "Postfix Test Sender",
       "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                      "end-datetime": "2026-11-01T23:59:59Z"},
       "contact-info": "tlsrpt@sender.test", "report-id": sys.argv[2],
       "policies": [{"policy": {"policy-type": "sts",
                                "policy-string": ["version: STSv1", "mode: enforce",
                                                  "mx: mx.customer.test", "max_age: 604800"],
                                "policy-domain": "customer.test",
                                "mx-host": ["mx.customer.test"]},
                     "summary": {"total-successful-session-count": 4321,
                                 "total-failure-session-count": 5},
                     "failure-details": [{"result-type": "certificate-expired",
                                          "sending-mta-ip": "192.0.2.9",
                                          "receiving-mx-hostname": "mx.customer.test",
                                          "receiving-ip": "198.51.100.25",
                                          "failed-session-count": 5}]}]}
open(sys.argv[1], "wb").write(gzip.compress(json.dumps(rep).encode(), mtime=0))
PY

# --- Postfix: own config dir, chroot n, log to stdout -----------------------
mkdir -p "$PF" "$Q" "$DIR/pfdata"
chown postfix "$DIR/pfdata"
awk 'BEGIN { OFS = "  " }
     /^[a-z#]/ && !/^#/ && NF >= 8 { $5 = "n" } { print }' \
    /etc/postfix/master.cf > "$PF/master.cf"
cat > "$PF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $Q
data_directory = $DIR/pfdata
maillog_file = /dev/stdout
myhostname = mail.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = $PIP
inet_protocols = ipv4
smtp_bind_address = $PIP
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [$SH]:$SPORT
smtp_host_lookup = native
smtp_tls_security_level = verify
smtp_tls_CAfile = $DIR/data/local-ca.pem
smtp_tls_loglevel = 1
smtp_connect_timeout = 5s
maximal_backoff_time = 10s
minimal_backoff_time = 5s
queue_run_delay = 5s
EOF
# postfix check prints its fatal errors only to a tty
if ! script -qec "nsenter --net=/run/netns/$NS -- postfix -c '$PF' check" /dev/null > "$DIR/check.out" 2>&1; then
	echo "postfix check failed:"; cat "$DIR/check.out"; exit 1
fi
ok "postfix check"
# private mount namespace: /etc/hosts := /etc/netns/NS/hosts (what
# `ip netns exec` does), then exec, so $! stays the Postfix process
in_ns unshare --mount --propagation private -- sh -c \
    'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh \
    "/etc/netns/$NS/hosts" postfix -c "$PF" start-fg > "$DIR/postfix.log" 2>&1 &
PPID_=$!
wait_for 10 "$DIR/postfix.log" 'postfix/master.*daemon started' ||
    { echo "postfix did not start:"; cat "$DIR/postfix.log"; exit 1; }
ok "postfix running (pid $PPID_)"

# --- swaks -> Postfix -------------------------------------------------------
in_ns timeout 15 swaks --server $PIP --port 25 --ehlo reporter.sender.test \
    --from noreply-smtp-tls-reporting@sender.test --to "$RCPT" \
    --h-Subject "Report Domain: customer.test Submitter: sender.test Report-ID: <$RID>" \
    --add-header "TLS-Report-Domain: customer.test" \
    --add-header "TLS-Report-Submitter: sender.test" \
    --body "This is an aggregate TLS report from sender.test" \
    --attach-type application/tlsrpt+gzip \
    --attach-name 'sender.test!customer.test!1761955200!1762041599!001.json.gz' \
    --attach @"$DIR/report.json.gz" > "$DIR/swaks.log" 2>&1
rc=$?
check "swaks: Postfix accepted the message" "0" "$rc"
[ $rc -eq 0 ] || tail -5 "$DIR/swaks.log"

# --- Postfix -> stsguard ----------------------------------------------------
if wait_for 20 "$DIR/postfix.log" "status=sent|status=bounced"; then :; fi
if grep -qE "Verified TLS connection established to $SH\[$SIP\]:$SPORT" "$DIR/postfix.log"; then
	ok "Postfix verified the service certificate: $(grep -o 'Verified TLS connection established to [^ ]*' "$DIR/postfix.log" | head -1)"
else
	bad "no 'Verified TLS connection established to ${SH}[$SIP]:$SPORT' in the Postfix log"
fi
line=$(grep -F "to=<$RCPT>, relay=${SH}[$SIP]:$SPORT," "$DIR/postfix.log" |
    grep -E 'postfix/smtp\[[0-9]+\]: .* status=sent ' | head -1)
if [ -n "$line" ]; then ok "Postfix: status=sent (${line##*status=sent })"; else
	bad "no status=sent for <$RCPT> via ${SH}[$SIP]:$SPORT"
	grep -E 'postfix/(smtp|qmgr|error)\[|fatal|warning' "$DIR/postfix.log" | tail -10 | sed 's/^/    | /'
fi

# --- the store --------------------------------------------------------------
sg report list --json > "$DIR/list.json" 2> "$DIR/list.err" ||
    bad "report list failed: $(cat "$DIR/list.err")"
mine() { RID=$RID js 'import os; m = [r for r in d if r["report-id"] == os.environ["RID"]]; '"$1" < "$DIR/list.json" 2>/dev/null; }
check "report stored once" "1" "$(mine 'print(len(m))')"
check "stored report: organization, successful, failed" "Postfix Test Sender 4321 5" \
    "$(mine 'print(*[(r["organization-name"], r["successful"], r["failed"]) for r in m][0])')"
check "stored with route smtp" "smtp" "$(mine 'print(m[0]["route"])')"
log_clean "$DIR/serve.log"
if [ $fails -ne 0 ]; then
	echo "--- stsguard log (tail)"; tail -15 "$DIR/serve.log"
	echo "--- postfix log (tail)"; tail -25 "$DIR/postfix.log"
fi

finish
