#!/bin/bash
# t_store_migrate.sh - `stsguard store migrate` moves the `make run` demo
# installation, grown with what the demo lacks, into a PostgreSQL of the
# test's own, and back into a new SQLite file.
#
# The installation: scripts/demo.sh run as t_make_run.sh runs it
# (lib.sh's demo_start: the demo domain, the sample reports, a report of
# yesterday, a dashboard user, the daemon serving), with a policy
# fetched (the fetch log has a day), a failed login and a session, then
# stopped; then the demo domain changed twice (three policy ids in its
# history), a second tenant with a domain, an admin, an API token and a
# revoked one, and invalid input quarantined (one of it twice).
#
# Checks: the migration exits 0 and prints a line per table, the tables
# holding rows; the CLI's views (stats, report list and show, quarantine,
# domains and their history, tenants, users, tokens) print the same from
# the source and from the copy, both ways; a second migration into the
# now non-empty database is refused (exit 2), nothing written; a report
# imported into the copy gets the id after the highest copied (the
# PostgreSQL sequences moved), a new domain and token too.
#
# The source is the store of the test's data dir: SQLite, or under
# tests/run_pg.sh the PostgreSQL database lib.sh gave it.
set -u
. "$(dirname "$0")/lib.sh"
pg_start || { bad "PostgreSQL did not start"; finish; exit; }

# The demo until it serves; a policy fetched, a failed login, a session.
if ! demo_start; then
	bad "the demo did not get to serving"
	finish
	exit
fi
ok "the demo installation serves"
eval "$DEMO_CURL" > /dev/null 2>&1 || bad "the demo's policy fetch"
demo_login wrong > /dev/null
check "the demo user logs in" 303 "$(demo_login)"
serve_stop

# What the demo lacks: policy history, tenants, an admin, tokens.
sg domain set example.com --mode enforce > /dev/null &&
    sg domain set example.com --max-age 86400 > /dev/null ||
    bad "domain set"
sg tenant add acme > /dev/null || bad "tenant add"
sg domain add acme.example --tenant acme --mx mail.acme.example \
    > /dev/null || bad "domain add"
printf 'correct horse battery\n' > "$DIR/pw"
sg user add root@example.com --role admin --password-file "$DIR/pw" \
    > /dev/null || bad "user add"
sg token create --tenant acme > /dev/null && sg token create --tenant acme \
    --read-only > /dev/null && sg token revoke 1 > /dev/null ||
    bad "tokens"
# Quarantine: two invalid inputs, one of them twice (folded).
echo '{"organization-name": "broken"}' > "$DIR/bad.json"
printf 'not json' | gzip > "$DIR/bad2.json.gz"
sg report import "$DIR/bad.json" "$DIR/bad2.json.gz" "$DIR/bad.json" \
    > /dev/null 2>&1
check "invalid inputs quarantined: exit code" 1 "$?"

SRC=$(sed -n 's/^store = //p' "$DIR/data/stsguard.conf" 2> /dev/null)
SRC=${SRC:-sqlite:$DIR/data/stsguard.db}
BACK=sqlite:$DIR/back.db
echo "source ${SRC%%\?*}, then $PG_URL, then $BACK"

# views STORE: what the CLI shows of an installation.
views() {
	local s=$1
	sg stats example.com --from 2026-05-01 --to 2026-05-31 --store "$s"
	sg stats example.com --json --store "$s"
	sg report list --json --store "$s"
	sg report list --domain example.com --store "$s"
	sg report show 1 --json --store "$s"
	sg report quarantine list --all --json --store "$s"
	sg report quarantine show 1 --raw --store "$s" | sha256sum
	sg domain list --json --store "$s"
	sg domain show example.com --json --store "$s"
	sg domain show acme.example --store "$s"
	sg tenant list --store "$s"
	sg user list --store "$s"
	sg token list --json --store "$s"
}
views "$SRC" > "$DIR/views.src" 2>&1
if grep -q '^stsguard:' "$DIR/views.src" ||
    [ "$(wc -l < "$DIR/views.src")" -lt 200 ]; then
	bad "the views of the source: $(grep '^stsguard:' "$DIR/views.src")"
else
	ok "the views of the source"
fi

"$STSGUARD" store migrate --from "$SRC" --to "$PG_URL" --progress \
    > "$DIR/mig.out" 2> "$DIR/mig.err"
check "store migrate exit code" 0 "$?"
sed 's/^/    /' "$DIR/mig.out"
# Every table of the schema: as many as PostgreSQL has now (but the
# driver's own schema_version).
NT=$(psql -At "$PG_URL" -c "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name <> 'schema_version'")
grep -q "^verified: $NT tables, [0-9]* rows, the same on both sides$" \
    "$DIR/mig.out" && ok "the final line" || bad "final line: $(cat \
    "$DIR/mig.out" "$DIR/mig.err")"
for t in tenant domain policy_history domain_mx report report_policy \
    failure_detail rollup quarantine account api_token session \
    login_failure fetch_day domain_generation quarantine_usage; do
	grep -qE "^$t +[1-9][0-9]* +[0-9a-f]{16}$" "$DIR/mig.out" ||
	    bad "table $t: no rows copied: $(grep "^$t " "$DIR/mig.out")"
done
ok "a line per table, the tables of the installation not empty"
check "each table copied (--progress)" "$NT" "$(grep -c '^copied ' \
    "$DIR/mig.err")"
check "policy_history rows" 4 "$(awk '$1 == "policy_history" { print $2 }' \
    "$DIR/mig.out")"

views "$PG_URL" > "$DIR/views.pg" 2>&1
if cmp -s "$DIR/views.src" "$DIR/views.pg"; then
	ok "the copy in PostgreSQL shows what the source shows"
else
	bad "the views differ:"; diff "$DIR/views.src" "$DIR/views.pg" | head -20
fi

# The other way: from the copy into a new SQLite file.
"$STSGUARD" store migrate --from "$PG_URL" --to "$BACK" > "$DIR/back.out" \
    2>&1
check "store migrate back into SQLite, exit code" 0 "$?"
check "the same sums both ways" "$(cut -c1-48 < "$DIR/mig.out" | head -"$NT")" \
    "$(cut -c1-48 < "$DIR/back.out" | head -"$NT")"
views "$BACK" > "$DIR/views.back" 2>&1
cmp -s "$DIR/views.src" "$DIR/views.back" &&
    ok "the copy of the copy shows the same" ||
    bad "the views differ: $(diff "$DIR/views.src" "$DIR/views.back" |
    head -10)"

# Never merges: a second migration into the copy is refused.
before=$(sg report list --json --store "$PG_URL" | sha256sum)
"$STSGUARD" store migrate --from "$SRC" --to "$PG_URL" > "$DIR/again.out" \
    2> "$DIR/again.err"
check "migrating into a store with data: exit code" 2 "$?"
grepf "the refusal says why" "$DIR/again.err" \
    'store migrate: the destination already holds data'
check "nothing printed on stdout when refused" "" "$(cat "$DIR/again.out")"
check "the refused copy changed nothing" "$before" \
    "$(sg report list --json --store "$PG_URL" | sha256sum)"
"$STSGUARD" store migrate --from "$SRC" --to "$SRC" > /dev/null 2>&1
check "the same store twice: exit code" 2 "$?"
"$STSGUARD" store migrate --from "$SRC" > /dev/null 2>&1
check "without --to: exit code" 2 "$?"

# The copy lives on: new rows get new ids (the sequences moved).
maxid=$(sg report list --json --store "$SRC" |
    python3 -c 'import json,sys; print(max(r["id"] for r in json.load(sys.stdin)))')
day=$(date -u +%Y-%m-%d)
printf '{"organization-name":"After Move","date-range":{"start-datetime":"%sT00:00:00Z","end-datetime":"%sT23:59:59Z"},"contact-info":"tlsrpt@after.example","report-id":"after-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce"],"policy-domain":"example.com","mx-host":["mail.example.com"]},"summary":{"total-successful-session-count":5,"total-failure-session-count":0}}]}\n' \
    "$day" "$day" > "$DIR/after.json"
sg report import "$DIR/after.json" --store "$PG_URL" > /dev/null 2>&1
check "a report imported into the copy: exit code" 0 "$?"
newid=$(sg report list --json --store "$PG_URL" | python3 -c \
    'import json,sys; print(max(r["id"] for r in json.load(sys.stdin)))')
check "the new report's id follows the copied ones" "$((maxid + 1))" \
    "$newid"
sg domain add new.example --mx mail.new.example --store "$PG_URL" \
    > /dev/null 2>&1 && ok "a domain added to the copy" ||
    bad "domain add on the copy"
sg token create --tenant acme --store "$PG_URL" > /dev/null 2>&1 &&
    ok "a token made in the copy" || bad "token create on the copy"
finish
