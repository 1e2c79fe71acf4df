#!/bin/bash
# t_api.sh - the REST API (/api/v1, issue 13) of a running `stsguard
# serve`, with curl as the client: bearer tokens made by `token create`
# (none, unknown, revoked: 401 with WWW-Authenticate), each tenant's
# domains and only those (another tenant's domain is the same 404 as one
# that does not exist, byte for byte), pages by cursor, one domain with
# the records to publish and the intake URL and address (compared with
# `stsguard dns --json`), HEAD, 405 for what is not built yet, and a
# policy fetched on the same daemon meanwhile. A route matrix: every
# route with no token, each tenant's token, a revoked one.
#
# Own loopback address and random port; the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.api.test

copts() {	# curl's options for the test's names (again after --next)
	echo --cacert "$DIR/data/local-ca.pem" --resolve "$SH:$PORT:$IP" \
	    --resolve "mta-sts.a1.example:$PORT:$IP" \
	    --resolve "mta-sts.new.example:$PORT:$IP"
}
c() {
	# shellcheck disable=SC2046
	curl -sS --max-time 20 $(copts) "$@"
}
# get PATH [TOKEN]: the status; the body in $DIR/body
get() {
	local h=()
	[ -n "${2:-}" ] && h=(-H "Authorization: Bearer $2")
	c -o "$DIR/body" -D "$DIR/head" -w '%{http_code}' "${h[@]}" \
	    "https://$SH:$PORT$1"
}
# send METHOD PATH TOKEN [BODY [TYPE]]: the status; the body in $DIR/body
send() {
	local h=() d=()
	[ -n "$3" ] && h=(-H "Authorization: Bearer $3")
	[ $# -ge 4 ] && d=(--data-binary "$4" -H "Content-Type: ${5:-application/json}")
	c -o "$DIR/body" -D "$DIR/head" -w '%{http_code}' -X "$1" "${h[@]}" \
	    "${d[@]}" "https://$SH:$PORT$2"
}
field() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$DIR/body"; }

sg tenant add acme > /dev/null
sg tenant add globex > /dev/null
for i in 1 2 3; do
	sg domain add a$i.example --tenant acme --mode testing --mx mx.a$i.example > /dev/null
done
sg domain add g1.example --tenant globex --mode enforce --mx mx.g1.example > /dev/null
# Reports for a domain of acme (the test data's reports are for
# example.com): stats and report lists to compare with the CLI's.
sg domain add example.com --tenant acme --mode testing --mx mail.example.com > /dev/null
sg report import "$TOP"/tests/data/reports/00[1-5]*.json > /dev/null 2>&1
# and one that no domain claims
sg report import "$TOP"/tests/data/reports-mx/004-sts-unhosted-domain.json > /dev/null 2>&1
TA=$(sg token create --tenant acme | tail -1)
TG=$(sg token create --tenant globex --read-only | tail -1)
TR=$(sg token create --tenant acme | tail -1)
sg token revoke 3 > /dev/null
TG2=$(sg token create --tenant globex | tail -1)

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.a1.example:$PORT/.well-known/mta-sts.txt" || exit 1

check "no token: 401" 401 "$(get /api/v1/domains)"
grepf "401 says how to authenticate" "$DIR/head" '^WWW-Authenticate: Bearer realm="stsguard"'
check "401 body is a JSON error" yes "$(field '["error"] and "yes"')"
check "an unknown token: 401" 401 "$(get /api/v1/domains sgt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA)"
grepf "invalid_token named" "$DIR/head" 'error="invalid_token"'
check "a revoked token: 401" 401 "$(get /api/v1/domains "$TR")"

check "acme's token: 200" 200 "$(get /api/v1/domains "$TA")"
check "acme sees its four domains, by name, no next page" \
    "a1.example a2.example a3.example example.com None" \
    "$(field '["domains"]' | $PY -c 'import ast,sys; print(" ".join(d["name"] for d in ast.literal_eval(sys.stdin.read())))') $(field '["next"]')"
check "globex sees its one" "g1.example" \
    "$(get /api/v1/domains "$TG" > /dev/null; field '["domains"][0]["name"]')"
check "page of 2" "2 a2.example" \
    "$(get '/api/v1/domains?limit=2' "$TA" > /dev/null; field '["domains"].__len__()') $(field '["next"]')"
check "next page from the cursor" "a3.example a3.example" \
    "$(get '/api/v1/domains?limit=1&cursor=a2.example' "$TA" > /dev/null; field '["domains"][0]["name"]') $(field '["next"]')"
check "the last page" "example.com None" \
    "$(get '/api/v1/domains?limit=2&cursor=a3.example' "$TA" > /dev/null; field '["domains"][0]["name"]') $(field '["next"]')"
check "limit out of range: 400" 400 "$(get '/api/v1/domains?limit=0' "$TA")"

check "one domain: 200" 200 "$(get /api/v1/domains/a2.example "$TA")"
sg dns a2.example --service-host $SH --json > "$DIR/dns.json"
check "its records are what stsguard dns says" same "$($PY -c '
import json, sys
api = json.load(open(sys.argv[1]))
dns = json.load(open(sys.argv[2]))
strip = lambda rs: sorted((r["name"], r["type"], r["value"]) for r in rs)
print("same" if strip(api["records"]) == strip(dns) else "differ: %s / %s" % (api["records"], dns))' "$DIR/body" "$DIR/dns.json")"
check "intake URL and address" yes "$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("yes" if d["intake_url"] == "https://%s/tlsrpt/%s" % (sys.argv[2], d["token"])
      and d["intake_address"] == "tlsrpt+%s@%s" % (d["token"], sys.argv[2]) else d)' "$DIR/body" "$SH")"
get /api/v1/domains/g1.example "$TA" > /dev/null; cp "$DIR/body" "$DIR/other.body"
check "another tenant's domain: 404" 404 "$(get /api/v1/domains/g1.example "$TA")"
get /api/v1/domains/nowhere.example "$TA" > /dev/null
if cmp -s "$DIR/body" "$DIR/other.body"; then ok "the same 404 as a domain that does not exist"
else bad "another tenant's domain answers differently from none"; fi
check "HEAD: 200, no body" "200 0" "$(c -I -o /dev/null -w '%{http_code} %{size_download}' \
    -H "Authorization: Bearer $TA" "https://$SH:$PORT/api/v1/domains/a1.example")"
check "POST on a domain: 405" 405 "$(send POST /api/v1/domains/a1.example "$TA" '{}')"
grepf "... with the methods it takes" "$DIR/head" '^Allow: GET, HEAD, PATCH, DELETE'
check "unknown API route: 404" 404 "$(get /api/v1/nothing "$TA")"

# Request bodies: read whole (up to LIMIT_WEB_BODY_BYTES, 8 MiB), the
# connection kept for the next request (a body this big was dropped with
# the connection before); past the limit 413 with the reason, from the
# Content-Length, or at the chunk that passes it.
U=https://$SH:$PORT/api/v1/domains
head -c 100000 /dev/zero | tr '\0' a > "$DIR/100k"
# shellcheck disable=SC2046
check "a 100 KB body is read, the connection kept" "405 0" "$(c -o /dev/null \
    -w '%{http_code} ' -X POST -H "Authorization: Bearer $TA" \
    --data-binary @"$DIR/100k" "$U/a1.example/stats" --next $(copts) \
    -o /dev/null -w '%{num_connects}' -H "Authorization: Bearer $TA" "$U")"
# shellcheck disable=SC2046
check "a chunked one too" "405 0" "$(c -o /dev/null -w '%{http_code} ' \
    -X POST -H 'Transfer-Encoding: chunked' -H "Authorization: Bearer $TA" \
    --data-binary @"$DIR/100k" "$U/a1.example/stats" --next $(copts) \
    -o /dev/null -w '%{num_connects}' -H "Authorization: Bearer $TA" "$U")"
head -c 8388609 /dev/zero > "$DIR/big"
check "8 MiB + 1 by Content-Length: 413" 413 "$(c -o "$DIR/body" -w '%{http_code}' \
    -X POST -H "Authorization: Bearer $TA" --data-binary @"$DIR/big" "$U")"
check "... with the limit named" "request body larger than the limit of 8388608 bytes" \
    "$(field '["error"]')"
check "8 MiB + 1 chunked: 413" 413 "$(c -o "$DIR/body" -w '%{http_code}' \
    -X POST -H 'Transfer-Encoding: chunked' -H "Authorization: Bearer $TA" \
    --data-binary @"$DIR/big" "$U")"
check "... with the limit named" "request body larger than the limit of 8388608 bytes" \
    "$(field '["error"]')"

# Writes: what the API answers is what the CLI then shows, and what the
# daemon serves.
same_as_cli() {	# the answer's domain fields against domain show --json
	sg domain show "$1" --json > "$DIR/cli.json"
	$PY -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
b.pop("history")
diff = [k for k in b if a.get(k) != b[k]]
print("same" if not diff else "differ: %s" % diff)' "$DIR/body" "$DIR/cli.json"
}
check "POST a domain: 201" 201 "$(send POST /api/v1/domains "$TA" \
    '{"name": "New.Example", "mode": "enforce", "mx": ["mx1.new.example", "*.new.example"], "max_age": 86400}')"
check "... as domain show --json shows it" same "$(same_as_cli new.example)"
check "... enforce, 2 mx, 86400, tenant acme" "enforce 2 86400 acme" \
    "$(field '["mode"]') $(field '["mx"].__len__()') $(field '["max_age"]') $(field '["tenant"]')"
grepf "... its Location" "$DIR/head" '^Location: /api/v1/domains/new.example'
check "... with its records and intake URL" "3 yes" "$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(len(d["records"]), "yes" if d["intake_url"].endswith("/tlsrpt/" + d["token"]) else "no")' "$DIR/body")"
POLICY=$(field '["policy"]')
ID1=$(field '["policy_id"]')
for _ in $(seq 20); do
	got=$(c -s "https://mta-sts.new.example:$PORT/.well-known/mta-sts.txt") && [ -n "$got" ] &&
	    [ "$got" = "$(printf '%s' "$POLICY")" ] && break
	sleep 0.25
done
check "the daemon serves the new domain's policy" "$(printf '%s' "$POLICY")" "$got"
check "POST it again: 409" 409 "$(send POST /api/v1/domains "$TA" '{"name": "new.example", "mx": ["mx.x"]}')"
check "... naming its own tenant" "new.example is already hosted (tenant acme)" "$(field '["error"]')"
check "POST it from another tenant: 409" 409 "$(send POST /api/v1/domains "$TG2" '{"name": "new.example", "mx": ["mx.x"]}')"
check "... without naming the tenant that has it" "new.example is already hosted" "$(field '["error"]')"
check "a read-only token: 403" 403 "$(send POST /api/v1/domains "$TG" '{"name": "ro.example", "mx": ["mx.x"]}')"
check "... and nothing added" 1 "$(sg domain show ro.example > /dev/null 2>&1; echo $?)"
check "bad JSON: 400" 400 "$(send POST /api/v1/domains "$TA" '{"name": ')"
grepf "... with the reason" "$DIR/body" '"error": "bad JSON: .*line 1'
check "a bad mode: 400, as the CLI says it" \
    "$(sg domain add bad.example --mode strict --mx mx.x 2>&1 | sed 's/^stsguard: --//')" \
    "$(send POST /api/v1/domains "$TA" '{"name": "bad.example", "mode": "strict", "mx": ["mx.x"]}' > /dev/null; field '["error"]')"
check "a bad mx: 400, as the CLI says it" \
    "$(sg domain add bad.example --mx 'mail.*.example' 2>&1 | sed 's/^stsguard: --//')" \
    "$(send POST /api/v1/domains "$TA" '{"name": "bad.example", "mx": ["mail.*.example"]}' > /dev/null; field '["error"]')"
check "JSON as text/plain: 415" 415 "$(send POST /api/v1/domains "$TA" '{"name": "bad.example"}' text/plain)"

check "PATCH: 200" 200 "$(send PATCH /api/v1/domains/new.example "$TA" '{"mode": "testing", "max_age": 3600}')"
check "... as domain show --json shows it" same "$(same_as_cli new.example)"
check "... a new policy id, mx left alone" "yes testing 3600 2" \
    "$([ "$(field '["policy_id"]')" != "$ID1" ] && echo yes) $(field '["mode"]') $(field '["max_age"]') $(field '["mx"].__len__()')"
check "... the record to publish now, with the new id" \
    "_mta-sts.new.example TXT v=STSv1; id=$(field '["policy_id"]');" \
    "$(field '["publish"][0]["name"]') $(field '["publish"][0]["type"]') $(field '["publish"][0]["value"]')"
check "... one record" 1 "$(field '["publish"].__len__()')"
check "PATCH that changes nothing: 200" 200 "$(send PATCH /api/v1/domains/new.example "$TA" '{"mode": "testing"}')"
check "... nothing to publish" 0 "$(field '["publish"].__len__()')"
check "PATCH another tenant's domain: 404" 404 "$(send PATCH /api/v1/domains/g1.example "$TA" '{"mode": "none"}')"
check "PATCH by a read-only token: 403" 403 "$(send PATCH /api/v1/domains/g1.example "$TG" '{"mode": "none"}')"
check "... its mode unchanged" enforce "$(sg domain show g1.example --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["mode"])')"
check "PATCH with a name: 400" 400 "$(send PATCH /api/v1/domains/new.example "$TA" '{"name": "x.example"}')"

check "DELETE: 200" 200 "$(send DELETE /api/v1/domains/new.example "$TA")"
check "... the TXT with the id of mode none to publish now" \
    "_mta-sts.new.example v=STSv1; id=$(field '["policy_id"]');" \
    "$(field '["publish"][0]["name"]') $(field '["publish"][0]["value"]')"
check "... as domain show --json shows it" same "$(same_as_cli new.example)"
check "... removed, served as none until serve_until" "none yes" \
    "$(field '["mode"]') $([ "$(field '["removed"]')" != None ] && [ "$(field '["serve_until"]')" != None ] && echo yes)"
check "DELETE again: 409" 409 "$(send DELETE /api/v1/domains/new.example "$TA")"
check "DELETE another tenant's: 404" 404 "$(send DELETE /api/v1/domains/g1.example "$TA")"
check "DELETE by a read-only token: 403" 403 "$(send DELETE /api/v1/domains/g1.example "$TG")"

# Import: the same per-line errors as `stsguard domain import`, nothing
# half-applied; then a good file, all of it.
cat > "$DIR/bad.csv" <<'CSV'
domain,tenant,mode,mx,max_age
imp1.example,acme,testing,mx.imp.example,
imp2.example,acme,strict,mx.imp.example,
not_a_host.example,acme,testing,mx.imp.example,
a1.example,acme,testing,mx.imp.example,
imp1.example,acme,testing,mx.imp.example,
imp3.example,acme,enforce,,86400
CSV
sg domain import "$DIR/bad.csv" 2> "$DIR/cli.err" > /dev/null
check "import with errors: 422" 422 "$(send POST /api/v1/domains/import "$TA" @"$DIR/bad.csv" text/csv)"
check "... the CLI's per-line errors" same "$($PY -c '
import json, re, sys
a = ["line %d: %s" % (x["line"], x["error"]) for x in json.load(open(sys.argv[1]))["errors"]]
b = [l[len("stsguard: "):] for l in open(sys.argv[2]).read().splitlines() if re.match(r"stsguard: line \d+: ", l)]
print("same" if sorted(a) == sorted(b) and len(a) == 5 else "differ: %s / %s" % (a, b))' "$DIR/body" "$DIR/cli.err")"
check "... nothing imported" 1 "$(sg domain show imp1.example > /dev/null 2>&1; echo $?)"
printf 'imp4.example,acme,testing,mx.imp.example,\n' > "$DIR/other.csv"
check "a line of another tenant: 422" 422 "$(send POST /api/v1/domains/import "$TG2" @"$DIR/other.csv" text/csv)"
grep -v '^imp1\|^a1\|^not_a\|strict' "$DIR/bad.csv" | sed 's/,enforce,,/,enforce,mx.imp.example,/' > "$DIR/good.csv"
echo 'imp5.example,,none,,' >> "$DIR/good.csv"
check "import a good file: 201" 201 "$(send POST /api/v1/domains/import "$TA" @"$DIR/good.csv" text/csv)"
check "... says how many" 2 "$(field '["imported"]')"
check "... the store has them, acme's" "imp3.example acme enforce 86400 imp5.example acme none 604800" \
    "$(sg domain list --json | $PY -c '
import json, sys
print(" ".join("%s %s %s %s" % (d["name"], d["tenant"], d["mode"], d["max_age"]) for d in json.load(sys.stdin) if d["name"].startswith("imp")))')"
check "import by a read-only token: 403" 403 "$(send POST /api/v1/domains/import "$TG" @"$DIR/good.csv" text/csv)"

# Stats and reports: the same JSON as the CLI's, field for field.
check "stats: 200" 200 "$(get /api/v1/domains/example.com/stats "$TA")"
sg stats example.com --json > "$DIR/cli.json"
check "stats as stsguard stats --json" same "$($PY -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("same" if a == b and a["days"] else "differ")' "$DIR/body" "$DIR/cli.json")"
# Per receiving MX host and per sending IP: worked out here from each
# report's own failure details (report show --json), the larger view of
# each (day, organization), as the totals count.
get /api/v1/domains/example.com/stats "$TA" > /dev/null; cp "$DIR/body" "$DIR/stats.json"
for id in $(sg report list --domain example.com --json | $PY -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin) if r["counted"]))'); do
	sg report show "$id" --json; echo
done > "$DIR/shows"
check "failed sessions per MX host and sending IP, from the details" same "$($PY -c '
import json, sys
dec, t, i = json.JSONDecoder(), open(sys.argv[1]).read(), 0
mx, ip, groups = {}, {}, {}
while i < len(t):
    while i < len(t) and t[i].isspace(): i += 1
    if i == len(t): break
    o, i = dec.raw_decode(t, i)
    key = (o["report"]["date-range"]["start-datetime"][:10], o["report"]["organization-name"])
    views = groups.setdefault(key, {"tlsa": [0, []], "other": [0, []]})
    for p in o["report"]["policies"]:
        if p["policy"]["policy-domain"].lower().rstrip(".") != "example.com":
            continue
        v = views["tlsa" if p["policy"]["policy-type"] == "tlsa" else "other"]
        v[0] += p["summary"]["total-successful-session-count"] + p["summary"]["total-failure-session-count"]
        v[1] += p.get("failure-details", [])
for views in groups.values():
    pick = views["tlsa"] if views["tlsa"][0] > views["other"][0] else views["other"]
    for d in pick[1]:
        k = d.get("receiving-mx-hostname") or d.get("receiving-ip")
        mx[k] = mx.get(k, 0) + d["failed-session-count"]
        ip[d.get("sending-mta-ip")] = ip.get(d.get("sending-mta-ip"), 0) + d["failed-session-count"]
a = json.load(open(sys.argv[2]))
amx = {x["receiving-mx-hostname"]: x["sessions"] for x in a["receiving-mx-hosts"]}
aip = {x["sending-mta-ip"]: x["sessions"] for x in a["sending-ips"]}
print("same" if amx == mx and aip == ip and mx else "differ: %s %s / %s %s" % (amx, aip, mx, ip))' "$DIR/shows" "$DIR/stats.json")"
check "stats with a day range" 200 \
    "$(get '/api/v1/domains/example.com/stats?from=2026-05-12&to=2026-05-12' "$TA")"
sg stats example.com --from 2026-05-12 --to 2026-05-12 --json > "$DIR/cli.json"
check "the same range as the CLI's" same "$($PY -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("same" if a == b and a["days"] else "differ: %s / %s" % (a, b))' "$DIR/body" "$DIR/cli.json")"
check "stats: a bad day is 400" 400 "$(get '/api/v1/domains/example.com/stats?from=May' "$TA")"
check "reports: 200" 200 "$(get /api/v1/domains/example.com/reports "$TA")"
sg report list --domain example.com --json > "$DIR/cli.json"
check "reports as stsguard report list --domain --json" same "$($PY -c '
import json, sys
a, b = json.load(open(sys.argv[1]))["reports"], json.load(open(sys.argv[2]))
print("same" if a == b and len(a) > 0 else "differ: %d / %d" % (len(a), len(b)))' "$DIR/body" "$DIR/cli.json")"
check "reports ?limit=1: the newest" 1 "$(get '/api/v1/domains/example.com/reports?limit=1' "$TA" > /dev/null; field '["reports"].__len__()')"
# The tenant's reports, filtered and paged: against the CLI's lists of
# each of acme's domains (their union, newest first), filtered here.
for d in a1.example a2.example a3.example example.com; do
	sg report list --domain $d --json
done | $PY -c '
import json, sys
rows, dec, seen = [], json.JSONDecoder(), set()
t = sys.stdin.read()
i = 0
while i < len(t):
    while i < len(t) and t[i].isspace(): i += 1
    if i == len(t): break
    a, i = dec.raw_decode(t, i)
    for r in a:
        if r["id"] not in seen: seen.add(r["id"]); rows.append(r)
rows.sort(key=lambda r: (r["received"], r["id"]), reverse=True)
json.dump(rows, open(sys.argv[1], "w"))' "$DIR/acme.json"
# compare QUERY PYTHON-FILTER: the API's list (every page) against it
compare() {
	local q=$1 want=$2 url all=() n=0 next
	url="/api/v1/reports?$q"
	: > "$DIR/pages"
	while :; do
		[ "$(get "$url" "$TA")" = 200 ] || { echo "status $(cat "$DIR/body")"; return; }
		cat "$DIR/body" >> "$DIR/pages"; echo >> "$DIR/pages"
		next=$(field '["next"]')
		[ "$next" = None ] && break
		url="/api/v1/reports?$q&cursor=$next"
		n=$((n + 1)); [ $n -gt 50 ] && break
	done
	$PY -c '
import datetime, json, sys
dec, t, got, i = json.JSONDecoder(), open(sys.argv[1]).read(), [], 0
while i < len(t):
    while i < len(t) and t[i].isspace(): i += 1
    if i == len(t): break
    o, i = dec.raw_decode(t, i)
    got += o["reports"]
day = lambda s: datetime.datetime.strptime(s[:10], "%Y-%m-%d")
want = [r for r in json.load(open(sys.argv[2])) if eval(sys.argv[3])]
print("same %d" % len(got) if got == want else "differ: %s / %s" % ([r["id"] for r in got], [r["id"] for r in want]))' \
	    "$DIR/pages" "$DIR/acme.json" "$want"
}
ALL=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$DIR/acme.json")
check "all of acme's reports, one page" "same $ALL" "$(compare 'limit=1000' True)"
check "... by pages of 2 (cursor)" "same $ALL" "$(compare 'limit=2' True)"
ORG=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["organization-name"])' "$DIR/acme.json")
ORGQ=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$ORG")
check "?org= (percent-encoded)" "same $($PY -c 'import json,sys; print(sum(r["organization-name"] == sys.argv[2] for r in json.load(open(sys.argv[1]))))' "$DIR/acme.json" "$ORG")" \
    "$(compare "org=$ORGQ&limit=1" "r['organization-name'] == '$ORG'")"
check "?provenance=import" "same $ALL" "$(compare 'provenance=import&limit=3' "r['provenance'] == 'import'")"
check "?provenance=https: none" "same 0" "$(compare 'provenance=https' "r['provenance'] == 'https'")"
got=$(compare 'from=2026-05-12&to=2026-05-12&limit=1' \
    "r['end'] > '2026-05-12T00:00:00Z' and r['start'] < '2026-05-13T00:00:00Z'")
case $got in "same 0"|same\ $ALL) bad "?from=&to=: $got (no filtering seen)" ;;
same*) ok "?from=&to= (the report's range meets the days): $got" ;;
*) bad "?from=&to=: $got" ;; esac
check "?domain=example.com: its reports" "same $($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$DIR/cli.json")" \
    "$(get '/api/v1/reports?domain=example.com&limit=1000' "$TA" > /dev/null; $PY -c '
import json, sys
a, b = json.load(open(sys.argv[1]))["reports"], json.load(open(sys.argv[2]))
print("same %d" % len(a) if a == b else "differ")' "$DIR/body" "$DIR/cli.json")"
check "?domain= of another tenant: 404" 404 "$(get '/api/v1/reports?domain=g1.example' "$TA")"
check "globex sees none of acme's" 0 "$(get /api/v1/reports "$TG" > /dev/null; field '["reports"].__len__()')"
check "a bad provenance: 400" 400 "$(get '/api/v1/reports?provenance=forged' "$TA")"
check "a bad cursor: 400" 400 "$(get '/api/v1/reports?cursor=abc' "$TA")"
check "a bad %-encoding: 400" 400 "$(get '/api/v1/reports?org=a%2' "$TA")"
check "/domains/{d}/reports pages too" "1 yes" \
    "$(get '/api/v1/domains/example.com/reports?limit=1' "$TA" > /dev/null; field '["reports"].__len__()') $([ "$(field '["next"]')" != None ] && echo yes)"
# CSV export: the rows of the JSON answer, column for column.
csv_same() {	# csv_same PATH MEMBER: the CSV of PATH against its JSON
	get "$1" "$TA" > /dev/null; cp "$DIR/body" "$DIR/json"
	local sep='?'; case $1 in *\?*) sep='&' ;; esac
	[ "$(get "$1${sep}format=csv" "$TA")" = 200 ] || { echo "status"; return; }
	grep -qi '^Content-Type: text/csv' "$DIR/head" || { echo "type"; return; }
	$PY -c '
import csv, io, json, sys
j = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(io.StringIO(open(sys.argv[2], newline="").read())))
member = sys.argv[3]
def text(v):
    if v is None: return ""
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, list): return " ".join(v)
    v = str(v)
    return "\x27" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
if member == "stats":
    want = []
    for m, k, t in (("days", "day", "day"), ("organizations", "organization-name", "organization"),
                    ("result-types", "result-type", "result-type"),
                    ("receiving-mx-hosts", "receiving-mx-hostname", "receiving-mx-host"),
                    ("sending-ips", "sending-mta-ip", "sending-ip")):
        for x in j[m]:
            want.append({"table": t, "key": text(x[k]), "successful": text(x.get("successful")),
                         "failed": text(x.get("failed")), "sessions": text(x.get("sessions"))})
    for h in j["mx-hosts"]:
        want.append({"table": "mx-host", "key": h, "successful": "", "failed": "", "sessions": ""})
else:
    want = [{c: text(x.get(c)) for c in rows[0].keys()} for x in j[member]] if rows else []
print("same %d" % len(rows) if rows == want and (rows or not j.get(member)) else "differ: %s / %s" % (rows[:2], want[:2]))' \
	    "$DIR/json" "$DIR/body" "$2"
}
check "reports as CSV" "same $ALL" "$(csv_same '/api/v1/reports?limit=1000' reports)"
check "a domain's reports as CSV" "same $($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$DIR/cli.json")" \
    "$(csv_same '/api/v1/domains/example.com/reports' reports)"
check "domains as CSV" "same $(sg domain list --json | $PY -c 'import json,sys; print(sum(d["tenant"] == "acme" for d in json.load(sys.stdin)))')" \
    "$(csv_same /api/v1/domains domains)"
check "stats as CSV" same "$(csv_same /api/v1/domains/example.com/stats stats | cut -d' ' -f1)"
check "CSV pages: X-Next-Cursor" "$(get '/api/v1/reports?limit=2' "$TA" > /dev/null; field '["next"]')" \
    "$(get '/api/v1/reports?limit=2&format=csv' "$TA" > /dev/null; sed -n 's/^X-Next-Cursor: //p' "$DIR/head" | tr -d '\r')"
check "format=xml: 400" 400 "$(get '/api/v1/domains?format=xml' "$TA")"
check "another tenant's stats: 404" 404 "$(get /api/v1/domains/example.com/stats "$TG")"
check "another tenant's reports: 404" 404 "$(get /api/v1/domains/example.com/reports "$TG")"
check "an unknown sub-route: 404" 404 "$(get /api/v1/domains/example.com/nothing "$TA")"

# One report: as `report show --json` shows it; its bytes as received.
RID=$(get /api/v1/domains/example.com/reports "$TA" > /dev/null; field '["reports"][0]["id"]')
check "a report of acme's: 200" 200 "$(get /api/v1/reports/$RID "$TA")"
sg report show "$RID" --json > "$DIR/cli.json"
check "as stsguard report show --json" same "$($PY -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("same" if a == b and "stored" in a and "counted-why" in a["stored"] else "differ")' "$DIR/body" "$DIR/cli.json")"
check "its raw bytes: 200" 200 "$(get /api/v1/reports/$RID/raw "$TA")"
sg report show "$RID" --raw > "$DIR/cli.raw"
if cmp -s "$DIR/body" "$DIR/cli.raw"; then ok "the bytes as received"; else bad "raw bytes differ"; fi
grepf "raw: a report media type" "$DIR/head" '^Content-Type: application/tlsrpt\+(json|gzip)'
check "another tenant's report: 404" 404 "$(get /api/v1/reports/$RID "$TG")"
cp "$DIR/body" "$DIR/other.body"
check "a report no domain claims: 404" 404 "$(get /api/v1/reports/$(sg report list --unclaimed --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])') "$TA")"
check "no such report: 404" 404 "$(get /api/v1/reports/999999 "$TA")"
if cmp -s "$DIR/body" "$DIR/other.body"; then ok "another tenant's report: the same 404 as none"
else bad "another tenant's report answers differently from none"; fi
check "not a number: 404" 404 "$(get /api/v1/reports/1x "$TA")"
check "reports/{id}/other: 404" 404 "$(get /api/v1/reports/$RID/other "$TA")"
check "the API only on the service host" 404 "$(c -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $TA" "https://mta-sts.a1.example:$PORT/api/v1/domains")"
check "policy still served" 200 "$(c -o /dev/null -w '%{http_code}' \
    "https://mta-sts.a1.example:$PORT/.well-known/mta-sts.txt")"

# The route matrix: route x who -> status (GET unless a method is
# given; writes carry a body that would be refused if they got that far,
# so that no row changes anything).
nbad=0
while read -r path who want method; do
	case $who in
	none) tok= ;; acme) tok=$TA ;; globex) tok=$TG ;; revoked) tok=$TR ;;
	globex-rw) tok=$TG2 ;;
	esac
	if [ -z "${method:-}" ]; then got=$(get "$path" "$tok")
	elif [ "$method" = DELETE ]; then got=$(send DELETE "$path" "$tok")
	else got=$(send "$method" "$path" "$tok" '{"mode": "strict"}'); fi
	[ "$got" = "$want" ] || { bad "matrix $method $path as $who: $got, not $want"; nbad=$((nbad + 1)); }
done <<'EOF'
/api/v1/domains none 401 POST
/api/v1/domains revoked 401 POST
/api/v1/domains globex 403 POST
/api/v1/domains acme 400 POST
/api/v1/domains/import none 401 POST
/api/v1/domains/import globex 403 POST
/api/v1/domains/a1.example none 401 PATCH
/api/v1/domains/a1.example revoked 401 PATCH
/api/v1/domains/a1.example globex 403 PATCH
/api/v1/domains/a1.example globex-rw 404 PATCH
/api/v1/domains/a1.example acme 400 PATCH
/api/v1/domains/a1.example none 401 DELETE
/api/v1/domains/a1.example globex 403 DELETE
/api/v1/domains/a1.example globex-rw 404 DELETE
/api/v1/domains/a1.example/stats acme 405 DELETE
/api/v1/domains none 401
/api/v1/domains revoked 401
/api/v1/domains acme 200
/api/v1/domains globex 200
/api/v1/domains/a1.example none 401
/api/v1/domains/a1.example revoked 401
/api/v1/domains/a1.example acme 200
/api/v1/domains/a1.example globex 404
/api/v1/domains/g1.example acme 404
/api/v1/domains/g1.example globex 200
/api/v1/domains/example.com/stats none 401
/api/v1/domains/example.com/stats revoked 401
/api/v1/domains/example.com/stats acme 200
/api/v1/domains/example.com/stats globex 404
/api/v1/domains/example.com/reports none 401
/api/v1/domains/example.com/reports revoked 401
/api/v1/domains/example.com/reports acme 200
/api/v1/domains/example.com/reports globex 404
/api/v1/reports/1 none 401
/api/v1/reports/1 revoked 401
/api/v1/reports/1 acme 200
/api/v1/reports/1 globex 404
/api/v1/reports/1/raw none 401
/api/v1/reports/1/raw acme 200
/api/v1/reports/1/raw globex 404
EOF
[ "$nbad" = 0 ] && ok "route matrix: 40 answers as expected"

serve_stop
log_clean "$DIR/serve.log"
finish
