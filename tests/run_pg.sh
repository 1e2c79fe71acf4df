#!/bin/bash
# run_pg.sh BUILD - the test suite again with every store on PostgreSQL:
# one PostgreSQL 15 for the run (lib.sh's pg_start, in a directory of
# its own), the store's unit tests on it (STSGUARD_TEST_STORE), and the
# black-box tests each on a database of its own (lib.sh). Left out: the
# tests that read the SQLite file itself with sqlite3, and t_serve_user,
# which needs a data dir that does not exist yet (lib.sh writes the
# store's URL into it).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
SQLITE_FILE_TESTS='t_serve_user|t_accounts|t_intake_crash|t_intake_routes|t_intake_smtp_group|t_monitor_reports|t_views'
. "$TOP/tests/lib.sh"
pg_start || exit 1
psql -q "$PG_URL" -c 'CREATE DATABASE unit' || exit 1
echo "PostgreSQL at $PG_DIR"
STSGUARD_TEST_STORE=${PG_URL/\/\/\/stsguard/\/\/\/unit} \
    ONLY="${ONLY:-test_store\$|/t_[a-z_]*\.sh}" \
    EXCLUDE="$SQLITE_FILE_TESTS" TEST_LOGS="$TOP/$BUILD/test-logs-pg" \
    bash "$TOP/tests/run.sh" "$BUILD"
