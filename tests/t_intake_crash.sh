#!/bin/bash
# t_intake_crash.sh - crash safety of report intake (issue 4): an
# acknowledged report is never lost and never counted twice. Two parts:
#
# A. Process crashes (SIGKILL), repeated, during a stream.
#    Generates N (default 300) small valid TLS-RPT reports with distinct
#    report-ids (JSON and gzip), and POSTs them over HTTPS with curl,
#    three senders in parallel, one request at a time each, recording
#    every report-id whose POST was answered 201 or 200. Meanwhile the
#    daemon is killed with SIGKILL KILLS times (default 4), each time once
#    the stream has made some progress, and restarted at once; the senders
#    keep resending whatever was not acknowledged until everything is. At
#    the end the daemon is SIGKILLed once more, and then:
#    - every acknowledged report is in `report list --json`: 201/200 is
#      sent only after the commit (a kill between an early answer and
#      its commit would lose the report);
#    - `stats` (the rollup table that charts read, written per stored
#      report) adds up to the sums over the distinct reports: a report
#      rolled up again when it is resent after a lost answer, or whose
#      rollup is not in its report's transaction, shows here;
#    - each report's duplicates counter adds up to between the number of
#      200 answers (each one sent after its increment was committed) and
#      that plus the number of failed tries (a resend whose answer was
#      lost);
#    - nothing stored that was not sent, and each report's own totals.
#    What part A cannot see: SIGKILL keeps the page cache, so a commit
#    that was never synced survives it; and the old check "no
#    (organization-name, report-id) stored twice" in `report list` was
#    removed: the UNIQUE constraint on the report table makes it true
#    whatever intake does (the stats check above is the one that counts).
#
# B. Power loss, modelled: durability of the acknowledgement.
#    tests/syncsnap.c, built here (LD_PRELOAD), copies a file's content
#    into a snapshot dir each time fsync/fdatasync is called on it, and
#    its name once the directory is synced (see its header): the snapshot
#    holds exactly what had been made durable. `stsguard domain add` and
#    `serve` run under it from an empty data dir; reports are POSTed over
#    HTTPS (two senders, once each, no resend) and mailed by SMTP with
#    swaks (two senders); every 201/200 and every 250 after the message is
#    recorded; the daemon is SIGKILLed in the middle of the stream. Then a
#    data dir is built from the snapshot alone (stsguard.db, and
#    stsguard.db-wal when the snapshot has it; no -shm) and `report list
#    --json` on it must hold every acknowledged report, and SQLite's
#    integrity_check must pass. Acknowledged = fsynced, or the test fails.
#    Negative control, asserted: the same run with the store's syncs
#    really disabled. SYNCSNAP_MODE=nosync makes the shim rewrite the
#    store's "PRAGMA synchronous = FULL" (src/store/store_sqlite.c, run
#    through sqlite3_exec; any spelling of the assignment, also through
#    sqlite3_prepare_v2/v3) to OFF, in the daemon only (the data dir is
#    set up with FULL). Nothing else changes: the daemon answers as
#    before, and after the SIGKILL its live data dir still holds every
#    acknowledged report (checked: this is what part A sees), but the
#    snapshot must lack some; the shim must have logged the rewrite (if
#    the store's pragma changes so that the shim no longer finds it, the
#    control fails and says so, rather than pass on an unchanged store).
#    Chosen over a shim that merely drops fsync calls: SQLite then
#    believes it synced, which models a lying disk, not a store
#    configured without syncs; here the store itself skips them, and the
#    model stays the same in both runs. (SYNCSNAP_MODE=normal, not run
#    here, sets synchronous=NORMAL, WAL syncs only at checkpoints: it
#    loses acknowledged reports as well.) The shim logs any sync call it
#    cannot model (msync, syncfs, sync); one showing up fails the test.
#
# Own loopback address, random high ports (lib.sh); bounded (DEADLINE
# seconds, default 90, for the stream of part A; BDEADLINE, default 20,
# for each run of part B; ~22 s in all here); the trap stops every process
# it started and removes its folder.
set -u
. "$(dirname "$0")/lib.sh"
STOP_SIGNAL=KILL
PY=/usr/bin/python3
N=${N:-300}
KILLS=${KILLS:-4}
SENDERS=3
DEADLINE=${DEADLINE:-90}
BDEADLINE=${BDEADLINE:-20}
HPORT=$(( PORT + 1 ))
SH=sts.crash.test
SPIDS=

command -v swaks > /dev/null || { echo "swaks missing (scripts/deps.sh)"; exit 1; }

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
	$PY -c "import json, sys; d = json.load(sys.stdin)
$1"
}

# gen OUTDIR PREFIX COUNT DOMAIN: the reports PREFIX-0000..., as
# OUTDIR/NNNN.json or OUTDIR/NNNN.json.gz (every other one); prints
# "report-id<TAB>successful<TAB>failed" for each
gen() {
	mkdir -p "$1"
	$PY - "$@" <<'PY'
import gzip, json, sys
out, prefix, n, dom = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for i in range(n):
    rid = "%s-%04d" % (prefix, i)
    ok, bad = 1000 + i, i % 7
    pol = {"policy": {"policy-type": "sts",
                      "policy-string": ["version: STSv1", "mode: testing",
                                        "mx: mx." + dom, "max_age: 604800"],
                      "policy-domain": dom, "mx-host": ["mx." + dom]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": bad}}
    if bad:
        pol["failure-details"] = [{"result-type": "certificate-expired",
                                   "sending-mta-ip": "192.0.2.%d" % (i % 250 + 1),
                                   "receiving-mx-hostname": "mx." + dom,
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
}

ctype() { # ctype FILE: the media type to POST it with
	case $1 in
	*.gz) echo application/tlsrpt+gzip ;;
	*)    echo application/tlsrpt+json ;;
	esac
}

echo "address $IP https $PORT; $N reports, $SENDERS senders, $KILLS kills"
echo "== A. SIGKILL and restart during a stream"
sg domain add crash.test --mode testing --mx mx.crash.test > /dev/null ||
    { echo "domain add failed"; exit 1; }
TOKEN=$(sg domain show crash.test --json | js 'print(d["token"])')
[ -n "$TOKEN" ] || { echo "no token"; exit 1; }

# --- the reports: distinct report-ids, known totals ----------------------
# r/NNNN.json or r/NNNN.json.gz; expect.tsv: report-id successful failed
gen "$DIR/r" crash "$N" crash.test > "$DIR/expect.tsv" || exit 1
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
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
			    --cacert "$DIR/data/local-ca.pem" --resolve "$SH:$PORT:$IP" \
			    -H "Content-Type: $(ctype "$f")" --data-binary "@$f" \
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
n200=$(grep -c ' 200$' "$DIR/acked")
nretry=$(wc -l < "$DIR/retry")
echo "     answers: $(grep -c ' 201$' "$DIR/acked") x 201 (new)," \
    "$n200 x 200 (duplicate: stored, ack lost by a kill)," \
    "$nretry failed tries resent"
[ "$nretry" -gt 0 ] && ok "the kills interrupted the stream (some POSTs failed and were resent)" ||
    bad "no POST failed: the kills missed the stream"

# --- a last SIGKILL, then the store --------------------------------------
kill -KILL "$PID"; wait "$PID" 2>/dev/null; PID=
if ! sg report list --json > "$DIR/list.json" 2> "$DIR/list.err"; then
	bad "report list failed: $(cat "$DIR/list.err")"
else
	js 'for r in d: print(r["report-id"])' < "$DIR/list.json" | sort -u > "$DIR/stored_ids"
	cut -d' ' -f1 "$DIR/acked" | sort -u > "$DIR/acked_ids"
	check "every acknowledged report is stored" "" \
	    "$(comm -23 "$DIR/acked_ids" "$DIR/stored_ids" | head -5)"
	check "nothing stored that was not sent" "" \
	    "$(comm -13 <(cut -f1 "$DIR/expect.tsv" | sort) "$DIR/stored_ids" | head -5)"
	check "reports listed" "$N" "$(js 'print(len(d))' < "$DIR/list.json")"
	# per report, from the report rows
	js 'for r in d: print(r["report-id"], r["successful"], r["failed"], sep="\t")' \
	    < "$DIR/list.json" | sort > "$DIR/stored.tsv"
	check "each report's own totals" "" \
	    "$(sort "$DIR/expect.tsv" | diff - "$DIR/stored.tsv" | head -5)"
	# Resends after lost answers: counted as duplicates, never again.
	ndup=$(js 'print(sum(r["duplicates"] for r in d))' < "$DIR/list.json")
	if [ "$ndup" -ge "$n200" ] && [ "$ndup" -le $((n200 + nretry)) ]; then
		ok "duplicates counted: $n200 <= $ndup <= $n200 + $nretry"
	else
		bad "duplicates counted: $ndup, not between $n200 (200 answers) and $((n200 + nretry)) (+ failed tries)"
	fi
fi
# Counted once: the rollup (stats) against the sums over distinct reports.
if ! sg stats crash.test --from 2026-11-01 --to 2026-11-01 --json \
    > "$DIR/stats.json" 2> "$DIR/stats.err"; then
	bad "stats failed: $(cat "$DIR/stats.err")"
else
	check "stats: successful sessions = sum over distinct reports" \
	    "$(awk -F'\t' '{s += $2} END {print s}' "$DIR/expect.tsv")" \
	    "$(js 'print(sum(x["successful"] for x in d["days"]))' < "$DIR/stats.json")"
	check "stats: failed sessions = sum over distinct reports" \
	    "$(awk -F'\t' '{s += $3} END {print s}' "$DIR/expect.tsv")" \
	    "$(js 'print(sum(x["failed"] for x in d["days"]))' < "$DIR/stats.json")"
fi

# === B. power loss, modelled by the sync snapshot shim ===================
echo "== B. durability: what was synced holds every acknowledged report"
SHIM=$DIR/syncsnap.so
gcc -std=c17 -O2 -Wall -Wextra -Werror -shared -fPIC -o "$SHIM" \
    "$TOP/tests/syncsnap.c" -ldl || { bad "cannot build the shim"; finish; exit; }
# A sanitizer build links libasan dynamically: it must come first.
PRELOAD=$SHIM
ASAN=$(ldd "$STSGUARD" | awk '/libasan\.so/ {print $3; exit}')
[ -n "$ASAN" ] && PRELOAD="$ASAN $SHIM"
BH=24			# reports POSTed by each of 2 HTTPS senders
BM=4			# messages mailed by each of 2 SMTP senders
SPORT=$(( PORT + 1 ))	# part A's daemon is gone: its ports are free

# run_b MODE: one run in $DIR/b.MODE (data, snap, shim.log, acked,
# listed.live, listed.snap); the daemon's store in MODE (full or nosync)
run_b() {
	local mode=$1 b=$DIR/b.$1 tok f k i pids= hp mp end rc
	mkdir -p "$b/snap"
	# under the shim: every process that writes the data dir, from empty
	under() { # under MODE CMD...
		local m=$1; shift
		env LD_PRELOAD="$PRELOAD" SYNCSNAP_DIR="$b/snap" \
		    SYNCSNAP_WATCH="$b/data" SYNCSNAP_LOG="$b/shim.log" \
		    SYNCSNAP_MODE="$m" "$@"
	}
	under full "$STSGUARD" --data-dir "$b/data" domain add dur.test \
	    --mode testing --mx mx.dur.test > /dev/null &&
	tok=$(under full "$STSGUARD" --data-dir "$b/data" domain show \
	    dur.test --json | js 'print(d["token"])') && [ -n "$tok" ] ||
	    { bad "$mode: setup failed"; return 1; }
	gen "$b/r" "dur-$mode" $((2 * BH + 2 * BM)) dur.test > "$b/expect.tsv" ||
	    return 1
	# not through under(): $! must be the daemon, not a subshell
	env LD_PRELOAD="$PRELOAD" SYNCSNAP_DIR="$b/snap" \
	    SYNCSNAP_WATCH="$b/data" SYNCSNAP_LOG="$b/shim.log" \
	    SYNCSNAP_MODE="$mode" "$STSGUARD" --data-dir "$b/data" serve \
	    --https-listen "$IP:$PORT" --http-listen off \
	    --smtp-listen "$IP:$SPORT" --service-host $SH --workers 2 \
	    --log-level warn 2> "$b/serve.log" &
	PID=$!
	wait_up "$b/serve.log" timeout 2 bash -c "[ -f '$b/data/local-ca.pem' ] &&
	    exec 3<>/dev/tcp/$IP/$SPORT" || { bad "$mode: serve did not start"; return 1; }
	# HTTPS senders: reports 0..2*BH-1, each POSTed once, no resend
	for k in 0 1; do
		(
			for i in $(seq "$k" 2 $((2 * BH - 1))); do
				f=$(ls "$b"/r/"$(printf %04d "$i")".*)
				code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
				    --cacert "$b/data/local-ca.pem" --resolve "$SH:$PORT:$IP" \
				    -H "Content-Type: $(ctype "$f")" --data-binary "@$f" \
				    "https://$SH:$PORT/tlsrpt/$tok")
				case $code in 200|201)
					echo "dur-$mode-$(printf %04d "$i") $code" >> "$b/acked.http" ;;
				esac
				sleep 0.05
			done
		) &
		pids="$pids $!"
	done
	# SMTP senders: the next 2*BM reports, one message each, sent once
	for k in 0 1; do
		(
			for i in $(seq $((2 * BH + k)) 2 $((2 * BH + 2 * BM - 1))); do
				f=$(ls "$b"/r/"$(printf %04d "$i")".*)
				timeout 10 swaks --server "$IP" --port "$SPORT" \
				    --ehlo mail.sender.example --from tlsrpt@sender.example \
				    --to "tlsrpt+$tok@$SH" --body "TLS report" \
				    --attach-type "$(ctype "$f")" --attach "@$f" \
				    --attach-name "${f##*/}" > "$b/swaks.$i.out" 2>&1
				grep -qE '^<-  250 2\.0\.0 Ok: (report stored|duplicate)' \
				    "$b/swaks.$i.out" &&
				    echo "dur-$mode-$(printf %04d "$i") 250" >> "$b/acked.smtp"
				sleep 0.5	# spread over the HTTPS stream
			done
		) &
		pids="$pids $!"
	done
	# SIGKILL in the middle: once half of each stream is acknowledged
	end=$(( $(date +%s) + BDEADLINE ))
	while [ "$(date +%s)" -lt "$end" ]; do
		hp=$(cat "$b/acked.http" 2>/dev/null | wc -l)
		mp=$(cat "$b/acked.smtp" 2>/dev/null | wc -l)
		[ "$hp" -ge "$BH" ] && [ "$mp" -ge "$BM" ] && break
		sleep 0.05
	done
	SERVE_PID=$PID
	kill -KILL "$PID"; wait "$PID" 2>/dev/null; rc=$?; PID=
	for k in $pids; do wait "$k"; done
	check "$mode: the daemon died of the SIGKILL" 137 "$rc"
	cat "$b"/acked.* 2>/dev/null | sort > "$b/acked"
	hp=$(grep -c ' 20[01]$' "$b/acked"); mp=$(grep -c ' 250$' "$b/acked")
	echo "     $mode: SIGKILL; acknowledged $hp/$((2 * BH)) over HTTPS, $mp/$((2 * BM)) over SMTP"
	if [ "$hp" -ge 1 ] && [ "$mp" -ge 1 ] && [ "$((hp + mp))" -lt $((2 * BH + 2 * BM)) ]; then
		ok "$mode: killed mid-stream, both routes acknowledged reports"
	else bad "$mode: kill not mid-stream or a route idle ($hp HTTPS, $mp SMTP)"; fi
	# What SIGKILL alone leaves: the live data dir (page cache included).
	"$STSGUARD" --data-dir "$b/data" report list --json 2> "$b/live.err" |
	    js 'for r in d: print(r["report-id"])' | sort > "$b/listed.live"
	# What power loss would leave: the snapshot only.
	mkdir "$b/restored"
	cp "$b/snap/stsguard.db" "$b/restored/" 2> "$b/restore.err" ||
	    { bad "$mode: no stsguard.db in the snapshot"; return 1; }
	[ -f "$b/snap/stsguard.db-wal" ] && cp "$b/snap/stsguard.db-wal" "$b/restored/"
	$PY -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
	    "$b/restored/stsguard.db" > "$b/integrity" 2>&1
	"$STSGUARD" --data-dir "$b/restored" report list --json 2> "$b/snap.err" |
	    js 'for r in d: print(r["report-id"])' | sort > "$b/listed.snap"
	cut -d' ' -f1 "$b/acked" | sort -u > "$b/acked_ids"
	comm -23 "$b/acked_ids" "$b/listed.live" > "$b/lost.live"
	comm -23 "$b/acked_ids" "$b/listed.snap" > "$b/lost.snap"
	grep -E 'unmodeled|error' "$b/shim.log" > "$b/shim.problems"
	check "$mode: the shim modelled every sync call" "" "$(head -3 "$b/shim.problems")"
}

# --- the store as shipped: synchronous=FULL -------------------------------
if run_b full; then
	b=$DIR/b.full
	grep -qE "^pid $SERVE_PID fdatasync stsguard\.db-wal " "$b/shim.log" &&
	    ok "full: the shim saw serve sync its WAL" ||
	    bad "full: the shim saw no WAL sync in serve (LD_PRELOAD=$PRELOAD not in effect?)"
	check "full: no PRAGMA rewritten" "" "$(grep rewrote "$b/shim.log")"
	check "full: snapshot passes integrity_check" ok "$(cat "$b/integrity")"
	check "full: report list on the snapshot" "" "$(cat "$b/snap.err")"
	check "full: every acknowledged report is in the snapshot" "" \
	    "$(head -5 "$b/lost.snap")"
	check "full: and in the live data dir" "" "$(head -5 "$b/lost.live")"
fi

# --- negative control: the same with the store's syncs off ----------------
if run_b nosync; then
	b=$DIR/b.nosync
	grep -q 'rewrote PRAGMA synchronous FULL -> 0' "$b/shim.log" &&
	    ok "nosync: the shim turned the store's synchronous=FULL off" ||
	    bad "nosync: no 'PRAGMA synchronous = FULL' rewritten (src/store changed?): $(grep -i rewrote "$b/shim.log" | head -2)"
	check "nosync: live data dir holds every acknowledged report (SIGKILL alone sees no loss)" \
	    "" "$(head -5 "$b/lost.live")"
	nack=$(wc -l < "$b/acked_ids"); nlost=$(wc -l < "$b/lost.snap")
	if [ "$nlost" -gt 0 ] && [ -z "$(cat "$b/snap.err")" ]; then
		ok "nosync: the snapshot lost $nlost of $nack acknowledged reports (so the full check can fail)"
	else
		bad "nosync: the snapshot lost $nlost of $nack acknowledged reports, expected some lost ($(cat "$b/snap.err"))"
	fi
fi

grep -h 'level=panic\|AddressSanitizer\|runtime error' "$DIR"/serve.*.log \
    "$DIR"/b.*/serve.log > "$DIR/panics" 2>/dev/null
check "no panic or sanitizer report in the daemon logs" "" "$(head -5 "$DIR/panics")"

finish
