#!/bin/bash
# t_dns_update.sh - the delegated mode against a real authoritative
# server (issue 14): Knot (Debian `knot`) holds the operator's zone
# ops.test and takes DNS UPDATE signed with the TSIG key stsguard-test
# (an ACL allows that key, and only it, to update the zone).
#
#   knotd          $IP:5353   zone ops.test, key stsguard-test
#   stsguard serve $IP:$PORT  (https), $IP:$((PORT + 1)) (http)
#
# 1. `dns publish` puts each domain's TXT records at
#    D._mta-sts.ops.test and D._smtp._tls.ops.test (dig shows the id the
#    store holds); `dns export` lists the same records.
# 2. A wrong secret (BADSIG) and an unknown key (BADKEY): `dns publish`
#    exits 1 naming the refusal, and the zone is as it was (serial, TXT).
# 3. `serve` sends what changed at start, and after `domain set --mode
#    enforce` the new id is in the zone within a few seconds, while the
#    new policy is served; the API and the dashboard show the CNAMEs.
# 4. With Knot stopped a change's failure is logged once; once Knot is
#    back the retry (every 30 s) puts the id in the zone.
# 5. A removed domain's two names leave the zone once it no longer
#    serves its mode-none policy (serve_until).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
KEY=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==
K="$DIR/knot"
mkdir -p "$K/db" "$DIR/data"
echo "address $IP dns 5353 https $PORT"

cat > "$K/knot.conf" <<EOF
server:
    rundir: "$K"
    listen: $IP@5353
    user: root:root
    pidfile: "$K/knot.pid"
log:
  - target: stderr
    any: info
database:
    storage: "$K/db"
key:
  - id: stsguard-test
    algorithm: hmac-sha256
    secret: $KEY
acl:
  - id: stsguard-update
    key: stsguard-test
    action: update
template:
  - id: default
    storage: "$K"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: all
zone:
  - domain: ops.test
    acl: stsguard-update
EOF
cat > "$K/ops.test.zone" <<EOF
\$ORIGIN ops.test.
\$TTL 3600
@   SOA ns.ops.test. admin.ops.test. 1 3600 600 86400 300
@   NS  ns
ns  A   $IP
EOF
knotc -c "$K/knot.conf" conf-check > /dev/null || { bad "knot conf-check"; exit 1; }
knotd -c "$K/knot.conf" 2> "$K/knotd.log" &
KPID=$!
cleanup_add "kill $KPID 2>/dev/null; wait $KPID 2>/dev/null"
for _ in $(seq 50); do
	knotc -c "$K/knot.conf" -s "$K/knot.sock" status > /dev/null 2>&1 &&
	    break
	sleep 0.1
done
check "knotd runs" "Running" \
    "$(knotc -c "$K/knot.conf" -s "$K/knot.sock" status 2>&1)"

q() { dig @"$IP" -p 5353 +short +tcp "$@"; }	# q TYPE NAME
serial() { q SOA ops.test | awk '{ print $3 }'; }
id_of() { # id_of DOMAIN: the policy id the store holds
	sg domain show "$1" --json | $PY -c \
	    'import json, sys; print(json.load(sys.stdin)["policy_id"])'
}
txt_id() { # txt_id DOMAIN: the id in the zone's _mta-sts TXT, or ""
	q TXT "$1._mta-sts.ops.test" | sed -n 's/^"v=STSv1; id=\(.*\);"$/\1/p'
}

echo "hmac-sha256:stsguard-test:$KEY" > "$DIR/key"
cat > "$DIR/data/stsguard.conf" <<EOF
service_host = sts.provider.test
dns_zone = ops.test
dns_update_server = $IP:5353
dns_tsig_key = $DIR/key
EOF
sg domain add a.example --mode testing --mx mx.a.example > /dev/null &&
    sg domain add b.example --mode testing --mx mx.b.example > /dev/null ||
    { bad "domain add"; exit 1; }

# --- 1. dns publish, dig, dns export -----------------------------------
check "before: no TXT in the zone" "" "$(txt_id a.example)"
sg dns publish > "$DIR/pub.out" 2>&1
check "dns publish: exit 0" 0 $?
grepf "dns publish says how many" "$DIR/pub.out" '^published .* 2 domains'
check "a.example: the store's id in the zone" "$(id_of a.example)" \
    "$(txt_id a.example)"
check "b.example: the store's id in the zone" "$(id_of b.example)" \
    "$(txt_id b.example)"
tok=$(sg domain show b.example --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
check "b.example: the TLS-RPT record" \
    "\"v=TLSRPTv1; rua=mailto:tlsrpt+$tok@sts.provider.test,https://sts.provider.test/tlsrpt/$tok\"" \
    "$(q TXT b.example._smtp._tls.ops.test)"
check "dns: the owner publishes CNAMEs into the zone" \
    "_mta-sts.a.example. 3600 IN CNAME a.example._mta-sts.ops.test." \
    "$(sg dns a.example | sed -n 2p)"
# What export says is what the zone holds, name by name.
sg dns export > "$DIR/export" 2>&1
check "dns export: exit 0" 0 $?
check "dns export: four TXT lines" 4 "$(grep -c ' IN TXT ' "$DIR/export")"
same=0
while read -r name _ _ _ rest; do
	[ "$(q TXT "${name%.}")" = "$rest" ] && same=$((same + 1))
done < <(grep ' IN TXT ' "$DIR/export")
check "dns export: the same records as the zone" 4 "$same"

# --- 2. a wrong key changes nothing ------------------------------------
old=$(id_of a.example)
s0=$(serial)
sg domain set a.example --max-age 86400 > /dev/null
new=$(id_of a.example)
[ "$old" != "$new" ] && ok "domain set gave a new id" ||
    bad "domain set kept the id $old"
echo "hmac-sha256:stsguard-test:d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmcteg==" \
    > "$DIR/wrong"
sg dns publish a.example --dns-tsig-key "$DIR/wrong" > "$DIR/wrong.out" 2>&1
check "wrong secret: exit 1" 1 $?
grepf "wrong secret: the refusal is named" "$DIR/wrong.out" \
    'refused: NOTAUTH.*BADSIG'
echo "hmac-sha256:nobody:$KEY" > "$DIR/unknown"
sg dns publish --dns-tsig-key "$DIR/unknown" > "$DIR/unknown.out" 2>&1
check "unknown key: exit 1" 1 $?
grepf "unknown key: the refusal is named" "$DIR/unknown.out" \
    'refused: NOTAUTH.*BADKEY'
check "refused: the zone's serial did not move" "$s0" "$(serial)"
check "refused: the zone still has the old id" "$old" "$(txt_id a.example)"
grepf "knot logged the refusals" "$K/knotd.log" 'DDNS|TSIG|denied'

# --- 3. serve keeps the zone right -------------------------------------
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen "$IP:$((PORT + 1))" --workers 1 \
    --monitor-interval 0 2> "$DIR/serve.log" &
PID=$!
c() { curl -sS --max-time 5 --cacert "$DIR/data/local-ca.pem" \
    --resolve "mta-sts.a.example:$PORT:$IP" "$@"; }
URL=https://mta-sts.a.example:$PORT/.well-known/mta-sts.txt
wait_up "$DIR/serve.log" c -o /dev/null "$URL" || exit 1
got=
for _ in $(seq 50); do
	got=$(txt_id a.example)
	[ "$got" = "$new" ] && break
	sleep 0.1
done
check "serve at start: the id changed meanwhile is in the zone" "$new" "$got"
sg domain set a.example --mode enforce > /dev/null
new2=$(id_of a.example)
t0=$(date +%s.%N)
for _ in $(seq 100); do
	got=$(txt_id a.example)
	[ "$got" = "$new2" ] && break
	sleep 0.1
done
check "domain set --mode enforce: the new id is in the zone" "$new2" "$got"
echo "     (seen after $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null ||
    echo '?') s)"
c "$URL" > "$DIR/policy" 2>&1
grepf "the policy the new id names is served" "$DIR/policy" '^mode: enforce'
check "b.example untouched" "$(id_of b.example)" "$(txt_id b.example)"
grepf "serve logged the updates" "$DIR/serve.log" 'dns_update.*domains'

# What the owner sees in delegated mode: the API's records and the
# dashboard's page are the CNAMEs, and a change asks nothing of them.
SH=sts.provider.test
h() { curl -sS --max-time 5 --cacert "$DIR/data/local-ca.pem" \
    --resolve "$SH:$PORT:$IP" "$@"; }
tok=$(sg token create --tenant default | tail -1)
bid=$(id_of b.example)
h -H "Authorization: Bearer $tok" -X PATCH -H 'Content-Type: application/json' \
    -d '{"max_age": 172800}' "https://$SH:$PORT/api/v1/domains/b.example" \
    > "$DIR/api.json"
check "API: the records are CNAMEs, nothing to publish after a change" \
    "CNAME b.example._mta-sts.ops.test CNAME b.example._smtp._tls.ops.test 0" \
    "$($PY -c 'import json, sys
d = json.load(open(sys.argv[1])); r = d["records"]
print(r[1]["type"], r[1]["value"], r[2]["type"], r[2]["value"], len(d["publish"]))' \
    "$DIR/api.json")"
printf 'a-long-enough-password\n' > "$DIR/pw"
sg user add boss@ops.example --role admin --password-file "$DIR/pw" > /dev/null
h -c "$DIR/jar" -b "$DIR/jar" -o "$DIR/login" "https://$SH:$PORT/login"
csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$DIR/login" | head -1)
h -c "$DIR/jar" -b "$DIR/jar" -o /dev/null --data-urlencode "csrf=$csrf" \
    --data-urlencode "email=boss@ops.example" \
    --data-urlencode "password=a-long-enough-password" \
    "https://$SH:$PORT/login"
h -c "$DIR/jar" -b "$DIR/jar" -o "$DIR/page" \
    "https://$SH:$PORT/domains/a.example"
grepf "dashboard: the CNAME into the zone" "$DIR/page" \
    'a\.example\._mta-sts\.ops\.test'
grepf "dashboard: stsguard keeps the TXT records" "$DIR/page" \
    'stsguard keeps the TXT records'
for _ in $(seq 50); do
	[ "$(q TXT b.example._mta-sts.ops.test)" = "\"v=STSv1; id=$(id_of b.example);\"" ] &&
	    break
	sleep 0.1
done
[ "$bid" != "$(id_of b.example)" ] && ok "API change: a new id" ||
    bad "API change: the id stayed $bid"
check "API change: the new id is in the zone" "$(id_of b.example)" \
    "$(txt_id b.example)"

# --- 4. the server away: logged once, retried -------------------------
kill "$KPID"; wait "$KPID" 2>/dev/null
sg domain set a.example --mode testing > /dev/null
new3=$(id_of a.example)
for _ in $(seq 50); do
	grep -q 'level=warn.*dns_update' "$DIR/serve.log" && break
	sleep 0.1
done
sleep 1		# four more polls: none may log again
check "server away: the failure logged once" 1 \
    "$(grep -c 'level=warn.*dns_update' "$DIR/serve.log")"
knotd -c "$K/knot.conf" 2>> "$K/knotd.log" &
KPID=$!
cleanup_add "kill \$KPID 2>/dev/null"
got=
for _ in $(seq 450); do		# the retry comes within 30 s
	got=$(txt_id a.example)
	[ "$got" = "$new3" ] && break
	sleep 0.1
done
check "server back: the retry put the new id in the zone" "$new3" "$got"
grepf "server back: logged" "$DIR/serve.log" 'takes updates again'
check "still one failure line" 1 \
    "$(grep -c 'level=warn.*dns_update' "$DIR/serve.log")"

# --- 5. a removed domain's names go once it no longer serves ------------
sg domain add c.example --mode testing --mx mx.c.example --max-age 1 \
    > /dev/null
for _ in $(seq 50); do
	[ -n "$(txt_id c.example)" ] && break
	sleep 0.1
done
check "c.example added: its id in the zone" "$(id_of c.example)" \
    "$(txt_id c.example)"
sg domain remove c.example > /dev/null
got=x
for _ in $(seq 100); do		# serve_until: a second or two
	got=$(q TXT c.example._mta-sts.ops.test; q TXT c.example._smtp._tls.ops.test)
	[ -z "$got" ] && break
	sleep 0.1
done
check "c.example removed and past serve_until: its names are gone" "" "$got"
check "a.example stays" "$(id_of a.example)" "$(txt_id a.example)"
serve_stop
log_clean "$DIR/serve.log"
finish
