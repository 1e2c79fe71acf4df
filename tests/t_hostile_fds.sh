#!/bin/bash
# t_hostile_fds.sh - descriptor exhaustion (issue 10): on EMFILE the
# accept loops once logged and returned while the listener stayed
# readable, a million log lines in 3 s at 100 % CPU.
#
#   A. `stsguard serve` under `prlimit --nofile=128`: it lowers its
#      connection limits to fit (and says so), 300 idle connections from
#      six addresses cost little CPU and few log lines, and once some
#      close a fresh connection gets its policy.
#   B. accept failing with EMFILE for 3 s, whatever the limits (a shim,
#      tests/faultaccept.c, LD_PRELOADed, makes accept() fail while a
#      file exists, as it does out of descriptors): the HTTPS, HTTP and
#      SMTP listeners pause instead of spinning (few accept calls, little
#      CPU, one log line per listener), the daemon serves as soon as
#      accept works again, and connections made meanwhile are served.
#
# Own loopback addresses (lib.sh); bounded (clients hold for seconds);
# the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SH=sts.fds.test
HPORT=$(( PORT + 1 ))
SPORT=$(( PORT + 2 ))
NET=${IP%.*}
srcs=$(for i in 1 2 3 4 5 6; do
	printf '%s.%d,' "$NET" $(( (i + ${IP##*.}) % 250 + 2 )); done)
srcs=${srcs%,}
fetch() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
	    --cacert "$DIR/data/local-ca.pem" \
	    --resolve "mta-sts.fds.test:$PORT:$IP" \
	    "https://mta-sts.fds.test:$PORT/.well-known/mta-sts.txt"
}
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }	# CPU, 1/100 s
lines() { wc -l < "$1"; }
stop() { kill -TERM "$PID"; wait "$PID"; st=$?; PID=; }

echo "address $IP https $PORT http $HPORT smtp $SPORT"
sg domain add fds.test --mode testing --mx mx.fds.test > /dev/null ||
    { echo "domain add failed"; exit 1; }

# --- A. under prlimit --nofile=128 ---------------------------------------
echo "== A. RLIMIT_NOFILE 128, 300 idle connections"
prlimit --nofile=128:128 "$STSGUARD" --data-dir "$DIR/data" serve \
    --https-listen "$IP:$PORT" --http-listen "$IP:$HPORT" \
    --service-host $SH --workers 2 2> "$DIR/a.log" &
PID=$!
wait_up "$DIR/a.log" fetch > /dev/null || exit 1
grep -q 'RLIMIT_NOFILE 128 (hard 128) allows' "$DIR/a.log" &&
    ok "lowered its connection limits to the descriptor limit, and said so" ||
    bad "no word of RLIMIT_NOFILE: $(head -3 "$DIR/a.log")"
n0=$(lines "$DIR/a.log")
$PY "$TOP/tests/hostile.py" idle "$IP" "$PORT" --conns 300 --srcs "$srcs" \
    --hold 8 --close-after 5 --close 300 > "$DIR/idle" &
IDLE=$!
sleep 1.5
# CPU time, not speed: a loop that spins on a readable listener burns
# the 3 s whole (300/100 s; 488 measured without the pause), a paused
# one next to nothing. The bound is a resource bound, generous.
t0=$(ticks)
sleep 3
cpu=$(( $(ticks) - t0 ))
nl=$(( $(lines "$DIR/a.log") - n0 ))
echo "     with 300 idle connections: $cpu/100 s CPU in 3 s, $nl log lines"
check "300 connections made" connected=300 "$(head -1 "$DIR/idle")"
[ "$cpu" -lt 50 ] && ok "little CPU meanwhile ($cpu/100 s in 3 s)" ||
    bad "CPU $cpu/100 s in 3 s"
[ "$nl" -lt 100 ] && ok "a bounded number of log lines ($nl)" ||
    bad "$nl log lines"
# Once they close, a fresh connection gets its policy.
sleep 2.5
got=000
for _ in $(seq 30); do
	got=$(fetch); [ "$got" = 200 ] && break; sleep 0.1
done
check "policy fetch on a fresh connection once they closed" 200 "$got"
wait $IDLE
stop
check "A: SIGTERM exit code" 0 "$st"

# --- B. accept failing with EMFILE --------------------------------------
echo "== B. accept failing with EMFILE for 3 s"
SHIM=$DIR/faultaccept.so
gcc -std=c17 -O2 -Wall -Wextra -Werror -shared -fPIC -o "$SHIM" \
    "$TOP/tests/faultaccept.c" -ldl || { bad "cannot build the shim"; finish
	exit; }
PRELOAD=$SHIM
ASAN=$(ldd "$STSGUARD" | awk '/libasan\.so/ {print $3; exit}')
[ -n "$ASAN" ] && PRELOAD="$ASAN $SHIM"	# libasan must come first
FAULT=$DIR/fault
env LD_PRELOAD="$PRELOAD" FAULTACCEPT_FILE="$FAULT" "$STSGUARD" \
    --data-dir "$DIR/data" serve --https-listen "$IP:$PORT" \
    --http-listen "$IP:$HPORT" --smtp-listen "$IP:$SPORT" \
    --service-host $SH --workers 2 2> "$DIR/b.log" &
PID=$!
wait_up "$DIR/b.log" fetch > /dev/null || exit 1
touch "$FAULT"
n0=$(lines "$DIR/b.log")
t0=$(ticks)
# Connections to every listener wait in the backlog meanwhile.
JOBS=
for p in $PORT $HPORT $SPORT; do
	$PY "$TOP/tests/hostile.py" idle "$IP" $p --conns 5 --srcs "$srcs" \
	    --hold 5 > /dev/null &
	JOBS="$JOBS $!"
done
( sleep 1; fetch > "$DIR/during" ) &
JOBS="$JOBS $!"
sleep 3
cpu=$(( $(ticks) - t0 ))
calls=$(stat -c %s "$FAULT.count" 2> /dev/null || echo 0)
rm -f "$FAULT"
nl=$(( $(lines "$DIR/b.log") - n0 ))
echo "     3 s of EMFILE: $calls accept calls, $cpu/100 s CPU, $nl log lines"
[ "$calls" -gt 0 ] && ok "accept was tried and failed" ||
    bad "the shim failed no accept (LD_PRELOAD=$PRELOAD in effect?)"
[ "$calls" -lt 200 ] && ok "the listeners paused ($calls accept calls)" ||
    bad "the listeners spun: $calls accept calls in 3 s"
[ "$cpu" -lt 50 ] && ok "little CPU meanwhile ($cpu/100 s in 3 s)" ||
    bad "CPU $cpu/100 s in 3 s"
[ "$nl" -le 8 ] && ok "a bounded number of log lines ($nl)" ||
    bad "$nl log lines"
grep -q 'Too many open files: not accepting for 250 ms' "$DIR/b.log" &&
    ok "HTTPS/HTTP: says it pauses, once" || bad "no pause line for HTTPS"
grep -q 'accept: Too many open files: pausing 250 ms' "$DIR/b.log" &&
    ok "SMTP: says it pauses, once" || bad "no pause line for SMTP"
wait $JOBS
check "the fetch made during the fault is answered after it" 200 \
    "$(cat "$DIR/during")"
check "a fresh fetch after the fault" 200 "$(fetch)"
printf 'EHLO x\r\nQUIT\r\n' | timeout 5 $PY -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
print(s.recv(100).decode().split()[0])' "$IP" "$SPORT" > "$DIR/smtp"
check "SMTP accepts again" 220 "$(cat "$DIR/smtp")"
stop
check "B: SIGTERM exit code" 0 "$st"
grep -E 'panic|AddressSanitizer|runtime error' "$DIR/a.log" "$DIR/b.log" &&
    bad "panic or sanitizer report" || ok "no panic or sanitizer report"
finish
