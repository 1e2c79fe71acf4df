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

# --- DNS and Pebble (lib.sh) ------------------------------------------
zone_acme "$ADDR" > "$DIR/test.zone"
nsd_start "$DIR/test.zone" "$P_DNS" || die "nsd did not start"
PEBBLE_NONCEREJECT=30 pebble_start "$P_ACME" "$P_MGMT" "$P_HTTP" "$P_TLS" \
    "127.0.0.1:$P_DNS" || die "Pebble did not start"
DIR_URL=$PEBBLE_DIR_URL

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
	echo "--- nsd on 127.0.0.1:$P_DNS: $(kill -0 "$NSD_PID" 2> /dev/null &&
	    echo running || echo "gone ($(ss -Hauln "sport = :$P_DNS" | wc -l) sockets on the port)")"
	tail -5 "$DIR/nsd.log"
	echo "--- client stderr"; tail -n 5 "$DIR"/err.*
fi
finish
