/*
 * store_db_sqlite.c - the SQLite driver of store_db.h, and the SQLite
 * schema with its numbered migrations.
 *
 * The file is opened in WAL mode with synchronous=FULL, so that a commit
 * is on disk when sqlite3_step returns: a report is acknowledged only
 * after that. Foreign keys are on; writers wait up to SDB_BUSY_MS for
 * each other. The schema is built and upgraded at open by numbered
 * migrations (PRAGMA user_version), each in its own transaction. The
 * tables are described in store_sql.c.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_db.h"

/* How long a writer waits for another one (another process, say the CLI
 * next to the daemon) before giving up with "database is locked". */
#define SDB_BUSY_MS 5000

struct sdb {
	struct db	 base;		/* first: the driver casts back */
	sqlite3		*h;
	char		 msg[ERR_MSG_LEN];	/* errmsg after a failed
					 * prepare or open */
};

struct sst {
	struct db_stmt	 base;
	sqlite3_stmt	*st;
};

/* Sets e to "<what>: <SQLite's reason>" and returns -1. */
static int
sq_err(struct sdb *q, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- Schema --- */

/* Migration N (1-based) takes user_version N-1 to N. Append, never edit:
 * databases out there have run the old steps. */
static const char *const sq_migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE tenant (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL UNIQUE,\n"
	"  created INTEGER NOT NULL,\n"
	"  domains INTEGER NOT NULL DEFAULT 0  -- not removed\n"
	");\n"
	"CREATE TABLE domain (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  name TEXT NOT NULL UNIQUE,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenant (id),\n"
	"  mode TEXT NOT NULL CHECK (mode IN ('none', 'testing', 'enforce')),\n"
	"  max_age INTEGER NOT NULL,\n"
	"  mx TEXT NOT NULL,             -- patterns joined by \\n\n"
	"  policy_id TEXT NOT NULL,\n"
	"  token TEXT NOT NULL UNIQUE,\n"
	"  created INTEGER NOT NULL,\n"
	"  updated INTEGER NOT NULL,\n"
	"  removed INTEGER NOT NULL DEFAULT 0,\n"
	"  serve_until INTEGER NOT NULL DEFAULT 0,\n"
	"  revision INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX domain_tenant ON domain (tenant_id, name);\n"
	"CREATE TABLE policy_history (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  domain_id INTEGER NOT NULL REFERENCES domain (id),\n"
	"  policy_id TEXT NOT NULL,\n"
	"  since INTEGER NOT NULL,\n"
	"  body TEXT NOT NULL,            -- as rendered, CRLF lines\n"
	"  UNIQUE (domain_id, policy_id)\n"
	");\n"
	"CREATE TABLE report (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  organization_name TEXT NOT NULL,\n"
	"  report_id TEXT NOT NULL,\n"
	"  contact_info TEXT,\n"
	"  start_time INTEGER NOT NULL,\n"
	"  end_time INTEGER NOT NULL,\n"
	"  received INTEGER NOT NULL,\n"
	"  route TEXT,\n"
	"  client TEXT,\n"
	"  mail_from TEXT,\n"
	"  rcpt_to TEXT,\n"
	"  dkim_present INTEGER NOT NULL,\n"
	"  successful INTEGER NOT NULL,\n"
	"  failed INTEGER NOT NULL,\n"
	"  quirks INTEGER NOT NULL,       -- TLSRPT_Q_* bits\n"
	"  raw BLOB NOT NULL,             -- gzip, always\n"
	"  raw_len INTEGER NOT NULL,      -- bytes as received\n"
	"  raw_plain INTEGER NOT NULL,    -- 1: received plain, gzipped by us\n"
	"  duplicates INTEGER NOT NULL DEFAULT 0,\n"
	"  last_duplicate INTEGER,\n"
	"  UNIQUE (organization_name, report_id)\n"
	");\n"
	"CREATE INDEX report_received ON report (received, id);\n"
	"CREATE TABLE report_policy (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  report INTEGER NOT NULL REFERENCES report (id) ON DELETE CASCADE,\n"
	"  idx INTEGER NOT NULL,          -- position in policies[]\n"
	"  policy_type TEXT NOT NULL,\n"
	"  policy_domain TEXT NOT NULL,\n"
	"  policy_string TEXT NOT NULL,   -- joined by \\n\n"
	"  mx_host TEXT NOT NULL,         -- joined by \\n\n"
	"  successful INTEGER NOT NULL,\n"
	"  failed INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX report_policy_report ON report_policy (report);\n"
	"CREATE INDEX report_policy_domain ON report_policy "
	"(policy_domain, report);\n"
	"CREATE TABLE failure_detail (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  policy INTEGER NOT NULL REFERENCES report_policy (id) "
	"ON DELETE CASCADE,\n"
	"  result_type TEXT NOT NULL,\n"
	"  sending_mta_ip TEXT,\n"
	"  receiving_mx_hostname TEXT,\n"
	"  receiving_mx_helo TEXT,\n"
	"  receiving_ip TEXT,\n"
	"  additional_information TEXT,\n"
	"  failure_reason_code TEXT,\n"
	"  failed_session_count INTEGER NOT NULL\n"
	");\n"
	"CREATE INDEX failure_detail_policy ON failure_detail (policy);\n"
	"CREATE TABLE rollup (\n"
	"  policy_domain TEXT NOT NULL,\n"
	"  day TEXT NOT NULL,             -- YYYY-MM-DD, UTC\n"
	"  organization_name TEXT NOT NULL,\n"
	"  policy_type TEXT NOT NULL,\n"
	"  result_type TEXT NOT NULL,\n"
	"  sessions INTEGER NOT NULL,\n"
	"  PRIMARY KEY (policy_domain, day, organization_name, policy_type,\n"
	"    result_type)\n"
	") WITHOUT ROWID;\n",
	/* 2: report intake by mail and pipe: quarantine, intake domain,
	 * a domain generation counter for the daemon's reloads. */
	"ALTER TABLE report ADD COLUMN intake_domain TEXT;\n"
	"CREATE TABLE quarantine (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  received INTEGER NOT NULL,\n"
	"  kind TEXT NOT NULL CHECK (kind IN ('report', 'message')),\n"
	"  route TEXT,\n"
	"  client TEXT,\n"
	"  mail_from TEXT,\n"
	"  rcpt_to TEXT,\n"
	"  intake_domain TEXT,\n"
	"  reason TEXT NOT NULL,\n"
	"  size INTEGER NOT NULL,         -- bytes as received\n"
	"  raw BLOB NOT NULL,             -- gzip (by us) of those bytes\n"
	"  report INTEGER REFERENCES report (id)  -- stored by a retry\n"
	");\n"
	"CREATE INDEX quarantine_received ON quarantine (received, id);\n"
	"CREATE TABLE domain_generation (\n"
	"  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  n INTEGER NOT NULL\n"
	");\n"
	"INSERT INTO domain_generation (id, n) VALUES (1, 0);\n",
	/* 3: reports matched to domains when read: the mx patterns of each
	 * domain, and the MX hosts named by tlsa policy entries. Both are
	 * filled from what is stored. */
	"CREATE TABLE domain_mx (\n"
	"  pattern TEXT NOT NULL,         -- as in domain.mx\n"
	"  domain_id INTEGER NOT NULL REFERENCES domain (id),\n"
	"  PRIMARY KEY (pattern, domain_id)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX domain_mx_domain ON domain_mx (domain_id);\n"
	"WITH RECURSIVE split (domain_id, pattern, rest) AS (\n"
	"  SELECT id, '', mx || char(10) FROM domain\n"
	"  UNION ALL\n"
	"  SELECT domain_id, substr(rest, 1, instr(rest, char(10)) - 1),\n"
	"    substr(rest, instr(rest, char(10)) + 1) FROM split\n"
	"    WHERE rest <> ''\n"
	")\n"
	"INSERT INTO domain_mx (pattern, domain_id)\n"
	"  SELECT DISTINCT pattern, domain_id FROM split WHERE pattern <> '';\n"
	"CREATE TABLE tlsa_host (\n"
	"  name TEXT PRIMARY KEY,         -- policy_domain as stored\n"
	"  parent TEXT NOT NULL           -- name minus its first label\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX tlsa_host_parent ON tlsa_host (parent);\n"
	"INSERT INTO tlsa_host (name, parent)\n"
	"  SELECT name, CASE WHEN instr(d, '.') > 1\n"
	"    THEN substr(d, instr(d, '.') + 1) ELSE '' END\n"
	"  FROM (SELECT DISTINCT policy_domain AS name,\n"
	"    CASE WHEN substr(policy_domain, -1) = '.'\n"
	"      THEN substr(policy_domain, 1, length(policy_domain) - 1)\n"
	"      ELSE policy_domain END AS d\n"
	"    FROM report_policy\n"
	"    WHERE policy_type = 'tlsa' AND policy_domain <> '');\n",
	/* 4: a bounded quarantine: identical inputs kept once, the
	 * anonymous ones capped per client and in total. Entries kept
	 * before have no hash (never folded) and count as anonymous when
	 * they came by HTTPS or SMTP. */
	"ALTER TABLE quarantine ADD COLUMN sha256 BLOB;\n"
	"ALTER TABLE quarantine ADD COLUMN anon INTEGER NOT NULL DEFAULT 0;\n"
	"ALTER TABLE quarantine ADD COLUMN client_key TEXT;\n"
	"ALTER TABLE quarantine ADD COLUMN seen INTEGER NOT NULL DEFAULT 1;\n"
	"ALTER TABLE quarantine ADD COLUMN last_seen INTEGER;\n"
	"UPDATE quarantine SET anon = 1, client_key = client\n"
	"  WHERE route IN ('https', 'smtp');\n"
	"UPDATE quarantine SET last_seen = received;\n"
	"CREATE UNIQUE INDEX quarantine_sha256 ON quarantine (sha256);\n"
	"CREATE INDEX quarantine_anon ON quarantine (anon, id);\n"
	"CREATE INDEX quarantine_client ON quarantine (client_key, id)\n"
	"  WHERE anon = 1;\n"
	"CREATE TABLE quarantine_usage (\n"
	"  id INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"  entries INTEGER NOT NULL,\n"
	"  bytes INTEGER NOT NULL,        -- length(raw): stored, compressed\n"
	"  folded INTEGER NOT NULL,\n"
	"  dropped INTEGER NOT NULL\n"
	");\n"
	"INSERT INTO quarantine_usage (id, entries, bytes, folded, dropped)\n"
	"  SELECT 1, count(*), coalesce(sum(length(raw)), 0), 0, 0\n"
	"  FROM quarantine;\n"
	"CREATE TRIGGER quarantine_usage_add AFTER INSERT ON quarantine\n"
	"BEGIN UPDATE quarantine_usage SET entries = entries + 1,\n"
	"  bytes = bytes + length(NEW.raw) WHERE id = 1; END;\n"
	"CREATE TRIGGER quarantine_usage_del AFTER DELETE ON quarantine\n"
	"BEGIN UPDATE quarantine_usage SET entries = entries - 1,\n"
	"  bytes = bytes - length(OLD.raw) WHERE id = 1; END;\n",
	/* 5: a report's successful and failed are what every view counts
	 * (tlsrpt_count): an entry's failures are its details when they
	 * add up to more than its total; the tlsa view and the others are
	 * the same sessions, the larger counting (the policy view on a
	 * tie). total() does not overflow; the result saturates. */
	"CREATE TEMP TABLE mig5_view AS\n"
	"  SELECT p.report AS report,\n"
	"    (p.policy_type = 'tlsa') AS v,\n"
	"    total(p.successful) AS ok,\n"
	"    total(max(p.failed, coalesce((SELECT total(f.failed_session_count)\n"
	"      FROM failure_detail f WHERE f.policy = p.id), 0))) AS bad\n"
	"  FROM report_policy p GROUP BY p.report, v;\n"
	"CREATE TEMP TABLE mig5_pick AS\n"
	"  SELECT a.report AS report,\n"
	"    min(a.ok, 9223372036854775807.0) AS ok,\n"
	"    min(a.bad, 9223372036854775807.0) AS bad\n"
	"  FROM mig5_view a WHERE NOT EXISTS (SELECT 1 FROM mig5_view b\n"
	"    WHERE b.report = a.report AND b.v <> a.v AND\n"
	"    (b.ok + b.bad > a.ok + a.bad OR\n"
	"     (b.ok + b.bad = a.ok + a.bad AND b.v < a.v)));\n"
	"UPDATE report SET\n"
	"  successful = CASE WHEN (SELECT ok FROM mig5_pick WHERE report = id)\n"
	"    >= 9223372036854775807.0 THEN 9223372036854775807\n"
	"    ELSE CAST((SELECT ok FROM mig5_pick WHERE report = id) AS INTEGER) END,\n"
	"  failed = CASE WHEN (SELECT bad FROM mig5_pick WHERE report = id)\n"
	"    >= 9223372036854775807.0 THEN 9223372036854775807\n"
	"    ELSE CAST((SELECT bad FROM mig5_pick WHERE report = id) AS INTEGER) END\n"
	"  WHERE id IN (SELECT report FROM mig5_pick);\n"
	"DROP TABLE mig5_view;\n"
	"DROP TABLE mig5_pick;\n",
	/* 6: provenance and conflicts (issue 12). (organization_name,
	 * report_id) is no longer unique: a different report under a
	 * stored key is kept beside it. SQLite cannot drop a constraint, so
	 * the table is rebuilt (sq_migrate runs this with foreign keys off
	 * and checks them after). Reports stored before were all counted;
	 * mail ones become mail-unverified, and stay counted until their
	 * key is written again. */
	"CREATE TABLE report_new (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  organization_name TEXT NOT NULL,\n"
	"  report_id TEXT NOT NULL,\n"
	"  contact_info TEXT,\n"
	"  start_time INTEGER NOT NULL,\n"
	"  end_time INTEGER NOT NULL,\n"
	"  received INTEGER NOT NULL,\n"
	"  route TEXT,\n"
	"  client TEXT,\n"
	"  mail_from TEXT,\n"
	"  rcpt_to TEXT,\n"
	"  dkim_present INTEGER NOT NULL,\n"
	"  successful INTEGER NOT NULL,\n"
	"  failed INTEGER NOT NULL,\n"
	"  quirks INTEGER NOT NULL,\n"
	"  raw BLOB NOT NULL,\n"
	"  raw_len INTEGER NOT NULL,\n"
	"  raw_plain INTEGER NOT NULL,\n"
	"  duplicates INTEGER NOT NULL DEFAULT 0,\n"
	"  last_duplicate INTEGER,\n"
	"  intake_domain TEXT,\n"
	"  provenance TEXT NOT NULL CHECK (provenance IN ('dkim-verified',\n"
	"    'import', 'mail-unverified', 'https')),\n"
	"  provenance_reason TEXT,        -- mail-unverified: why\n"
	"  dkim_domain TEXT,\n"
	"  report_domain TEXT,            -- TLS-Report-Domain\n"
	"  report_submitter TEXT,         -- TLS-Report-Submitter\n"
	"  domain_mismatch INTEGER NOT NULL DEFAULT 0,\n"
	"  digest BLOB,                   -- SHA-256 of the normalized report;\n"
	"                                 -- NULL: not computed yet\n"
	"  counted INTEGER NOT NULL DEFAULT 1,  -- in the roll-ups\n"
	"  conflict INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"INSERT INTO report_new (id, organization_name, report_id,\n"
	"  contact_info, start_time, end_time, received, route, client,\n"
	"  mail_from, rcpt_to, dkim_present, successful, failed, quirks, raw,\n"
	"  raw_len, raw_plain, duplicates, last_duplicate, intake_domain,\n"
	"  provenance, provenance_reason)\n"
	"  SELECT id, organization_name, report_id, contact_info, start_time,\n"
	"  end_time, received, route, client, mail_from, rcpt_to,\n"
	"  dkim_present, successful, failed, quirks, raw, raw_len, raw_plain,\n"
	"  duplicates, last_duplicate, intake_domain,\n"
	"  CASE route WHEN 'https' THEN 'https'\n"
	"    WHEN 'smtp' THEN 'mail-unverified' ELSE 'import' END,\n"
	"  CASE route WHEN 'smtp' THEN 'stored before DKIM was verified' END\n"
	"  FROM report;\n"
	"DROP TABLE report;\n"
	"ALTER TABLE report_new RENAME TO report;\n"
	"CREATE INDEX report_received ON report (received, id);\n"
	"CREATE INDEX report_key ON report (organization_name, report_id);\n"
	"CREATE INDEX report_conflict ON report (organization_name, report_id)\n"
	"  WHERE conflict = 1;\n",
	/* 7: accounts (issue 13): the users of the dashboard and the API
	 * tokens of tenants. An admin has no tenant, an owner or viewer
	 * one. Passwords and tokens are kept only as hashes. */
	"CREATE TABLE account (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  email TEXT NOT NULL UNIQUE COLLATE NOCASE,\n"
	"  tenant_id INTEGER REFERENCES tenant (id),\n"
	"  role TEXT NOT NULL CHECK (role IN ('admin', 'owner', 'viewer')),\n"
	"  password TEXT NOT NULL,        -- Argon2id hash string\n"
	"  created INTEGER NOT NULL,\n"
	"  CHECK ((role = 'admin') = (tenant_id IS NULL))\n"
	");\n"
	"CREATE INDEX account_tenant ON account (tenant_id, email);\n"
	"CREATE TABLE api_token (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  tenant_id INTEGER NOT NULL REFERENCES tenant (id),\n"
	"  hash BLOB NOT NULL UNIQUE,     -- SHA-256 of the token\n"
	"  prefix TEXT NOT NULL,          -- its first characters, for lists\n"
	"  read_only INTEGER NOT NULL,\n"
	"  created INTEGER NOT NULL,\n"
	"  revoked INTEGER                -- when; NULL while it works\n"
	");\n"
	"CREATE INDEX api_token_tenant ON api_token (tenant_id, id);\n",
	/* 8: the dashboard's sessions (issue 13), kept by the SHA-256 of
	 * the cookie's value, with the CSRF token of their forms; and the
	 * failed logins, counted per account and per client address in a
	 * window, to throttle guessing. */
	"CREATE TABLE session (\n"
	"  hash BLOB PRIMARY KEY,         -- SHA-256 of the cookie's value\n"
	"  account_id INTEGER NOT NULL REFERENCES account (id)\n"
	"    ON DELETE CASCADE,\n"
	"  csrf TEXT NOT NULL,            -- the token every form carries\n"
	"  created INTEGER NOT NULL,\n"
	"  expires INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX session_expires ON session (expires);\n"
	"CREATE TABLE login_failure (\n"
	"  key TEXT PRIMARY KEY,          -- 'account:<email>' or\n"
	"                                 -- 'client:<address or /64>'\n"
	"  count INTEGER NOT NULL,\n"
	"  since INTEGER NOT NULL         -- the window's start\n"
	") WITHOUT ROWID;\n",
	/* 9: the policy-fetch log (issue 13), rolled up per domain and
	 * UTC day by the daemon: fetches, distinct clients (a HyperLogLog
	 * sketch, kept while the day may still grow, and its estimate), and
	 * at most LIMIT_FETCH_DAY_AGENTS User-Agents per day, the rest
	 * counted as other. Days older than LIMIT_FETCH_RETENTION_DAYS go. */
	"CREATE TABLE fetch_day (\n"
	"  domain TEXT NOT NULL,          -- hosted domain, A-label\n"
	"  day TEXT NOT NULL,             -- YYYY-MM-DD, UTC\n"
	"  fetches INTEGER NOT NULL,\n"
	"  clients INTEGER NOT NULL,      -- distinct addresses, estimated\n"
	"  hll BLOB,                      -- the sketch; NULL once closed\n"
	"  agents_other INTEGER NOT NULL DEFAULT 0,\n"
	"  PRIMARY KEY (domain, day)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX fetch_day_day ON fetch_day (day);\n"
	"CREATE TABLE fetch_agent (\n"
	"  domain TEXT NOT NULL,\n"
	"  day TEXT NOT NULL,\n"
	"  agent TEXT NOT NULL,\n"
	"  fetches INTEGER NOT NULL,\n"
	"  PRIMARY KEY (domain, day, agent)\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX fetch_agent_day ON fetch_agent (day);\n",
	/* 10: the monitor (issue 14): each hosted domain's latest check
	 * (the findings as JSON) and when the next is due; the alerts it
	 * raised, at most LIMIT_ALERTS_PER_DOMAIN per domain, with what
	 * the webhook and the mail relay made of them; when each tenant's
	 * weekly digest went out. */
	"CREATE TABLE domain_check (\n"
	"  domain TEXT PRIMARY KEY,       -- hosted domain, A-label\n"
	"  checked INTEGER NOT NULL,\n"
	"  next_at INTEGER NOT NULL,      -- the next check is due then\n"
	"  failures INTEGER NOT NULL,\n"
	"  warnings INTEGER NOT NULL,\n"
	"  findings TEXT NOT NULL         -- check_report_json\n"
	") WITHOUT ROWID;\n"
	"CREATE INDEX domain_check_next ON domain_check (next_at);\n"
	"CREATE TABLE alert (\n"
	"  id INTEGER PRIMARY KEY,\n"
	"  domain TEXT NOT NULL,\n"
	"  subject TEXT NOT NULL,         -- an MX host, a record's name\n"
	"  kind TEXT NOT NULL,            -- check_kind_name\n"
	"  severity TEXT NOT NULL,        -- critical, error, warning\n"
	"  text TEXT NOT NULL,\n"
	"  fix TEXT NOT NULL,\n"
	"  raised INTEGER NOT NULL,\n"
	"  -- per channel (the webhook, e-mail): when it was taken; 0 not\n"
	"  -- yet, -1 given up, -2 the channel was not set up\n"
	"  hook_sent INTEGER NOT NULL,\n"
	"  hook_tries INTEGER NOT NULL DEFAULT 0,\n"
	"  mail_sent INTEGER NOT NULL,\n"
	"  mail_tries INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX alert_key ON alert (domain, subject, kind, raised);\n"
	"CREATE INDEX alert_domain ON alert (domain, id);\n"
	"CREATE INDEX alert_hook ON alert (id) WHERE hook_sent = 0;\n"
	"CREATE INDEX alert_mail ON alert (id) WHERE mail_sent = 0;\n"
	"CREATE TABLE digest (\n"
	"  tenant TEXT PRIMARY KEY,       -- its weekly digest was mailed\n"
	"  sent INTEGER NOT NULL          -- then\n"
	") WITHOUT ROWID;\n",
	/* 11: several nodes (issue 15): certificates and their keys, the
	 * ACME account key, both sealed under store_key_file (seal.h);
	 * version orders every change so that a node asks only for what
	 * is newer than what it has; a lease per name so that one node at
	 * a time orders; the challenges in progress, so that any node
	 * answers the CA. */
	"CREATE TABLE cert (\n"
	"  name TEXT PRIMARY KEY,         -- A-label host name\n"
	"  chain TEXT NOT NULL,           -- PEM, leaf first\n"
	"  key BLOB NOT NULL,             -- sealed PEM private key\n"
	"  not_before INTEGER NOT NULL,\n"
	"  not_after INTEGER NOT NULL,\n"
	"  updated INTEGER NOT NULL,\n"
	"  version INTEGER NOT NULL       -- 1 + the greatest before\n"
	") WITHOUT ROWID;\n"
	"CREATE UNIQUE INDEX cert_version ON cert (version);\n"
	"CREATE TABLE cert_lease (\n"
	"  name TEXT PRIMARY KEY,\n"
	"  holder TEXT NOT NULL,          -- the node ordering it\n"
	"  expires INTEGER NOT NULL       -- then another node may\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE acme_account (\n"
	"  name TEXT PRIMARY KEY,         -- 'default'\n"
	"  key BLOB NOT NULL,             -- sealed PEM private key\n"
	"  created INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE acme_challenge (\n"
	"  token TEXT PRIMARY KEY,\n"
	"  name TEXT NOT NULL,\n"
	"  type INTEGER NOT NULL,         -- enum acme_challenge\n"
	"  keyauth TEXT NOT NULL,\n"
	"  expires INTEGER NOT NULL\n"
	") WITHOUT ROWID;\n",
};

static_assert(sizeof(sq_migrations) / sizeof(sq_migrations[0]) ==
    DB_SCHEMA_VERSION, "DB_SCHEMA_VERSION must count the migrations");


/* --- Migrations --- */

/* Reads PRAGMA user_version. */
static int
sq_version(struct sdb *q, int *v, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(q->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sq_err(q, e, "read schema version");
		goto out;
	}
	*v = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* True when PRAGMA foreign_key_check finds a row that breaks a foreign
 * key (or cannot run). */
static bool
sq_fk_broken(struct sdb *q)
{
	sqlite3_stmt *st = NULL;
	bool broken = true;

	if (sqlite3_prepare_v2(q->h, "PRAGMA foreign_key_check", -1, &st,
	    NULL) == SQLITE_OK)
		broken = sqlite3_step(st) != SQLITE_DONE;
	sqlite3_finalize(st);
	return broken;
}

/* Runs the migrations the file has not had, each in its own transaction
 * that re-reads the version: two processes opening a new file at once
 * apply each step once. Foreign keys are off meanwhile (a migration may
 * rebuild a table others refer to, as SQLite's ALTER TABLE advice has
 * it) and checked before each commit. */
static int
sq_migrate(struct sdb *q, struct err *e)
{
	char set[48];
	bool tx = false, fk_off = false;
	int v, rc = -1;

	if (sq_version(q, &v, e) == -1)
		goto out;
	if (v < DB_SCHEMA_VERSION) {
		if (sqlite3_exec(q->h, "PRAGMA foreign_keys = OFF", NULL,
		    NULL, NULL) != SQLITE_OK) {
			sq_err(q, e, "migrations: foreign keys off");
			goto out;
		}
		fk_off = true;
	}
	for (int n = v + 1; n <= DB_SCHEMA_VERSION; n++) {
		if (sqlite3_exec(q->h, "BEGIN IMMEDIATE", NULL, NULL,
		    NULL) != SQLITE_OK) {
			sq_err(q, e, "migration %d: begin", n);
			goto out;
		}
		tx = true;
		if (sq_version(q, &v, e) == -1)
			goto out;
		snprintf(set, sizeof(set), "PRAGMA user_version = %d", n);
		if (v < n && (sqlite3_exec(q->h, sq_migrations[n - 1], NULL,
		    NULL, NULL) != SQLITE_OK || sqlite3_exec(q->h, set, NULL,
		    NULL, NULL) != SQLITE_OK)) {
			sq_err(q, e, "migration %d", n);
			goto out;
		}
		if (sq_fk_broken(q)) {
			err_set(e, "migration %d: foreign key check failed", n);
			goto out;
		}
		if (sqlite3_exec(q->h, "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK) {
			sq_err(q, e, "migration %d: commit", n);
			goto out;
		}
		tx = false;
	}
	if (sq_version(q, &v, e) == -1)
		goto out;
	if (v > DB_SCHEMA_VERSION) {
		err_set(e, "schema version %d is newer than this stsguard "
		    "knows (%d): upgrade stsguard", v, DB_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	if (tx && !sqlite3_get_autocommit(q->h))
		sqlite3_exec(q->h, "ROLLBACK", NULL, NULL, NULL);
	if (fk_off && sqlite3_exec(q->h, "PRAGMA foreign_keys = ON", NULL,
	    NULL, NULL) != SQLITE_OK && rc == 0)
		rc = sq_err(q, e, "migrations: foreign keys on");
	return rc;
}

/* Sets the connection up: WAL, durable commits, foreign keys. */
static int
sq_configure(struct sdb *q, struct err *e)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int rc = -1;

	sqlite3_extended_result_codes(q->h, 1);
	if (sqlite3_busy_timeout(q->h, SDB_BUSY_MS) != SQLITE_OK) {
		sq_err(q, e, "busy timeout");
		goto out;
	}
	if (sqlite3_prepare_v2(q->h, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sq_err(q, e, "journal_mode WAL");
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (strcmp(mode, "wal") != 0) {
		err_set(e, "journal_mode WAL: SQLite kept '%s' (is the file "
		    "on a network file system?)", mode);
		goto out;
	}
	if (sqlite3_exec(q->h, "PRAGMA synchronous = FULL", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(q->h, "PRAGMA foreign_keys = ON", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sq_err(q, e, "pragmas");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* --- The driver --- */

#define SST(s) (((struct sst *)(s))->st)

static int
sq_err(struct sdb *q, struct err *e, const char *fmt, ...)
{
	char what[ERR_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(e, "%s: %s", what, sqlite3_errmsg(q->h));
}

static void
sdb_close(struct db *db)
{
	struct sdb *q = (struct sdb *)db;

	sqlite3_close_v2(q->h);
	free(q);
}

static const char *
sdb_errmsg(struct db *db)
{
	return sqlite3_errmsg(((struct sdb *)db)->h);
}

static int
sdb_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct sst *s;
	int r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return DB_ERROR;
	s->base.db = db;
	r = sqlite3_prepare_v3(((struct sdb *)db)->h, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
	if (r != SQLITE_OK) {
		free(s);
		return r;
	}
	*out = &s->base;
	return DB_OK;
}

static void
sdb_finalize(struct db_stmt *st)
{
	sqlite3_finalize(SST(st));
	free(st);
}

static int
sdb_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(SST(st), i, v);
}

static int
sdb_bind_text(struct db_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(SST(st), i);
	return sqlite3_bind_text(SST(st), i, s, -1, SQLITE_STATIC);
}

static int
sdb_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	return sqlite3_bind_blob64(SST(st), i, p, n, SQLITE_STATIC);
}

static int
sdb_bind_null(struct db_stmt *st, int i)
{
	return sqlite3_bind_null(SST(st), i);
}

static int
sdb_step(struct db_stmt *st)
{
	return sqlite3_step(SST(st));
}

static void
sdb_reset(struct db_stmt *st, bool clear)
{
	sqlite3_reset(SST(st));
	if (clear)
		sqlite3_clear_bindings(SST(st));
}

static enum db_type
sdb_column_type(struct db_stmt *st, int i)
{
	switch (sqlite3_column_type(SST(st), i)) {
	case SQLITE_NULL:	return DB_TYPE_NULL;
	case SQLITE_INTEGER:	return DB_TYPE_INTEGER;
	case SQLITE_BLOB:	return DB_TYPE_BLOB;
	default:		return DB_TYPE_TEXT;
	}
}

static int64_t
sdb_column_int64(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(SST(st), i);
}

static const char *
sdb_column_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(SST(st), i);
}

static const void *
sdb_column_blob(struct db_stmt *st, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(SST(st), i);

	*n = p != NULL ? (size_t)sqlite3_column_bytes(SST(st), i) : 0;
	return p;
}

static int64_t
sdb_changes(struct db *db)
{
	return sqlite3_changes64(((struct sdb *)db)->h);
}

static int
sdb_exec(struct db *db, const char *sql)
{
	return sqlite3_exec(((struct sdb *)db)->h, sql, NULL, NULL, NULL);
}

static int
sdb_begin(struct db *db)
{
	return sdb_exec(db, "BEGIN IMMEDIATE");
}

static int
sdb_commit(struct db *db)
{
	return sdb_exec(db, "COMMIT");
}

/* SQLite may have rolled back already (on SQLITE_FULL, say). */
static void
sdb_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(((struct sdb *)db)->h))
		sdb_exec(db, "ROLLBACK");
}

/* PRAGMA data_version: changed by other connections' commits only. */
static int
sdb_data_version(struct db *db, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = sqlite3_prepare_v2(((struct sdb *)db)->h, "PRAGMA data_version",
	    -1, &st, NULL);
	if (r == SQLITE_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		r = DB_OK;
	}
	sqlite3_finalize(st);
	return r;
}

static int
sdb_notify(struct db *db)
{
	(void)db;
	return DB_OK;
}

static int
sdb_wait(struct db *db, int ms)
{
	(void)db;
	(void)ms;
	return -1;
}

static const struct db_ops sdb_ops = {
	.name = "sqlite",
	.close = sdb_close,
	.errmsg = sdb_errmsg,
	.prepare = sdb_prepare,
	.finalize = sdb_finalize,
	.bind_int64 = sdb_bind_int64,
	.bind_text = sdb_bind_text,
	.bind_blob = sdb_bind_blob,
	.bind_null = sdb_bind_null,
	.step = sdb_step,
	.step_later = sdb_step,
	.reset = sdb_reset,
	.column_type = sdb_column_type,
	.column_int64 = sdb_column_int64,
	.column_text = sdb_column_text,
	.column_blob = sdb_column_blob,
	.changes = sdb_changes,
	.begin = sdb_begin,
	.commit = sdb_commit,
	.rollback = sdb_rollback,
	.data_version = sdb_data_version,
	.exec = sdb_exec,
	.notify = sdb_notify,
	.wait = sdb_wait,
};

int
db_sqlite_open(const char *path, struct db **db, struct err *e)
{
	struct sdb *q;
	int rc = -1;

	*db = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		err_set(e, "store %s: out of memory", path);
		goto out;
	}
	q->base.ops = &sdb_ops;
	if (sqlite3_open_v2(path, &q->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		err_set(e, "store %s: open: %s", path, q->h != NULL ?
		    sqlite3_errmsg(q->h) : "out of memory");
		goto out;
	}
	if (sq_configure(q, e) == -1 || sq_migrate(q, e) == -1) {
		err_prefix(e, "store %s: ", path);
		goto out;
	}
	*db = &q->base;
	q = NULL;
	rc = 0;
out:
	if (q != NULL)
		sdb_close(&q->base);
	return rc;
}
