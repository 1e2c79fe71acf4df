#!/bin/bash
# t_serve_acme.sh - `stsguard serve --certificates acme` against the real
# Pebble test CA, black box.
#
# Everything runs inside a network namespace made here (root needed), so
# the daemon's own DNS pre-check (system resolver, /etc/resolv.conf) and
# Pebble both use the test DNS, and fixed ports are private:
#   nsd      127.0.0.1:53     zone `test.`: stshost.test A 127.0.0.10,
#                             mta-sts.customer1.test CNAME stshost.test,
#                             mta-sts.customer2.test A 127.0.0.10,
#                             no record for customer3 / customer4
#   Pebble   127.0.0.1:14000  (management :15000), -dnsserver 127.0.0.1:53,
#                             httpPort 80, tlsPort 443, certificates valid
#                             VALIDITY seconds
#   serve    127.0.0.10:443 (HTTPS) and :80 (HTTP), service host stshost.test
# mta-sts.customer3.test is in the namespace's /etc/hosts only: the
# daemon's pre-check (getaddrinfo) sees it pointing here, so it orders,
# but Pebble (which asks nsd) cannot resolve it: a real CA failure.
# mta-sts.customer4.test has no address at all: never ordered.
#
# Run once with tls-alpn-01 and once with http-01 (fresh data dir, same
# Pebble). Asserts, each time:
#   - certificates for mta-sts.customer1.test, mta-sts.customer2.test and
#     the service host are obtained by the daemon and SERVED: curl trusting
#     only Pebble's root (from its management port) fetches each policy
#     (exact bytes), and the served leaf's issuer is Pebble's intermediate;
#   - the challenge type used was the configured one (Pebble's log and
#     the daemon's log of challenge requests);
#   - renewal: with short-lived certificates the daemon renews when a
#     third of the lifetime is left, and the same daemon process then
#     serves a certificate with a new serial (still verifying);
#   - customer3's order fails with the CA's reason and backs off, while
#     customer1/2 are served; customer4 is skipped by the DNS pre-check
#     and never reaches the CA; neither has files;
#   - the metrics (metrics_listen) count those orders, renewals and the
#     failure, and give the soonest expiry.
# Bounded (about 30 s); the trap stops everything and deletes the
# namespace and /etc/netns/NS.
set -u
. "$(dirname "$0")/lib.sh"
NS=stsacme$$
ADDR=127.0.0.10
SH=stshost.test
VALIDITY=${VALIDITY:-15}	# Pebble certificate lifetime, seconds
N1=mta-sts.customer1.test N2=mta-sts.customer2.test
N3=mta-sts.customer3.test N4=mta-sts.customer4.test

die() { echo "FATAL: $*" >&2; exit 1; }
inns() { ip netns exec "$NS" "$@"; }

for t in pebble nsd openssl curl ip; do
	command -v "$t" >/dev/null || die "$t not installed (make deps)"
done
[ -x "$STSGUARD" ] || die "$STSGUARD not built"
unset SSL_CERT_FILE CURL_CA_BUNDLE REQUESTS_CA_BUNDLE

# --- the namespace, DNS, Pebble (lib.sh) ---------------------------------
netns_new "$NS" "$ADDR $N3" || die "no namespace"
zone_acme "$ADDR" > "$DIR/test.zone"
nsd_start "$DIR/test.zone" 53 "${NETNS_EXEC[@]}" || die "nsd did not start"
PEBBLE_VALIDITY=$VALIDITY pebble_start 14000 15000 80 443 127.0.0.1:53 \
    "${NETNS_EXEC[@]}" || die "Pebble did not start"
DIR_URL=$PEBBLE_DIR_URL
INT_SUBJECT=$(openssl x509 -noout -subject -nameopt RFC2253 \
    -in "$DIR/pebble-int.pem" | sed 's/^subject=//')
for _ in $(seq 50); do
	inns getent hosts $N1 >/dev/null && break
	sleep 0.1
done
[ "$(inns getent hosts $N1 | awk '{print $1}')" = $ADDR ] ||
    die "nsd did not start: $(cat "$DIR/nsd.log")"

# --- helpers --------------------------------------------------------------
URL() { echo "https://$1/.well-known/mta-sts.txt"; }
# fetch NAME OUT: the policy over HTTPS, trusting only Pebble's root.
fetch() {
	inns curl -sS --max-time 5 --cacert "$DIR/pebble-root.pem" \
	    --resolve "$1:443:$ADDR" -o "$2" "$(URL "$1")"
}
# served NAME: "serial=...|issuer=..." of the leaf the daemon sends for NAME.
served() {
	inns openssl s_client -connect $ADDR:443 -servername "$1" \
	    </dev/null 2>/dev/null |
	    openssl x509 -noout -serial -issuer -nameopt RFC2253 2>/dev/null |
	    tr '\n' '|'
}
serial_of() { sed -n 's/^\(serial=[^|]*\)|.*/\1/p' <<< "$1"; }
issuer_of() { sed -n 's/.*|issuer=\([^|]*\)|.*/\1/p' <<< "$1"; }
elapsed() { echo $(( $(date +%s) - T0 )); }

# one_run CHALLENGE: a fresh data dir, a daemon, every assertion above.
one_run() {
	local ch=$1 D="$DIR/data-$1" log="$DIR/serve-$1.log" n s st
	local -A first
	local pl0 T0

	"$STSGUARD" --data-dir "$D" domain add customer1.test --mode enforce \
	    --mx mx1.customer1.test --max-age 86400 > /dev/null &&
	"$STSGUARD" --data-dir "$D" domain add customer2.test --mode testing \
	    --mx mx.customer2.test --max-age 604800 > /dev/null &&
	"$STSGUARD" --data-dir "$D" domain add customer3.test --mode testing \
	    --mx mx.customer3.test --max-age 604800 > /dev/null &&
	"$STSGUARD" --data-dir "$D" domain add customer4.test --mode testing \
	    --mx mx.customer4.test --max-age 604800 > /dev/null ||
	    die "$ch: domain add failed"
	printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.customer1.test\r\nmax_age: 86400\r\n' \
	    > "$DIR/want-$N1"
	printf 'version: STSv1\r\nmode: testing\r\nmx: mx.customer2.test\r\nmax_age: 604800\r\n' \
	    > "$DIR/want-$N2"

	pl0=$(wc -l < "$DIR/pebble.log")
	T0=$(date +%s)
	ip netns exec "$NS" "$STSGUARD" --data-dir "$D" serve \
	    --https-listen $ADDR:443 --http-listen $ADDR:80 \
	    --service-host $SH --workers 2 --certificates acme \
	    --acme-directory "$DIR_URL" --acme-ca-bundle "$DIR/test-ca.pem" \
	    --acme-email admin@stshost.test --acme-challenge "$ch" \
	    --metrics-listen $ADDR:9464 2> "$log" &
	PID=$!

	# 1. Obtained and served: each name fetched over a Pebble certificate.
	# Waits until it is served, its order failed (the daemon logs it), or
	# the daemon died; the time is printed, not checked (the 120 s bound
	# is a hang guard).
	for n in $N1 $N2 $SH; do
		st=
		for _ in $(seq 1200); do
			kill -0 "$PID" 2>/dev/null || break
			if [ -f "$D/certs/$n.pem" ] &&
			    fetch "$n" "$DIR/body" 2>/dev/null; then
				st=1
				break
			fi
			grep -q "event=acme_failed name=\"$n\"" "$log" && break
			sleep 0.1
		done
		kill -0 "$PID" 2>/dev/null || {
			bad "$ch: serve died: $(tail -5 "$log")"
			PID=
			return
		}
		if [ -z "$st" ]; then
			bad "$ch: $n not served with a Pebble certificate after $(elapsed)s: $(grep "event=acme_failed name=\"$n\"" "$log" | tail -1) $(fetch "$n" /dev/null 2>&1)"
			continue
		fi
		ok "$ch: $n obtained and served over a Pebble certificate ($(elapsed)s)"
		if [ $n != $SH ]; then
			cmp -s "$DIR/want-$n" "$DIR/body" &&
			    ok "$ch: $n policy bytes" ||
			    bad "$ch: $n body: $(od -c "$DIR/body" | head -3)"
		fi
		s=$(served "$n")
		first[$n]=$(serial_of "$s")
		[ "$(issuer_of "$s")" = "$INT_SUBJECT" ] &&
		    ok "$ch: $n issuer is Pebble's intermediate" ||
		    bad "$ch: $n issuer [$(issuer_of "$s")], want [$INT_SUBJECT]"
		[ "$(stat -c %a "$D/certs/$n.key")" = 600 ] ||
		    bad "$ch: $n.key mode $(stat -c %a "$D/certs/$n.key")"
	done

	# 2. The configured challenge was the one answered.
	if [ $ch = tls-alpn-01 ]; then
		grep -q 'event=acme_tls_alpn01' "$log" &&
		    ok "$ch: daemon answered TLS-ALPN-01 handshakes" ||
		    bad "$ch: no acme_tls_alpn01 in the daemon log"
		grep -q 'event=acme_http01' "$log" &&
		    bad "$ch: HTTP-01 requests seen"
	else
		grep -q 'event=acme_http01.*200' "$log" &&
		    ok "$ch: daemon answered HTTP-01 requests" ||
		    bad "$ch: no answered acme_http01 in the daemon log"
		grep -q 'event=acme_tls_alpn01' "$log" &&
		    bad "$ch: TLS-ALPN-01 handshakes seen"
	fi
	# Pebble logs its HTTP-01 fetches ("validate w/ HTTP"), not TLS-ALPN-01.
	n=$(tail -n +"$((pl0 + 1))" "$DIR/pebble.log" | grep -c 'validate w/ HTTP')
	if [ $ch = http-01 ]; then
		[ "$n" -gt 0 ] && ok "$ch: Pebble validated over HTTP ($n fetches)" ||
		    bad "$ch: Pebble made no HTTP-01 fetch"
	else
		[ "$n" = 0 ] && ok "$ch: Pebble made no HTTP-01 fetch" ||
		    bad "$ch: Pebble made $n HTTP-01 fetches"
	fi

	# 3. The CA failure for customer3: logged with the CA's reason, backed
	# off, no files; customer4 never ordered (DNS pre-check).
	for _ in $(seq 50); do
		grep -q "event=acme_failed.*$N3" "$log" && break
		sleep 0.1
	done
	if grep "event=acme_failed" "$log" | grep "$N3" |
	    grep -q 'urn:ietf:params:acme:error'; then
		ok "$ch: $N3 failed with the CA's reason"
	else
		bad "$ch: no acme_failed for $N3 with the CA's reason: $(grep "$N3" "$log" | tail -3)"
	fi
	# The failure blocked nobody: the names before it are still served and
	# the service host (ordered after it) was issued.
	for n in $N1 $N2 $SH; do
		fetch "$n" /dev/null || bad "$ch: $n not served after the failure"
	done
	grep -q "event=acme_issued name=\"$SH\"" "$log" &&
	    [ "$(grep -n -m1 "event=acme_failed.*$N3" "$log" | cut -d: -f1)" -lt \
	      "$(grep -n -m1 "event=acme_issued name=\"$SH\"" "$log" | cut -d: -f1)" ] &&
	    ok "$ch: $SH issued after $N3 failed; $N1, $N2 still served" ||
	    bad "$ch: $SH not issued after the failure"
	grep "event=acme_failed" "$log" | grep -q -e "$N1" -e "$N2" -e "name=\"$SH" &&
	    bad "$ch: a good name failed: $(grep event=acme_failed "$log" | head -3)"
	grep -q "event=acme_dns_not_ready.*$N4" "$log" &&
	    ok "$ch: $N4 (no DNS) skipped by the pre-check" ||
	    bad "$ch: no acme_dns_not_ready for $N4"
	grep -q -i "customer4" "$DIR/pebble.log" &&
	    bad "$ch: $N4 reached the CA"
	# No certificate or key for a failed name: only the note of its last
	# failure (NAME.failed, the dashboard's reason), with the CA's words.
	compgen -G "$D/certs/*customer[34]*.pem" > /dev/null &&
	    bad "$ch: a certificate for a failed name: $(ls "$D/certs")"
	compgen -G "$D/certs/*customer[34]*.key" > /dev/null &&
	    bad "$ch: a key for a failed name: $(ls "$D/certs")"
	grep -q 'urn:ietf:params:acme:error' "$D/certs/$N3.failed" 2>/dev/null &&
	    ok "$ch: $N3.failed keeps the CA's reason for the dashboard" ||
	    bad "$ch: no $N3.failed with the CA's reason"
	[ -e "$D/certs/$N4.failed" ] &&
	    bad "$ch: $N4 never ordered, yet a failure note"

	# 4. Renewal without restart: a new serial served, still verifying.
	# Renewal is due at 2/3 of the VALIDITY s lifetime; the wait (VALIDITY
	# + 5 s of polls) is a hang guard derived from that lifetime.
	for n in $N1 $N2 $SH; do
		[ -n "${first[$n]:-}" ] || continue
		st=
		for _ in $(seq $((VALIDITY * 10 + 50))); do
			s=$(served "$n")
			if [ -n "$(serial_of "$s")" ] &&
			    [ "$(serial_of "$s")" != "${first[$n]}" ]; then
				st=1
				break
			fi
			sleep 0.1
		done
		if [ -z "$st" ]; then
			bad "$ch: $n not renewed (still ${first[$n]}) after $(elapsed)s"
			continue
		fi
		kill -0 "$PID" 2>/dev/null || { bad "$ch: serve died"; break; }
		if fetch "$n" "$DIR/body" &&
		    [ "$(issuer_of "$s")" = "$INT_SUBJECT" ]; then
			ok "$ch: $n renewed and served by the same process ($(elapsed)s)"
		else
			bad "$ch: $n renewed certificate does not verify"
		fi
	done
	grep -q "event=acme_issued.*$N1" "$log" ||
	    bad "$ch: no acme_issued log line"
	# customer3 is still backing off (60 s): one attempt only.
	[ "$(grep "event=acme_failed" "$log" | grep -c "$N3")" = 1 ] &&
	    ok "$ch: $N3 backs off (one attempt)" ||
	    bad "$ch: $N3 attempts: $(grep "event=acme_failed" "$log" | grep -c "$N3")"

	# 5. The metrics say the same (t_metrics.sh has the rest): orders =
	# the 3 first issues + renewals + failures (+ 1 in flight at most),
	# customer3's one failure, the soonest expiry one of a certificate
	# of this run.
	m="$DIR/metrics-$ch"
	inns curl -sS --max-time 10 -o "$m" "http://$ADDR:9464/metrics" ||
	    bad "$ch: no metrics"
	if command -v promtool > /dev/null; then
		promtool check metrics < "$m" > "$m.lint" 2>&1 &&
		    ok "$ch: metrics pass promtool" ||
		    bad "$ch: promtool: $(head -3 "$m.lint")"
	fi
	metric() { awk -v k="$1" '$1 == k { print $2 }' "$m"; }
	o=$(metric stsguard_acme_orders_total) r=$(metric stsguard_acme_renewals_total)
	f=$(metric stsguard_acme_failures_total)
	e=$(metric stsguard_certificate_expiry_soonest_timestamp_seconds)
	check "$ch: metrics: one ACME failure" 1 "$f"
	if [ -n "$o" ] && [ -n "$r" ] && [ "$r" -ge 3 ] &&
	    [ $((o - 3 - r - f)) -ge 0 ] && [ $((o - 3 - r - f)) -le 1 ]; then
		ok "$ch: metrics: $o ACME orders, $r renewals, $f failure"
	else
		bad "$ch: metrics: orders [$o] renewals [$r] failures [$f]"
	fi
	e=${e%%.*}
	if [ -n "$e" ] && [ "$e" -gt "$T0" ] &&
	    [ "$e" -le $(( $(date +%s) + VALIDITY + 60 )) ]; then
		ok "$ch: metrics: soonest expiry in $(( e - $(date +%s) )) s"
	else
		bad "$ch: metrics: soonest expiry [$e] (start $T0)"
	fi

	kill -TERM "$PID"
	if wait "$PID"; then ok "$ch: SIGTERM -> clean exit"; else
		bad "$ch: serve exit status $?: $(tail -3 "$log")"; fi
	PID=
	grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" &&
	    bad "$ch: sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$log")"
	if [ -n "${VERBOSE:-}" ]; then cat "$log"; fi
	return 0
}

one_run tls-alpn-01
one_run http-01

if [ $fails -ne 0 ]; then
	echo "--- pebble log (tail)"; tail -20 "$DIR/pebble.log"
	for f in "$DIR"/serve-*.log; do
		echo "--- $f (tail)"; tail -20 "$f"
	done
fi
finish
