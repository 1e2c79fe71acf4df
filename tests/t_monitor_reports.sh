#!/bin/bash
# t_monitor_reports.sh - the monitor's alerts that no DNS answer gives
# (check_trend.c, issue 14): what the reports show, failing certificate
# renewals, a domain ready to leave testing. In a network namespace of
# the test's own (as t_monitor.sh):
#
#   nsd                 127.0.0.1:53    the `test.` zone: good.test hosted
#                                       in enforce, its records as
#                                       `stsguard dns` prints them
#   stsguard serve      127.0.0.10:443  policy host (certificates = files)
#   python3 http.server 127.0.0.30:8080 the alert webhook: keeps each POST
#
# With monitor_interval = 2 and no report yet the first checks raise
# nothing. Then `report import` brings, for good.test, 16 days of clean
# reports from Alpha (one certificate-expired session a day) and 14 from
# Beta that stop 4 days ago, and yesterday's report of Alpha with 20
# sts-policy-fetch-error sessions: exactly three alerts reach the webhook,
# once each (new-failure-type, failure-rate, reporter-silent), however
# many checks follow. ready.test, in testing and unchanged for 20 days
# (set in the store), gets clean reports: one testing-ready alert. Then
# the ACME manager's failure notes (NAME.failed, as it writes them) for
# mta-sts.good.test and the service host: one cert-renewal alert each,
# the service host's under its own name. The check, and the dashboard's
# page of the report beside its failure detail, show the cause of
# sts-policy-fetch-error (the policy fetch as a sender makes it). Last,
# with serve stopped, a new report with sts-policy-fetch-error moves its
# domain's next check to now (store domain_check.next_at); another
# failure type or a duplicate does not.
#
# Needs root (network namespace); the trap stops every daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
for t in nsd dig openssl ip nsenter curl sqlite3; do
	command -v $t > /dev/null || { echo "$t missing (scripts/deps.sh)"; exit 1; }
done

netns_new "sgmr$$" || exit 1
NX=("${NETNS_EXEC[@]}")

# --- a test CA, certificates for the service and mta-sts.good.test -------
mkdir -p "$DIR/data/certs"
test_ca ca monitor-test-ca || exit 1
for n in stshost.test mta-sts.good.test; do test_cert ca "$n" || exit 1; done
for n in stshost.test mta-sts.good.test; do
	cat "$DIR/$n.pem" "$DIR/ca.pem" > "$DIR/data/certs/$n.pem"
	install -m 600 "$DIR/$n.key" "$DIR/data/certs/$n.key"
done

# --- the hosted domains, the settings, the zone -------------------------
cat > "$DIR/data/stsguard.conf" <<EOC
service_host = stshost.test
nameserver = 127.0.0.1:53
certificates = files
monitor_interval = 2
monitor_allow_private = yes
monitor_ca_file = $DIR/ca.pem
alert_cooldown = 3600
alert_webhook = http://127.0.0.30:8080/hook
EOC
sg domain add good.test --mode enforce --mx stshost.test --max-age 1209600 \
    > /dev/null || { echo "domain add failed"; exit 1; }
printf 'monitor-test-pw-1\n' > "$DIR/pw"
sg user add viewer@good.test --tenant default --role viewer \
    --password-file "$DIR/pw" > /dev/null || { echo "user add failed"; exit 1; }
sg domain add ready.test --mode testing --mx mx.ready.test \
    --max-age 1209600 > /dev/null || { echo "domain add failed"; exit 1; }
# ready.test's policy unchanged for 20 days (as if added then).
sqlite3 "$DIR/data/stsguard.db" "UPDATE domain SET updated = updated - \
    20 * 86400 WHERE name = 'ready.test'" ||
    { echo "no store at $DIR/data/stsguard.db"; ls "$DIR/data"; exit 1; }
{
	zone_head
	cat <<EOZ
stshost            A     127.0.0.10
mta-sts.good       CNAME stshost.test.
_mta-sts.good      TXT   "$(dns_txt good.test _mta-sts)"
good               MX    10 stshost.test.
_smtp._tls.good    TXT   "$(dns_txt good.test _smtp._tls)"
EOZ
} > "$DIR/test.zone"
nsd_start "$DIR/test.zone" 53 "${NX[@]}" || exit 1

# --- the webhook: each body a line of hook.out ----------------------------
webhook_start 127.0.0.30 8080 "$DIR/hook.out" 0 "${NX[@]}" || exit 1

# --- reports: NAME DOMAIN ORG DAYS_AGO OK [TYPE FAILED]... -----------------
mkdir -p "$DIR/in"
report() {
	$PY - "$DIR/in" "$@" <<'EOPY' || { echo "generator failed"; exit 1; }
import datetime, json, sys
out, name, dom, org, ago, ok = sys.argv[1:7]
rest = sys.argv[7:]
day = datetime.datetime.now(datetime.timezone.utc).date() - \
    datetime.timedelta(days=int(ago))
fails = [(rest[i], int(rest[i + 1])) for i in range(0, len(rest), 2)]
pol = {"policy": {"policy-type": "sts", "policy-domain": dom,
                  "policy-string": ["version: STSv1", "mode: enforce",
                                    "mx: stshost.test", "max_age: 1209600"],
                  "mx-host": ["stshost.test"]},
       "summary": {"total-successful-session-count": int(ok),
                   "total-failure-session-count": sum(n for _, n in fails)},
       "failure-details": [{"result-type": t, "sending-mta-ip": "192.0.2.1",
                            "receiving-mx-hostname": "stshost.test",
                            "failed-session-count": n} for t, n in fails]}
rep = {"organization-name": org,
       "date-range": {"start-datetime": day.isoformat() + "T00:00:00Z",
                      "end-datetime": day.isoformat() + "T23:59:59Z"},
       "contact-info": "tls@" + org.lower() + ".example",
       "report-id": "%s-%s-%s" % (org, dom, day.isoformat()),
       "policies": [pol]}
json.dump(rep, open("%s/%s.json" % (out, name), "w"))
EOPY
}
for d in $(seq 2 17); do
	report "a$d" good.test Alpha "$d" 500 certificate-expired 1
done
for d in $(seq 4 17); do report "b$d" good.test Beta "$d" 300; done
report a1 good.test Alpha 1 500 certificate-expired 1 sts-policy-fetch-error 20
for d in $(seq 1 20); do report "r$d" ready.test Gamma "$d" 200; done

# --- stsguard serve ------------------------------------------------------
"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" serve \
    --https-listen 127.0.0.10:443 --http-listen off \
    --smtp-listen 127.0.0.10:25 --workers 1 2> "$DIR/serve.log" &
PID=$!
up() { tcp_open 127.0.0.10 443 "${NX[@]}"; }
wait_up "$DIR/serve.log" up || exit 1

checks() { grep -c "event=monitor domain=\"$1\"" "$DIR/serve.log"; }
wait_checks() { # wait_checks DOMAIN N: until N more checks are logged
	local want=$(( $(checks "$1") + $2 )) _
	for _ in $(seq 300); do
		[ "$(checks "$1")" -ge "$want" ] && return 0
		sleep 0.1
	done
	bad "the monitor did not check $1 $2 more times in 30 s"; return 1
}
alerts() { wc -l < "$DIR/hook.out"; }
# hook: "DOMAIN KIND SEVERITY SUBJECT" of each alert at the webhook, sorted
hook() {
	$PY -c 'import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    print(a["domain"], a["kind"], a["severity"], a["subject"])' "$DIR/hook.out" | sort
}
wait_alerts() { # wait_alerts N: until the webhook has N alerts (30 s)
	for _ in $(seq 300); do [ "$(alerts)" -ge "$1" ] && return 0; sleep 0.1; done
	return 1
}

wait_checks good.test 2
wait_checks ready.test 2
check "no report yet: no alert" 0 "$(alerts)"

# --- the reports arrive ---------------------------------------------------
sg report import "$DIR"/in/* > "$DIR/import.out" 2>&1
check "the reports imported" "imported 51, duplicates 0, invalid 0" \
    "$(tail -1 "$DIR/import.out")"
wait_alerts 4
wait_checks good.test 3
wait_checks ready.test 3
check "four alerts, each once" "good.test failure-rate warning good.test
good.test new-failure-type warning sts-policy-fetch-error
good.test reporter-silent warning Beta
ready.test testing-ready warning ready.test" "$(hook)"
grepf "the new type's text" "$DIR/hook.out" \
    '"text":"a new failure type in the reports: sts-policy-fetch-error, 20 sessions in the last 2 days, none in the 14 days before; the policy fetch now: it succeeds \(the failure passed, or was the sender.s\)"'
grepf "the rate's text" "$DIR/hook.out" \
    '"text":"failure rate 4.0 % in the last 2 days \(21 of 521 sessions\), 3 times or more its 0.1 % over the 14 days before"'
grepf "the silent reporter's text" "$DIR/hook.out" \
    '"text":"Beta reported on 14 of the 14 days before and on none of the last 4"'
grepf "ready to enforce: the fix" "$DIR/hook.out" \
    '"fix":"stsguard domain set ready.test --mode enforce"'
api() { # api DOMAIN: GET .../domains/DOMAIN/check into $DIR/api.out
	"${NX[@]}" curl -sS -o "$DIR/api.out" -w '%{http_code}' \
	    --cacert "$DIR/ca.pem" -H "Authorization: Bearer $TR" \
	    --resolve stshost.test:443:127.0.0.10 \
	    "https://stshost.test/api/v1/domains/$1/check"
}
TR=$(sg token create --tenant default --read-only | tail -1)
check "GET .../check" 200 "$(api good.test)"
check "the check shows the findings of area reports" \
    "failure-rate new-failure-type none reporter-silent" \
    "$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(sorted(f["kind"] for f in j["findings"] if f["area"] == "reports")))' "$DIR/api.out")"
check "the fetch error's cause beside it" \
    "info 20 sessions in the last 2 days could not fetch the policy; the fetch as a sender makes it, now: it succeeds (the failure passed, or was the sender's)" \
    "$($PY -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(f["level"] + " " + f["text"] for f in j["findings"] if f["area"] == "reports" and f["subject"] == "sts-policy-fetch-error" and f["kind"] == "none"))' "$DIR/api.out")"

# The dashboard's report page: the cause beside the failure detail.
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
RID=$(sg report list --json | $PY -c 'import json, sys
print([r["id"] for r in json.load(sys.stdin) if r["report-id"].startswith("Alpha-good.test-") and r["failed"] == 21][0])')
check "the report page" 200 "$(as "/reports/$RID")"
grepf "the report page: the cause beside the fetch error" "$DIR/body" \
    "<br>The monitor's check \\([^)]*\\): 20 sessions in the last 2 days could not fetch the policy; the fetch as a sender makes it, now: it succeeds"

# --- the ACME manager's failure notes -----------------------------------
NOW=$(date +%s)
printf '%s 3 validation failed: urn:ietf:params:acme:error:dns: NXDOMAIN\n' \
    "$NOW" > "$DIR/data/certs/mta-sts.good.test.failed"
printf '%s 1 the CA answered 503\n' "$NOW" > "$DIR/data/certs/stshost.test.failed"
wait_alerts 6
wait_checks good.test 3
check "and two cert-renewal alerts" "good.test cert-renewal error mta-sts.good.test
good.test failure-rate warning good.test
good.test new-failure-type warning sts-policy-fetch-error
good.test reporter-silent warning Beta
ready.test testing-ready warning ready.test
stshost.test cert-renewal error stshost.test" "$(hook)"
grepf "the renewal's reason" "$DIR/hook.out" \
    '"subject":"mta-sts\.good\.test","text":"the renewal of the certificate of mta-sts\.good\.test failed 3 times in a row, last [0-9-]+ [0-9:]+ UTC: validation failed: urn:ietf:params:acme:error:dns: NXDOMAIN; the current one ends '
check "the service host's alert raised once, quiet in the cool-down" 1 \
    "$(grep -c 'event=alert domain="stshost\.test" kind="cert-renewal"' "$DIR/serve.log")"

# --- what persists raises nothing more ------------------------------------
wait_checks good.test 3
wait_checks ready.test 2
check "still six alerts" 6 "$(alerts)"

serve_stop
log_clean "$DIR/serve.log"

# --- a new report with sts-policy-fetch-error asks for a check now ------
next_at() {
	sqlite3 "$DIR/data/stsguard.db" "SELECT next_at FROM domain_check \
	    WHERE domain = '$1'"
}
sqlite3 "$DIR/data/stsguard.db" "UPDATE domain_check SET next_at = \
    next_at + 86400" || exit 1
rm -f "$DIR"/in/*
report late good.test Delta 0 10 sts-policy-fetch-error 2
report late2 ready.test Delta 0 10 certificate-expired 2
BEFORE=$(date +%s)
sg report import "$DIR/in/late.json" "$DIR/in/late2.json" > "$DIR/import2.out" 2>&1
AFTER=$(date +%s)
check "good.test due now" yes \
    "$(n=$(next_at good.test); [ "$n" -ge "$BEFORE" ] && [ "$n" -le "$AFTER" ] && echo yes || echo "no: $n")"
check "ready.test (another failure type) not moved" yes \
    "$(n=$(next_at ready.test); [ "$n" -gt $((AFTER + 80000)) ] && echo yes || echo "no: $n")"
sqlite3 "$DIR/data/stsguard.db" "UPDATE domain_check SET next_at = \
    next_at + 86400" || exit 1
sg report import "$DIR/in/late.json" > /dev/null 2>&1
check "a duplicate does not move it" yes \
    "$(n=$(next_at good.test); [ "$n" -gt $((AFTER + 80000)) ] && echo yes || echo "no: $n")"
finish
