#!/bin/bash
# t_cluster_acme.sh - three `stsguard serve` nodes sharing one PostgreSQL
# get their certificates from the real Pebble test CA: one order per
# name, every node serves it, keys sealed in the database. Black box.
#
# Everything runs inside a network namespace made here (root needed):
#   PostgreSQL  pg_start (a Unix socket under $DIR: the nodes reach it
#               from the namespace)
#   nsd         127.0.0.1:53, zone `test.`: stshost.test A 127.0.0.13,
#               mta-sts.customer1.test CNAME stshost.test
#   Pebble      127.0.0.1:14000 (management :15000), httpPort 80,
#               certificates valid VALIDITY seconds,
#               tlsPort 443
#   node 1..3   127.0.0.11, .12, .13 :443 (HTTPS) and :80 (HTTP), each
#               its own data dir, all `--store $PG_URL --store-key-file K
#               --certificates acme`, service host stshost.test
# The names resolve to node 3 only, and node 3 starts a second after
# nodes 1 and 2: one of those takes the lease and orders, and the CA's
# validation reaches node 3, which knows the challenge only from the
# database. Run once with tls-alpn-01 and once with http-01 (a fresh
# database and data dirs each time, the same Pebble).
#
# Asserts, each time:
#   - Pebble saw exactly one order per name (its "Added order" lines:
#     2 names, 2 orders), and exactly one node logged an order per name;
#   - the node that answered the CA (node 3's challenge log lines) is not
#     the one that ordered: challenges are cluster-wide;
#   - all three nodes serve each certificate: curl trusting only Pebble's
#     root fetches customer1's policy from each node's address, and
#     openssl s_client verifies the service host's; each node's key file
#     is 0600 and the three serve the same certificate;
#   - the database holds the key sealed: it starts with the seal magic
#     and holds neither "PRIVATE KEY" nor any line of the PEM key the
#     nodes have on disk (psql);
#   - (tls-alpn-01) renewal, due on the three nodes at once with
#     certificates of VALIDITY seconds: one order per name again, and the
#     three serve the renewed certificate;
#   - a node with another store_key_file refuses to start and says why;
#   - (http-01) `acme obtain` with the same settings stores its
#     certificate, key sealed, in the database too.
# Bounded (about a minute and a half); the trap stops everything and deletes the
# namespace.
set -u
. "$(dirname "$0")/lib.sh"
NS=stsclu$$
A1=127.0.0.11 A2=127.0.0.12 A3=127.0.0.13
SH=stshost.test N1=mta-sts.customer1.test
PSQL=$PG_BIN/psql
VALIDITY=${VALIDITY:-45}	# Pebble certificate lifetime, seconds

die() { echo "FATAL: $*" >&2; exit 1; }
inns() { ip netns exec "$NS" "$@"; }

for t in pebble nsd openssl curl ip "$PSQL"; do
	command -v "$t" >/dev/null || die "$t not installed (make deps)"
done
[ -x "$STSGUARD" ] || die "$STSGUARD not built"
unset SSL_CERT_FILE CURL_CA_BUNDLE REQUESTS_CA_BUNDLE

# --- the namespace, DNS, Pebble, PostgreSQL -------------------------------
netns_new "$NS" || die "no namespace"
{
	zone_head
	printf 'stshost            A   %s\n' $A3
	printf 'mta-sts.customer1  CNAME stshost.test.\n'
} > "$DIR/test.zone"
nsd_start "$DIR/test.zone" 53 "${NETNS_EXEC[@]}" || die "nsd did not start"
PEBBLE_VALIDITY=$VALIDITY pebble_start 14000 15000 80 443 127.0.0.1:53 \
    "${NETNS_EXEC[@]}" || die "Pebble did not start"
pg_start || die "PostgreSQL did not start"
head -c 32 /dev/urandom > "$DIR/store.key"
head -c 32 /dev/urandom > "$DIR/other.key"
chmod 600 "$DIR/store.key" "$DIR/other.key"
for _ in $(seq 50); do
	inns getent hosts $N1 >/dev/null && break
	sleep 0.1
done
[ "$(inns getent hosts $N1 | awk '{print $1}')" = $A3 ] ||
    die "nsd did not start: $(cat "$DIR/nsd.log")"
psql_q() { "$PSQL" -At -h "$PG_DIR" -U stsguard -d "$DB" -c "$1"; }

# --- helpers --------------------------------------------------------------
# fetch ADDR NAME OUT: the policy of NAME from the node at ADDR, trusting
# only Pebble's root.
fetch() {
	inns curl -sS --max-time 5 --cacert "$DIR/pebble-root.pem" \
	    --resolve "$2:443:$1" -o "$3" "https://$2/.well-known/mta-sts.txt"
}
# verified ADDR NAME: the leaf's serial when the node at ADDR sends a
# chain for NAME that verifies to Pebble's root (empty otherwise).
verified() {
	inns openssl s_client -connect "$1:443" -servername "$2" \
	    -CAfile "$DIR/pebble-root.pem" -verify_return_error \
	    -verify_hostname "$2" </dev/null 2>/dev/null |
	    openssl x509 -noout -serial 2>/dev/null
}
# on_all NAME: the serial all three nodes serve for NAME, verified; empty
# when one does not, or they differ.
on_all() {
	local s1
	s1=$(verified $A1 "$1")
	[ -n "$s1" ] && [ "$(verified $A2 "$1")" = "$s1" ] &&
	    [ "$(verified $A3 "$1")" = "$s1" ] && echo "$s1"
}

# one_run CHALLENGE: a fresh database and data dirs, three nodes, every
# assertion above.
one_run() {
	local ch=$1 i a n st orderer answered o0 o
	local -A pid
	DB=c_${ch//-/_}
	"$PSQL" -q -h "$PG_DIR" -U stsguard -d postgres \
	    -c "CREATE DATABASE $DB" || { bad "$ch: no database"; return; }
	local URL="postgresql:///$DB?host=$PG_DIR&user=stsguard"

	"$STSGUARD" --data-dir "$DIR/$ch-1" domain add customer1.test \
	    --store "$URL" --mode enforce --mx mx1.customer1.test \
	    --max-age 86400 > /dev/null || { bad "$ch: domain add"; return; }
	printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.customer1.test\r\nmax_age: 86400\r\n' \
	    > "$DIR/want"
	o0=$(grep -c 'Added order' "$DIR/pebble.log")

	for i in 1 2 3; do
		[ $i = 3 ] && sleep 1
		a=127.0.0.1$i
		ip netns exec "$NS" "$STSGUARD" --data-dir "$DIR/$ch-$i" serve \
		    --store "$URL" --store-key-file "$DIR/store.key" \
		    --https-listen $a:443 --http-listen $a:80 \
		    --service-host $SH --workers 1 --certificates acme \
		    --acme-directory "$PEBBLE_DIR_URL" \
		    --acme-ca-bundle "$DIR/test-ca.pem" \
		    --acme-email admin@stshost.test --acme-challenge "$ch" \
		    2> "$DIR/$ch-$i.log" &
		pid[$i]=$!
		cleanup_add "kill ${pid[$i]} 2>/dev/null"
	done

	# 1. Every node serves both names over a Pebble certificate. The
	# 60 s bound is a hang guard; the time is printed, not checked.
	local t0 until
	t0=$(date +%s) until=$(( $(date +%s) + 60 ))
	for i in 1 2 3; do
		a=127.0.0.1$i st=
		while [ "$(date +%s)" -lt $until ]; do
			kill -0 "${pid[$i]}" 2>/dev/null || break
			fetch $a $N1 "$DIR/body" 2>/dev/null &&
			    [ -n "$(verified $a $SH)" ] && { st=1; break; }
			sleep 0.1
		done
		if [ -z "$st" ]; then
			bad "$ch: node $i does not serve $N1 and $SH: $(tail -3 "$DIR/$ch-$i.log")"
			continue
		fi
		ok "$ch: node $i serves $N1 and $SH over Pebble certificates ($(( $(date +%s) - t0 ))s)"
		cmp -s "$DIR/want" "$DIR/body" || bad "$ch: node $i policy bytes"
		for n in $N1 $SH; do
			[ "$(stat -c %a "$DIR/$ch-$i/certs/$n.key" 2>&1)" = 600 ] ||
			    bad "$ch: node $i $n.key mode $(stat -c %a "$DIR/$ch-$i/certs/$n.key" 2>&1)"
		done
	done
	for n in $N1 $SH; do
		[ -n "$(on_all $n)" ] &&
		    ok "$ch: the three nodes serve the same certificate for $n" ||
		    bad "$ch: nodes serve different certificates for $n"
	done

	# 2. One order per name: in Pebble's log and in the nodes' logs.
	o=$(( $(grep -c 'Added order' "$DIR/pebble.log") - o0 ))
	check "$ch: orders Pebble saw for 2 names" 2 "$o"
	for n in $N1 $SH; do
		orderer=
		for i in 1 2 3; do
			grep -q "event=acme_order name=\"$n\"" "$DIR/$ch-$i.log" &&
			    orderer="$orderer$i"
		done
		check "$ch: the node(s) that ordered $n" 1 "${#orderer}"
		eval "ORDERER_${n//[.-]/_}=$orderer"
	done

	# 3. The CA reached node 3 only; it answered challenges it did not
	# make (the orderer was node 1 or 2).
	if [ $ch = tls-alpn-01 ]; then
		answered=$(grep -c 'event=acme_tls_alpn01' "$DIR/$ch-3.log")
	else
		answered=$(grep 'event=acme_http01' "$DIR/$ch-3.log" | grep -c 200)
	fi
	orderer=$ORDERER_mta_sts_customer1_test$ORDERER_stshost_test
	if [ "$answered" -gt 0 ] && [[ $orderer != *3* ]]; then
		ok "$ch: node 3 answered $answered validations for orders of node(s) $orderer"
	else
		bad "$ch: node 3 answered [$answered] validations; orderers [$orderer]"
	fi
	for i in 1 2; do
		grep -q 'event=acme_tls_alpn01\|event=acme_http01' \
		    "$DIR/$ch-$i.log" && bad "$ch: the CA reached node $i"
	done

	# 4. The key in the database is sealed, not the PEM in clear.
	psql_q "SELECT encode(key, 'hex') FROM cert WHERE name = '$N1'" \
	    > "$DIR/dbkey.hex"
	st=ok
	[ -s "$DIR/dbkey.hex" ] || st="no row"
	[ "$(head -c 8 "$DIR/dbkey.hex")" = 53475331 ] || st="no seal magic"
	psql_q "SELECT count(*) FROM cert WHERE position('PRIVATE KEY'::bytea in key) > 0" |
	    grep -qx 0 || st="PRIVATE KEY in clear"
	while read -r line; do
		h=$(printf '%s' "$line" | od -An -tx1 | tr -d ' \n')
		grep -qF "$h" "$DIR/dbkey.hex" && st="a key line in clear"
	done < <(grep -v -- ----- "$DIR/$ch-1/certs/$N1.key")
	[ "$st" = ok ] && ok "$ch: the database holds $N1's key sealed" ||
	    bad "$ch: key in the database: $st"
	check "$ch: certificates in the database" 2 \
	    "$(psql_q 'SELECT count(*) FROM cert')"
	check "$ch: leases left" 0 "$(psql_q 'SELECT count(*) FROM cert_lease')"

	# 5. (tls-alpn-01 run) Renewal, due when a third of the VALIDITY s
	# lifetime is left, at the same moment on every node: one order per
	# name again, and all three serve the renewed certificate. The wait
	# (VALIDITY + 30 s) is a hang guard derived from that lifetime.
	if [ $ch = tls-alpn-01 ]; then
		local -A old
		for n in $N1 $SH; do old[$n]=$(verified $A1 $n); done
		until=$(( $(date +%s) + VALIDITY + 30 ))
		for n in $N1 $SH; do
			st=
			while [ "$(date +%s)" -lt $until ]; do
				a=$(on_all $n)
				[ -n "$a" ] && [ "$a" != "${old[$n]}" ] &&
				    { st=1; break; }
				sleep 0.2
			done
			[ -n "$st" ] &&
			    ok "$ch: the three nodes serve $n renewed ($(( $(date +%s) - t0 ))s)" ||
			    bad "$ch: $n not renewed on all three nodes"
		done
		o=$(( $(grep -c 'Added order' "$DIR/pebble.log") - o0 ))
		check "$ch: orders Pebble saw for 2 names, each renewed once" 4 "$o"
		for n in $N1 $SH; do
			check "$ch: orders of $n logged by the three nodes" 2 \
			    "$(cat "$DIR/$ch"-[123].log | grep -c "event=acme_order name=\"$n\"")"
		done
	fi

	# 6. Another store_key_file: refused at start, with the reason.
	ip netns exec "$NS" timeout 20 "$STSGUARD" --data-dir "$DIR/$ch-4" \
	    serve --store "$URL" --store-key-file "$DIR/other.key" \
	    --https-listen 127.0.0.14:443 --http-listen 127.0.0.14:80 \
	    --service-host $SH --workers 1 --certificates acme \
	    --acme-directory "$PEBBLE_DIR_URL" 2> "$DIR/$ch-4.log"
	st=$?
	[ $st != 0 ] && [ $st != 124 ] &&
	    grep -q 'wrong store_key_file' "$DIR/$ch-4.log" &&
	    ok "$ch: a node with another key refuses to start (status $st)" ||
	    bad "$ch: another key: status $st, $(tail -2 "$DIR/$ch-4.log")"

	for i in 1 2 3; do
		kill -TERM "${pid[$i]}"
		wait "${pid[$i]}" || bad "$ch: node $i exit status $?"
		grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		    "$DIR/$ch-$i.log" &&
		    bad "$ch: node $i sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$DIR/$ch-$i.log")"
	done
	# 7. (http-01 run) `acme obtain` by hand, the nodes stopped, on
	# node 3's address: the new certificate goes to the store too.
	if [ $ch = http-01 ]; then
		o=$(psql_q "SELECT version FROM cert WHERE name = '$SH'")
		if ip netns exec "$NS" timeout 60 "$STSGUARD" \
		    --data-dir "$DIR/$ch-3" acme obtain $SH --store "$URL" \
		    --store-key-file "$DIR/store.key" --http-listen $A3:80 \
		    --acme-challenge http-01 --acme-directory "$PEBBLE_DIR_URL" \
		    --acme-ca-bundle "$DIR/test-ca.pem" > "$DIR/obtain.out" \
		    2> "$DIR/obtain.log" &&
		    [ "$(psql_q "SELECT version FROM cert WHERE name = '$SH'")" -gt "$o" ] &&
		    [ "$(psql_q "SELECT encode(substr(key, 1, 4), 'escape') FROM cert WHERE name = '$SH'")" = SGS1 ]; then
			ok "$ch: acme obtain stores its certificate, key sealed"
		else
			bad "$ch: acme obtain: $(tail -2 "$DIR/obtain.log") (version was $o)"
		fi
	fi
	if [ -n "${VERBOSE:-}" ]; then tail -n 30 "$DIR/$ch"-[123].log; fi
}

one_run tls-alpn-01
one_run http-01

if [ $fails -ne 0 ]; then
	echo "--- pebble log (tail)"; tail -20 "$DIR/pebble.log"
	for f in "$DIR"/*-[1234].log; do
		echo "--- $f (tail)"; tail -20 "$f"
	done
fi
finish
