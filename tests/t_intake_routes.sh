#!/bin/bash
# t_intake_routes.sh - the same input has the same outcome by every route
# (issue 11): every route takes its input through src/intake/.
#
# One set of inputs: the reports of tests/data/reports/ and, when there,
# of $CORPUS/tlsrpt/reports/ (read in place), an invalid bare report;
# the e-mails of tests/data/emails/ and $CORPUS/tlsrpt/emails/, and three
# made here (two reports; a valid report beside an invalid one; only an
# invalid one). Each route stores the whole set into its own data dir:
#   daemon  reports by HTTPS POST, e-mails by SMTP (stsguard serve)
#   import  `stsguard report import` of every file
#   retry   every input put in quarantine as it would arrive (kind report
#           or message, identical bytes once), then `report quarantine
#           retry --all`
# and the three must agree on what is stored (organization, report-id,
# sessions, duplicates counted) and on what is kept in quarantine and
# still pending (kind, size, reason). Origins (route, client) differ by
# design and are not compared; provenance is checked apart: https and
# mail-unverified by the daemon (the DKIM keys of the corpus mails are
# asked of an nsd on loopback that has none of them: "key not found"),
# import by the other two.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.routes.test
SPORT=$(( PORT + 1 ))
IN=$DIR/in
mkdir -p "$IN/r" "$IN/m"

# --- the inputs -----------------------------------------------------------
cp "$TOP"/tests/data/reports/* "$IN/r/"
cp "$TOP"/tests/data/emails/* "$IN/m/"
if [ -d "$CORPUS/tlsrpt/reports" ]; then
	for f in "$CORPUS"/tlsrpt/reports/*; do cp "$f" "$IN/r/c-${f##*/}"; done
	for f in "$CORPUS"/tlsrpt/emails/*; do cp "$f" "$IN/m/c-${f##*/}"; done
else
	echo "note: no corpus at $CORPUS: test data only"
fi
printf '{"organization-name": "x", "report-id": 1}' > "$IN/r/zz-bad.json"
$PY - "$IN/m" <<'EOF' || exit 1
import json, sys
d = sys.argv[1]
def rep(rid, ok):
    return json.dumps({"organization-name": "Routes Test", "report-id": rid,
      "date-range": {"start-datetime": "2026-11-02T00:00:00Z",
                     "end-datetime": "2026-11-02T23:59:59Z"},
      "contact-info": "x@routes.example",
      "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com"},
                    "summary": {"total-successful-session-count": ok,
                                "total-failure-session-count": 0}}]})
def mail(name, parts):
    body = ("From: r@routes.example\r\nTo: tlsrpt@sts.routes.test\r\n"
            "Subject: Report Domain: example.com\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=tlsrpt; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nreports\r\n")
    for p in parts:
        body += "--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n" + p + "\r\n"
    open(d + "/" + name, "w", newline="").write(body + "--b--\r\n")
mail("zz-two.eml", [rep("two-1", 11), rep("two-2", 12)])
mail("zz-mixed.eml", [rep("mixed-1", 21), '{"report-id": 7}'])
mail("zz-bad-only.eml", ['{"organization-name": "y"}'])
EOF
nr=$(ls "$IN/r" | wc -l) nm=$(ls "$IN/m" | wc -l)
echo "inputs: $nr reports, $nm e-mails"

setup() { # setup NAME: a data dir with example.com; prints its token
	"$STSGUARD" --data-dir "$DIR/$1" domain add example.com --mode testing \
	    --mx mx.example.com > /dev/null || exit 1
	"$STSGUARD" --data-dir "$DIR/$1" domain show example.com --json |
	    $PY -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# --- daemon: HTTPS and SMTP ---------------------------------------------
T=$(setup daemon)
zone_dkim > "$DIR/test.zone"
nsd_start "$DIR/test.zone" $(( PORT + 2 )) || exit 1
"$STSGUARD" --data-dir "$DIR/daemon" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --nameserver "127.0.0.1:$(( PORT + 2 ))" \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" curl -s -o /dev/null --max-time 2 \
    --cacert "$DIR/daemon/local-ca.pem" --resolve "$SH:$PORT:$IP" \
    "https://$SH:$PORT/" || exit 1
$PY - "$IN" "$IP" "$PORT" "$SPORT" "$SH" "$T" "$DIR/daemon/local-ca.pem" \
    > "$DIR/daemon.answers" <<'EOF' || { bad "daemon route failed"; }
import http.client, os, smtplib, ssl, sys
d, ip, port, sport, sh, tok, ca = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
for f in sorted(os.listdir(d + "/r")):
    b = open(d + "/r/" + f, "rb").read()
    t = "application/tlsrpt+gzip" if b[:2] == b"\x1f\x8b" else "application/tlsrpt+json"
    c = http.client.HTTPSConnection(ip, int(port), context=ctx, timeout=30)
    c.sock = ctx.wrap_socket(__import__("socket").create_connection(
        (ip, int(port)), 30), server_hostname=sh)
    c.putrequest("POST", "/tlsrpt/" + tok, skip_host=True)
    c.putheader("Host", sh)
    c.putheader("Content-Type", t)
    c.putheader("Content-Length", str(len(b)))
    c.endheaders()
    c.send(b)
    print("https", f, c.getresponse().status)
for f in sorted(os.listdir(d + "/m")):
    b = open(d + "/m/" + f, "rb").read()
    s = smtplib.SMTP(ip, int(sport), timeout=30)
    try:
        s.sendmail("r@routes.example", ["tlsrpt+%s@%s" % (tok, sh)], b)
        print("smtp", f, 250)
    except smtplib.SMTPDataError as e:
        print("smtp", f, e.smtp_code)
    s.quit()
EOF
kill -TERM $PID; wait $PID; st=$?; PID=
check "daemon route: SIGTERM exit code" 0 "$st"
n=$(grep -c . "$DIR/daemon.answers")
check "daemon route: every input answered" $((nr + nm)) "$n"
grep -qE ' (250|201|200|400|554)$' "$DIR/daemon.answers" &&
    ! grep -qvE ' (250|201|200|400|554)$' "$DIR/daemon.answers" &&
    ok "daemon route: only final answers (no 4xx/5xx but invalid input)" ||
    bad "daemon route answers: $(grep -vE ' (250|201|200|400|554)$' \
        "$DIR/daemon.answers" | head -3)"

# --- import ---------------------------------------------------------------
setup import > /dev/null
"$STSGUARD" --data-dir "$DIR/import" report import "$IN"/r/* "$IN"/m/* \
    > "$DIR/import.out" 2> "$DIR/import.err"
check "import: exit 1 (some input invalid, kept)" 1 "$?"

# --- retry ----------------------------------------------------------------
setup retry > /dev/null
$PY - "$IN" "$DIR/retry/stsguard.db" <<'EOF' || bad "cannot fill the quarantine"
import gzip, hashlib, os, sqlite3, sys
d, db = sys.argv[1:3]
con = sqlite3.connect(db)
for kind, sub in (("report", "r"), ("message", "m")):
    for f in sorted(os.listdir(d + "/" + sub)):
        b = open(d + "/" + sub + "/" + f, "rb").read()
        con.execute("INSERT OR IGNORE INTO quarantine (received, kind, route, "
                    "client, reason, size, raw, sha256) VALUES "
                    "(strftime('%s'), ?, 'import', ?, 'arrived', ?, ?, ?)",
                    (kind, f, len(b), gzip.compress(b, mtime=0),
                     hashlib.sha256(b).digest()))
con.commit()
EOF
"$STSGUARD" --data-dir "$DIR/retry" report quarantine retry --all \
    > "$DIR/retry.out" 2> "$DIR/retry.err"
check "retry: exit 1 (some entries still invalid)" 1 "$?"

# --- the outcomes ---------------------------------------------------------
# The entries put in quarantine for the retry route say "arrived"; the
# retry prints why each is still refused ("quarantine N: still invalid:
# REASON"), which is the reason the other routes store.
outcome() { # outcome NAME: what is stored and what is kept, sorted
	"$STSGUARD" --data-dir "$DIR/$1" report list --json > "$DIR/$1.list"
	"$STSGUARD" --data-dir "$DIR/$1" report quarantine list --json \
	    > "$DIR/$1.q"
	$PY - "$DIR/$1.list" "$DIR/$1.q" "$DIR/retry.out" <<'EOF'
import json, re, sys
rows = json.load(open(sys.argv[1]))
still = {}
for line in open(sys.argv[3]):
    m = re.match(r"quarantine (\d+): still invalid: (.*)$", line.rstrip("\n"))
    if m:
        still[int(m.group(1))] = m.group(2)
for r in sorted("%s|%s|%d|%d|dup %d" % (r["organization-name"], r["report-id"],
                r["successful"], r["failed"], r["duplicates"]) for r in rows):
    print("stored", r)
for q in sorted("%s|%d|%s" % (e["kind"], e["size"], still.get(e["id"],
                e["reason"]) if e["reason"] == "arrived" else e["reason"])
                for e in json.load(open(sys.argv[2]))):
    print("kept", q)
EOF
}
for r in daemon import retry; do outcome $r > "$DIR/$r.outcome"; done
ns=$(grep -c '^stored' "$DIR/import.outcome")
nk=$(grep -c '^kept' "$DIR/import.outcome")
echo "     import: $ns reports stored, $nk entries kept"
[ "$ns" -gt 10 ] && [ "$nk" -ge 3 ] && ok "the set stores reports and keeps some" ||
    bad "too little to compare: $ns stored, $nk kept"
for r in daemon retry; do
	if diff "$DIR/import.outcome" "$DIR/$r.outcome" > "$DIR/$r.diff"; then
		ok "$r has the same outcome as import"
	else
		bad "$r differs from import:"
		head -20 "$DIR/$r.diff"
	fi
done
# Provenance: what each route says of how far its reports are trusted.
for r in daemon import retry; do
	check "$r: provenance of the stored reports" \
	    "$([ $r = daemon ] && echo "https mail-unverified" || echo import)" \
	    "$($PY -c '
import json, sys
print(" ".join(sorted({r["provenance"] for r in json.load(open(sys.argv[1]))})))' \
	    "$DIR/$r.list")"
done
check "daemon: mail reasons are no signature or key not found" ok "$($PY -c '
import json, sys
bad = [r["provenance-reason"] for r in json.load(open(sys.argv[1]))
       if r["provenance"] == "mail-unverified" and not (
       r["provenance-reason"] == "no signature" or
       r["provenance-reason"].startswith("key not found"))]
print(bad or "ok")' "$DIR/daemon.list")"
# The e-mail with a valid report beside an invalid one: the valid one
# stored, only the invalid one kept (as a report, not the message).
grep -q '^stored Routes Test|mixed-1|21|0|' "$DIR/import.outcome" &&
    ok "mixed e-mail: its valid report stored" ||
    bad "mixed e-mail: valid report not stored"
grep -q '^kept report|16|' "$DIR/import.outcome" &&
    ok "mixed e-mail: only its invalid report kept" ||
    bad "mixed e-mail: the invalid report is not kept alone"
grep -q "^kept message|$(stat -c %s "$IN/m/zz-bad-only.eml")|" \
    "$DIR/import.outcome" &&
    ok "an e-mail with nothing valid: kept whole" ||
    bad "the e-mail with only an invalid report is not kept whole"
grep -qE 'panic|AddressSanitizer|runtime error' "$DIR/serve.log" &&
    bad "panic or sanitizer report" || ok "no panic or sanitizer report"
finish
