#!/bin/bash
# t_intake_https.sh - TLS-RPT report intake by HTTPS POST (RFC 8460 §3)
# against a running `stsguard serve`, with curl as the sender.
#
# POSTs every report of tests/data/reports/ and, when $CORPUS/tlsrpt/reports
# exists (read in place), every corpus report to the intake URL of a hosted
# domain (taken from `stsguard dns --json`, as a sender would from the
# _smtp._tls record), and checks each answer: 201 for the first copy of an
# (organization-name, report-id), 200 for a repeat, 400 for the one
# invalid corpus report. Then compares what the store says (`report list
# --json`, `stats DOMAIN --json` for every policy-domain seen) with sums
# computed here by python3 from the files themselves. Plus: 404 (unknown
# token, bad path), 405, 411 (no length), a chunked body taken like a
# Content-Length one (t_intake_chunked.sh has the rest), 413 (answered
# without reading the body), 415, Expect: 100-continue with a 1.3 MB report,
# keep-alive across intake and policy requests, and a policy fetch still
# answered at the end.
#
# Own loopback address and random high ports; bounded (curl --max-time);
# the trap stops the daemon it started.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.example.net

c() {
	curl -sS --max-time 20 --cacert "$DIR/data/local-ca.pem" \
	    --resolve "$SH:$PORT:$IP" --resolve "mta-sts.example.com:$PORT:$IP" \
	    "$@"
}
# post FILE TYPE [URL] -> prints the status code; body in $DIR/resp
post() {
	c -o "$DIR/resp" -w '%{http_code}' -H "Content-Type: $2" \
	    --data-binary @"$1" "${3:-$URL}"
}

echo "address $IP https $PORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
sg domain add example.org --mode testing --mx mx.example.org \
    --max-age 86400 > /dev/null || exit 1
# The intake URL a sender finds in _smtp._tls: the second rua URI.
URL=$(sg dns example.com --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        print(re.search(r"(https://[^,; ]+)", r["value"]).group(1))')
URL=${URL/$SH/$SH:$PORT}
case $URL in https://$SH:$PORT/tlsrpt/[0-9a-f]*) ok "rua https URI $URL" ;;
	*) bad "no https rua URI: [$URL]"; exit 1 ;; esac
URL_ORG=$(sg dns example.org --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        print(re.search(r"(https://[^,; ]+)", r["value"]).group(1))')
URL_ORG=${URL_ORG/$SH/$SH:$PORT}

"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --service-host $SH --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" c -o /dev/null \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" || exit 1

# --- every report: the answer python expects ----------------------------
# One line per file: path, content type, expected status. 201 for the
# first copy of a report, 200 for the same report again (the same
# (organization-name, report-id) and the same content after
# normalization: `report parse --json` gives it), 400 for the invalid one
# (named: a policy-type outside the RFC's three). A different report
# under a stored (organization-name, report-id) is stored too (201): a
# conflict, of which the first counts (all came by HTTPS).
INVALID="stalwart-malformed-missing-fields.json"
ls "$TOP"/tests/data/reports/* > "$DIR/files"
if [ -d "$CORPUS/tlsrpt/reports" ]; then
	ls "$CORPUS"/tlsrpt/reports/* >> "$DIR/files"
else
	echo "note: no corpus at $CORPUS: test data only"
fi
$PY - "$DIR/files" "$INVALID" > "$DIR/plan" <<'EOF' || exit 1
import gzip, json, os, subprocess, sys
seen = set()
for path in open(sys.argv[1]).read().split():
    raw = open(path, "rb").read()
    gz = raw[:2] == b"\x1f\x8b"
    ctype = "application/tlsrpt+gzip" if gz else "application/tlsrpt+json"
    if path.rsplit("/", 1)[-1] in sys.argv[2].split():
        print(path, ctype, 400); continue
    norm = subprocess.run([os.environ["STSGUARD"], "report", "parse", path,
                           "--json"], capture_output=True, check=True).stdout
    norm = json.loads(norm)["report"]
    ident = json.dumps(norm, sort_keys=True)
    print(path, ctype, 200 if ident in seen else 201)
    seen.add(ident)
EOF
n=0; nbad=0
while read -r f t want; do
	got=$(post "$f" "$t")
	n=$((n + 1))
	if [ "$got" != "$want" ]; then
		bad "POST $(basename "$f"): expected $want, got $got: $(cat "$DIR/resp")"
		nbad=$((nbad + 1))
	fi
	if [ "$want" = 400 ] && ! grep -q '^{"error": "[^"]' "$DIR/resp"; then
		bad "400 body for $(basename "$f") is not {\"error\": ...}: $(cat "$DIR/resp")"
	fi
done < "$DIR/plan"
[ "$nbad" = 0 ] && ok "$n POSTs answered 201/200/400 as expected"

# Every file again: all duplicates now (or 400 again).
nbad=0
while read -r f t want; do
	[ "$want" = 400 ] && continue
	got=$(post "$f" "$t")
	[ "$got" = 200 ] || { bad "repeat $(basename "$f"): $got"; nbad=$((nbad + 1)); }
done < "$DIR/plan"
[ "$nbad" = 0 ] && ok "every repeat answered 200"

# --- stored totals against sums computed from the files -----------------
sg report list --json > "$DIR/list.json" || bad "report list --json failed"
for d in $($PY -c '
import gzip, json, sys
doms = set()
for line in open(sys.argv[1]):
    p, t, s = line.split()
    if s == "400": continue
    raw = open(p, "rb").read()
    d = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    for pol in d["policies"]:
        if pol["policy"].get("policy-domain"):
            doms.add(pol["policy"]["policy-domain"].lower().rstrip("."))
print(" ".join(sorted(doms)))' "$DIR/plan"); do
	sg stats "$d" --json > "$DIR/stats.$d.json" ||
	    bad "stats $d --json failed"
done
$PY - "$DIR/plan" "$DIR/list.json" "$DIR" > "$DIR/totals" <<'EOF'
import gzip, json, os, sys
plan = [l.split() for l in open(sys.argv[1])]
first, stored, dups = {}, 0, 0
for p, t, s in plan:
    if s == "400": continue
    if s == "200": dups += 1; continue
    stored += 1
    raw = open(p, "rb").read()
    d = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    first.setdefault((d["organization-name"], d["report-id"]), d)
# every non-invalid file was posted twice
dups += sum(1 for p, t, s in plan if s != "400")
rows = json.load(open(sys.argv[2]))
out = []
def pair(name, want, got):
    out.append("%s %s %s" % (name, want, got))
pair("reports", stored, len(rows))
pair("duplicates", dups, sum(r["duplicates"] for r in rows))
pair("routes-https", stored, sum(1 for r in rows if r["route"] == "https"))
pair("provenance-https", stored,
     sum(1 for r in rows if r["provenance"] == "https"))
pair("counted", len(first), sum(1 for r in rows if r["counted"]))
pair("conflicts", stored - len(first) + sum(
     1 for k in first if sum(1 for r in rows if (r["organization-name"],
     r["report-id"]) == k) > 1),
     sum(1 for r in rows if r["conflict"]))
# A report's sessions as every view counts them (tlsrpt.h): its tlsa
# entries and its other entries are two views of the same sessions, the
# larger counts (the other on a tie); an entry's failed sessions are
# its details when they add up to more than its total.
def counted(d):
    v = [[0, 0], [0, 0]]
    for p in d["policies"]:
        s = p["summary"]
        det = sum(f.get("failed-session-count", 0)
                  for f in p.get("failure-details") or [])
        x = v[p["policy"]["policy-type"] == "tlsa"]
        x[0] += s["total-successful-session-count"]
        x[1] += max(s["total-failure-session-count"], det)
    return v[1] if sum(v[1]) > sum(v[0]) else v[0]
pair("successful", sum(counted(d)[0] for d in first.values()),
     sum(r["successful"] for r in rows if r["counted"]))
pair("failed", sum(counted(d)[1] for d in first.values()),
     sum(r["failed"] for r in rows if r["counted"]))
# stats: per policy-domain, per (UTC day of start, organization): the
# tlsa entries and the other entries are two views of the same sessions,
# the larger counts; per entry failed = max(total-failure, sum of details)
# (store_sqlite.c and cli_stats.c say why).
from datetime import datetime, timezone
views = {}
for d in first.values():
    t = datetime.fromisoformat(d["date-range"]["start-datetime"])
    if t.tzinfo is None: t = t.replace(tzinfo=timezone.utc)
    day = t.astimezone(timezone.utc).date()
    for p in d["policies"]:
        dom = (p["policy"].get("policy-domain") or "").lower().rstrip(".")
        if not dom: continue
        s = p["summary"]
        det = sum(f.get("failed-session-count", 0)
                  for f in p.get("failure-details") or [])
        v = views.setdefault((dom, day, d["organization-name"]),
                             [[0, 0], [0, 0]])[p["policy"]["policy-type"] == "tlsa"]
        v[0] += s["total-successful-session-count"]
        v[1] += max(s["total-failure-session-count"], det)
want = {}
for (dom, day, org), (v0, v1) in views.items():
    v = v1 if sum(v1) > sum(v0) else v0
    w = want.setdefault(dom, [0, 0])
    w[0] += v[0]; w[1] += v[1]
for dom in sorted(want):
    st = json.load(open(os.path.join(sys.argv[3], "stats.%s.json" % dom)))
    pair("stats-%s-successful" % dom, want[dom][0],
         sum(x["successful"] for x in st["days"]))
    pair("stats-%s-failed" % dom, want[dom][1],
         sum(x["failed"] for x in st["days"]))
print("\n".join(out))
EOF
[ -s "$DIR/totals" ] || bad "could not compute totals"
while read -r name want got; do
	check "stored $name" "$want" "$got"
done < "$DIR/totals"

# --- answers decided from the head --------------------------------------
R="$TOP/tests/data/reports/001-google-style-success.json"
TOK=${URL##*/}
check "unknown token 404" 404 \
    "$(post "$R" application/json "https://$SH:$PORT/tlsrpt/0123456789abcdef0123456789abcdef")"
check "404 JSON body" '{"error": "no such report URL"}' "$(cat "$DIR/resp")"
check "short token 404" 404 "$(post "$R" application/json "https://$SH:$PORT/tlsrpt/${TOK:0:20}")"
check "token on another host 404" 404 \
    "$(post "$R" application/json "https://mta-sts.example.com:$PORT/tlsrpt/$TOK")"
check "other media type 415" 415 "$(post "$R" text/plain)"
check "form type (curl -d) 415" 415 \
    "$(c -o /dev/null -w '%{http_code}' -d @"$R" "$URL")"
check "charset parameter ignored" 200 "$(post "$R" 'application/json; charset=utf-8')"
check "application/gzip accepted" 200 \
    "$(post "$TOP/tests/data/reports/001-google-style-success.json.gz" application/gzip)"
check "GET 405" 405 "$(c -o /dev/null -w '%{http_code}' "$URL")"
check "405 Allow: POST" "Allow: POST" \
    "$(c -o /dev/null -D - -X PUT "$URL" | grep -i '^allow:' | tr -d '\r')"
check "POST without body or length 411" 411 \
    "$(c -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$URL")"
check "chunked: the stored report again, 200 duplicate" 200 \
    "$(c -o "$DIR/resp" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
      -H 'Content-Type: application/json' --data-binary @"$R" "$URL")"
grep -q '^{"status": "duplicate", "id": [0-9]*}$' "$DIR/resp" &&
    ok "chunked duplicate: its JSON answer" ||
    bad "chunked duplicate: $(cat "$DIR/resp")"
check "empty body 400" 400 \
    "$(c -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -H 'Content-Length: 0' -X POST "$URL")"
# 413 from the Content-Length alone: a raw client announces 3 MB, sends
# nothing more and waits for the status line.
got=$(raw_client --tls "$SH" "$DIR/data/local-ca.pem" "$IP" "$PORT" \
    "s:POST /tlsrpt/$TOK HTTP/1.1\r\nHost: $SH\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Length: 3000000\r\n\r\n" \
    'u:\r\n' | head -1 | tr -d '\r')
check "413 before the body is sent" "HTTP/1.1 413 Content Too Large" "$got"
head -c 3000000 /dev/zero > "$DIR/big"
check "413 with curl (Expect: 100-continue)" 413 "$(post "$DIR/big" application/json)"

# Expect: 100-continue with a body over 1 MiB that is a valid report.
$PY - > "$DIR/large.json" <<'EOF'
import json
det = [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.%d" % (i % 250 + 1),
        "receiving-mx-hostname": "mx%d.example.com" % i, "failed-session-count": 1}
       for i in range(11000)]
print(json.dumps({"organization-name": "Large Sender", "report-id": "large-1",
  "date-range": {"start-datetime": "2026-05-20T00:00:00Z", "end-datetime": "2026-05-20T23:59:59Z"},
  "contact-info": "tls@large.example", "policies": [{"policy": {"policy-type": "sts",
  "policy-string": ["version: STSv1", "mode: testing", "mx: *.example.com", "max_age: 86400"],
  "policy-domain": "example.org"}, "summary": {"total-successful-session-count": 5,
  "total-failure-session-count": 11000}, "failure-details": det}]}))
EOF
c -v -o "$DIR/resp" -w '%{http_code}\n' -H 'Content-Type: application/tlsrpt+json' \
    --data-binary @"$DIR/large.json" "$URL_ORG" > "$DIR/large.out" 2> "$DIR/large.err"
check "1.3 MB report with Expect: 100-continue 201" 201 "$(cat "$DIR/large.out")"
if grep -q '100 Continue' "$DIR/large.err"; then ok "interim 100 Continue sent"; else
	bad "no 100 Continue: $(grep -E '^[<>]' "$DIR/large.err" | head)"; fi
check "large report in stats of example.org" 11000 \
    "$(sg stats example.org --json | $PY -c 'import json,sys; print(sum(d["failed"] for d in json.load(sys.stdin)["days"]))')"

# --- keep-alive: intake POSTs and policy GETs on one connection ---------
c -v -o /dev/null -H 'Content-Type: application/json' --data-binary @"$R" "$URL" \
    --next --cacert "$DIR/data/local-ca.pem" -o /dev/null -H 'Content-Type: text/plain' \
    --data-binary @"$R" "$URL" \
    --next --cacert "$DIR/data/local-ca.pem" -o "$DIR/pol" \
    "https://$SH:$PORT/.well-known/mta-sts.txt" 2> "$DIR/ka.err"
check "intake answers keep the connection" 2 "$(grep -c 'Re-using existing' "$DIR/ka.err")"
# A body sent to the policy host is skipped, and the connection goes on.
c -v -o /dev/null -H 'Content-Type: text/plain' --data-binary 'hello' \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" \
    --next --cacert "$DIR/data/local-ca.pem" -o "$DIR/pol" \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt" 2> "$DIR/ka2.err"
check "POST with body on the policy host: keep-alive goes on" 1 \
    "$(grep -c 'Re-using existing' "$DIR/ka2.err")"
check "policy after it" "mode: enforce" "$(grep '^mode' "$DIR/pol" | tr -d '\r')"

# --- the log: one intake line per answer, untrusted text escaped --------
c -o /dev/null -H $'Content-Type: application/x-\x01evil' --data-binary x "$URL"
if grep -q 'event=intake_http.*type="application/x-\\x01evil"' "$DIR/serve.log" ||
   ! grep -q $'\x01' "$DIR/serve.log"; then ok "log escapes untrusted bytes"; else
	bad "raw control byte in the log"; fi

serve_stop
log_clean "$DIR/serve.log"
finish
