#!/bin/bash
# t_dashboard.sh - the dashboard (issue 13) of a running `stsguard serve`,
# with curl as the browser: login (the form's CSRF cookie, wrong
# passwords, throttling per account), sessions (Secure, HttpOnly,
# SameSite=Strict; logout ends them), a route matrix of every page as
# anonymous, viewer, owner, admin and a user of another tenant, forms
# without their CSRF token refused (and nothing changed), a policy change
# that narrows asking first and naming the date, a domain added from the
# overview, and a report whose every string field holds markup shown as
# text. Then headless Chromium (tests/dashboard.mjs, playwright-core on
# the system's chromium) logs in, opens the pages, checks what they show
# against the store and saves screenshots under $OUT (default
# build/dashboard-shots).
#
# Own loopback address and random port; the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.dash.test
OUT=${OUT:-$TOP/build/dashboard-shots}
NODE_DIR=$TOP/.deps/node	# scripts/deps.sh installs playwright-core there

c() { curl -sS --max-time 30 --cacert "$DIR/data/local-ca.pem" \
    --resolve "$SH:$PORT:$IP" "$@"; }
# as USER PATH [curl args]: the status; body in $DIR/body
as() {
	local u=$1 p=$2
	shift 2
	c -b "$DIR/$u.jar" -c "$DIR/$u.jar" -o "$DIR/body" -D "$DIR/head.crlf" \
	    -w '%{http_code}' "$@" "https://$SH:$PORT$p"
	tr -d '\r' < "$DIR/head.crlf" > "$DIR/head"
}
# csrf_of USER: the session's CSRF token, from the logout form
csrf_of() {
	as "$1" / > /dev/null
	sed -n 's/.*action="\/logout"><input type="hidden" name="csrf" value="\([^"]*\)".*/\1/p' "$DIR/body"
}
# login USER EMAIL PASSWORD: the status of the POST (303 when it worked)
login() {
	local csrf
	: > "$DIR/$1.jar"
	as "$1" /login > /dev/null
	csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$DIR/body" | head -1)
	as "$1" /login --data-urlencode "csrf=$csrf" \
	    --data-urlencode "email=$2" --data-urlencode "password=$3"
}

# Today's reports, so that the last 30 days show them.
TODAY=$(date -u +%Y-%m-%d)
report() {	# report ORG ID OK FAIL TYPE MX: a TLS-RPT report on stdout
	$PY - "$@" <<'PYEOF'
import json, sys, datetime
org, rid, ok, fail, typ, mx = sys.argv[1:7]
d = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
pol = {"policy": {"policy-type": "sts", "policy-string": ["version: STSv1",
       "mode: testing", "mx: mail.example.com", "max_age: 604800"],
       "policy-domain": "example.com", "mx-host": [mx]},
       "summary": {"total-successful-session-count": int(ok),
                   "total-failure-session-count": int(fail)}}
if int(fail):
    pol["failure-details"] = [{"result-type": typ, "sending-mta-ip": "192.0.2.7",
        "receiving-mx-hostname": mx, "receiving-ip": "198.51.100.9",
        "failed-session-count": int(fail), "additional-information": mx + " note"}]
print(json.dumps({"organization-name": org, "date-range": {
    "start-datetime": f"{d}T00:00:00Z", "end-datetime": f"{d}T23:59:59Z"},
    "contact-info": "tlsrpt@" + org.split()[0].lower() + ".example",
    "report-id": rid, "policies": [pol]}))
PYEOF
}

sg tenant add acme > /dev/null
sg tenant add globex > /dev/null
sg domain add example.com --tenant acme --mode testing --mx mail.example.com > /dev/null
sg domain add g1.example --tenant globex --mode enforce --mx mx.g1.example > /dev/null
printf 'correct horse battery\n' > "$DIR/pw"
sg user add owner@acme.example --tenant acme --role owner --password-file "$DIR/pw" > /dev/null
sg user add viewer@acme.example --tenant acme --role viewer --password-file "$DIR/pw" > /dev/null
sg user add boss@ops.example --role admin --password-file "$DIR/pw" > /dev/null
sg user add eve@globex.example --tenant globex --role owner --password-file "$DIR/pw" > /dev/null
report "Bigmail Inc." r-1 900 12 certificate-expired mx2.example.com > "$DIR/r1.json"
# Markup in every string field a report has.
X='<script>alert(1)</script>'
$PY - "$X" > "$DIR/xss.json" <<'PYEOF'
import json, sys, datetime
x = sys.argv[1]
d = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
print(json.dumps({"organization-name": "Evil " + x, "date-range": {
    "start-datetime": f"{d}T00:00:00Z", "end-datetime": f"{d}T23:59:59Z"},
    "contact-info": x, "report-id": "id-" + x, "policies": [{"policy": {
    "policy-type": "sts", "policy-string": [x], "policy-domain": "example.com",
    "mx-host": [x]}, "summary": {"total-successful-session-count": 1,
    "total-failure-session-count": 1}, "failure-details": [{"result-type": x,
    "sending-mta-ip": x, "receiving-mx-hostname": x, "receiving-ip": x,
    "receiving-mx-helo": x, "failed-session-count": 1,
    "additional-information": x, "failure-reason-code": x}]}]}))
PYEOF
sg report import "$DIR/r1.json" "$DIR/xss.json" > /dev/null 2>&1
RID=$(sg report list --json | $PY -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin) if r["organization-name"].startswith("Bigmail")][0])')
XID=$(sg report list --json | $PY -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin) if r["organization-name"].startswith("Evil")][0])')

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null "https://$SH:$PORT/login" || exit 1

# --- login -------------------------------------------------------------
check "anonymous overview: to the login page" 303 "$(as anon /)"
grepf "redirects to /login" "$DIR/head" '^Location: /login'
check "login page" 200 "$(as anon /login)"
grepf "login form's CSRF cookie: Secure, HttpOnly, SameSite=Strict" "$DIR/head" \
    '^Set-Cookie: sg_login=[A-Za-z0-9_-]+; Path=/login; Secure; HttpOnly; SameSite=Strict'
check "login without the form's token: 403" 403 "$(as anon /login --data 'email=owner@acme.example&password=correct+horse+battery')"
check "wrong password: 401" 401 "$(login bad owner@acme.example 'wrong horse battery')"
check "unknown account: the same 401" 401 "$(login bad nobody@acme.example 'correct horse battery')"
check "owner logs in" 303 "$(login owner owner@acme.example 'correct horse battery')"
grepf "session cookie: Secure, HttpOnly, SameSite=Strict" "$DIR/head" \
    '^Set-Cookie: sg_session=[A-Za-z0-9_-]+; Path=/; Secure; HttpOnly; SameSite=Strict'
grepf "login leads to the overview" "$DIR/head" "^Location: /$"
check "viewer logs in" 303 "$(login viewer viewer@acme.example 'correct horse battery')"
check "admin logs in" 303 "$(login admin boss@ops.example 'correct horse battery')"
check "other tenant's owner logs in" 303 "$(login other eve@globex.example 'correct horse battery')"
check "overview before the first fetch" 200 "$(as owner /)"
grepf "no certificate yet" "$DIR/body" '>example.com</a></td><td>testing</td><td>none yet</td>'
c -o /dev/null --resolve "mta-sts.example.com:$PORT:$IP" "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt"
check "overview" 200 "$(as owner /)"
grepf "the certificate issued (local CA), until when" "$DIR/body" '>example.com</a></td><td>testing</td><td>issued, until 20[0-9][0-9]-'
grepf "overview lists the tenant's domain" "$DIR/body" 'href="/domains/example.com">example.com<'
grepf "page has a CSP allowing one script by hash" "$DIR/head" \
    "^Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"
if grep -q 'g1.example' "$DIR/body"; then bad "overview shows another tenant's domain"; else ok "overview: only the tenant's domains"; fi
check "the other tenant's overview" 200 "$(as other /)"
if grep -q 'example.com<' "$DIR/body"; then bad "globex sees acme's domain"; else ok "globex sees only its own"; fi

# --- the route matrix --------------------------------------------------
OC=$(csrf_of owner); VC=$(csrf_of viewer); AC=$(csrf_of admin); EC=$(csrf_of other)
csrf_for() { case $1 in owner) echo "$OC";; viewer) echo "$VC";; admin) echo "$AC";; other) echo "$EC";; *) echo x;; esac; }
nbad=0; n=0
while read -r method path user want; do
	[ -z "$method" ] && continue
	if [ "$method" = POST ]; then
		got=$(as "$user" "$path" --data-urlencode "csrf=$(csrf_for "$user")" \
		    --data-urlencode mode=testing --data-urlencode mx=mail.example.com \
		    --data-urlencode max_age=604800)
	else
		got=$(as "$user" "$path")
	fi
	n=$((n + 1))
	[ "$got" = "$want" ] || { bad "$method $path as $user: $got, want $want"; nbad=$((nbad + 1)); }
done <<EOF
GET / anon 303
GET / viewer 200
GET / owner 200
GET / admin 200
GET / other 200
GET /domains/example.com anon 303
GET /domains/example.com viewer 200
GET /domains/example.com owner 200
GET /domains/example.com admin 200
GET /domains/example.com other 404
GET /domains/nowhere.example owner 404
GET /domains/example.com/ready anon 303
GET /domains/example.com/ready viewer 200
GET /domains/example.com/ready admin 200
GET /domains/example.com/ready other 404
GET /domains/example.com/adoption viewer 200
GET /domains/example.com/adoption other 404
GET /domains/example.com/fetches owner 200
GET /domains/example.com/fetches other 404
GET /domains/example.com/export/stats anon 303
GET /domains/example.com/export/stats viewer 200
GET /domains/example.com/export/reports admin 200
GET /domains/example.com/export/reports other 404
GET /reports/$RID anon 303
GET /reports/$RID viewer 200
GET /reports/$RID owner 200
GET /reports/$RID admin 200
GET /reports/$RID other 404
GET /reports/999999 owner 404
GET /reports/$RID/raw anon 303
GET /reports/$RID/raw viewer 200
GET /reports/$RID/raw owner 200
GET /reports/$RID/raw admin 200
GET /reports/$RID/raw other 404
POST /domains/example.com/policy anon 403
POST /domains/example.com/policy viewer 403
POST /domains/example.com/policy owner 303
POST /domains/example.com/policy admin 303
POST /domains/example.com/policy other 404
GET /domains/example.com/policy owner 405
GET /login owner 303
GET /nothing owner 404
GET /api/v1/domains owner 401
EOF
[ "$nbad" = 0 ] && ok "route matrix: $n answers as expected"

# The same 404 for another tenant's domain as for none.
as other /domains/example.com > /dev/null; cp "$DIR/body" "$DIR/a404"
as other /domains/nowhere.example > /dev/null
if cmp -s "$DIR/a404" "$DIR/body"; then ok "another tenant's domain: the same 404 as none"; else bad "404 bodies differ"; fi

# One Argon2id check at a time (LIMIT_LOGIN_CONCURRENT): eight logins at
# once on two pool threads; those that find the check busy get 503 with
# Retry-After, the others log in; nothing else.
sg user add par@acme.example --tenant acme --role viewer --password-file "$DIR/pw" > /dev/null
for i in 1 2 3 4 5 6 7 8; do
	: > "$DIR/par$i.jar"
	as "par$i" /login > /dev/null
	sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$DIR/body" | head -1 > "$DIR/par$i.csrf"
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
	c -b "$DIR/par$i.jar" -o /dev/null -w '%{http_code}\n' --data-urlencode "csrf=$(cat "$DIR/par$i.csrf")" \
	    --data-urlencode email=par@acme.example --data-urlencode 'password=correct horse battery' \
	    "https://$SH:$PORT/login" > "$DIR/par$i.st" &
	pids+=($!)
done
wait "${pids[@]}"	# not the daemon
st=$(cat "$DIR"/par?.st | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
case $st in
*503:*) ;;
*) bad "eight logins at once: none found the check busy ($st)" ;;
esac
if grep -qvE '^(303|503)$' "$DIR"/par?.st; then bad "eight logins at once: $st"
else ok "eight logins at once: $st (one Argon2id check at a time)"; fi

# --- CSRF ----------------------------------------------------------------
before=$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
check "policy form without its CSRF token: 403" 403 "$(as owner /domains/example.com/policy \
    --data-urlencode mode=none --data-urlencode mx=mail.example.com)"
check "with another session's token: 403" 403 "$(as owner /domains/example.com/policy \
    --data-urlencode "csrf=$VC" --data-urlencode mode=none --data-urlencode mx=mail.example.com)"
check "domain add without the token: 403" 403 "$(as owner /domains --data-urlencode name=new.example --data-urlencode mx=mx.new.example)"
after=$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
check "nothing changed without the token" "$before" "$after"
if sg domain show new.example > /dev/null 2>&1; then bad "domain added without CSRF token"; else ok "no domain added without the token"; fi

# Bodies refused from the head, never read: a form without any cookie
# (nobody could be allowed to send it), one past LIMIT_WEB_FORM_BYTES.
check "a form without a cookie: 403 from the head" 403 "$(c -o "$DIR/body" -w '%{http_code}' \
    --data-urlencode mode=none "https://$SH:$PORT/domains/example.com/policy")"
grepf "  ... saying why" "$DIR/body" 'log in first'
head -c 20000 /dev/zero | tr '\0' a > "$DIR/big"
check "a form of 20,000 bytes: 413" 413 "$(as owner /login --data-binary @"$DIR/big")"
grepf "  ... naming the limit" "$DIR/body" 'larger than the limit of 16384 bytes'
check "an API body without a token: 401 from the head" 401 "$(c -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/json' --data '{}' "https://$SH:$PORT/api/v1/domains")"

# --- a narrowing change asks first ---------------------------------------
check "to enforce: asks first" 200 "$(as owner /domains/example.com/policy --data-urlencode "csrf=$OC" \
    --data-urlencode mode=enforce --data-urlencode mx=mail.example.com --data-urlencode max_age=604800)"
until_want=$(date -u -d "@$(( $(date +%s) + 604800 ))" +%Y-%m-%d)
grepf "names the date old copies may live until" "$DIR/body" "may keep it until <strong>$until_want"
check "not changed before confirming" testing "$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["mode"])')"
check "confirmed: saved" 303 "$(as owner /domains/example.com/policy --data-urlencode "csrf=$OC" \
    --data-urlencode confirm=1 --data-urlencode mode=enforce --data-urlencode mx=mail.example.com \
    --data-urlencode max_age=604800)"
check "now enforce" enforce "$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["mode"])')"
check "a bad pattern: 400 with the reason" 400 "$(as owner /domains/example.com/policy --data-urlencode "csrf=$OC" \
    --data-urlencode mode=testing --data-urlencode 'mx=bad..name')"
grepf "the reason is shown" "$DIR/body" 'The policy was not changed: mx'
check "back to testing (not narrowing): saved at once" 303 "$(as owner /domains/example.com/policy --data-urlencode "csrf=$OC" \
    --data-urlencode mode=testing --data-urlencode mx=mail.example.com --data-urlencode max_age=604800)"
PID_SAVED=$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
grepf "saved: back to the page with the new id" "$DIR/head" "^Location: /domains/example\.com\?saved=$PID_SAVED\$"
check "the page after saving" 200 "$(as owner "/domains/example.com?saved=$PID_SAVED")"
grepf "... names the exact TXT record to publish now" "$DIR/body" \
    "Publish this record now.*<code>_mta-sts\.example\.com TXT \"v=STSv1; id=$PID_SAVED;\"</code>"
check "the same policy again: saved" 303 "$(as owner /domains/example.com/policy --data-urlencode "csrf=$OC" \
    --data-urlencode mode=testing --data-urlencode mx=mail.example.com --data-urlencode max_age=604800)"
grepf "... with nothing to publish" "$DIR/head" '^Location: /domains/example\.com\?saved=same$'
check "the page after saving nothing new" 200 "$(as owner "/domains/example.com?saved=same")"
grepf "... says nothing to publish" "$DIR/body" 'did not change, so its id did not either: nothing to publish'
check "an id no longer served: the generic note, the id not echoed" 200 \
    "$(as owner "/domains/example.com?saved=%3Cb%3Eold1")"
grepf "... the generic note" "$DIR/body" 'Publish the _mta-sts TXT record below with the current id'
check "... the query never shown" 0 "$(grep -c '<b>old1' "$DIR/body")"

# --- add a domain from the overview ----------------------------------------
check "owner adds a domain" 303 "$(as owner /domains --data-urlencode "csrf=$OC" --data-urlencode name=New.Example \
    --data-urlencode mode=testing --data-urlencode $'mx=mx1.new.example\nmx2.new.example')"
grepf "to its page" "$DIR/head" '^Location: /domains/new.example'
check "stored with both patterns" "mx1.new.example mx2.new.example" \
    "$(sg domain show new.example --json | $PY -c 'import json,sys; print(" ".join(json.load(sys.stdin)["mx"]))')"
check "the viewer cannot" 403 "$(as viewer /domains --data-urlencode "csrf=$VC" --data-urlencode name=v.example \
    --data-urlencode mx=mx.v.example)"

# --- a report POSTed as a sender does shows on the domain's pages -------------
# The intake URL a sender finds in _smtp._tls (the https rua URI).
URL=$(sg dns example.com --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        print(re.search(r"(https://[^,; ]+)", r["value"]).group(1))')
URL=${URL/$SH/$SH:$PORT}
report "Postmail Corp" p-1 50 0 none mail.example.com | gzip > "$DIR/post.json.gz"
check "a sender POSTs a report" 201 "$(c -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/tlsrpt+gzip' --data-binary @"$DIR/post.json.gz" "$URL")"

# --- the domain page shows the stored figures ------------------------------
check "domain page" 200 "$(as viewer /domains/example.com)"
PID_NOW=$(sg domain show example.com --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["policy_id"])')
grepf "the TXT record to publish, with the current id" "$DIR/body" "v=STSv1; id=$PID_NOW"
grepf "the chart" "$DIR/body" '<svg class="chart" viewBox="0 0 720 200"'
grepf "the POSTed report among the reports, received by HTTPS" "$DIR/body" 'Postmail Corp</td><td>[0-9-]+</td><td>50</td><td>0</td><td>https</td>'
grepf "and in the organizations' table" "$DIR/body" '<tr><td>Postmail Corp</td><td>50</td><td>0</td></tr>'
grepf "yesterday's sessions of all three reports in the chart" "$DIR/body" "<title>$(date -u -d yesterday +%Y-%m-%d): 951 successful, 13 failed</title>"
grepf "the failure explained" "$DIR/body" 'certificate-expired: the certificate of an MX host has expired: renew it.'
# The readiness view says what the API says, and names the failing MX.
TOK=$(sg token create --tenant acme | tail -1)
c -H "Authorization: Bearer $TOK" -o "$DIR/ready.json" "https://$SH:$PORT/api/v1/domains/example.com/readiness"
SUMMARY=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"])' "$DIR/ready.json")
check "readiness page" 200 "$(as viewer /domains/example.com/ready)"
$PY -c 'import html,sys; print(html.escape(sys.argv[1]))' "$SUMMARY" > "$DIR/summary"
if grep -qF -f "$DIR/summary" "$DIR/body"; then ok "readiness: the API's verdict ($SUMMARY)"; else bad "readiness verdict missing: $SUMMARY"; fi
grepf "readiness: the failing MX and what to fix" "$DIR/body" 'the certificate of mx2.example.com has expired: renew it'
yday=$(date -u -d yesterday +%Y-%m-%d)
check "any range of days" 200 "$(as viewer "/domains/example.com?from=$yday&to=$yday")"
grepf "one day: one slot as wide as the chart" "$DIR/body" '<rect x="0.00" y="[0-9.]+" width="648.00"'
check "a range without reports" 200 "$(as viewer "/domains/example.com?from=2020-01-01&to=2020-01-31")"
grepf "says so" "$DIR/body" 'no sessions in this range'
check "domain page again" 200 "$(as viewer /domains/example.com)"
grepf "failures by receiving MX host" "$DIR/body" '<tr><td>mx2.example.com</td><td class="bad">12</td></tr>'
grepf "failures by sending IP" "$DIR/body" '<tr><td>192.0.2.7</td><td class="bad">12</td></tr>'
# Exports: the API's bytes, for a session.
from=$(date -u -d '29 days ago' +%Y-%m-%d)
check "export: statistics as CSV" 200 "$(as viewer "/domains/example.com/export/stats?format=csv&from=$from")"
grepf "a CSV download" "$DIR/head" '^Content-Type: text/csv'
grepf "as an attachment" "$DIR/head" '^Content-Disposition: attachment'
c -H "Authorization: Bearer $TOK" -o "$DIR/api.csv" "https://$SH:$PORT/api/v1/domains/example.com/stats?format=csv&from=$from"
if cmp -s "$DIR/body" "$DIR/api.csv"; then ok "export: the API's CSV, byte for byte"; else bad "export differs from the API's CSV"; fi
check "export: reports as JSON" 200 "$(as viewer "/domains/example.com/export/reports?from=$from")"
check "the three reports" 3 "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reports"]))' "$DIR/body")"
check "adoption page" 200 "$(as viewer /domains/example.com/adoption)"
grepf "adoption: Bigmail's day" "$DIR/body" "$(date -u -d yesterday +%Y-%m-%d)"
check "report page" 200 "$(as viewer /reports/$RID)"
grepf "the failure detail explained with its MX" "$DIR/body" 'the certificate of mx2.example.com has expired: renew it.'
check "raw bytes" 200 "$(as viewer /reports/$RID/raw)"
if cmp -s "$DIR/body" "$DIR/r1.json"; then ok "raw: the bytes as imported"; else bad "raw bytes differ"; fi

# --- markup from a report is text ------------------------------------------
for p in /domains/example.com "/reports/$XID" /; do
	as owner "$p" > /dev/null
	if grep -qF '<script>alert(1)' "$DIR/body"; then bad "markup from a report rendered in $p"
	else ok "no report markup in $p"; fi
done
as owner "/reports/$XID" > /dev/null
check "every string field shown escaped" 1 "$([ "$(grep -o '&lt;script&gt;alert(1)&lt;/script&gt;' "$DIR/body" | wc -l)" -ge 10 ] && echo 1)"

# --- logout ----------------------------------------------------------------
cp "$DIR/viewer.jar" "$DIR/stale.jar"
check "logout" 303 "$(as viewer /logout --data-urlencode "csrf=$VC")"
grepf "logout clears the cookie" "$DIR/head" '^Set-Cookie: sg_session=; .*Max-Age=0'
check "the old cookie no longer works" 303 "$(as stale /)"

# --- a real browser --------------------------------------------------------
if [ -d "$NODE_DIR/node_modules/playwright-core" ] && command -v chromium > /dev/null; then
	mkdir -p "$OUT" "$DIR/.pki/nssdb"
	# Chromium trusts the NSS db of $HOME, not SSL_CERT_FILE.
	certutil -N -d "sql:$DIR/.pki/nssdb" --empty-password
	certutil -A -d "sql:$DIR/.pki/nssdb" -n stsguard-local-ca -t C,, -i "$DIR/data/local-ca.pem"
	sg stats example.com --json > "$DIR/stats.json"
	$PY - "$DIR/stats.json" "$RID" "$XID" "$PID_NOW" "$SUMMARY" > "$DIR/expect.json" <<'PYEOF'
import json, sys
st = json.load(open(sys.argv[1]))
day = st["days"][-1]
print(json.dumps({"email": "owner@acme.example", "password": "correct horse battery",
    "domains": ["example.com", "new.example"], "domain": "example.com",
    "day": day["day"],
    "bar": f'{day["day"]}: {day["successful"]} successful, {day["failed"]} failed',
    "orgs": [o["organization-name"] for o in st["organizations"]],
    "policy_id": sys.argv[4], "report": int(sys.argv[2]), "xss": int(sys.argv[3]),
    "report_org": "Bigmail Inc.", "summary": sys.argv[5],
    "explained": "the certificate of mx2.example.com has expired: renew it."}))
PYEOF
	HOME=$DIR NODE_DIR=$NODE_DIR timeout 120 node "$TOP/tests/dashboard.mjs" \
	    "https://$SH:$PORT" "$IP" "$OUT" "$DIR/expect.json" > "$DIR/browser.log" 2>&1
	rc=$?
	sed 's/^/    | /' "$DIR/browser.log"
	check "Chromium: the pages, as a user sees them" 0 "$rc"
	for s in login overview domain ready report domain-phone; do
		[ -s "$OUT/$s.png" ] && ok "screenshot $s.png" || bad "no screenshot $s.png"
	done
else
	bad "Chromium or playwright-core missing (make deps installs them)"
fi

# --- throttling (last: it locks the test's address out) ---------------
# Throttling (the browser's login cleared the account's earlier failure):
# five failed logins for an account, then even the right
# password waits (429) for that account; another account from the same
# address still logs in (an office shares one); past
# LIMIT_LOGIN_FAILURES_CLIENT failures from the address, every account
# waits there.
for _ in 1 2 3 4 5; do login bad owner@acme.example 'wrong horse battery' > /dev/null; done
check "throttled after 5 failures: 429" 429 "$(login late owner@acme.example 'correct horse battery')"
grepf "429 says when to retry" "$DIR/head" '^Retry-After: [0-9]+'
check "another account is not throttled" 303 "$(login viewer2 viewer@acme.example 'correct horse battery')"
for i in $(seq 15); do login bad "nobody$i@acme.example" 'wrong horse battery' > /dev/null; done
check "20 failures from one address: every account waits" 429 "$(login late2 viewer@acme.example 'correct horse battery')"

serve_stop
log_clean "$DIR/serve.log"
finish
