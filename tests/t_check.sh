#!/bin/bash
# t_check.sh - `stsguard check` (issue 14) against real peers, in a
# network namespace of the test's own so that the standard ports a
# sender uses (53, 443, 25) are free on its loopback:
#
#   nsd                 127.0.0.1:53    the `test.` zone below
#   stsguard serve      127.0.0.10:443  policy host of the hosted domains
#                       127.0.0.10:25   stands in as the MX: its SMTP
#                                       listener offers STARTTLS with the
#                                       service certificate, and the MX of
#                                       the domains is the service host
#                                       (stshost.test) itself, so the
#                                       certificate is valid for the MX
#                                       name (no SMTP server with STARTTLS
#                                       is otherwise installed here:
#                                       python3-aiosmtpd is not a
#                                       dependency)
#   python3 (ssl)       127.0.0.11:443  an HTTPS server answering 301
#
# Cases: good.test (hosted, records as `stsguard dns` prints them)
# passes; two.test (two v=STSv1 records) fails; badmx.test (an MX whose
# certificate names another host, an MX without STARTTLS: a python
# sink on 127.0.0.23:25) fails; uncov.test (enforce, an
# MX that no pattern covers) fails naming it; waf.test (a web firewall's
# browser challenge instead of the policy) fails naming it; redir.test (a redirect on
# the policy fetch) fails; good.test without --allow-private is refused
# (every address is loopback); a hosted domain whose TXT id lags the
# served one fails with "id out of date"; --json and --file with
# several domains at once.
# Onboarding (issue 14): `domain add --mx auto` on auto.test (an MX of
# Microsoft 365 and one of its own: the built-in template and the name
# itself), on tpl.test with a templates file of the test's own
# (mx_templates), --dry-run saves nothing, no terminal and no --yes
# saves nothing either; a hosted domain whose policy lists
# mail.protection.outlook.com (no "*.") for a Microsoft 365 MX is
# flagged (stray.test). The checker's other common mistakes: v6.test's
# policy host has an AAAA (::1) where nothing listens (reachable over
# IPv4 only); lame.test is delegated to four servers: nsd
# (authoritative), a python server answering without authority (lame),
# one answering after 1.2 s (slow), an address where nothing listens;
# dead.test only to the last two kinds (none answers: a failure).
#
# Needs root (network namespace); the trap stops every daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
for t in nsd dig openssl ip nsenter; do
	command -v $t > /dev/null || { echo "$t missing (scripts/deps.sh)"; exit 1; }
done

netns_new "sgck$$" || exit 1
NX=("${NETNS_EXEC[@]}")

# --- hosted domains and the zone ----------------------------------------
mkdir -p "$DIR/data"
printf 'service_host = stshost.test\n' > "$DIR/data/stsguard.conf"
for d in good.test uncov.test lag.test; do
	sg domain add $d --mode enforce --mx stshost.test --max-age 1209600 \
	    > /dev/null || { echo "domain add $d failed"; exit 1; }
done
sg domain add v6.test --mode testing --mx stshost.test > /dev/null ||
	{ echo "domain add v6.test failed"; exit 1; }
sg domain add stray.test --mode testing --mx mail.protection.outlook.com \
    > /dev/null || { echo "domain add stray.test failed"; exit 1; }
GOOD_STS=$(dns_txt good.test _mta-sts)
GOOD_RPT=$(dns_txt good.test _smtp._tls)
echo "good.test: $GOOD_STS / $GOOD_RPT"
{
	zone_head
	cat <<EOZ
stshost            A     127.0.0.10
; good.test: what stsguard dns prints, MX the service host
mta-sts.good       CNAME stshost.test.
_mta-sts.good      TXT   "$GOOD_STS"
good               MX    10 stshost.test.
_smtp._tls.good    TXT   "$GOOD_RPT"
; two.test: two v=STSv1 records
mta-sts.two        CNAME stshost.test.
_mta-sts.two       TXT   "v=STSv1; id=first1;"
_mta-sts.two       TXT   "v=STSv1; id=second2;"
two                MX    10 stshost.test.
; uncov.test: enforce, and an MX no pattern covers
mta-sts.uncov      CNAME stshost.test.
_mta-sts.uncov     TXT   "$(dns_txt uncov.test _mta-sts)"
uncov              MX    10 stshost.test.
uncov              MX    20 mx2.uncov.test.
mx2.uncov          A     127.0.0.22
_smtp._tls.uncov   TXT   "$(dns_txt uncov.test _smtp._tls)"
; redir.test: the policy host answers with a redirect
mta-sts.redir      A     127.0.0.11
_mta-sts.redir     TXT   "v=STSv1; id=redir1;"
redir              MX    10 stshost.test.
; waf.test: the policy host answers with a web firewall's challenge page
mta-sts.waf        A     127.0.0.11
_mta-sts.waf       TXT   "v=STSv1; id=waf1;"
waf                MX    10 stshost.test.
; badmx.test: one MX on stsguard serve under a name its certificate
; does not carry, one MX without STARTTLS (the python sink below)
badmx              MX    10 wrong.badmx.test.
badmx              MX    20 plain.badmx.test.
wrong.badmx        A     127.0.0.10
plain.badmx        A     127.0.0.23
; lag.test: hosted, the TXT id an old one
mta-sts.lag        CNAME stshost.test.
_mta-sts.lag       TXT   "v=STSv1; id=20200101000000r1;"
lag                MX    10 stshost.test.
_smtp._tls.lag     TXT   "$(dns_txt lag.test _smtp._tls)"
; auto.test: for domain add --mx auto (MX names need no address)
auto               MX    10 auto-test.mail.protection.outlook.com.
auto               MX    20 backup.auto.test.
tpl                MX    10 in1.mx.prov.test.
tpl                MX    20 in2.mx.prov.test.
; stray.test: hosted, mx mail.protection.outlook.com, a Microsoft 365 MX
mta-sts.stray      CNAME stshost.test.
_mta-sts.stray     TXT   "$(dns_txt stray.test _mta-sts)"
stray              MX    10 stray-test.mail.protection.outlook.com.
; v6.test: the policy host has an IPv6 address where nothing listens
mta-sts.v6         A     127.0.0.10
mta-sts.v6         AAAA  ::1
_mta-sts.v6        TXT   "$(dns_txt v6.test _mta-sts)"
v6                 MX    10 stshost.test.
; lame.test and dead.test: delegated (child zones below)
lame               NS    ns1.lame.test.
lame               NS    ns2.lame.test.
lame               NS    ns3.lame.test.
lame               NS    ns4.lame.test.
ns1.lame           A     127.0.0.1
ns2.lame           A     127.0.0.54
ns3.lame           A     127.0.0.55
ns4.lame           A     127.0.0.56
dead               NS    ns1.dead.test.
dead               NS    ns2.dead.test.
ns1.dead           A     127.0.0.54
ns2.dead           A     127.0.0.56
EOZ
} > "$DIR/test.zone"
NSD_EXTRA_ZONES=
for z in lame dead; do
	{
		printf '$ORIGIN %s.test.\n$TTL 60\n' $z
		printf '@ SOA ns1.%s.test. admin.test. 1 3600 600 86400 60\n' $z
		sed -n "s/^$z  *NS  *\(.*\)/@ NS \1/p; s/^\(ns[0-9]\)\.$z  *A  *\(.*\)/\1 A \2/p" \
		    "$DIR/test.zone"
		printf '@ MX 10 stshost.test.\n'
	} > "$DIR/$z.zone"
	NSD_EXTRA_ZONES+="zone:
  name: $z.test
  zonefile: \"$DIR/$z.zone\"
"
done
export NSD_EXTRA_ZONES
nsd_start "$DIR/test.zone" 53 "${NX[@]}" || exit 1

# --- name servers that are lame (no authority) or slow ------------------
cat > "$DIR/ns.py" <<'EOPY'
import socket, sys, time
addr, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    # QR, AA only when "slow", RD copied; the question echoed, no answer
    flags = 0x8000 | (0x0400 if mode == "slow" else 0) | ((q[2] & 1) << 8)
    if mode == "slow":
        time.sleep(1.2)
    s.sendto(q[:2] + flags.to_bytes(2, "big") + q[4:6] + bytes(6) + q[12:], peer)
EOPY
"${NX[@]}" $PY "$DIR/ns.py" 127.0.0.54 lame > "$DIR/ns-lame.log" 2>&1 &
"${NX[@]}" $PY "$DIR/ns.py" 127.0.0.55 slow > "$DIR/ns-slow.log" 2>&1 &

# --- the policy host and MX: stsguard serve ----------------------------
"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" serve \
    --https-listen 127.0.0.10:443 --http-listen off \
    --smtp-listen 127.0.0.10:25 --workers 1 2> "$DIR/serve.log" &
PID=$!
up() { [ -f "$DIR/data/local-ca.pem" ] && tcp_open 127.0.0.10 25 "${NX[@]}" &&
	tcp_open 127.0.0.10 443 "${NX[@]}"; }
wait_up "$DIR/serve.log" up || exit 1

# --- the redirecting HTTPS server (own test CA) ------------------------
test_ca rca redirect-test-ca &&
    test_cert rca redir mta-sts.redir.test mta-sts.waf.test || exit 1
cat "$DIR/data/local-ca.pem" "$DIR/rca.pem" > "$DIR/bundle.pem"
cat > "$DIR/redir.py" <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Host", "").startswith("mta-sts.waf.test"):
            # What a web firewall's JavaScript challenge looks like.
            b = (b'<!DOCTYPE html><html><head><title>Just a moment...</title>'
                 b'</head><body><script src="/cdn-cgi/challenge-platform/h/b/'
                 b'orchestrate/chl_page/v1"></script></body></html>')
            self.send_response(403)
            self.send_header("Content-Type", "text/html; charset=UTF-8")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
            return
        self.send_response(301)
        self.send_header("Location", "https://stshost.test/.well-known/mta-sts.txt")
        self.send_header("Content-Length", "0")
        self.end_headers()
s = http.server.HTTPServer(("127.0.0.11", 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
EOF
"${NX[@]}" $PY "$DIR/redir.py" "$DIR/redir.pem" "$DIR/redir.key" \
    > "$DIR/redir.log" 2>&1 &
for _ in $(seq 50); do tcp_open 127.0.0.11 443 "${NX[@]}" && break; sleep 0.1; done

# --- an SMTP server that offers no STARTTLS -----------------------------
cat > "$DIR/plain.py" <<'EOPY'
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 plain.badmx.test ESMTP\r\n")
        for line in self.rfile:
            if line[:4].upper() == b"EHLO":
                self.wfile.write(b"250-plain.badmx.test\r\n250 8BITMIME\r\n")
            else:
                self.wfile.write(b"221 bye\r\n")
                return
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.23", 25), H).serve_forever()
EOPY
"${NX[@]}" $PY "$DIR/plain.py" > "$DIR/plain.log" 2>&1 &
for _ in $(seq 50); do tcp_open 127.0.0.23 25 "${NX[@]}" && break; sleep 0.1; done

# --- the checks ----------------------------------------------------------
ck() { # ck NAME ARGS...: stsguard check in the namespace; $DIR/NAME.out, rc
	"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" check \
	    --nameserver 127.0.0.1:53 --ca-file "$DIR/bundle.pem" "${@:2}" \
	    > "$DIR/$1.out" 2> "$DIR/$1.err"
	echo $? > "$DIR/$1.rc"
	sed "s/^/    $1| /" "$DIR/$1.out" "$DIR/$1.err"
}
rc() { cat "$DIR/$1.rc"; }

ck good good.test --allow-private
check "a correct domain passes (exit 0)" 0 "$(rc good)"
grepf "good: verdict PASS" "$DIR/good.out" '^good\.test: PASS'
grepf "good: one STSv1 record" "$DIR/good.out" 'pass +sts-txt +_mta-sts\.good\.test: one v=STSv1 record'
grepf "good: policy fetched" "$DIR/good.out" 'pass +policy +https://mta-sts\.good\.test/\.well-known/mta-sts\.txt: fetched: status 200'
grepf "good: MX covered" "$DIR/good.out" 'pass +mx +stshost\.test: MX 10 stshost\.test is covered'
grepf "good: STARTTLS and certificate" "$DIR/good.out" 'pass +smtp +stshost\.test:25: 127\.0\.0\.10: STARTTLS, TLSv1\.[23], certificate valid for stshost\.test'
grepf "good: no TLSA reported" "$DIR/good.out" 'info +smtp +_25\._tcp\.stshost\.test: no TLSA'
grepf "good: TLS-RPT with the service's address first" "$DIR/good.out" "pass +tlsrpt .*the service's own address comes first"
grepf "good: id as served" "$DIR/good.out" 'pass +hosted +_mta-sts\.good\.test: the published id is the one stsguard serves'
grepf "good: CNAME to the service" "$DIR/good.out" 'pass +hosted +mta-sts\.good\.test: a CNAME to the service'

ck two two.test --allow-private
check "two STSv1 records: exit 1" 1 "$(rc two)"
grepf "two: named" "$DIR/two.out" 'FAIL +sts-txt +_mta-sts\.two\.test: 2 v=STSv1 records'
grepf "two: fix given" "$DIR/two.out" 'fix: keep exactly one v=STSv1'

ck uncov uncov.test --allow-private
check "uncovered MX in enforce: exit 1" 1 "$(rc uncov)"
grepf "uncov: the MX named" "$DIR/uncov.out" 'FAIL +mx +mx2\.uncov\.test: MX 20 mx2\.uncov\.test: no mx pattern of the policy covers it; in enforce mode'
grepf "uncov: the fix" "$DIR/uncov.out" 'fix: add "mx: mx2\.uncov\.test"'
grepf "uncov: the covered MX passes" "$DIR/uncov.out" 'pass +mx +stshost\.test: MX 10'

ck redir redir.test --allow-private
check "redirect on the policy fetch: exit 1" 1 "$(rc redir)"
grepf "redir: the redirect named, not followed" "$DIR/redir.out" 'FAIL +policy +https://mta-sts\.redir\.test/\.well-known/mta-sts\.txt: status 301, a redirect to https://stshost\.test/.*senders do not follow redirects'
check "redir: the target was not fetched (no policy parsed)" 0 \
    "$(grep -c 'policy valid' "$DIR/redir.out")"

ck waf waf.test --allow-private
check "a web firewall's browser challenge: exit 1" 1 "$(rc waf)"
grepf "waf: the challenge named" "$DIR/waf.out" "FAIL +policy +https://mta-sts\.waf\.test/\.well-known/mta-sts\.txt: status 403, a web firewall's browser challenge \(HTML\): sending MTAs are programs"
grepf "waf: what to do" "$DIR/waf.out" 'fix: exempt mta-sts.<domain>/.well-known/mta-sts.txt from the web firewall'

ck private good.test
check "loopback addresses without --allow-private: exit 1" 1 "$(rc private)"
grepf "private: the policy host refused" "$DIR/private.out" 'FAIL +policy +mta-sts\.good\.test: resolves only to private or loopback addresses \(127\.0\.0\.10\): not fetched'
grepf "private: the MX not probed" "$DIR/private.out" 'FAIL +smtp +stshost\.test:25: resolves only to private or loopback addresses: not probed'
check "private: no policy fetch, no probe" 0 \
    "$(grep -cE 'fetched: status|STARTTLS, TLS' "$DIR/private.out")"

ck badmx badmx.test --allow-private
check "bad MX hosts: exit 1" 1 "$(rc badmx)"
grepf "badmx: a certificate for another name fails" "$DIR/badmx.out" 'FAIL +smtp +wrong\.badmx\.test:25: 127\.0\.0\.10: (certificate not valid for wrong\.badmx\.test|STARTTLS failed)'
grepf "badmx: no STARTTLS fails" "$DIR/badmx.out" 'FAIL +smtp +plain\.badmx\.test:25: 127\.0\.0\.23: STARTTLS not offered'

ck lag lag.test --allow-private
check "a hosted domain with an old id: exit 1" 1 "$(rc lag)"
grepf "lag: id out of date" "$DIR/lag.out" 'FAIL +hosted +_mta-sts\.lag\.test: id out of date: DNS says 20200101000000r1, stsguard serves the policy with id'
grepf "lag: the record to publish" "$DIR/lag.out" 'fix: publish _mta-sts\.lag\.test TXT "v=STSv1; id=[0-9]+r[0-9]+;"'

printf '# domains\ngood.test\n\nuncov.test\nnope.test\n' > "$DIR/list"
ck many two.test --file "$DIR/list" --allow-private --json
check "--file and arguments, --json: exit 1 (some fail)" 1 "$(rc many)"
check "--json: verdicts in input order" \
    "two.test fail good.test pass uncov.test fail nope.test fail" \
    "$($PY -c 'import json, sys
print(" ".join("%s %s" % (d["domain"], d["verdict"]) for d in json.load(open(sys.argv[1]))))' "$DIR/many.out")"
check "--json: every failure has a fix" "" "$($PY -c 'import json, sys
for d in json.load(open(sys.argv[1])):
    for f in d["findings"]:
        if f["level"] == "fail" and not f["fix"]: print(d["domain"], f["text"])' "$DIR/many.out")"

ck v6 v6.test --allow-private
grepf "v6: IPv4 only reachable" "$DIR/v6.out" 'warn +policy +mta-sts\.v6\.test: reachable over IPv4 but not over IPv6'
grepf "v6: the fix" "$DIR/v6.out" 'fix: make the policy host answer on its IPv6 addresses'
grepf "v6: the policy still fetched (over IPv4)" "$DIR/v6.out" 'pass +policy +https://mta-sts\.v6\.test/.*fetched: status 200'
check "good: one family only is no warning" 0 \
    "$(grep -c 'reachable over' "$DIR/good.out")"
grepf "good: IPv4 only said" "$DIR/good.out" 'info +policy +mta-sts\.good\.test: IPv4 only'

ck lame lame.test --allow-private
grepf "lame: the authoritative server passes" "$DIR/lame.out" 'pass +ns +ns1\.lame\.test \(127\.0\.0\.1\): answers for lame\.test with authority'
grepf "lame: the server without authority" "$DIR/lame.out" 'warn +ns +ns2\.lame\.test \(127\.0\.0\.54\): lame: asked for the SOA of lame\.test it answers NOERROR'
grepf "lame: the slow server" "$DIR/lame.out" 'warn +ns +ns3\.lame\.test \(127\.0\.0\.55\): slow: answered for lame\.test after 1[0-9]{3} ms'
grepf "lame: the silent address" "$DIR/lame.out" 'warn +ns +ns4\.lame\.test \(127\.0\.0\.56\): does not answer for lame\.test'
check "lame: one good server is no failure of the delegation" 0 \
    "$(grep -c 'FAIL +ns' "$DIR/lame.out")"
ck dead dead.test --allow-private
check "dead: exit 1" 1 "$(rc dead)"
grepf "dead: no server answers with authority" "$DIR/dead.out" 'FAIL +ns +dead\.test: none of the 2 name servers answers for dead\.test with authority'
grepf "good: no NS below the TLD said" "$DIR/good.out" 'info +ns +good\.test: no NS records found below the top-level domain'

ck stray stray.test --allow-private
grepf "stray: the pattern that misses Microsoft's names" "$DIR/stray.out" 'warn +mx +mail\.protection\.outlook\.com: mx pattern mail\.protection\.outlook\.com lies in the namespace of microsoft-365'
grepf "stray: the documented pattern in the fix" "$DIR/stray.out" 'fix: list "mx: \*\.mail\.protection\.outlook\.com" as microsoft-365 documents \(https://learn\.microsoft\.com/'
grepf "stray: the MX named as Microsoft's" "$DIR/stray.out" 'info +mx +stray-test\.mail\.protection\.outlook\.com: an MX of microsoft-365'
check "good: no stray pattern" 0 "$(grep -c 'lies in the namespace' "$DIR/good.out")"

ck usage --ca-file /nonexistent good.test
check "an unreadable --ca-file is a usage error" 2 "$(rc usage)"

# --- domain add --mx auto ------------------------------------------------
auto() { # auto NAME ARGS...: domain add in the namespace; $DIR/NAME.out, rc
	"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" domain add \
	    --nameserver 127.0.0.1:53 "${@:2}" > "$DIR/$1.out" \
	    2> "$DIR/$1.err" < /dev/null
	echo $? > "$DIR/$1.rc"
	sed "s/^/    $1| /" "$DIR/$1.out" "$DIR/$1.err"
}
auto dry auto.test --mx auto --dry-run
check "--mx auto --dry-run: exit 0" 0 "$(rc dry)"
grepf "dry: the Microsoft 365 MX and its template" "$DIR/dry.out" \
    '10 +auto-test\.mail\.protection\.outlook\.com +microsoft-365: \*\.mail\.protection\.outlook\.com \(https://learn\.microsoft\.com/'
grepf "dry: the other MX as it is" "$DIR/dry.out" '20 +backup\.auto\.test +no provider template'
grepf "dry: the policy shown" "$DIR/dry.out" '^  mx: \*\.mail\.protection\.outlook\.com$'
grepf "dry: the policy shown (2)" "$DIR/dry.out" '^  mx: backup\.auto\.test$'
grepf "dry: nothing saved, said" "$DIR/dry.out" 'Dry run: nothing saved'
check "dry: not hosted" 1 "$(sg domain show auto.test > /dev/null 2>&1; echo $?)"
auto noyes auto.test --mx auto
check "--mx auto without a terminal nor --yes: exit 2" 2 "$(rc noyes)"
grepf "noyes: says --yes" "$DIR/noyes.err" 'not saved; add --yes'
check "noyes: not hosted" 1 "$(sg domain show auto.test > /dev/null 2>&1; echo $?)"
auto yes auto.test --mx auto --yes --mode enforce --json
check "--mx auto --yes: exit 0" 0 "$(rc yes)"
check "yes: the patterns saved" '*.mail.protection.outlook.com backup.auto.test enforce' \
    "$(sg domain show auto.test --json | $PY -c 'import json, sys
d = json.load(sys.stdin); print(" ".join(d["mx"]), d["mode"])')"
grepf "yes: the preview on stderr with --json" "$DIR/yes.err" 'Policy for https://mta-sts\.auto\.test/'
printf '# the test own provider\nprov-test *.mx.prov.test *.mx.prov.test https://prov.test/mta-sts\n' \
    > "$DIR/tpl.txt"
auto tpl tpl.test --mx auto --yes --mx-templates "$DIR/tpl.txt"
check "mx_templates FILE: exit 0" 0 "$(rc tpl)"
check "tpl: one pattern for both MX" '*.mx.prov.test' \
    "$(sg domain show tpl.test --json | $PY -c 'import json, sys
print(" ".join(json.load(sys.stdin)["mx"]))')"
printf 'bad line\n' > "$DIR/badtpl.txt"
auto badtpl tpl2.test --mx auto --yes --mx-templates "$DIR/badtpl.txt"
check "a broken templates file: exit 2" 2 "$(rc badtpl)"
grepf "badtpl: the line named" "$DIR/badtpl.err" 'mx_templates .*badtpl\.txt: line 1: too few fields'
auto nomx nope.test --mx auto --yes
check "--mx auto without MX records: exit 1" 1 "$(rc nomx)"
grepf "nomx: says so" "$DIR/nomx.err" 'nope\.test has no MX record'

serve_stop
log_clean "$DIR/serve.log"
finish
