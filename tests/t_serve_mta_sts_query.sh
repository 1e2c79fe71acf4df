#!/bin/bash
# t_serve_mta_sts_query.sh - a real sender-side MTA-STS client fetches
# policies from `stsguard serve`: mta-sts-query (Debian's
# postfix-mta-sts-resolver) inside a network namespace made here, with
# nsd on the namespace's 127.0.0.1:53 serving a `test.` zone built from
# `stsguard dns DOMAIN --json`, and stsguard on 127.0.0.10:443 with its
# local CA (trusted through SSL_CERT_FILE). Two hosted domains (enforce,
# testing) must come back VALID with their mx, mode, max_age and id; a
# policy change must come back with the new id and mx. Needs root (ip
# netns); ../shared/PEERS.md §1 and §3 describe the set-up.
set -u
. "$(dirname "$0")/lib.sh"
NS=stsq$$
D=$DIR/data
SH=policy.stshost.test

# Clients resolve names: `ip netns exec` (the /etc/netns files). Daemons
# go in with "${NETNS_EXEC[@]}" (lib.sh), so that $! is the daemon itself
# and TERM reaches it; they need no /etc/netns files.
inns() { ip netns exec "$NS" "$@"; }
netns_new "$NS" || exit 1

sg domain add customer1.test --mode enforce --mx mx1.customer1.test \
    --max-age 86400 > /dev/null || exit 1
sg domain add customer2.test --mode testing --mx mx.customer2.test \
    --mx '*.customer2.test' --max-age 604800 > /dev/null || exit 1

# The zone: SOA/NS, the service host's address, MX hosts, and for each
# customer exactly the records `stsguard dns --json` asks for.
make_zone() {
	{
		printf '$ORIGIN test.\n$TTL 1\n'
		printf '@ IN SOA ns.test. hostmaster.test. %s 1 1 1 1\n' "$(date +%s)"
		printf '@ IN NS ns.test.\nns IN A 127.0.0.1\n'
		printf '%s. IN A 127.0.0.10\n' $SH
		for d in customer1.test customer2.test; do
			printf '%s. IN MX 10 mx1.%s.\n' $d $d
			sg dns $d --service-host $SH --json | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    v = r["value"]
    if r["type"] == "TXT":
        v = " ".join("\"%s\"" % v[i:i + 250] for i in range(0, len(v), 250))
    elif r["type"] == "CNAME":
        v = v.rstrip(".") + "."
    print("%s. IN %s %s" % (r["name"].rstrip("."), r["type"], v))'
		done
	} > "$DIR/test.zone"
}

start_nsd() { nsd_start "$DIR/test.zone" 53 "${NETNS_EXEC[@]}" || exit 1; }
wait_dns() {
	for i in $(seq 50); do
		[ "$(inns getent hosts mta-sts.customer1.test | awk '{print $1; exit}')" = 127.0.0.10 ] && return 0
		sleep 0.1
	done
	return 1
}

make_zone
echo "--- zone"; cat "$DIR/test.zone"; echo "---"
start_nsd
wait_dns &&
    ok "nsd answers: mta-sts.customer1.test -> $SH -> 127.0.0.10" ||
    { bad "nsd does not answer"; cat "$DIR/nsd.log"; exit 1; }

"${NETNS_EXEC[@]}" "$STSGUARD" --data-dir "$D" serve --https-listen 127.0.0.10:443 \
    --http-listen 127.0.0.10:80 --service-host $SH 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" inns curl -s -o /dev/null --max-time 2 \
    --cacert "$D/local-ca.pem" https://mta-sts.customer1.test/.well-known/mta-sts.txt ||
    exit 1

# query DOMAIN [KNOWN_ID] -> mta-sts-query's one result line
query() {
	inns env -u https_proxy -u HTTPS_PROXY -u http_proxy \
	    SSL_CERT_FILE="$D/local-ca.pem" timeout 20 mta-sts-query "$@" 2>&1 | tail -1
}
# expect DOMAIN MODE MAX_AGE MX-PYTHON-LIST
expect() {
	local d=$1 mode=$2 age=$3 mx=$4 id out
	id=$(sg domain show "$d" | sed -n 's/^policy id: *//p')
	out=$(query "$d")
	echo "mta-sts-query $d -> $out"
	case $out in
	"(<STSFetchResult.VALID: 1>, ('$id', {"*) ok "$d: VALID with id $id" ;;
	*) bad "$d: expected VALID with id $id" ;;
	esac
	case $out in *"'mx': $mx"*) ok "$d: mx $mx" ;; *) bad "$d: mx $mx" ;; esac
	case $out in *"'mode': '$mode'"*) ok "$d: mode $mode" ;; *) bad "$d: mode $mode" ;; esac
	case $out in *"'max_age': $age"*) ok "$d: max_age $age" ;; *) bad "$d: max_age $age" ;; esac
}
expect customer1.test enforce 86400 "['mx1.customer1.test']"
expect customer2.test testing 604800 "['mx.customer2.test', '*.customer2.test']"
out=$(query nope.test)
case $out in *"NONE"*) ok "nope.test (no record): $out" ;; *) bad "nope.test: $out" ;; esac

# A policy change: new body served at once, new id published in DNS.
old=$(sg domain show customer1.test | sed -n 's/^policy id: *//p')
sg domain set customer1.test --mode enforce --mx mx2.customer1.test \
    --max-age 172800 > /dev/null
new=$(sg domain show customer1.test | sed -n 's/^policy id: *//p')
[ "$old" != "$new" ] && ok "domain set: id $old -> $new" || bad "id did not change"
nsd_stop
make_zone
start_nsd
wait_dns || bad "nsd did not come back"
got=
for i in $(seq 25); do
	out=$(query customer1.test "$old")
	case $out in "(<STSFetchResult.VALID: 1>, ('$new', {"*) got=1; break ;; esac
	sleep 0.2
done
echo "mta-sts-query customer1.test $old -> $out"
[ -n "$got" ] && ok "changed policy fetched with the new id $new" || bad "no new id"
case $out in *"'mx': ['mx2.customer1.test']"*"'max_age': 172800"*) ok "new mx and max_age" ;;
*) bad "new policy not served" ;; esac
out=$(query customer1.test "$new")
case $out in *"NOT_CHANGED"*) ok "known id: NOT_CHANGED" ;; *) bad "known id: $out" ;; esac

grep -q 'event=policy_fetch .*ua="postfix-mta-sts-resolver"' "$DIR/serve.log" &&
    ok "fetches logged with mta-sts-query's User-Agent" ||
    { bad "no fetch log line"; cat "$DIR/serve.log"; }

kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
[ $rc -eq 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM: exit $rc"
finish
