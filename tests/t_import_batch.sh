#!/bin/bash
# t_import_batch.sh - `report import` of many files commits them in
# batches (one transaction per LIMIT_INTAKE_BATCH_JOBS reports): 700
# generated reports, one invalid file among them and one message with
# two reports, in one command. Checks: every valid report stored once,
# the invalid one quarantined with its reason, one line per input in
# input order, exit 1 (some input invalid), the counters; a second
# import of the same files finds 700 + 2 duplicates and stores nothing.
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$DIR/in"
python3 - "$DIR/in" <<'PY' || { echo "generator failed"; exit 1; }
import base64, gzip, json, sys
out = sys.argv[1]
def rep(i, org="batch.example"):
    return {"organization-name": org,
            "date-range": {"start-datetime": "2026-10-01T00:00:00Z",
                           "end-datetime": "2026-10-01T23:59:59Z"},
            "contact-info": "tls@batch.example", "report-id": "b-%04d" % i,
            "policies": [{"policy": {"policy-type": "sts",
                                     "policy-domain": "batch.example",
                                     "policy-string": ["version: STSv1", "mode: enforce",
                                                       "mx: mx.batch.example", "max_age: 86400"],
                                     "mx-host": ["mx.batch.example"]},
                          "summary": {"total-successful-session-count": i,
                                      "total-failure-session-count": 0}}]}
for i in range(1, 701):
    if i == 350:
        open("%s/%04d.json" % (out, i), "w").write('{"organization-name": "x", "policies": [')
        continue
    with open("%s/%04d.json.gz" % (out, i), "wb") as f:
        f.write(gzip.compress(json.dumps(rep(i)).encode(), mtime=0))
# one message, two reports (attachments), file 0701.eml
parts = ""
for i in (9001, 9002):
    b = base64.encodebytes(gzip.compress(json.dumps(rep(i)).encode(), mtime=0)).decode()
    parts += ('--b\r\nContent-Type: application/tlsrpt+gzip\r\n'
              'Content-Transfer-Encoding: base64\r\n\r\n' + b.replace("\n", "\r\n") + '\r\n')
open("%s/0701.eml" % out, "w", newline="").write(
    "From: r@batch.example\r\nTo: t@x.example\r\nSubject: Report Domain: batch.example\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n"
    + parts + "--b--\r\n")
PY

sg report import "$DIR"/in/* > "$DIR/out" 2> "$DIR/err"
rc=$?
check "exit 1: one input invalid (kept)" "1" "$rc"
check "summary" "imported 701, duplicates 0, invalid 1" "$(tail -1 "$DIR/err")"
check "one line per input, two for the message" "702" "$(wc -l < "$DIR/out")"
# lines come in input order: the file name of each line, in order, is
# the sorted list of inputs (the message twice)
(cd "$DIR/in" && ls) | sed 's/^0701.eml$/0701.eml\n0701.eml/' > "$DIR/want_order"
sed 's|^'"$DIR"'/in/||; s|: .*||' "$DIR/out" > "$DIR/got_order"
if cmp -s "$DIR/want_order" "$DIR/got_order"; then ok "lines in input order"; else
	bad "order: $(diff "$DIR/want_order" "$DIR/got_order" | head -4)"; fi
grep -q "0350.json: invalid report: .*kept as quarantine 1" "$DIR/out" &&
    ok "the invalid file is quarantined with its reason, in its place" ||
    bad "invalid line: $(grep 0350 "$DIR/out")"
check "reports stored" "701" "$(sg report list --json | jq length)"
check "sessions summed once" "$(( 700 * 701 / 2 - 350 + 9001 + 9002 ))" \
    "$(sg report list --json | jq '[.[].successful] | add')"
check "quarantine holds one entry" "1" "$(sg report quarantine list --json | jq length)"

sg report import "$DIR"/in/* > "$DIR/out2" 2> "$DIR/err2"
check "again: all duplicates" "imported 0, duplicates 701, invalid 1" "$(tail -1 "$DIR/err2")"
check "again: nothing new stored" "701" "$(sg report list --json | jq length)"
finish
