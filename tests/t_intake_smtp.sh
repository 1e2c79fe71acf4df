#!/bin/bash
# t_intake_smtp.sh - TLS-RPT report intake by e-mail (RFC 8460 §3) through
# `stsguard serve --smtp-listen`, with swaks (STARTTLS, verified against
# the daemon's local CA) as the sender.
#
# A report mail (application/tlsrpt+gzip attachment, no DKIM signature)
# to the domain's mailto rua address (from `stsguard dns --json`) -> 250
# and the report in `report list` (route smtp, mail-unverified: "no
# signature"), not in `stats` (require_dkim, RFC 8460 §3); again -> 250,
# counted as a duplicate; relay attempts and unknown tokens -> 550; a
# message without a report -> 554 and a quarantine entry (`report
# quarantine list --json`); the corpus e-mails ($CORPUS/tlsrpt/emails,
# read in place) replayed with --data each yield their report, found by
# python3's email module here, or the quarantine entry for the one that
# is not a report: their real signatures cannot be verified offline, so
# they are mail-unverified, "key not found" (the daemon asks an nsd on
# loopback, which knows none of their domains). t_intake_dkim.sh has the
# signed mails that count.
#
# Own loopback address, random high ports, bounded clients; the trap stops
# the daemon it started.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SPORT=$(( PORT + 1 ))
SH=sts.example.net

command -v swaks > /dev/null || { echo "swaks missing (scripts/deps.sh)"; exit 1; }
perl -MNet::SSLeay -e1 2> /dev/null ||
	{ echo "libnet-ssleay-perl missing: swaks --tls needs it"; exit 1; }

echo "address $IP https $PORT smtp $SPORT"
sg domain add example.com --mode enforce --mx mx1.example.com \
    --max-age 86400 > /dev/null || { echo "domain add failed"; exit 1; }
sg domain add krvtz.net --mode testing --mx mx.krvtz.net \
    --max-age 86400 > /dev/null || exit 1
# The mailto rua address a sender finds in _smtp._tls (the first URI).
rua() {
	sg dns "$1" --service-host "$SH" --json | $PY -c '
import json, sys, re
for r in json.load(sys.stdin):
    if r["name"].startswith("_smtp._tls."):
        print(re.search(r"rua=mailto:([^,; ]+)", r["value"]).group(1))'
}
TO=$(rua example.com)
TO2=$(rua krvtz.net)
case $TO in tlsrpt+[0-9a-f]*@$SH) ok "rua mailto $TO" ;;
	*) bad "no mailto rua: [$TO]"; exit 1 ;; esac

zone_dkim > "$DIR/test.zone"
nsd_start "$DIR/test.zone" $(( PORT + 2 )) || exit 1
"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen off --smtp-listen "$IP:$SPORT" --service-host $SH \
    --nameserver "127.0.0.1:$(( PORT + 2 ))" \
    --workers 2 2> "$DIR/serve.log" &
PID=$!
wait_up "$DIR/serve.log" smtp_ready "$IP" "$SPORT" || exit 1

SW=(timeout 30 swaks --server "$IP" --port "$SPORT" --ehlo mail.example.test
    --from noreply-smtp-tls-reporting@example.test)
TLS=(--tls --tls-verify --tls-ca-path "$DIR/data/local-ca.pem" --tls-sni "$SH")
R="$TOP/tests/data/reports/001-google-style-success.json.gz"
NAME='google.com!example.com!1778544000!1778630399!001.json.gz'
report_mail() { # report_mail TO FILE [swaks args]
	local to=$1 f=$2; shift 2
	"${SW[@]}" "${TLS[@]}" --to "$to" \
	    --h-Subject "Report Domain: example.com Submitter: google.com Report-ID: <t>" \
	    --add-header "TLS-Report-Domain: example.com" \
	    --add-header "TLS-Report-Submitter: google.com" \
	    --body "This is an aggregate TLS report from google.com" \
	    --attach-type application/tlsrpt+gzip --attach-name "$NAME" \
	    --attach "@$f" "$@"
}

# --- one report, STARTTLS, then the same again ---------------------------
report_mail "$TO" "$R" > "$DIR/1.out" 2>&1
grepf "STARTTLS verified with the local CA" "$DIR/1.out" '=== TLS started with cipher'
grepf "EHLO advertised SIZE" "$DIR/1.out" '<~  250[- ]SIZE [0-9]+'
grepf "report mail: 250" "$DIR/1.out" '<~  250 2\.0\.0 '
sg report list --json > "$DIR/list.json"
check "stored once, route smtp, envelope kept" "1 smtp" "$($PY -c '
import json, sys
rows = json.load(open(sys.argv[1]))
print(len(rows), rows[0]["route"] if rows else "-")' "$DIR/list.json")"
check "unsigned: mail-unverified, not counted, headers kept" \
    "mail-unverified|no signature|False|example.com|google.com|False" "$($PY -c '
import json, sys
r = json.load(open(sys.argv[1]))[0]
print(r["provenance"], r["provenance-reason"], r["counted"],
      r["tls-report-domain"], r["tls-report-submitter"],
      r["report-domain-mismatch"], sep="|")' "$DIR/list.json")"
check "not in stats example.com (require_dkim)" 0 \
    "$(sg stats example.com --json | $PY -c 'import json,sys; print(sum(d["successful"] for d in json.load(sys.stdin)["days"]))')"
# Upper case, a +tag: still our address.
TAGGED=$(echo "${TO%@*}+google@${TO#*@}" | tr a-z A-Z)
report_mail "$TAGGED" "$R" > "$DIR/2.out" 2>&1
grepf "same report again (+tag, upper case): 250" "$DIR/2.out" '<~  250 2\.0\.0 '
check "counted as a duplicate" "1 1" "$(sg report list --json | $PY -c '
import json, sys
rows = json.load(sys.stdin)
print(len(rows), sum(r["duplicates"] for r in rows))')"

# --- never a relay -------------------------------------------------------
for to in victim@gmail.com "${TO%@*}@$SH.evil.example" "${TO}@gmail.com" \
    "tlsrpt+0123456789abcdef0123456789abcdef@$SH" "postmaster@$SH"; do
	"${SW[@]}" "${TLS[@]}" --to "$to" --quit-after RCPT > "$DIR/3.out" 2>&1
	grepf "RCPT <$to>: 550" "$DIR/3.out" '<~\* +550 5\.7\.1 '
done

# --- no report: 554 and a quarantine entry -------------------------------
"${SW[@]}" "${TLS[@]}" --to "$TO" --body "hello, no report here" > "$DIR/4.out" 2>&1
grepf "message without a report: 554 with the reason" "$DIR/4.out" \
    '<~\* +554 5\.6\.0 .*no application/tlsrpt part'
check "quarantined as a message, with envelope and domain" \
    "message smtp example.com noreply-smtp-tls-reporting@example.test" \
    "$(sg report quarantine list --json | $PY -c '
import json, sys
q = json.load(sys.stdin)
print(q[0]["kind"], q[0]["route"], q[0]["intake-domain"], q[0]["mail-from"]) if q else print("none")')"

# --- the corpus e-mails, replayed in place -------------------------------
if [ -d "$CORPUS/tlsrpt/emails" ]; then
	n=0; nbad=0
	for eml in "$CORPUS"/tlsrpt/emails/*.eml; do
		"${SW[@]}" "${TLS[@]}" --to "$TO2" --data "@$eml" > "$DIR/5.out" 2>&1
		case $(basename "$eml") in
		*not-a-report*) re='<~\* +554 5\.6\.0 ' ;;
		*) re='<~  250 2\.0\.0 ' ;;
		esac
		if ! grep -qE "$re" "$DIR/5.out"; then
			bad "corpus $(basename "$eml"): no /$re/"
			grep -E '<~' "$DIR/5.out" | tail -3 | sed 's/^/    | /'
			nbad=$((nbad + 1))
		fi
		n=$((n + 1))
	done
	[ "$nbad" = 0 ] && ok "$n corpus e-mails answered 250 (554 for the non-report)"
	sg report list --json > "$DIR/list.json"
	# Every report python finds in the mails is stored. Signed by their
	# senders, whose keys nobody here can fetch, they are "key not
	# found"; unsigned, "no signature". Neither counts.
	$PY - "$CORPUS/tlsrpt/emails" "$DIR/list.json" > "$DIR/corpus" <<'EOF'
import email, glob, gzip, json, os, sys
from email import policy
want = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml"))):
    msg = email.message_from_binary_file(open(path, "rb"), policy=policy.default)
    signed = msg.get("DKIM-Signature") is not None
    for part in msg.walk():
        if part.is_multipart(): continue
        ct = part.get_content_type()
        fn = (part.get_filename() or "").lower()
        if not (ct.startswith("application/tlsrpt") or fn.endswith((".json", ".json.gz"))):
            continue
        raw = part.get_payload(decode=True)
        if raw[:2] == b"\x1f\x8b": raw = gzip.decompress(raw)
        d = json.loads(raw)
        want[(d["organization-name"], d["report-id"])] = signed
rows = json.load(open(sys.argv[2]))
print("reports-in-mails", len(want), "signed", sum(want.values()))
for k in sorted(set(want) - {(r["organization-name"], r["report-id"]) for r in rows}):
    print("missing", *k)
for r in rows:
    k = (r["organization-name"], r["report-id"])
    if k not in want: continue
    why = r["provenance-reason"] or ""
    if not (r["provenance"] == "mail-unverified" and not r["counted"] and
            (why.startswith("key not found") if want[k] else
             why == "no signature")):
        print("wrong", *k, r["provenance"], why, r["counted"])
EOF
	if grep -q '^missing' "$DIR/corpus"; then bad "reports not stored:"; grep '^missing' "$DIR/corpus"
	else ok "every report in the corpus mails stored ($(head -1 "$DIR/corpus"))"; fi
	if grep -q '^wrong' "$DIR/corpus"; then bad "corpus mail provenance:"; grep '^wrong' "$DIR/corpus"
	else ok "corpus mails: mail-unverified, key not found / no signature, not counted"; fi
	check "one more quarantine entry (the non-report mail)" 2 \
	    "$(sg report quarantine list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"
	check "krvtz.net stats: none of them counted" 0 \
	    "$(sg stats krvtz.net --json | $PY -c 'import json,sys; print(sum(d["successful"] + d["failed"] for d in json.load(sys.stdin)["days"]))')"
else
	echo "note: no corpus at $CORPUS: corpus replay skipped"
fi

# HTTPS keeps serving beside SMTP.
check "policy fetch still answered" 200 "$(curl -sS --max-time 5 -o /dev/null \
    -w '%{http_code}' --cacert "$DIR/data/local-ca.pem" \
    --resolve "mta-sts.example.com:$PORT:$IP" \
    "https://mta-sts.example.com:$PORT/.well-known/mta-sts.txt")"

serve_stop
log_clean "$DIR/serve.log"
finish
