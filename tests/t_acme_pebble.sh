#!/bin/bash
# t_acme_pebble.sh - the ACME client against the real Pebble test CA.
#
# Starts, on loopback and random high ports: nsd serving a `test.` zone
# (mta-sts.customer1.test CNAME to the service host, mta-sts.customer2.test
# an A record, both 127.0.0.77; mta-sts.customer3.test has no record), and
# Pebble resolving through that nsd and dialling 127.0.0.77 on its
# httpPort/tlsPort. Pebble rejects 30 % of good nonces, so the client's
# badNonce retry is exercised. `stsguard acme obtain NAME` answers the
# challenge itself on 127.0.0.77. Asserts:
#   - a certificate for two names, with TLS-ALPN-01 and with HTTP-01, that
#     verifies against Pebble's root (fetched from its management port)
#     with the chain as served; keys 0600;
#   - a second obtain (renewal) replaces it: new serial, new key;
#   - a name Pebble cannot validate fails with the CA's problem type and
#     detail, leaves no files, and the other names still succeed;
#   - badNonce answers were met and retried.
# Everything started is stopped by the trap; all files live in one temp dir.
set -u
. "$(dirname "$0")/lib.sh"
ADDR=127.0.0.77

die() { echo "FATAL: $*" >&2; exit 1; }

for t in pebble nsd openssl curl ss; do
	command -v "$t" >/dev/null || die "$t not installed (make deps)"
done
[ -x "$STSGUARD" ] || die "$STSGUARD not built"

# A port free for TCP and UDP on loopback.
used_ports=" "
free_port() {
	local p
	while :; do
		p=$(( 20000 + RANDOM % 40000 ))
		case $used_ports in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htuln "sport = :$p")" ]; then
			used_ports="$used_ports$p "
			echo "$p"
			return
		fi
	done
}
P_DNS=$(free_port) P_ACME=$(free_port) P_MGMT=$(free_port)
P_HTTP=$(free_port) P_TLS=$(free_port)

# --- DNS --------------------------------------------------------------
cat > "$DIR/test.zone" <<EOF
\$ORIGIN test.
\$TTL 60
@                  SOA ns.test. admin.test. 1 3600 600 86400 60
@                  NS  ns.test.
ns                 A   127.0.0.1
stshost            A   $ADDR
mta-sts.customer1  CNAME stshost.test.
mta-sts.customer2  A   $ADDR
EOF
cat > "$DIR/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$P_DNS
  port: $P_DNS
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$DIR"
  pidfile: "$DIR/nsd.pid"
  database: ""
  xfrdfile: "$DIR/xfrd.state"
  zonelistfile: "$DIR/zone.list"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: test
  zonefile: test.zone
EOF
nsd -d -c "$DIR/nsd.conf" > "$DIR/nsd.log" 2>&1 &

# --- Pebble's listener certificate (its own test CA) -------------------
(
	cd "$DIR" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout test-ca.key -out test-ca.pem -days 2 -subj /CN=test-ca \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout pebble-listener.key -out listener.csr -subj /CN=localhost &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf &&
	openssl x509 -req -in listener.csr -CA test-ca.pem -CAkey test-ca.key \
	    -CAcreateserial -days 2 -extfile ext.cnf -out pebble-listener.pem
) > "$DIR/openssl.log" 2>&1 || die "openssl: $(cat "$DIR/openssl.log")"

cat > "$DIR/pebble.json" <<EOF
{ "pebble": {
  "listenAddress": "127.0.0.1:$P_ACME",
  "managementListenAddress": "127.0.0.1:$P_MGMT",
  "certificate": "$DIR/pebble-listener.pem",
  "privateKey": "$DIR/pebble-listener.key",
  "httpPort": $P_HTTP, "tlsPort": $P_TLS,
  "ocspResponderURL": "", "externalAccountBindingRequired": false } }
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=30 PEBBLE_AUTHZREUSE=0 \
    pebble -config "$DIR/pebble.json" -strict=false \
    -dnsserver "127.0.0.1:$P_DNS" > "$DIR/pebble.log" 2>&1 &

DIR_URL="https://127.0.0.1:$P_ACME/dir"
for _ in $(seq 100); do
	curl -sf --cacert "$DIR/test-ca.pem" "$DIR_URL" >/dev/null && break
	sleep 0.1
done
curl -sf --cacert "$DIR/test-ca.pem" "$DIR_URL" >/dev/null ||
    die "pebble did not start: $(tail -5 "$DIR/pebble.log")"
curl -sf --cacert "$DIR/test-ca.pem" \
    "https://127.0.0.1:$P_MGMT/roots/0" > "$DIR/pebble-root.pem" ||
    die "cannot fetch Pebble's root"
for _ in $(seq 50); do
	[ -n "$(ss -Huln "sport = :$P_DNS")" ] && break
	sleep 0.1
done
[ -n "$(ss -Huln "sport = :$P_DNS")" ] ||
    die "nsd did not start: $(cat "$DIR/nsd.log")"

DATA="$DIR/data"
# obtain NAME CHALLENGE: runs `stsguard acme obtain`, stderr kept per run.
run=0
obtain() {
	run=$((run + 1))
	timeout 120 "$STSGUARD" --data-dir "$DATA" acme obtain "$1" \
	    --acme-directory "$DIR_URL" --acme-ca-bundle "$DIR/test-ca.pem" \
	    --acme-email admin@stshost.test --acme-challenge "$2" \
	    --http-listen "$ADDR:$P_HTTP" --https-listen "$ADDR:$P_TLS" \
	    > "$DIR/out.$run" 2> "$DIR/err.$run"
}
serial() { openssl x509 -noout -serial -in "$1" 2>/dev/null; }

# check NAME: the issued files are right.
check_cert() {
	local n=$1 pem="$DATA/certs/$1.pem" key="$DATA/certs/$1.key"
	[ -f "$pem" ] && [ -f "$key" ] || { bad "$n: files missing"; return; }
	[ "$(stat -c %a "$key")" = 600 ] && ok "$n: key mode 0600" ||
	    bad "$n: key mode $(stat -c %a "$key")"
	if openssl verify -CAfile "$DIR/pebble-root.pem" -untrusted "$pem" \
	    "$pem" > "$DIR/verify.out" 2>&1; then
		ok "$n: chain verifies against Pebble's root"
	else
		bad "$n: verify: $(cat "$DIR/verify.out")"
	fi
	openssl x509 -noout -ext subjectAltName -in "$pem" 2>/dev/null |
	    grep -q "DNS:$n\$" && ok "$n: SAN is the name" || bad "$n: SAN"
	[ "$(openssl x509 -noout -pubkey -in "$pem" | openssl sha256)" = \
	  "$(openssl pkey -pubout -in "$key" | openssl sha256)" ] &&
	    ok "$n: key matches certificate" || bad "$n: key mismatch"
	openssl pkey -noout -text -in "$key" 2>/dev/null | grep -q P-256 &&
	    ok "$n: key is P-256" || bad "$n: key type"
}

# 1. TLS-ALPN-01 through a CNAME, 2. HTTP-01 on an A record.
if obtain mta-sts.customer1.test tls-alpn-01; then
	ok "tls-alpn-01: obtained mta-sts.customer1.test"
	check_cert mta-sts.customer1.test
else
	bad "tls-alpn-01 obtain: $(cat "$DIR/err.$run")"
fi
if obtain mta-sts.customer2.test http-01; then
	ok "http-01: obtained mta-sts.customer2.test"
	check_cert mta-sts.customer2.test
else
	bad "http-01 obtain: $(cat "$DIR/err.$run")"
fi
[ "$(stat -c %a "$DATA/acme/account.key" 2>/dev/null)" = 600 ] &&
    ok "account key 0600" || bad "account key missing or not 0600"

# 3. Renewal replaces certificate and key (here the other challenge).
s1=$(serial "$DATA/certs/mta-sts.customer1.test.pem")
k1=$(sha256sum < "$DATA/certs/mta-sts.customer1.test.key")
if obtain mta-sts.customer1.test http-01; then
	s2=$(serial "$DATA/certs/mta-sts.customer1.test.pem")
	k2=$(sha256sum < "$DATA/certs/mta-sts.customer1.test.key")
	[ -n "$s1" ] && [ "$s1" != "$s2" ] && [ "$k1" != "$k2" ] &&
	    ok "renewal: new serial and key" || bad "renewal: $s1 -> $s2"
	check_cert mta-sts.customer1.test
else
	bad "renewal: $(cat "$DIR/err.$run")"
fi
ls "$DATA/certs" | grep -q tmp && bad "temporary files left in certs/"

# 4. A name Pebble cannot validate (no DNS record) fails with the CA's
# reason; the other names are untouched and can still be issued.
s2=$(serial "$DATA/certs/mta-sts.customer2.test.pem")
for ch in http-01 tls-alpn-01; do
	if obtain mta-sts.customer3.test $ch; then
		bad "$ch: mta-sts.customer3.test issued without DNS"
	else
		rc=$?
		msg=$(cat "$DIR/err.$run")
		if [ $rc = 1 ] && echo "$msg" | grep -q \
		    \
		    'mta-sts.customer3.test: validation failed: urn:ietf:params:acme:error:[a-zA-Z]*: .*resolve'; then
			ok "$ch: failure carries the CA's reason"
		else
			bad "$ch: failure (rc $rc) without the CA's reason: $msg"
		fi
	fi
	[ -e "$DATA/certs/mta-sts.customer3.test.pem" ] &&
	    bad "$ch: files written for the failed name"
done
[ "$(serial "$DATA/certs/mta-sts.customer2.test.pem")" = "$s2" ] &&
    ok "failure left the other certificates alone" ||
    bad "other certificate changed"
if obtain mta-sts.customer2.test tls-alpn-01; then
	ok "other name still issued after the failure"
	check_cert mta-sts.customer2.test
else
	bad "other name after failure: $(cat "$DIR/err.$run")"
fi

# 5. Pebble rejected nonces and the client retried (30 % of POSTs).
n=$(cat "$DIR"/err.* | grep -c 'event=acme_bad_nonce')
[ "$n" -gt 0 ] && ok "badNonce retried $n times" ||
    bad "no badNonce met (is PEBBLE_WFE_NONCEREJECT honoured?)"

if [ $fails -ne 0 ]; then
	echo "--- pebble log (tail)"; tail -20 "$DIR/pebble.log"
	echo "--- client stderr"; tail -n 5 "$DIR"/err.*
fi
finish
