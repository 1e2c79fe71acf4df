#!/bin/bash
# t_man.sh - the man pages docs/man/stsguard.8 and stsguard.conf.5 cannot
# drift from the binary.
#
# stsguard(8): every command `stsguard --help` lists has its .SS section
# under COMMANDS, every .SS there is such a command, and every flag of a
# command (its own --help) is named in its section. stsguard.conf(5):
# every setting of the table in src/lib/conf.c and of `stsguard serve
# --help` (which prints that table) has its entry, with the same
# argument and the same default ("unset" when none), and every entry is a
# setting. Both render with groff -man -ww (every warning) and man -l
# without a word on stderr. The checker is also run on doctored copies
# (a command's section gone, a flag gone, a setting invented, a default
# changed) and must name each fault: a check that cannot fail is none.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
MAN8="$TOP/docs/man/stsguard.8"
MAN5="$TOP/docs/man/stsguard.conf.5"

# What the binary says: commands, each command's flags, the settings.
"$STSGUARD" --help > "$DIR/help" || { bad "stsguard --help"; exit 1; }
$PY - "$DIR/help" > "$DIR/cmds" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
i = lines.index("commands:") + 1
while lines[i].strip():
    print(re.match(r"  (\S+(?: \S+)*?)  +\S", lines[i]).group(1))
    i += 1
EOF
check "commands listed by --help" 31 "$(wc -l < "$DIR/cmds")"
: > "$DIR/flags"
while read -r cmd; do
	# shellcheck disable=SC2086
	"$STSGUARD" $cmd --help > "$DIR/h" 2>&1 ||
	    bad "stsguard $cmd --help failed"
	sed -n '/^flags:/,/^$/p' "$DIR/h" | grep -oE '^  --[a-z-]+' |
	    sed "s/^  /$cmd|/" >> "$DIR/flags"
done < "$DIR/cmds"
"$STSGUARD" serve --help > "$DIR/serve.help"
sed -n '/^settings/,$p' "$DIR/serve.help" | tail -n +2 > "$DIR/settings"
grep -oE '^	\[CONF_[A-Z_]+\] = \{ "[a-z_]+"' "$TOP/src/lib/conf.c" |
    sed 's/.*"\(.*\)"/\1/' > "$DIR/conf.c.names"
check "settings: conf.c's table = serve --help's" \
    "$(sort "$DIR/conf.c.names" | tr '\n' ' ')" \
    "$(sed -E 's/^  --([a-z-]+) .*/\1/; s/-/_/g' "$DIR/settings" | sort |
    tr '\n' ' ')"

cat > "$DIR/check.py" <<'EOF'
# check.py MAN8 MAN5 CMDS FLAGS SETTINGS: one line per fault, exit 1 if any
import re, sys
man8, man5, cmds, flags, settings = sys.argv[1:6]
faults = []
def deroff(s):
    s = s.replace("\\-", "-").replace("\\&", "")
    return re.sub(r"\\f[BIRP]", "", s)

# stsguard.8: the .SS sections of COMMANDS
text = open(man8).read().split("\n")
sections, cur, in_cmds = {}, None, False
for l in text:
    if l.startswith(".SH"):
        in_cmds = l.strip() == ".SH COMMANDS"
        cur = None
    elif in_cmds and l.startswith(".SS"):
        cur = l[3:].strip().strip('"')
        sections[cur] = []
    elif cur is not None:
        sections[cur].append(deroff(l))
want = [c.strip() for c in open(cmds) if c.strip()]
for c in want:
    if c not in sections:
        faults.append("stsguard.8: no section for command '%s'" % c)
for s in sections:
    if s not in want:
        faults.append("stsguard.8: section '%s' is no command" % s)
for l in open(flags):
    c, f = l.strip().split("|")
    body = "\n".join(sections.get(c, []))
    if not re.search(re.escape(f) + r"(?![a-z-])", body):
        faults.append("stsguard.8: '%s' does not name its flag %s" % (c, f))

# stsguard.conf.5: .TP entries "\fBname\fR = \fIARG\fR" ... "Default: X."
entries, cur = {}, None
lines = open(man5).read().split("\n")
for i, l in enumerate(lines):
    m = re.match(r"\\fB([a-z_]+)\\fR = \\fI(.*)\\fR$", l)
    if m and i > 0 and lines[i - 1] == ".TP":
        cur = m.group(1)
        entries[cur] = {"arg": deroff(m.group(2)), "default": None}
    elif l.startswith(".SH"):
        cur = None
    elif cur is not None and l.startswith("Default: "):
        d = re.match(r"Default: (?:\\fB(.*)\\fR\.|(unset))", l)
        entries[cur]["default"] = deroff(d.group(1)) if d and d.group(1) \
            else "unset" if d else "?" + l
set_names = []
for l in open(settings):
    m = re.match(r"  --([a-z-]+) (\S+)\s.*?(?:\[(.*)\])?$", l.rstrip("\n"))
    if not m:
        faults.append("cannot read the setting line: " + l.strip())
        continue
    name, arg, default = m.group(1).replace("-", "_"), m.group(2), \
        m.group(3) or "unset"
    set_names.append(name)
    e = entries.get(name)
    if e is None:
        faults.append("stsguard.conf.5: no entry for setting %s" % name)
        continue
    if e["arg"] != arg:
        faults.append("stsguard.conf.5: %s takes %s, not %s" %
                      (name, arg, e["arg"]))
    if e["default"] != default:
        faults.append("stsguard.conf.5: %s defaults to %s, not %s" %
                      (name, default, e["default"]))
for n in entries:
    if n not in set_names:
        faults.append("stsguard.conf.5: entry %s is no setting" % n)
for f in faults:
    print(f)
sys.exit(1 if faults else 0)
EOF
chk() { $PY "$DIR/check.py" "$1" "$2" "$DIR/cmds" "$DIR/flags" \
    "$DIR/settings"; }

if chk "$MAN8" "$MAN5" > "$DIR/faults"; then
	ok "stsguard.8: $(wc -l < "$DIR/cmds") commands, $(wc -l < \
	    "$DIR/flags") flags; stsguard.conf.5: $(wc -l < "$DIR/settings") \
settings, arguments and defaults as the binary says"
else
	bad "the man pages drifted:"; sed 's/^/    /' "$DIR/faults"
fi

# --- the checker catches drift ---------------------------------------
# A command's section gone, a flag gone from another, a setting invented,
# a default changed.
sed '/^\.SS "token revoke"/,/^Revoke an API token\.$/d' "$MAN8" |
    sed '/^\.SS "stats"/,/^\.SS "serve"/{/\\-\\-from/d}' > "$DIR/bad.8"
sed 's/^Default: \\fB600\\fR\.$/Default: \\fB60\\fR./' "$MAN5" |
    sed '/^\.SH EXAMPLE/i .TP\n\\fBno_such_setting\\fR = \\fIN\\fR\nInvented.\nDefault: unset.' \
    > "$DIR/bad.5"
chk "$DIR/bad.8" "$DIR/bad.5" > "$DIR/bad.faults"
grepf "drift found: a command without its section" "$DIR/bad.faults" \
    "no section for command 'token revoke'"
grepf "drift found: a flag not named" "$DIR/bad.faults" \
    "'stats' does not name its flag --from"
grepf "drift found: an entry that is no setting" "$DIR/bad.faults" \
    "entry no_such_setting is no setting"
grepf "drift found: a default changed" "$DIR/bad.faults" \
    "intake_client_rate defaults to 600, not 60"

# --- they render --------------------------------------------------------
for p in "$MAN8" "$MAN5"; do
	n=$(basename "$p")
	if groff -man -Tutf8 -ww -z "$p" > "$DIR/groff.out" 2>&1 &&
	    [ ! -s "$DIR/groff.out" ]; then
		ok "$n: groff -man -ww: no warning"
	else
		bad "$n: groff: $(head -3 "$DIR/groff.out")"
	fi
	MANWIDTH=80 man --warnings -l "$p" > "$DIR/$n.txt" 2> "$DIR/man.err"
	if [ ! -s "$DIR/man.err" ] && grep -q '^NAME' "$DIR/$n.txt"; then
		ok "$n: man -l renders it ($(wc -l < "$DIR/$n.txt") lines)"
	else
		bad "$n: man -l: $(head -3 "$DIR/man.err")"
	fi
done
grepf "stsguard.8 rendered: the serve section" "$DIR/stsguard.8.txt" \
    '^   serve$'
grepf "stsguard.conf.5 rendered: metrics_listen" "$DIR/stsguard.conf.5.txt" \
    'metrics_listen = ADDR:PORT'
finish
