#!/bin/bash
# t_cluster.sh - several `stsguard serve` nodes sharing one PostgreSQL
# (issue 15): a real PostgreSQL 15 of the test's own (lib.sh pg_start,
# Unix socket), three nodes on three loopback addresses, each with a data
# dir of its own (its own local CA) and the same `store` URL.
#
# 1. A change through node 1 (`domain set` with node 1's configuration)
#    is served by nodes 2 and 3 (a NOTIFY wakes them, and they read the
#    domain generation every 250 ms: daemon_reload.c). How soon is
#    bench/cluster's figure; here only a 10 s bound, so that the test
#    cannot hang.
# 2. Intake on all three at once, three senders each POSTing to its own
#    node and moving to the next node when one fails; node 2 is killed
#    with SIGKILL during the stream and not restarted. After: every
#    acknowledged report is stored, nothing is stored twice or counted
#    twice (the roll-ups add up to the sums over distinct reports), and
#    resends across nodes are duplicates (the database decides).
# 3. PostgreSQL stopped as by a crash (pg_ctl -m immediate): nodes 1 and
#    3 keep serving policies, intake answers 503, the outage is logged
#    once; PostgreSQL back: intake stores again, and a change made now
#    is served by both nodes (they caught up on their own).
#
# Bounded (curl --max-time, DEADLINE for the stream); the trap stops the
# nodes, the senders and PostgreSQL.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
N=${N:-150}
DEADLINE=${DEADLINE:-90}
SH=sts.cluster.test
D=cluster.test
NODE_PID=()

pg_start || { bad "PostgreSQL did not start"; finish; exit; }
base=${IP%.*} last=${IP##*.}
for n in 1 2 3; do
	NIP[n]=$base.$((last + n))
	mkdir -p "$DIR/d$n"
	echo "store = $PG_URL" > "$DIR/d$n/stsguard.conf"
done
echo "nodes ${NIP[1]} ${NIP[2]} ${NIP[3]} port $PORT"
sgn() { local n=$1; shift; "$STSGUARD" --data-dir "$DIR/d$n" "$@"; }

# fetch N: the policy as node N serves it
fetch() {
	curl -sS --max-time 5 --cacert "$DIR/d$1/local-ca.pem" \
	    --resolve "mta-sts.$D:$PORT:${NIP[$1]}" \
	    "https://mta-sts.$D:$PORT/.well-known/mta-sts.txt"
}
# post N FILE: POSTs a report to node N; prints the status code
post() {
	local ct=application/tlsrpt+json
	case $2 in *.gz) ct=application/tlsrpt+gzip ;; esac
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	    --cacert "$DIR/d$1/local-ca.pem" --resolve "$SH:$PORT:${NIP[$1]}" \
	    -H "Content-Type: $ct" --data-binary "@$2" \
	    "https://$SH:$PORT/tlsrpt/$TOKEN"
}
start_node() { # start_node N
	"$STSGUARD" --data-dir "$DIR/d$1" serve \
	    --https-listen "${NIP[$1]}:$PORT" --http-listen off \
	    --service-host $SH --workers 2 --monitor-interval 0 \
	    2> "$DIR/serve.$1.log" &
	NODE_PID[$1]=$!
	PID=${NODE_PID[$1]}
	wait_up "$DIR/serve.$1.log" fetch "$1" > /dev/null
}
cleanup_add 'for p in "${NODE_PID[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done'

sgn 1 domain add $D --mode testing --mx mx.$D > /dev/null ||
    { bad "domain add on PostgreSQL failed"; finish; exit; }
TOKEN=$(sgn 2 domain show $D --json | $PY -c \
    'import json, sys; print(json.load(sys.stdin)["token"])')
check "node 2 reads what node 1 stored" 32 "${#TOKEN}"
for n in 1 2 3; do
	start_node "$n" || { bad "node $n did not start"; finish; exit; }
done
PID=
for n in 1 2 3; do
	grepf "node $n serves the domain" <(fetch "$n") '^mode: testing'
done

# --- 1. a change through node 1, served by nodes 2 and 3 ----------------
sgn 1 domain set $D --mode enforce > /dev/null || bad "domain set failed"
seen=
for _ in $(seq 200); do
	fetch 2 | grep -q '^mode: enforce' && fetch 3 | grep -q '^mode: enforce' &&
	    { seen=1; break; }
	sleep 0.05
done
[ -n "$seen" ] && ok "nodes 2 and 3 serve the change made through node 1" ||
    bad "nodes 2 and 3 do not serve the change made through node 1"

# --- 2. intake on all three; node 2 SIGKILLed during the stream ----------
$PY - "$DIR/r" "$N" $D > "$DIR/expect.tsv" <<'PY' || exit 1
import gzip, json, os, sys
out, n, dom = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(out)
for i in range(n):
    rid = "node-%04d" % i
    ok, bad = 500 + i, i % 5
    pol = {"policy": {"policy-type": "sts", "policy-domain": dom,
                      "policy-string": ["version: STSv1", "mode: enforce",
                                        "mx: mx." + dom, "max_age: 604800"],
                      "mx-host": ["mx." + dom]},
           "summary": {"total-successful-session-count": ok,
                       "total-failure-session-count": bad}}
    if bad:
        pol["failure-details"] = [{"result-type": "certificate-expired",
                                   "receiving-mx-hostname": "mx." + dom,
                                   "failed-session-count": bad}]
    rep = {"organization-name": "Cluster Sender", "report-id": rid,
           "date-range": {"start-datetime": "2026-11-02T00:00:00Z",
                          "end-datetime": "2026-11-02T23:59:59Z"},
           "contact-info": "tlsrpt@sender.example", "policies": [pol]}
    b = json.dumps(rep).encode()
    name = "%s/%04d.json" % (out, i)
    if i % 2:
        open(name + ".gz", "wb").write(gzip.compress(b, mtime=0))
    else:
        open(name, "wb").write(b)
    print("%s\t%d\t%d" % (rid, ok, bad))
PY

# sender K: the reports with index % 3 == K, to node K+1, moving on to
# the next node after a failed try; "id code node" into acked.K.
sender() {
	local k=$1 end=$2 node=$(( $1 + 1 )) f i id code
	for f in "$DIR"/r/*; do
		i=${f##*/}; i=$((10#${i%%.*}))
		[ $((i % 3)) -eq "$k" ] || continue
		id=$(printf 'node-%04d' "$i")
		while [ "$(date +%s)" -lt "$end" ]; do
			code=$(post "$node" "$f")
			case $code in
			200|201) echo "$id $code $node" >> "$DIR/acked.$k"; break ;;
			000|5*) echo "$id $code $node" >> "$DIR/retry.$k"
			    node=$(( node % 3 + 1 )); sleep 0.1 ;;
			*) echo "$id $code $node" >> "$DIR/rejected.$k"; break ;;
			esac
		done
	done
}
acked() { cat "$DIR"/acked.* 2>/dev/null | wc -l; }
END=$(( $(date +%s) + DEADLINE ))
SPIDS=
for k in 0 1 2; do sender "$k" "$END" & SPIDS="$SPIDS $!"; done
while [ "$(acked)" -lt $(( N / 3 )) ] && [ "$(date +%s)" -lt "$END" ]; do
	sleep 0.05
done
at=$(acked)
kill -KILL "${NODE_PID[2]}"; wait "${NODE_PID[2]}" 2>/dev/null
echo "     node 2 SIGKILLed after $at/$N acknowledged"
for p in $SPIDS; do wait "$p"; done
[ "$at" -lt "$N" ] && ok "node 2 was killed during the stream" ||
    bad "node 2 was killed after the stream ended"
cat "$DIR"/acked.* | sort > "$DIR/acked"
check "no valid report refused" "" "$(cat "$DIR"/rejected.* 2>/dev/null | head -3)"
check "every report acknowledged" "$N" "$(cut -d' ' -f1 "$DIR/acked" | sort -u | wc -l)"
check "every node acknowledged some" 3 "$(cut -d' ' -f3 "$DIR/acked" | sort -u | wc -l)"
echo "     $(grep -c ' 201 ' "$DIR/acked") x 201, $(grep -c ' 200 ' "$DIR/acked") x 200," \
    "$(cat "$DIR"/retry.* 2>/dev/null | wc -l) tries moved to another node"
# Everything again, to the other nodes: every resend is a duplicate.
dups=0
for f in "$DIR"/r/000[0-9].*; do
	[ "$(post 3 "$f")" = 200 ] && dups=$((dups + 1))
done
check "resends to another node: duplicates (200)" 10 "$dups"
sgn 1 report list --json > "$DIR/list.json" ||
    bad "report list failed"
$PY -c 'import json, sys
for r in json.load(sys.stdin): print(r["report-id"], r["successful"], r["failed"], sep="\t")' \
    < "$DIR/list.json" | sort > "$DIR/stored.tsv"
check "every acknowledged report stored, once, with its totals" "" \
    "$(sort "$DIR/expect.tsv" | diff - "$DIR/stored.tsv" | head -5)"
sgn 3 stats $D --from 2026-11-02 --to 2026-11-02 --json > "$DIR/stats.json" ||
    bad "stats failed"
check "stats: successful sessions counted once" \
    "$(awk -F'\t' '{s += $2} END {print s}' "$DIR/expect.tsv")" \
    "$($PY -c 'import json, sys; print(sum(x["successful"] for x in json.load(sys.stdin)["days"]))' < "$DIR/stats.json")"
check "stats: failed sessions counted once" \
    "$(awk -F'\t' '{s += $3} END {print s}' "$DIR/expect.tsv")" \
    "$($PY -c 'import json, sys; print(sum(x["failed"] for x in json.load(sys.stdin)["days"]))' < "$DIR/stats.json")"

# --- 3. PostgreSQL gone, and back ----------------------------------------
pg_stop immediate
for n in 1 3; do
	grepf "node $n serves the policy without its database" \
	    <(fetch "$n") '^mode: enforce'
done
$PY - "$DIR/late.json" $D <<'PY'
import json, sys
dom = sys.argv[2]
json.dump({"organization-name": "Cluster Sender", "report-id": "late-1",
           "date-range": {"start-datetime": "2026-11-03T00:00:00Z",
                          "end-datetime": "2026-11-03T23:59:59Z"},
           "contact-info": "tlsrpt@sender.example",
           "policies": [{"policy": {"policy-type": "sts", "policy-domain": dom,
                                    "mx-host": ["mx." + dom]},
                         "summary": {"total-successful-session-count": 7,
                                     "total-failure-session-count": 0}}]},
          open(sys.argv[1], "w"))
PY
check "intake on node 1 without its database: 503" 503 "$(post 1 "$DIR/late.json")"
check "intake on node 3 without its database: 503" 503 "$(post 3 "$DIR/late.json")"
post 1 "$DIR/late.json" > /dev/null
check "the outage logged once by node 1" 1 \
    "$(grep -c 'answering 503/451 until the store works' "$DIR/serve.1.log")"
pg_up || { bad "PostgreSQL did not restart"; finish; exit; }
code=
for _ in $(seq 50); do
	code=$(post 1 "$DIR/late.json")
	[ "$code" = 201 ] && break
	sleep 0.2
done
check "PostgreSQL back: node 1 stores the report" 201 "$code"
check "node 3 sees it as a duplicate" 200 "$(post 3 "$DIR/late.json")"
sgn 3 domain set $D --mode testing > /dev/null || bad "domain set after the outage failed"
back=
for _ in $(seq 40); do
	fetch 1 | grep -q '^mode: testing' && fetch 3 | grep -q '^mode: testing' &&
	    { back=1; break; }
	sleep 0.1
done
[ -n "$back" ] && ok "after the outage both nodes serve a new change" ||
    bad "a change after the outage is not served"
log_wait "$DIR/serve.1.log" 'the store works again' &&
    ok "node 1 logged that the store works again" ||
    bad "node 1 did not log the store's return"
for n in 1 3; do
	kill -TERM "${NODE_PID[$n]}"; wait "${NODE_PID[$n]}"
	check "node $n: SIGTERM exit code" 0 $?
done
NODE_PID=()
log_clean "$DIR"/serve.*.log
finish
