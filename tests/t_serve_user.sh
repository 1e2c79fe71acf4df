#!/bin/bash
# t_serve_user.sh - `stsguard serve --user` (the privilege drop), run as
# root with the user nobody.
#
# serve once ran a recursive lchown, as root, over the data dir, which
# the service user can write: a symlink or a directory swapped for one
# gave root's chown any file. Now root binds the listeners, drops to the
# user (no_new_privs set), and touches nothing in the data dir as root:
# it makes the data dir, or gives the directory itself to the user (by
# its fd), and refuses to start when anything directly inside belongs to
# someone else, with a `chown -R` hint; `user = root` is refused.
#
#   A. a data dir that does not exist yet: serve --user nobody makes it
#      and starts (HTTPS on a port below 1024, which only root may bind:
#      the listeners come before the drop); `domain add` run as nobody
#      meanwhile is served within seconds (200); the data dir and every
#      file in it belong to nobody; /proc shows every thread with
#      nobody's uids and gids, no group 0, NoNewPrivs 1; SIGTERM exits 0.
#   B. refusals: a file made by root in the data dir (serve names it and
#      says `chown -R`), a data dir of another uid; nothing is served.
#   C. the symlink attack: as nobody, links in the data dir (and in a
#      subdirectory of nobody's) to a root-owned file and directory; a
#      file of nobody's with group root; the data dir itself made root's.
#      serve --user nobody starts and serves, gives the directory itself
#      to nobody, and changes nothing else: the targets stay root's, the
#      file keeps its group.
#   D. --user root, an unknown user, and --user run by a non-root user
#      are refused, before the data dir is made.
#
# Needs root (CI runs it as root): fails loudly otherwise. Own loopback
# address (lib.sh) and a random port below 1024 on it; $DIR is made
# traversable (755) for nobody; the trap stops the daemon.
set -u
. "$(dirname "$0")/lib.sh"
SH=sts.user.test
U=nobody
D=$DIR/data
LPORT=$(( 100 + RANDOM % 900 ))	# below 1024: only root may bind it

echo "address $IP https $LPORT"
if [ "$(id -u)" != 0 ]; then
	bad "not root: this test needs root (CI runs it as root)"
	finish
	exit 1
fi
G=$(id -gn "$U") || { bad "no user $U"; finish; exit 1; }
UID_U=$(id -u "$U") GID_U=$(id -g "$U")
chmod 755 "$DIR"
AS_U=(setpriv --reuid "$U" --regid "$G" --clear-groups)
NB() { "${AS_U[@]}" "$@"; }
SERVE=("$STSGUARD" --data-dir "$D" serve --https-listen "$IP:$LPORT"
    --http-listen off --service-host $SH --workers 2)
fetch() { # fetch: a policy fetch, prints the status (000: none)
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	    --cacert "$D/local-ca.pem" --resolve "mta-sts.user.test:$LPORT:$IP" \
	    "https://mta-sts.user.test:$LPORT/.well-known/mta-sts.txt"
}
answers() { # HTTPS is up: the service host's name answers (404)
	curl -s -o /dev/null --max-time 2 --cacert "$D/local-ca.pem" \
	    --resolve "$SH:$LPORT:$IP" "https://$SH:$LPORT/"
}
fetch_200() { # fetch_200: polls up to 5 s for a 200
	local _
	for _ in $(seq 50); do
		[ "$(fetch)" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
stop() { # stop: SIGTERM to the daemon; its exit code in $st
	kill -TERM "$PID"; wait "$PID"; st=$?; PID=
}
refused() { # refused DESCRIPTION REGEX CMD...: CMD exits 2 at once, says REGEX
	local what=$1 re=$2 rc
	shift 2
	timeout 10 "$@" > "$DIR/refused.out" 2>&1; rc=$?
	cat "$DIR/refused.out" >> "$DIR/refused.log"
	if [ "$rc" = 2 ] && grep -qE -- "$re" "$DIR/refused.out"; then
		ok "$what"
	else
		bad "$what: exit $rc (124: it served), output:"
		sed 's/^/    | /' "$DIR/refused.out" | tail -n 5
	fi
}
owners() { # owners PATH...: "user:group" of each, links not followed
	stat -c '%U:%G' "$@" | tr '\n' ' ' | sed 's/ $//'
}

# --- A. a fresh data dir -------------------------------------------------
echo "== A. a data dir that does not exist yet"
[ ! -e "$D" ] && ok "no data dir before serve" || bad "data dir exists"
"${SERVE[@]}" --user "$U" 2> "$DIR/serve1.log" &
PID=$!
wait_up "$DIR/serve1.log" answers ||
    { bad "serve --user $U did not start"; finish; exit 1; }
ok "serving on $IP:$LPORT (a port below 1024, bound before the drop)"
NB "$STSGUARD" --data-dir "$D" domain add user.test --mode testing \
    --mx mx.user.test > /dev/null 2> "$DIR/add.err" &&
    ok "domain add run as $U" ||
    { bad "domain add as $U:"; cat "$DIR/add.err"; }
fetch_200 && ok "the domain added by $U is served (200)" ||
    bad "policy fetch: $(fetch)"
check "the data dir belongs to $U" "$U:$G" "$(owners "$D")"
check "the data dir is 0700" 700 "$(stat -c %a "$D")"
for f in stsguard.db local-ca.pem certs; do
	[ -e "$D/$f" ] && ok "serve made $f" || bad "no $f in the data dir"
done
[ -n "$(ls -A "$D/certs" 2> /dev/null)" ] &&
    ok "serve made a certificate in certs/" || bad "certs/ is empty"
others=$(find "$D" ! -user "$U" -printf '%u %p\n')
n=$(find "$D" | wc -l)
[ -z "$others" ] && ok "all $n paths in the data dir belong to $U" ||
    bad "not $U's: $others"
keys=$(find "$D" -name '*.key' | wc -l)
loose=$(find "$D" -name '*.key' ! -perm 600)
[ "$keys" -ge 2 ] && [ -z "$loose" ] &&
    ok "its $keys private keys are 0600" || bad "keys: $keys, not 0600: $loose"
# The daemon's credentials, every thread.
creds=$(for t in /proc/"$PID"/task/*; do
	awk '/^(Uid|Gid):/ { print $1, $2, $3, $4, $5 }' "$t/status"
done | sort -u | tr '\n' ' ')
check "every thread runs with $U's uids and gids" \
    "Gid: $GID_U $GID_U $GID_U $GID_U Uid: $UID_U $UID_U $UID_U $UID_U " \
    "$creds"
check "NoNewPrivs" "NoNewPrivs:	1" "$(grep '^NoNewPrivs:' "/proc/$PID/status")"
grps=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$PID/status")
case " $grps " in *" 0 "*) bad "supplementary group 0: [$grps]" ;;
	*) ok "no supplementary group 0 (groups:$grps)" ;; esac
grep -q "running as $U" "$DIR/serve1.log" && ok "logged: running as $U" ||
    bad "no 'running as $U' in the log"
stop
check "SIGTERM exit code" 0 "$st"

# --- B. refusals -----------------------------------------------------------
echo "== B. what serve refuses to take over"
touch "$D/from-root"
chown root:root "$D"	# as an earlier run as root would have left it
refused "a file of root's in the data dir: refused, named, chown -R hinted" \
    "from-root belongs to uid 0, not to $U.*chown -R $U: $D" \
    "${SERVE[@]}" --user "$U"
check "nothing was served meanwhile (no HTTPS)" 000 "$(fetch)"
check "the file is still root's" root:root "$(owners "$D/from-root")"
check "a refused start hands nothing over: the data dir is still root's" \
    root:root "$(owners "$D")"
rm -f "$D/from-root"
chown "$U:$G" "$D"
chown 12345 "$D"
refused "a data dir of another uid: refused" \
    "data dir $D belongs to uid 12345, not to $U" "${SERVE[@]}" --user "$U"
chown "$U:$G" "$D"

# --- C. the symlink attack ----------------------------------------------
echo "== C. links to root's files in the data dir"
echo secret > "$DIR/victim"
chmod 600 "$DIR/victim"
mkdir -m 700 "$DIR/victimdir"
echo secret > "$DIR/victimdir/file"
NB ln -s "$DIR/victim" "$D/evil" &&
    NB mkdir "$D/sub" && NB ln -s "$DIR/victim" "$D/sub/link" &&
    NB ln -s "$DIR/victimdir" "$D/evildir" &&
    NB ln -s "$DIR/victimdir" "$D/sub/dirlink" &&
    ok "$U made links to root's file and directory" ||
    bad "$U could not make the links"
install -o "$U" -g root -m 644 /dev/null "$D/group-root"
chown root:root "$D"
"${SERVE[@]}" --user "$U" 2> "$DIR/serve3.log" &
PID=$!
wait_up "$DIR/serve3.log" answers ||
    { bad "serve --user $U did not start beside the links"; finish; exit 1; }
fetch_200 && ok "serve starts beside the links and serves (200)" ||
    bad "policy fetch: $(fetch)"
check "the victim file is still root's" root:root "$(owners "$DIR/victim")"
check "the victim directory and its file are still root's" \
    "root:root root:root" "$(owners "$DIR/victimdir" "$DIR/victimdir/file")"
check "the links are untouched" "$U:$G $U:$G $U:$G $U:$G" \
    "$(owners "$D/evil" "$D/evildir" "$D/sub/link" "$D/sub/dirlink")"
check "the data dir itself was given to $U" "$U:$G" "$(owners "$D")"
check "nothing inside was chowned (a file keeps its group)" "$U:root" \
    "$(owners "$D/group-root")"
stop
check "SIGTERM exit code" 0 "$st"

# --- D. users refused -------------------------------------------------------
echo "== D. users serve refuses"
# On a data dir of its own that does not exist: nothing else to refuse,
# and a refusal comes before anything is made.
D4=("$STSGUARD" --data-dir "$DIR/data4" serve --https-listen "$IP:$LPORT"
    --http-listen off --service-host $SH --workers 2)
refused "--user root: refused (uid 0)" \
    "user root: refusing to run with uid or gid 0" "${D4[@]}" --user root
refused "an unknown user: refused" "user no-such-user-$$: no such user" \
    "${D4[@]}" --user "no-such-user-$$"
refused "--user without root: refused" "user $U: not running as root" \
    "${AS_U[@]}" "${D4[@]}" --user "$U"
[ ! -e "$DIR/data4" ] && ok "refused before the data dir was made" ||
    bad "a refused start made $DIR/data4"
check "the victim is still root's at the end" root:root \
    "$(owners "$DIR/victim")"
for f in "$DIR"/serve*.log "$DIR/refused.log"; do
	if grep -E 'panic|AddressSanitizer|LeakSanitizer|runtime error' "$f"
	then bad "$(basename "$f"): panic or sanitizer report"; fi
done
finish
