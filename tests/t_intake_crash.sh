#!/bin/bash
# t_intake_crash.sh - crash safety of report intake (issue 4): an
# acknowledged report is never lost and never counted twice.
#
# Generates N (default 300) small valid TLS-RPT reports with distinct
# report-ids (JSON and gzip), and POSTs them over HTTPS with curl, three
# senders in parallel, one request at a time each, recording every
# report-id whose POST was answered 201 or 200. Meanwhile the daemon is
# killed with SIGKILL KILLS times (default 4), each time once the stream
# has made some progress, and restarted at once; the senders keep resending
# whatever was not acknowledged until everything is. At the end the daemon
# is SIGKILLed once more and `report list --json` must hold every report
# exactly once (count by organization-name + report-id), nothing else, and
# totals (successful, failed) equal to the sums over the distinct reports.
#
# Own loopback address, random high ports (lib.sh); bounded
# (DEADLINE seconds, default 90, for the stream); the trap stops every
# process it started and removes its folder.
set -u
. "$(dirname "$0")/lib.sh"
STOP_SIGNAL=KILL
N=${N:-300}
KILLS=${KILLS:-4}
SENDERS=3
DEADLINE=${DEADLINE:-90}
HPORT=$(( PORT + 1 ))
SH=sts.crash.test
SPIDS=

start_daemon() { # start_daemon N: start serve, log to serve.N.log, wait
	"$STSGUARD" --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
	    --http-listen "$IP:$HPORT" --service-host $SH --workers 2 \
	    --log-level warn 2> "$DIR/serve.$1.log" &
	PID=$!
	wait_up "$DIR/serve.$1.log" curl -s -o /dev/null --max-time 2 \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.crash.test:$PORT:$IP" \
	    https://mta-sts.crash.test:$PORT/.well-known/mta-sts.txt
}

js() { # js CODE: run Python CODE with d = the JSON document on stdin
	/usr/bin/python3 -c "import json, sys; d = json.load(sys.stdin)
$1"
}
echo "address $IP https $PORT; $N reports, $SENDERS senders, $KILLS kills"
sg domain add crash.test --mode testing --mx mx.crash.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show crash.test --json | js 'print(d["token"])')
[ -n "$TOKEN" ] || { echo "no token"; exit 1; }

# --- the reports: distinct report-ids, known totals ----------------------
# r/NNNN.json or r/NNNN.json.gz; expect.tsv: report-id successful failed
mkdir -p "$DIR/r"
/usr/bin/python3 - "$DIR/r" "$N" > "$DIR/expect.tsv" <<'PY' || exit 1
import gzip, json, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    rid = "crash-%04d" % i
    ok, bad = 1000 + i, i % 7
    pol = {"policy": {"policy-type": "sts",
                      "policy-string": ["version: STSv1", "mode: testing",
                                        "mx: mx.crash.test", "max_age: 604800"],
                      "policy-domain": "crash.test", "mx-host": ["mx.crash.test"]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": bad}}
    if bad:
        pol["failure-details"] = [{"result-type": "certificate-expired",
                                   "sending-mta-ip": "192.0.2.%d" % (i % 250 + 1),
                                   "receiving-mx-hostname": "mx.crash.test",
                                   "receiving-ip": "198.51.100.7",
                                   "failed-session-count": bad}]
    rep = {"organization-name": "Crash Test Sender",
           "date-range": {"start-datetime": "2026-11-01T00:00:00Z",
                          "end-datetime": "2026-11-01T23:59:59Z"},
           "contact-info": "tlsrpt@sender.example", "report-id": rid,
           "policies": [pol]}
    b = json.dumps(rep).encode()
    if i % 2:
        open("%s/%04d.json.gz" % (out, i), "wb").write(gzip.compress(b, mtime=0))
    else:
        open("%s/%04d.json" % (out, i), "wb").write(b)
    print("%s\t%d\t%d" % (rid, ok, bad))
PY
check "reports generated" "$N" "$(wc -l < "$DIR/expect.tsv")"

# --- a sender: POSTs its share until all are acknowledged ------------------
# sender K: files with index % SENDERS == K; appends "report-id code" to
# acked.K for 200/201, to rejected.K for any other 4xx answer (a valid
# report must never be refused); 000 (connection refused or reset) and
# 5xx are retried in the next pass.
sender() {
	local k=$1 end=$2 f id code pending pass=0 n=0
	local -A done_=()
	while [ "$(date +%s)" -lt "$end" ]; do
		pending=0
		pass=$((pass + 1))
		for f in "$DIR"/r/*; do
			n=${f##*/}; n=$((10#${n%%.*}))
			[ $((n % SENDERS)) -eq "$k" ] || continue
			id=$(printf 'crash-%04d' "$n")
			[ -n "${done_[$id]:-}" ] && continue
			case $f in
			*.gz) ct=application/tlsrpt+gzip ;;
			*)    ct=application/tlsrpt+json ;;
			esac
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
			    --cacert "$DIR/data/local-ca.pem" --resolve "$SH:$PORT:$IP" \
			    -H "Content-Type: $ct" --data-binary "@$f" \
			    "https://$SH:$PORT/tlsrpt/$TOKEN")
			case $code in
			200|201) echo "$id $code" >> "$DIR/acked.$k"; done_[$id]=1 ;;
			000|5*)  echo "$id $code pass $pass" >> "$DIR/retry.$k"; pending=1 ;;
			*)       echo "$id $code" >> "$DIR/rejected.$k"; done_[$id]=1 ;;
			esac
		done
		[ $pending -eq 0 ] && { echo "sender $k done after $pass passes" > "$DIR/done.$k"; return 0; }
		sleep 0.2
	done
	return 1
}

acked_count() { cat "$DIR"/acked.* 2>/dev/null | wc -l; }

start_daemon 0 || exit 1
kill_ok=0
END=$(( $(date +%s) + DEADLINE ))
for k in $(seq 0 $((SENDERS - 1))); do
	sender "$k" "$END" &
	SPIDS="$SPIDS $!"
done

# --- SIGKILL during the stream: each time the daemon has acknowledged
# another N/(3*KILLS) reports since it (re)started, plus 0-0.19 s, so that
# the kill lands anywhere in a request, and some of the stream is left.
# The step leaves room for the acknowledgements that arrive while we poll
# and sleep (~150/s here, up to ~40 per kill): with N/(KILLS+2) the last
# kill came after the stream had ended about every other run -----------
step=$(( N / (3 * KILLS) ))
for kn in $(seq "$KILLS"); do
	want=$(( $(acked_count) + step ))
	while [ "$(acked_count)" -lt "$want" ] && [ "$(date +%s)" -lt "$END" ]; do
		sleep 0.05
	done
	sleep "0.$(( RANDOM % 2 ))$(( RANDOM % 10 ))"
	at=$(acked_count)
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null
	rc=$?
	if [ $rc -ne 137 ]; then
		bad "kill $kn: daemon exit status $rc, not 137 (SIGKILL): $(tail -3 "$DIR/serve.$((kn - 1)).log")"
	elif [ "$at" -ge "$N" ]; then
		bad "kill $kn: SIGKILL after the stream ended ($at/$N acknowledged)"
	else
		kill_ok=$((kill_ok + 1))
		echo "     kill $kn: SIGKILL after $at/$N acknowledged"
	fi
	PID=
	start_daemon "$kn" || { bad "restart $kn failed"; break; }
done
check "SIGKILLs during the stream" "$KILLS" "$kill_ok"

# --- the senders finish: everything acknowledged ---------------------------
for p in $SPIDS; do wait "$p"; done
check "all senders done before the deadline" "$SENDERS" \
    "$(cat "$DIR"/done.* 2>/dev/null | wc -l)"
cat "$DIR"/rejected.* > "$DIR/rejected" 2>/dev/null
check "no valid report refused (4xx)" "" "$(head -5 "$DIR/rejected")"
cat "$DIR"/acked.* 2>/dev/null | sort > "$DIR/acked"
cat "$DIR"/retry.* 2>/dev/null | sort > "$DIR/retry"
check "every report acknowledged (201 or 200)" "$N" \
    "$(cut -d' ' -f1 "$DIR/acked" | sort -u | wc -l)"
echo "     answers: $(grep -c ' 201$' "$DIR/acked") x 201 (new)," \
    "$(grep -c ' 200$' "$DIR/acked") x 200 (duplicate: stored, ack lost by a kill)," \
    "$(wc -l < "$DIR/retry") failed tries resent"
[ "$(wc -l < "$DIR/retry")" -gt 0 ] && ok "the kills interrupted the stream (some POSTs failed and were resent)" ||
    bad "no POST failed: the kills missed the stream"

# --- a last SIGKILL, then the store --------------------------------------
kill -KILL "$PID"; wait "$PID" 2>/dev/null; PID=
if ! sg report list --json > "$DIR/list.json" 2> "$DIR/list.err"; then
	bad "report list failed: $(cat "$DIR/list.err")"
else
	js 'for r in d: print(r["organization-name"], r["report-id"], sep="\t")' \
	    < "$DIR/list.json" | sort | uniq -c | awk '$1 != 1' > "$DIR/dups"
	check "no (organization-name, report-id) stored twice" "" "$(head -5 "$DIR/dups")"
	js 'for r in d: print(r["report-id"])' < "$DIR/list.json" | sort -u > "$DIR/stored_ids"
	cut -d' ' -f1 "$DIR/acked" | sort -u > "$DIR/acked_ids"
	check "every acknowledged report is stored" "" \
	    "$(comm -23 "$DIR/acked_ids" "$DIR/stored_ids" | head -5)"
	check "nothing stored that was not sent" "" \
	    "$(comm -13 <(cut -f1 "$DIR/expect.tsv" | sort) "$DIR/stored_ids" | head -5)"
	check "reports stored" "$N" "$(js 'print(len(d))' < "$DIR/list.json")"
	check "total successful = sum over distinct reports" \
	    "$(awk -F'\t' '{s += $2} END {print s}' "$DIR/expect.tsv")" \
	    "$(js 'print(sum(r["successful"] for r in d))' < "$DIR/list.json")"
	check "total failed = sum over distinct reports" \
	    "$(awk -F'\t' '{s += $3} END {print s}' "$DIR/expect.tsv")" \
	    "$(js 'print(sum(r["failed"] for r in d))' < "$DIR/list.json")"
	# per report, not only the sums
	js 'for r in d: print(r["report-id"], r["successful"], r["failed"], sep="\t")' \
	    < "$DIR/list.json" | sort > "$DIR/stored.tsv"
	check "each report's own totals" "" \
	    "$(sort "$DIR/expect.tsv" | diff - "$DIR/stored.tsv" | head -5)"
fi
grep -h 'level=panic\|AddressSanitizer\|runtime error' "$DIR"/serve.*.log > "$DIR/panics"
check "no panic or sanitizer report in the daemon logs" "" "$(head -5 "$DIR/panics")"

finish
