#!/bin/bash
# t_accounts.sh - tenants, users and API tokens on the command line
# (issue 13): `tenant add|list`, `user add|list`, `token
# create|list|revoke`, and what reaches the database: passwords only as
# Argon2id hashes, tokens only as SHA-256 (checked here with sqlite3 and
# python3 against the token the command printed), neither in clear
# anywhere in the data dir. No daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
command -v sqlite3 > /dev/null || { echo "sqlite3 missing (scripts/deps.sh)"; exit 1; }
DB=$DIR/data/stsguard.db
q() { sqlite3 "$DB" "$1"; }

check "tenant add" "tenant acme added" "$(sg tenant add acme)"
sg tenant add acme 2> "$DIR/err"
check "tenant add again: exit 1" "1 stsguard: tenant acme exists" "$? $(cat "$DIR/err")"
sg tenant add globex > /dev/null
sg domain add example.com --tenant acme --mode testing --mx mx.example.com > /dev/null
check "tenant list --json" "acme 1,globex 0" "$(sg tenant list --json | $PY -c '
import json, sys
print(",".join("%s %d" % (t["name"], t["domains"]) for t in json.load(sys.stdin)))')"

PW='correct horse battery staple'
printf '%s\n' "$PW" > "$DIR/pw"
check "user add owner" "user ann@acme.example added: owner of tenant acme" \
    "$(sg user add ann@ACME.example --role owner --tenant acme --password-file "$DIR/pw")"
sg user add bob@globex.example --role viewer --tenant globex --password-file "$DIR/pw" > /dev/null
check "user add admin" "user root@sts.example added: admin of the whole service" \
    "$(sg user add root@sts.example --role admin --password-file "$DIR/pw")"
sg user add Ann@acme.example --role viewer --tenant globex --password-file "$DIR/pw" 2> "$DIR/err"
check "the same address again (case aside): exit 1" 1 "$?"
sg user add cy@acme.example --role viewer --tenant nowhere --password-file "$DIR/pw" 2> "$DIR/err"
check "an unknown tenant: exit 1, says how to add it" \
    "1 stsguard: no tenant nowhere (stsguard tenant add nowhere)" "$? $(cat "$DIR/err")"
sg user add x@acme.example --role admin --tenant acme --password-file "$DIR/pw" 2> /dev/null
check "an admin with a tenant: usage error" 2 "$?"
printf 'short\n' > "$DIR/short"
sg user add d@acme.example --role viewer --tenant acme --password-file "$DIR/short" 2> "$DIR/err"
check "a short password: exit 1 with the reason" \
    "1 stsguard: password: at least 12 characters" "$? $(cat "$DIR/err")"
# setsid: no controlling terminal, even when the tests run in one.
setsid -w "$STSGUARD" --data-dir "$DIR/data" user add e@acme.example \
    --role viewer --tenant acme < /dev/null 2> "$DIR/err"
check "no terminal, no file: usage error" 2 "$?"
check "user list --tenant acme: only acme's" "ann@acme.example acme owner" \
    "$(sg user list --tenant acme --json | $PY -c '
import json, sys
print(",".join("%s %s %s" % (u["email"], u["tenant"], u["role"]) for u in json.load(sys.stdin)))')"
check "user list: all three" 3 "$(sg user list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "passwords stored as Argon2id hashes" 3 \
    "$(q "SELECT count(*) FROM account WHERE password LIKE '\$argon2id\$v=19\$%'")"

sg token create --tenant acme --read-only > "$DIR/tok1"
check "token create: exit 0" 0 "$?"
T1=$(tail -1 "$DIR/tok1")
case $T1 in sgt_???????????????????????????????????????????) ok "the token alone on the last line" ;;
	*) bad "last line is not a token: [$T1]" ;; esac
check "stored as its SHA-256 only" 1 "$(q "SELECT count(*) FROM api_token WHERE
    hex(hash) = '$($PY -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest().upper())' "$T1")'
    AND prefix = '${T1:0:8}' AND read_only = 1")"
T2=$(sg token create --tenant globex | tail -1)
sg token create 2> /dev/null
check "token create without --tenant: usage error" 2 "$?"
sg token create --tenant nowhere 2> /dev/null
check "token create for an unknown tenant: exit 1" 1 "$?"
check "token list --tenant acme" "1 acme ${T1:0:8} True None" \
    "$(sg token list --tenant acme --json | $PY -c '
import json, sys
print(",".join("%d %s %s %s %s" % (k["id"], k["tenant"], k["prefix"], k["read-only"], k["revoked"]) for k in json.load(sys.stdin)))')"
check "token revoke" "token 1 revoked" "$(sg token revoke 1)"
sg token revoke 1 2> /dev/null
check "revoke again: exit 1" 1 "$?"
check "revoked in the list" yes "$(sg token list --tenant acme --json | $PY -c '
import json, sys
print("yes" if json.load(sys.stdin)[0]["revoked"] else "no")')"
sg token list > "$DIR/list.txt"
if grep -qF -e "$T1" -e "$T2" "$DIR/list.txt"; then bad "token list shows a whole token"
else ok "token list never shows a token"; fi

# Nothing secret in clear in the data dir (the database, its WAL).
if grep -rqaF -e "$PW" -e "$T1" -e "$T2" "$DIR/data"; then
	bad "a password or token in clear under the data dir"
else
	ok "no password or token in clear under the data dir"
fi
finish
