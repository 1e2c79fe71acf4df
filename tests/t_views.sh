#!/bin/bash
# t_views.sh - the three views of issue 13 through the REST API of a
# running `stsguard serve`, checked against what the test sent:
#   /readiness  reports written here with known failures (dated the last
#               days, so that they fall in the 30-day window): the verdict,
#               the failures by MX host, result type and reporter, an MX
#               host no pattern covers (and covered once the policy names
#               it); "not enough data" without reports, "ready" without
#               failures
#   /adoption   reports naming the old and the new policy-string (the new
#               one re-laid out: LF, other order and case) around a
#               `domain set`: which version each reporter applied per day,
#               who is still on the old one, "unknown" for a text that
#               matches none
#   /fetches    policies fetched with curl from three source addresses and
#               with chosen User-Agents (and none): fetches, distinct
#               clients and agents of today once the workers flushed; a
#               flood of distinct agents stays bounded and adds up
# plus another tenant's token (404) and a bad day (400).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.views.test

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.v.example:$PORT:$IP" \
	    --resolve "mta-sts.f.example:$PORT:$IP" \
	    --resolve "mta-sts.n.example:$PORT:$IP" "$@"
}
get() {
	c -o "$DIR/body" -w '%{http_code}' -H "Authorization: Bearer $2" \
	    "https://$SH:$PORT$1"
}
jq_() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$DIR/body"; }

sg tenant add acme > /dev/null
sg tenant add globex > /dev/null
sg domain add v.example --tenant acme --mode testing --mx mx1.v.example \
    --mx mx2.v.example --max-age 86400 > /dev/null
sg domain add r.example --tenant acme --mode testing --mx mx.r.example > /dev/null
sg domain add n.example --tenant acme --mode testing --mx mx.n.example > /dev/null
sg domain add f.example --tenant acme --mode testing --mx mx.f.example > /dev/null
TA=$(sg token create --tenant acme | tail -1)
TG=$(sg token create --tenant globex | tail -1)
sg domain show v.example --json > "$DIR/v1.json"
V1=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy_id"])' "$DIR/v1.json")

# mkreport FILE ORG ID DAYS_AGO POLICY_JSON_LIST: a report of one day.
mkreport() {
	$PY - "$@" <<'PYEOF'
import json, sys, datetime
path, org, rid, ago, policies = sys.argv[1:6]
day = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - datetime.timedelta(days=int(ago))
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump({"organization-name": org, "report-id": rid,
    "date-range": {"start-datetime": fmt(day), "end-datetime": fmt(day + datetime.timedelta(days=1))},
    "contact-info": "tls@" + org.lower() + ".test",
    "policies": json.loads(policies)}, open(path, "w"), indent=1)
PYEOF
}
# The policy text of v.example now, as a JSON list of lines.
body_lines() { sg domain show "$1" --json | $PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["policy"].strip().split("\r\n")))'; }
L1=$(body_lines v.example)
# The same policy as another reporter writes it: LF, shuffled, spaces, case.
L1X=$($PY -c 'import json,sys; l=json.loads(sys.argv[1]); l.reverse(); print(json.dumps([x.replace(": ", ":  ").upper() if x.startswith("version") else x for x in l]))' "$L1")

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
# (n.example: the fetches of v.example and f.example are all counted)
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.n.example:$PORT/.well-known/mta-sts.txt" || exit 1

# --- readiness ---------------------------------------------------------
check "readiness without reports: 200" 200 "$(get /api/v1/domains/n.example/readiness "$TA")"
check "no reports: not enough data" "not-enough-data 0" "$(jq_ 'd["verdict"], d["reports"]' | tr '\n' ' ' | sed 's/ $//')"

# v.example: Google all good; Microsoft 7 certificate-host-mismatch on
# mx2 and 2 unexplained failures; a tlsa entry naming mx3.backup.example,
# which the policy does not list; no-policy-found from Yahoo.
mkreport "$DIR/g1.json" Google g-1 3 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $L1, \"policy-domain\": \"v.example\", \"mx-host\": [\"mx1.v.example\", \"mx2.v.example\"]}, \"summary\": {\"total-successful-session-count\": 100, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/m1.json" Microsoft m-1 3 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $L1X, \"policy-domain\": \"v.example\", \"mx-host\": [\"mx1.v.example\"]}, \"summary\": {\"total-successful-session-count\": 40, \"total-failure-session-count\": 9}, \"failure-details\": [{\"result-type\": \"certificate-host-mismatch\", \"sending-mta-ip\": \"192.0.2.1\", \"receiving-mx-hostname\": \"mx2.v.example\", \"failed-session-count\": 7}]}, {\"policy\": {\"policy-type\": \"tlsa\", \"policy-string\": [\"3 1 1 abcd\"], \"policy-domain\": \"v.example\", \"mx-host\": [\"mx3.backup.example\"]}, \"summary\": {\"total-successful-session-count\": 5, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/y1.json" Yahoo y-1 2 "[{\"policy\": {\"policy-type\": \"no-policy-found\", \"policy-domain\": \"v.example\"}, \"summary\": {\"total-successful-session-count\": 11, \"total-failure-session-count\": 0}}]"
# r.example: two reporters, no failures. n.example: only no-policy-found.
LR=$(body_lines r.example)
mkreport "$DIR/rg.json" Google rg-1 1 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $LR, \"policy-domain\": \"r.example\", \"mx-host\": [\"mx.r.example\"]}, \"summary\": {\"total-successful-session-count\": 30, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/rm.json" Microsoft rm-1 1 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $LR, \"policy-domain\": \"r.example\", \"mx-host\": [\"mx.r.example\"]}, \"summary\": {\"total-successful-session-count\": 12, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/n1.json" Yahoo n-1 1 "[{\"policy\": {\"policy-type\": \"no-policy-found\", \"policy-domain\": \"n.example\"}, \"summary\": {\"total-successful-session-count\": 3, \"total-failure-session-count\": 0}}]"
# An old report, outside the 30 days: its failure must not count.
mkreport "$DIR/old.json" Google old-1 40 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $LR, \"policy-domain\": \"r.example\"}, \"summary\": {\"total-successful-session-count\": 1, \"total-failure-session-count\": 5}, \"failure-details\": [{\"result-type\": \"certificate-expired\", \"receiving-mx-hostname\": \"mx.r.example\", \"failed-session-count\": 5}]}]"
sg report import "$DIR"/g1.json "$DIR"/m1.json "$DIR"/y1.json "$DIR"/rg.json \
    "$DIR"/rm.json "$DIR"/n1.json "$DIR"/old.json > "$DIR/import.log" 2>&1 ||
    bad "report import: $(cat "$DIR/import.log")"

check "readiness of v.example: 200" 200 "$(get /api/v1/domains/v.example/readiness "$TA")"
cp "$DIR/body" "$DIR/ready-v.json"
check "v.example: not ready" not-ready "$(jq_ 'd["verdict"]')"
check "the summary names host, result type and reporter" \
    "not ready: mx2.v.example fails certificate-host-mismatch for Microsoft (7 sessions)" "$(jq_ 'd["summary"]')"
check "failures: the detail and the 2 the entry did not explain" \
    "[('mx2.v.example', 'certificate-host-mismatch', 'Microsoft', 7), (None, 'unspecified', 'Microsoft', 2)]" \
    "$(jq_ '[(f["mx-host"], f["result-type"], f["organization-name"], f["sessions"]) for f in d["failures"]]')"
check "sessions: sts 140 ok, 9 failed; 16 without a policy verdict" "140 9 16" \
    "$(jq_ '"%d %d %d" % (d["sessions"]["successful"], d["sessions"]["failed"], d["sessions"]["other"])')"
check "reporters that applied the policy" "Microsoft 40 9 / Google 100 0" \
    "$(jq_ '" / ".join("%s %d %d" % (r["organization-name"], r["successful"], r["failed"]) for r in d["reporters"])')"
check "mx3.backup.example: mail went there, no pattern covers it" "mx3.backup.example False" \
    "$(jq_ '" ".join("%s %s" % (h["host"], h["covered"]) for h in d["mx-hosts"] if h["host"] == "mx3.backup.example")')"
check "mx2.v.example: covered" True "$(jq_ '[h["covered"] for h in d["mx-hosts"] if h["host"] == "mx2.v.example"][0]')"
check "a reason names the uncovered host" yes \
    "$(jq_ '"yes" if any("mx3.backup.example" in r and "no mx pattern" in r for r in d["reasons"]) else d["reasons"]')"
check "r.example: ready, 2 reporters, the 40-day-old failure left out" \
    "ready: 2 reporters, 0 policy failures in 30 days" \
    "$(get /api/v1/domains/r.example/readiness "$TA" > /dev/null; jq_ 'd["summary"]')"
check "n.example: reports, but none applied the policy" "not-enough-data 1" \
    "$(get /api/v1/domains/n.example/readiness "$TA" > /dev/null; jq_ 'd["verdict"], d["reports"]' | tr '\n' ' ' | sed 's/ $//')"

# --- a policy change: adoption --------------------------------------------
sleep 1
sg domain set v.example --mx mx1.v.example --mx mx2.v.example --mx mx3.backup.example > /dev/null
V2=$(sg domain show v.example --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
[ "$V1" != "$V2" ] && ok "domain set made a new policy id" || bad "no new policy id"
L2=$(body_lines v.example)
L2X=$($PY -c 'import json,sys; l=json.loads(sys.argv[1]); l.sort(); print(json.dumps([x.upper() for x in l]))' "$L2")
# Yesterday: Google on the new policy (written its own way), Microsoft
# still on the old one, Comcast with a text we never served.
mkreport "$DIR/g2.json" Google g-2 1 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $L2X, \"policy-domain\": \"v.example\"}, \"summary\": {\"total-successful-session-count\": 90, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/m2.json" Microsoft m-2 1 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": $L1, \"policy-domain\": \"v.example\"}, \"summary\": {\"total-successful-session-count\": 20, \"total-failure-session-count\": 0}}]"
mkreport "$DIR/c2.json" Comcast c-2 1 "[{\"policy\": {\"policy-type\": \"sts\", \"policy-string\": [\"version: STSv1\", \"mode: enforce\", \"mx: mail.elsewhere.example\", \"max_age: 60\"], \"policy-domain\": \"v.example\"}, \"summary\": {\"total-successful-session-count\": 4, \"total-failure-session-count\": 0}}]"
sg report import "$DIR"/g2.json "$DIR"/m2.json "$DIR"/c2.json > "$DIR/import.log" 2>&1 ||
    bad "report import: $(cat "$DIR/import.log")"

check "adoption: 200" 200 "$(get /api/v1/domains/v.example/adoption "$TA")"
cp "$DIR/body" "$DIR/adopt.json"
D1=$($PY -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) - d.timedelta(days=1)).strftime("%Y-%m-%d"))')
D3=$($PY -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) - d.timedelta(days=3)).strftime("%Y-%m-%d"))')
check "the current version and the history" "$V2 $V1,$V2" \
    "$(jq_ 'd["current"] + " " + ",".join(v["policy_id"] for v in d["versions"])')"
check "Google: old policy on day -3, the new one on day -1, current since then" \
    "$D3:$V1:100 $D1:$V2:90 True $D1" \
    "$(jq_ '" ".join("%s:%s:%d" % (x["day"], p["policy_id"], p["sessions"]) for r in d["reporters"] if r["organization-name"] == "Google" for x in r["days"] for p in x["policies"]) + " %s %s" % tuple([(r["current"], r["current-since"]) for r in d["reporters"] if r["organization-name"] == "Google"][0])')"
check "Microsoft: the old one (re-laid out) on both days" "$V1 $V1 False" \
    "$(jq_ '" ".join(p["policy_id"] for r in d["reporters"] if r["organization-name"] == "Microsoft" for x in r["days"] for p in x["policies"]) + " " + str([r["current"] for r in d["reporters"] if r["organization-name"] == "Microsoft"][0])')"
check "Comcast: a text never served is unknown" "unknown" \
    "$(jq_ '[r["latest"][0] for r in d["reporters"] if r["organization-name"] == "Comcast"][0]')"
check "still on an old one: Comcast (unknown), Microsoft ($V1)" "Comcast:unknown Microsoft:$V1" \
    "$(jq_ '" ".join("%s:%s" % (s["organization-name"], ",".join(s["latest"])) for s in d["still-old"])')"
check "not everyone has it yet" "False None" "$(jq_ 'd["all-current"], d["all-current-since"]' | tr '\n' ' ' | sed 's/ $//')"
check "adoption since the change only (from=yesterday): Google and the rest" 200 \
    "$(get "/api/v1/domains/v.example/adoption?from=$D1" "$TA")"
check "... has no day before it" "$D1" "$(jq_ '",".join(sorted(set(x["day"] for r in d["reporters"] for x in r["days"])))')"
check "readiness after the change: mx3.backup.example is covered now" True \
    "$(get /api/v1/domains/v.example/readiness "$TA" > /dev/null; jq_ '[h["covered"] for h in d["mx-hosts"] if h["host"] == "mx3.backup.example"][0]')"

# --- fetches --------------------------------------------------------------
fetch() { # fetch HOST SOURCE_IP [UA]: a policy fetch, its status
	local ua=(-A "${3:-}")
	c -o /dev/null -w '%{http_code}' --interface "$2" "${ua[@]}" \
	    "https://$1:$PORT/.well-known/mta-sts.txt"
}
n=0
for args in "127.0.0.1 TestMTA/1.0" "127.0.0.2 TestMTA/1.0" "127.0.0.3 TestMTA/1.0" \
    "127.0.0.1 Other/2" "127.0.0.2"; do
	set -- $args
	[ "$(fetch mta-sts.v.example "$1" "${2:-}")" = 200 ] && n=$((n + 1))
done
check "five policy fetches of v.example served" 5 "$n"
# A flood of distinct agents for f.example: Heavy/1 five times first.
for i in 1 2 3 4 5; do fetch mta-sts.f.example 127.0.0.4 Heavy/1 > /dev/null; done
for i in $(seq 1 40); do fetch mta-sts.f.example 127.0.0.5 "Flood/$i" > /dev/null; done
# The workers flush every 5 s: wait for both domains' counts.
for i in $(seq 1 40); do
	get /api/v1/domains/f.example/fetches "$TA" > /dev/null
	fa=$(jq_ 'd["fetches"]' 2> /dev/null)
	get /api/v1/domains/v.example/fetches "$TA" > /dev/null
	fv=$(jq_ 'd["fetches"]' 2> /dev/null)
	[ "$fa" = 45 ] && [ "$fv" = 5 ] && break
	sleep 0.5
done
TODAY=$(date -u +%Y-%m-%d)
check "v.example today: 5 fetches, 3 clients (estimated)" "$TODAY 5 3 True" \
    "$(jq_ '"%s %d %d %s" % (d["days"][0]["day"], d["days"][0]["fetches"], d["days"][0]["clients"], d["clients-estimated"])')"
check "v.example's agents, most first; none as -" "TestMTA/1.0:3 -:1 Other/2:1 other:0" \
    "$(jq_ '" ".join("%s:%d" % (a["user-agent"], a["fetches"]) for a in d["days"][0]["user-agents"]) + " other:%d" % d["days"][0]["other"]')"
get /api/v1/domains/f.example/fetches "$TA" > /dev/null
check "f.example: 45 fetches, 2 clients, Heavy/1 first with 5" "45 2 Heavy/1:5" \
    "$(jq_ '"%d %d %s:%d" % (d["fetches"], d["days"][0]["clients"], d["user-agents"][0]["user-agent"], d["user-agents"][0]["fetches"])')"
check "f.example: at most 10 agents shown, and with other they add up to 45" "10 45" \
    "$(jq_ '"%d %d" % (len(d["days"][0]["user-agents"]), sum(a["fetches"] for a in d["days"][0]["user-agents"]) + d["days"][0]["other"])')"
check "a range without fetches: no days" 0 \
    "$(get '/api/v1/domains/v.example/fetches?from=2020-01-01&to=2020-01-31' "$TA" > /dev/null; jq_ 'len(d["days"])')"
check "fetches: a bad day is 400" 400 "$(get '/api/v1/domains/v.example/fetches?from=yesterday' "$TA")"
for v in readiness adoption fetches; do
	check "another tenant's $v: 404" 404 "$(get /api/v1/domains/v.example/$v "$TG")"
done

serve_stop
log_clean "$DIR/serve.log"
# The counts are in the store: at most LIMIT_FETCH_DAY_AGENTS agents a day.
check "stored agents of f.example today: bounded" yes "$($PY -c '
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM fetch_agent WHERE domain = ?", ("f.example",)).fetchone()[0]
print("yes" if 0 < n <= 32 else n)' "$DIR/data/stsguard.db")"
finish
