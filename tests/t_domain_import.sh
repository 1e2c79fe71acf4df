#!/bin/bash
# t_domain_import.sh - bulk onboarding (issue 13): `stsguard domain import
# FILE` with CSV lines "domain,tenant,mode,mx,max_age". A good file (a
# header, a comment, a blank line, CRLF ends, quoted fields, U-labels,
# empty columns taking the defaults) is imported whole and each domain
# serves what its line says; a file with bad lines is refused whole:
# every bad line named with its number and reason in one pass (parse
# errors, a domain hosted already, a domain twice in the file), exit 1,
# and nothing imported. 2,000 generated lines go in one transaction.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

sg domain add hosted.example --mode testing --mx mx.hosted.example > /dev/null

printf '%s\r\n' 'domain,tenant,mode,mx,max_age' '# a comment' '' \
    'example.com,acme,enforce,mx1.example.com *.mail.example.net,86400' \
    'example.org,,testing,"mx.example.org;mx2.example.org",' \
    'bücher.example,acme,none,,' > "$DIR/good.csv"
check "good file: imported" "imported 3 domains" "$(sg domain import "$DIR/good.csv")"
check "each domain as its line says" \
    "example.com acme enforce mx1.example.com,*.mail.example.net 86400|example.org default testing mx.example.org,mx2.example.org 604800|xn--bcher-kva.example acme none - 604800" \
    "$(for d in example.com example.org bücher.example; do sg domain show "$d" --json; done | $PY -c '
import json, sys
dec = json.JSONDecoder(); s = sys.stdin.read(); i = 0; out = []
while i < len(s):
    if s[i].isspace(): i += 1; continue
    d, i = dec.raw_decode(s, i)
    out.append("%s %s %s %s %d" % (d["name"], d["tenant"], d["mode"],
               ",".join(d["mx"]) or "-", d["max_age"]))
print("|".join(out))')"

cat > "$DIR/bad.csv" <<'EOF'
a.example,acme,enforcing,mx.a.example,
hosted.example,acme,testing,mx.x.example,
c..example,,,,
d.example,acme,enforce,,
e.example,acme,testing,mx.e.example,99999999999
f.example,acme,testing,mx.f.example,1,extra
g.example,acme,testing,mx.g.example,
g.example,other,testing,mx.g.example,
EOF
sg domain import "$DIR/bad.csv" > /dev/null 2> "$DIR/err"
check "bad file: exit 1" 1 "$?"
for want in \
    "line 1: mode: 'enforcing' is not one of testing, enforce, none" \
    "line 2: hosted.example is already hosted (tenant default)" \
    "line 3: domain 'c..example': label 2 is empty" \
    "line 4: policy: mode enforce needs at least one mx line" \
    "line 5: max-age: '99999999999' is not a number of seconds in 0..31557600" \
    "line 6: more than 5 fields" \
    "line 8: g.example is on line 7 already" \
    "7 line(s) refused; nothing imported"; do
	grep -qF "$want" "$DIR/err" && ok "says: $want" || bad "does not say: $want"
done
check "nothing of it imported" "" \
    "$(sg domain list --json | $PY -c '
import json, sys
print(" ".join(d["name"] for d in json.load(sys.stdin) if d["name"] in
      ("a.example", "d.example", "e.example", "g.example")))')"

$PY -c '
for i in range(2000):
    print("d%04d.example,t%d,%s,mx.d%04d.example,3600" % (i, i % 7,
          "enforce" if i % 2 else "testing", i))' > "$DIR/many.csv"
check "2,000 lines: imported" "imported 2000 domains" "$(sg domain import "$DIR/many.csv")"
check "all listed; their 7 tenants, acme and default" "2004 9" "$(sg domain list --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(len(d), len({x["tenant"] for x in d}))')"
sg domain import "$DIR/many.csv" > /dev/null 2> "$DIR/err2"
check "the same file again: refused whole, the first errors shown" \
    "1 100 1" "$? $(grep -c 'is already hosted' "$DIR/err2") $(grep -c \
    '2000 line(s) refused; nothing imported' "$DIR/err2")"
printf '' > "$DIR/empty.csv"
sg domain import "$DIR/empty.csv" 2> /dev/null
check "an empty file: exit 1" 1 "$?"
finish
