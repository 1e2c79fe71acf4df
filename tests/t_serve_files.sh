#!/bin/bash
# t_serve_files.sh - `stsguard serve --certificates files`: an operator's
# own PKI. Certificates made here with openssl (a root, an intermediate,
# leaves with ECDSA and RSA keys) are put under <data_dir>/certs/ as
# NAME.pem (leaf, then chain) and NAME.key; curl trusts only the root.
# Checks: the chain is sent and verifies; a hosted name without files
# fails its handshake and, over many handshakes, is logged once (the
# failure is remembered for LIMIT_TLS_RETRY_SECONDS); its files dropped
# in later are served without restart; a key that does not match its
# certificate is refused with that reason; a replaced file is served
# after SIGHUP.
set -u
. "$(dirname "$0")/lib.sh"
SH=sts.example.net

c() { # c HOST [curl args]: GET the policy of HOST, trusting our root only
	local h=$1; shift
	curl -sS --max-time 5 --cacert "$DIR/pki/root.pem" \
	    --resolve "$h:$PORT:$IP" "$@" "https://$h:$PORT/.well-known/mta-sts.txt"
}

# --- the operator's PKI ------------------------------------------------------
P=$DIR/pki
mkdir -p "$P" "$DIR/data/certs"
o() { openssl "$@" 2>> "$P/openssl.log" || { echo "openssl $1 failed"; cat "$P/openssl.log"; exit 1; }; }
o ecparam -name prime256v1 -genkey -noout -out "$P/root.key"
o req -x509 -new -key "$P/root.key" -subj "/CN=t_serve_files root" -days 2 \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign \
    -out "$P/root.pem"
o ecparam -name prime256v1 -genkey -noout -out "$P/int.key"
o req -new -key "$P/int.key" -subj "/CN=t_serve_files intermediate" -out "$P/int.csr"
printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign\n' > "$P/int.ext"
o x509 -req -in "$P/int.csr" -CA "$P/root.pem" -CAkey "$P/root.key" \
    -CAcreateserial -days 2 -extfile "$P/int.ext" -out "$P/int.pem"
leaf() { # leaf NAME ec|rsa: NAME.pem (leaf + intermediate) and NAME.key in $P
	if [ "$2" = rsa ]; then
		o genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/$1.key"
	else
		o ecparam -name prime256v1 -genkey -noout -out "$P/$1.key"
	fi
	o req -new -key "$P/$1.key" -subj "/CN=$1" -out "$P/$1.csr"
	printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$1" > "$P/$1.ext"
	o x509 -req -in "$P/$1.csr" -CA "$P/int.pem" -CAkey "$P/int.key" \
	    -CAcreateserial -days 1 -extfile "$P/$1.ext" -out "$P/$1.leaf"
	cat "$P/$1.leaf" "$P/int.pem" > "$P/$1.pem"
}
A=mta-sts.a.example
B=mta-sts.b.example
C=mta-sts.c.example
leaf $SH ec
leaf $A ec
leaf $B rsa
leaf $C ec
install() { cp "$P/$1.pem" "$P/$1.key" "$DIR/data/certs/"; chmod 600 "$DIR/data/certs/$1.key"; }
install $SH
install $A
cp "$P/$C.pem" "$DIR/data/certs/$C.pem"
cp "$P/$A.key" "$DIR/data/certs/$C.key"		# not C's key

for d in a.example b.example c.example; do
	sg domain add $d --mode enforce --mx mx.$d --max-age 86400 > /dev/null ||
	    { echo "domain add $d failed"; exit 1; }
done

"$STSGUARD" --data-dir "$DIR/data" serve --certificates files \
    --https-listen "$IP:$PORT" --http-listen off --service-host $SH \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c $A -o /dev/null || exit 1

# --- a name with its files: chain sent, verified against the root only ----
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx.a.example\r\nmax_age: 86400\r\n' > "$DIR/want_a"
c $A -o "$DIR/body_a" -w '%{http_code} %{ssl_verify_result}' > "$DIR/code_a"
check "files: $A served, verified through the intermediate" "200 0" "$(cat "$DIR/code_a")"
if cmp -s "$DIR/want_a" "$DIR/body_a"; then ok "files: $A body bytes"; else
	bad "files: $A body: $(cat "$DIR/body_a")"; fi
depth=$(openssl s_client -connect "$IP:$PORT" -servername $A -showcerts \
    < /dev/null 2> /dev/null | grep -c 'BEGIN CERTIFICATE')
check "files: leaf and intermediate sent" "2" "$depth"

# --- a hosted name without files: fails, remembered, logged once ------------
n=0
for _ in $(seq 20); do
	c $B -o /dev/null 2> /dev/null && n=$((n + 1))
done
check "files: $B without files: 20 handshakes refused" "0" "$n"
logged=$(grep -c "event=tls_cert .*name=\"$B\"" "$DIR/serve.log")
check "files: the missing file is logged once, not per handshake" "1" "$logged"
grep -q "event=tls_cert .*name=\"$B\".*no certificate" "$DIR/serve.log" &&
    ok "files: the log says why" || bad "files: log: $(grep tls_cert "$DIR/serve.log" | head -2)"

# --- its files dropped in: served without restart (RSA key, general path) ---
# The failure is remembered for LIMIT_TLS_RETRY_SECONDS (5 s); the wait,
# up to 30 s, is a hang guard: the time it took is printed, not checked.
install $B
t0=$(date +%s.%N)
got=
end=$(( $(date +%s) + 30 ))
while [ "$(date +%s)" -lt $end ]; do
	if [ "$(c $B -o /dev/null -w '%{http_code}' 2> /dev/null)" = 200 ]; then
		got=1; break; fi
	sleep 0.1
done
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ -n "$got" ]; then ok "files: $B served after its files appeared, no restart (RSA key, ${secs}s)"; else
	bad "files: $B not served 30 s after its files appeared"; fi

# --- a key that does not match its certificate ------------------------------
c $C -o /dev/null 2> /dev/null && bad "files: $C served with a foreign key" ||
    ok "files: $C with a foreign key refused"
grep -q "event=tls_cert .*name=\"$C\".*do not match" "$DIR/serve.log" &&
    ok "files: the log says the key does not match" ||
    bad "files: log for $C: $(grep "$C" "$DIR/serve.log" | head -2)"

# --- a replaced file is served after SIGHUP --------------------------------
serial() { openssl s_client -connect "$IP:$PORT" -servername "$1" < /dev/null 2> /dev/null |
    openssl x509 -noout -serial 2> /dev/null; }
old=$(serial $A)
leaf $A ec
install $A
check "files: the cached certificate is kept until told" "$old" "$(serial $A)"
kill -HUP "$PID"
want=$(openssl x509 -in "$P/$A.leaf" -noout -serial)
end=$(( $(date +%s) + 30 ))	# a hang guard: another thread takes the signal
while [ "$(date +%s)" -lt $end ]; do
	new=$(serial $A)
	[ "$new" = "$want" ] && break
	sleep 0.1
done
if [ "$new" = "$want" ] && [ "$new" != "$old" ]; then
	ok "files: SIGHUP: the replaced certificate is served ($new)"; else
	bad "files: after SIGHUP served [$new], want [$want] (old [$old])"; fi
c $A -o /dev/null 2> /dev/null && ok "files: $A still verifies after SIGHUP" ||
    bad "files: $A after SIGHUP"

kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check "SIGTERM: exit 0" "0" "$rc"
finish
