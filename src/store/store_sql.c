/*
 * store_sql.c - the store (store.h) in SQL, once for every engine: the
 * statements and the logic around them, over store_db.h, whose drivers
 * (store_db_sqlite.c, store_db_pg.c) open the database, build and
 * migrate its schema and run what this file prepares. The SQL is what
 * SQLite and PostgreSQL both speak (numbered parameters, ON CONFLICT,
 * RETURNING, CTEs); a write transaction (db_begin) lets one writer at a
 * time in, across processes and nodes, so that the read-then-write
 * steps below (is this report a duplicate? does this name exist?) hold
 * on both. A commit is durable when it returns: a report is
 * acknowledged only after that.
 *
 *   tenant ---< domain ---< policy_history	(every id a domain served)
 *   report ---< report_policy ---< failure_detail
 *   rollup (policy_domain, day, organization_name, policy_type,
 *	     result_type) -> sessions		(what charts read)
 *
 *   domain	  name UNIQUE, mode, max_age, mx ("\n"-joined), policy_id,
 *		  token UNIQUE, created, updated, removed, serve_until and
 *		  revision (bumped with every new policy id; see store.c)
 *   report	  UNIQUE (organization_name, report_id); the raw bytes as a
 *		  gzip blob: kept as received when they were gzip, else
 *		  gzipped by us (raw_plain = 1, raw_len = bytes received);
 *		  intake_domain: whose intake token received it (2)
 *   quarantine	  input we could not take (2): kind 'report' or
 *		  'message', origin, reason, size as received, the bytes
 *		  always gzipped by us, and the report a retry stored it as;
 *		  (4) sha256 UNIQUE of the bytes (identical input is kept
 *		  once, its seen count goes up), anon (1: came from an
 *		  anonymous sender, HTTPS or SMTP: the caps may drop it),
 *		  client_key (the per-client cap's key)
 *   quarantine_usage  one row (4): entries and stored bytes, kept by
 *		  triggers, and how many inputs were folded or dropped
 *   domain_generation  one row (2): bumped by every domain_add, _set and
 *		  _remove in its own transaction, so that domains_version
 *		  sees changes made by any connection, this one included
 *   rollup	  WITHOUT ROWID, its primary key led by policy_domain and
 *		  day: that key is the index stats reads, in order, so
 *		  charts never scan reports.
 *   domain_mx	  (3) one row per mx pattern of each domain, removed ones
 *		  too, written with the domain: the index from a pattern
 *		  to the domains that have it
 *   tlsa_host	  (3) every policy-domain of a tlsa policy entry ever
 *		  stored, as stored, with its parent: the name without a
 *		  trailing dot and without its first label ("" when that
 *		  label is empty or the only one), written with the report
 *
 * Which reports belong to which domain (store.h) is worked out when
 * read, with these two tables: MX host h matches pattern p (RFC 8461
 * §4.1, as policy_mx_match) when p is h without a trailing dot, or p is
 * "*." parent(h). So the MX hosts of a domain are two index lookups per
 * pattern in tlsa_host (by name, by parent), and the domains of a host
 * two lookups in domain_mx; nothing scans all domains or all reports for
 * it. The parent is computed by SQL (SQ_PARENT) both in migration 3 and
 * at intake, so that the two cannot disagree. The report parser stores
 * a policy-domain folded (lower case, A-labels, no trailing dot: quirk
 * policy-domain-form); rows stored before it did may end in a dot,
 * which SQ_DOTLESS ignores, as matching does.
 *
 * Roll-up arithmetic, per policy entry of a report, on the UTC day of the
 * report's start-datetime:
 *   - total-successful-session-count goes under result_type "successful"
 *     (also when it is 0, so that every reporter shows on its day);
 *   - each failure-detail's failed-session-count goes under its own
 *     result-type (details of one type add up; a detail claiming the
 *     reserved name "successful", or none at all, goes under
 *     "unspecified");
 *   - when the details sum to less than total-failure-session-count, the
 *     remainder goes under "unspecified": failures the reporter counted
 *     but did not explain;
 *   - when they sum to more (Mail.ru does this), the details are counted
 *     as given and the total is not: the details are the more specific
 *     data, and trimming them would mean choosing which to drop.
 * These are tlsrpt_policy_failed's rules (tlsrpt_count.c), and the report
 * row's successful and failed are tlsrpt_count's: the sessions counted
 * once, as statistics count them (5: recomputed for older rows).
 * A duplicate report is counted (duplicates, last_duplicate) and never
 * rolled up again.
 *
 * Never builds SQL from data (everything is bound), never keeps a
 * statement running after a call returns (which would pin the WAL), and
 * never shares a handle between threads: open one per thread.
 */
#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "../lib/fetchlog.h"
#include "../lib/gzip.h"
#include "store_db.h"
#include "store_int.h"

/* Roll-up rows one statement writes at most (6 parameters each). */
#define SQ_ROLLUP_ROWS 8
/* Pending roll-up rows past which they are written before the commit. */
#define SQ_PEND_MAX 256
/* How long a claimed check (sq_check_due) stays with the node that
 * claimed it: longer than a monitor round takes. */
#define SQ_CHECK_CLAIM_SECONDS 900
/* Fresh tokens tried when one collides (2^-128 per try: never, but the
 * UNIQUE constraint would otherwise turn it into a failed add). */
#define SQ_TOKEN_TRIES 4
/* The last second store_day_key can name: 9999-12-31T23:59:59Z. */
#define SQ_TIME_MAX ((time_t)253402300799LL)

/* --- Statements --- */

enum sq_id {
	SQ_TENANT_GET,
	SQ_TENANT_COUNT,
	SQ_DOMAIN_GET,
	SQ_DOMAIN_LIST,
	SQ_DOMAIN_PAGE,
	SQ_DOMAIN_INSERT,
	SQ_DOMAIN_UPDATE,
	SQ_DOMAIN_MX_CLEAR,
	SQ_DOMAIN_MX_ADD,
	SQ_HISTORY_ADD,
	SQ_HISTORY_LIST,
	SQ_REPORT_KEY,
	SQ_REPORT_DIGEST,
	SQ_REPORT_DUP,
	SQ_REPORT_RAISE,
	SQ_REPORT_INSERT,
	SQ_REPORT_CONFLICT,
	SQ_REPORT_WINNER,
	SQ_REPORT_COUNTED,
	SQ_REPORT_SET_COUNTED,
	SQ_ROLLUP_PRUNE,
	SQ_RPOLICY_INSERT,
	SQ_DETAIL_INSERT,
	SQ_TLSA_HOST_ADD,
	SQ_REPORT_LIST,
	SQ_REPORT_LIST_DOMAIN,
	SQ_REPORT_LAST_DOMAIN,
	SQ_REPORT_LIST_UNCLAIMED,
	SQ_REPORT_LIST_CONFLICTS,
	SQ_REPORT_LIST_KEY,
	SQ_REPORT_LIST_TENANT,
	SQ_STATS_FAILURES,
	SQ_REPORT_GET,
	SQ_REPORT_CLAIMED,
	SQ_STATS,
	SQ_STATS_MX,
	SQ_QUAR_INSERT,
	SQ_QUAR_FIND,
	SQ_QUAR_SEEN,
	SQ_QUAR_TRIM_CLIENT,
	SQ_QUAR_TRIM_OLDEST,
	SQ_QUAR_USAGE,
	SQ_REPORT_TALLY,
	SQ_QUAR_COUNTERS,
	SQ_QUAR_COUNT,
	SQ_QUAR_LIST,
	SQ_QUAR_GET,
	SQ_QUAR_RESOLVE,
	SQ_GEN_BUMP,
	SQ_GEN_GET,
	SQ_TENANT_ADD,
	SQ_TENANT_LIST,
	SQ_TENANT_ID,
	SQ_ACCOUNT_ADD,
	SQ_ACCOUNT_GET,
	SQ_ACCOUNT_LIST,
	SQ_TOKEN_ADD,
	SQ_TOKEN_FIND,
	SQ_TOKEN_LIST,
	SQ_TOKEN_REVOKE,
	SQ_SESSION_ADD,
	SQ_SESSION_PRUNE,
	SQ_SESSION_FIND,
	SQ_SESSION_REMOVE,
	SQ_LOGIN_FAILURES,
	SQ_LOGIN_FAILURE_ADD,
	SQ_LOGIN_FAILURE_CLEAR,
	SQ_LOGIN_FAILURE_PRUNE,
	SQ_ENTRIES,
	SQ_FETCH_GET,
	SQ_FETCH_PUT,
	SQ_FAGENT_BUMP,
	SQ_FAGENT_COUNT,
	SQ_FAGENT_MIN,
	SQ_FAGENT_DEL,
	SQ_FAGENT_ADD,
	SQ_FETCH_PRUNE,
	SQ_FAGENT_PRUNE,
	SQ_FETCH_CLOSE,
	SQ_FETCH_READ,
	SQ_CHECK_DUE,
	SQ_CHECK_PUT,
	SQ_CHECK_GET,
	SQ_CHECK_CLAIM,
	SQ_CHECK_SOON,
	SQ_ALERT_LAST,
	SQ_ALERT_ADD,
	SQ_ALERT_PRUNE,
	SQ_ALERT_LIST,
	SQ_ALERT_UNSENT_HOOK,
	SQ_ALERT_UNSENT_MAIL,
	SQ_ALERT_SENT_HOOK,
	SQ_ALERT_SENT_MAIL,
	SQ_DIGEST_GET,
	SQ_DIGEST_PUT,
	SQ_CERT_PUT,
	SQ_CERT_GET,
	SQ_CERT_SINCE,
	SQ_LEASE_TAKE,
	SQ_LEASE_RELEASE,
	SQ_ACME_ACCOUNT_PUT,
	SQ_ACME_ACCOUNT_GET,
	SQ_CHAL_PUT,
	SQ_CHAL_REMOVE,
	SQ_CHAL_LIST,
	SQ_NSTMT
};

/* Column order read by sq_domain_read. */
#define SQ_DOMAIN_COLS \
	"d.id, d.name, t.name, d.mode, d.max_age, d.mx, d.policy_id, " \
	"d.token, d.created, d.updated, d.removed, d.serve_until, " \
	"d.tenant_id, d.revision FROM domain d JOIN tenant t " \
	"ON t.id = d.tenant_id"

/* Column order read by sq_report_read. */
#define SQ_REPORT_COLS \
	"r.id, r.organization_name, r.report_id, r.contact_info, " \
	"(SELECT group_concat(x, ',') FROM (SELECT DISTINCT " \
	"p.policy_domain AS x FROM report_policy p WHERE p.report = r.id " \
	"AND p.policy_domain <> '' ORDER BY x) AS y), " \
	"r.start_time, r.end_time, r.successful, r.failed, r.received, " \
	"r.route, r.duplicates, r.last_duplicate, r.quirks, r.client, " \
	"r.provenance, r.provenance_reason, r.dkim_domain, r.report_domain, " \
	"r.report_submitter, r.domain_mismatch, r.counted, r.conflict"
/* How many columns SQ_REPORT_COLS has: SQ_REPORT_GET's raw come next. */
#define SQ_REPORT_NCOLS 23

/* SQL: the rank of provenance column c (enum store_provenance), the
 * strongest 1. */
#define SQ_RANK(c) \
	"(CASE " c " WHEN 'dkim-verified' THEN 1 WHEN 'import' THEN 2 " \
	"WHEN 'mail-unverified' THEN 3 ELSE 4 END)"

/* SQL: the UTC day of time t (a column) as a number of days since
 * 1970-01-01, rounded down for times before it: '/' and '%' truncate
 * toward zero in both engines. */
#define SQ_DAY_NUMBER(t) \
	"((" t " - ((" t " % 86400) + 86400) % 86400) / 86400)"

/* SQL: h (a column or parameter) without one trailing dot, which rows
 * stored before the parser folded policy-domains may have, and RFC 8461
 * §4.1 matching ignores. */
#define SQ_DOTLESS(h) \
	"(CASE WHEN substr(" h ", length(" h ")) = '.' THEN substr(" h ", 1, " \
	"length(" h ") - 1) ELSE " h " END)"

/* SQL: tlsa_host.parent of h, by the rule migration 3 applied: the
 * dotless name after its first '.', or "" when the first label is empty
 * or the only one (such a host matches no wildcard, as in
 * policy_mx_match). */
#define SQ_PARENT(h) \
	"(CASE WHEN instr(" SQ_DOTLESS(h) ", '.') > 1 THEN substr(" \
	SQ_DOTLESS(h) ", instr(" SQ_DOTLESS(h) ", '.') + 1) ELSE '' END)"

/* SQL: the CTE mx_host (name), the tlsa_host names that the mx patterns
 * of domain ?1 match, ?1 itself left out (its rows are read as its
 * own): an exact pattern by name (with and without a trailing dot), a
 * wildcard "*.p" by parent p. */
#define SQ_MX_HOSTS_OF(dom) \
	"mx_host (name) AS (" \
	"SELECT t.name FROM domain d JOIN domain_mx m ON m.domain_id = d.id " \
	"JOIN tlsa_host t ON t.name IN (m.pattern, m.pattern || '.') " \
	"WHERE d.name = " dom " AND substr(m.pattern, 1, 2) <> '*.' " \
	"AND t.name <> " dom " " \
	"UNION SELECT t.name FROM domain d JOIN domain_mx m " \
	"ON m.domain_id = d.id JOIN tlsa_host t " \
	"ON t.parent = substr(m.pattern, 3) " \
	"WHERE d.name = " dom " AND substr(m.pattern, 1, 2) = '*.' " \
	"AND t.name <> " dom ")"
#define SQ_MX_HOSTS SQ_MX_HOSTS_OF("?1")

/* SQL: true when policy entry p (a report_policy row) belongs to some
 * domain of the store (store.h): by name, or as a tlsa entry for an MX
 * host that some domain's pattern matches. Index lookups only. */
#define SQ_CLAIMED(p) \
	"(EXISTS (SELECT 1 FROM domain d WHERE d.name = " p ".policy_domain) " \
	"OR (" p ".policy_type = 'tlsa' AND EXISTS (SELECT 1 FROM " \
	"tlsa_host t JOIN domain_mx m ON m.pattern IN (" \
	SQ_DOTLESS("t.name") ", '*.' || t.parent) " \
	"WHERE t.name = " p ".policy_domain)))"

/* Column orders read by sq_account_read and sq_token_read. */
#define SQ_ACCOUNT_COLS \
	"a.id, a.email, t.name, a.role, a.password, a.created FROM account a " \
	"LEFT JOIN tenant t ON t.id = a.tenant_id"
#define SQ_TOKEN_COLS \
	"k.id, t.name, k.prefix, k.read_only, k.created, k.revoked " \
	"FROM api_token k JOIN tenant t ON t.id = k.tenant_id"

/* Column order read by sq_quar_read. */
#define SQ_QUAR_COLS \
	"id, received, kind, route, client, mail_from, rcpt_to, " \
	"intake_domain, reason, size, report, seen, last_seen"

static const char *const sq_sql[SQ_NSTMT] = {
	/* The no-op update makes RETURNING yield the existing row too. */
	[SQ_TENANT_GET] = "INSERT INTO tenant (name, created) VALUES (?1, ?2) "
	    "ON CONFLICT (name) DO UPDATE SET name = excluded.name "
	    "RETURNING id, domains",
	[SQ_TENANT_COUNT] = "UPDATE tenant SET domains = domains + ?2 "
	    "WHERE id = ?1",
	[SQ_DOMAIN_GET] = "SELECT " SQ_DOMAIN_COLS " WHERE d.name = ?1",
	[SQ_DOMAIN_LIST] = "SELECT " SQ_DOMAIN_COLS " ORDER BY d.name",
	/* Index domain_tenant (tenant_id, name): a range, never a scan. */
	[SQ_DOMAIN_PAGE] = "SELECT " SQ_DOMAIN_COLS " WHERE d.tenant_id = "
	    "(SELECT id FROM tenant WHERE name = ?1) AND d.name > ?2 "
	    "ORDER BY d.name LIMIT ?3",
	[SQ_DOMAIN_INSERT] = "INSERT INTO domain (name, tenant_id, mode, "
	    "max_age, mx, policy_id, updated, removed, serve_until, "
	    "revision, token, created) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
	    "ON CONFLICT (token) DO NOTHING RETURNING id",
	[SQ_DOMAIN_UPDATE] = "UPDATE domain SET name = ?1, tenant_id = ?2, "
	    "mode = ?3, max_age = ?4, mx = ?5, policy_id = ?6, "
	    "updated = ?7, removed = ?8, serve_until = ?9, revision = ?10 "
	    "WHERE id = ?11",
	[SQ_DOMAIN_MX_CLEAR] = "DELETE FROM domain_mx WHERE domain_id = ?1",
	[SQ_DOMAIN_MX_ADD] = "INSERT INTO domain_mx (pattern, domain_id) "
	    "VALUES (?1, ?2)",
	[SQ_HISTORY_ADD] = "INSERT INTO policy_history (domain_id, "
	    "policy_id, since, body) VALUES (?1, ?2, ?3, ?4)",
	[SQ_HISTORY_LIST] = "SELECT policy_id, since, body FROM "
	    "policy_history WHERE domain_id = ?1 ORDER BY id",
	[SQ_REPORT_KEY] = "SELECT id, digest, " SQ_RANK("provenance")
	    " FROM report WHERE organization_name = ?1 AND report_id = ?2 ORDER BY id",
	[SQ_REPORT_DIGEST] = "UPDATE report SET digest = ?2 WHERE id = ?1",
	[SQ_REPORT_DUP] = "UPDATE report SET duplicates = duplicates + 1, "
	    "last_duplicate = ?2 WHERE id = ?1",
	[SQ_REPORT_RAISE] = "UPDATE report SET provenance = ?2, "
	    "provenance_reason = ?3, dkim_domain = ?4 WHERE id = ?1",
	[SQ_REPORT_INSERT] = "INSERT INTO report (organization_name, "
	    "report_id, contact_info, start_time, end_time, received, route, "
	    "client, mail_from, rcpt_to, dkim_present, successful, failed, "
	    "quirks, raw, raw_len, raw_plain, intake_domain, provenance, "
	    "provenance_reason, dkim_domain, report_domain, report_submitter, "
	    "domain_mismatch, digest, counted, conflict) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
	    "?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) RETURNING id",
	[SQ_REPORT_CONFLICT] = "UPDATE report SET conflict = 1 WHERE "
	    "organization_name = ?1 AND report_id = ?2 AND conflict = 0",
	/* The report of a key that should count: the strongest, then the
	 * earliest; mail-unverified ones only when ?3 (require_dkim) is 0. */
	[SQ_REPORT_WINNER] = "SELECT id FROM report WHERE "
	    "organization_name = ?1 AND report_id = ?2 AND "
	    "(provenance <> 'mail-unverified' OR ?3 = 0) "
	    "ORDER BY " SQ_RANK("provenance") ", received, id LIMIT 1",
	[SQ_REPORT_COUNTED] = "SELECT id FROM report WHERE "
	    "organization_name = ?1 AND report_id = ?2 AND counted = 1",
	[SQ_REPORT_SET_COUNTED] = "UPDATE report SET counted = ?2 "
	    "WHERE id = ?1",
	[SQ_ROLLUP_PRUNE] = "DELETE FROM rollup WHERE policy_domain = ?1 "
	    "AND day = ?2 AND organization_name = ?3 AND policy_type = ?4 "
	    "AND result_type = ?5 AND sessions <= 0",
	[SQ_RPOLICY_INSERT] = "INSERT INTO report_policy (report, idx, "
	    "policy_type, policy_domain, policy_string, mx_host, successful, "
	    "failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SQ_DETAIL_INSERT] = "INSERT INTO failure_detail (policy, "
	    "result_type, sending_mta_ip, receiving_mx_hostname, "
	    "receiving_mx_helo, receiving_ip, additional_information, "
	    "failure_reason_code, failed_session_count) "
	    "VALUES ((SELECT id FROM report_policy WHERE report = ?1 AND "
	    "idx = ?10), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_TLSA_HOST_ADD] = "INSERT INTO tlsa_host (name, parent) "
	    "VALUES (?1, " SQ_PARENT("?1") ") ON CONFLICT (name) DO NOTHING",
	[SQ_REPORT_LIST] = "SELECT " SQ_REPORT_COLS " FROM report r "
	    "ORDER BY r.received DESC, r.id DESC LIMIT ?1",
	/* The page's ids first, then their columns: SQ_REPORT_COLS has
	 * subqueries per row, which should run for the rows shown only
	 * (a domain of a year of reports: 24 ms -> 7 ms a page). */
	[SQ_REPORT_LIST_DOMAIN] = "WITH " SQ_MX_HOSTS ", page (id) AS ("
	    "SELECT r.id FROM report r WHERE r.id IN ("
	    "SELECT report FROM report_policy WHERE policy_domain = ?1 "
	    "UNION SELECT p.report FROM mx_host h JOIN report_policy p "
	    "ON p.policy_domain = h.name WHERE p.policy_type = 'tlsa') "
	    "ORDER BY r.received DESC, r.id DESC LIMIT ?2) SELECT "
	    SQ_REPORT_COLS " FROM report r WHERE r.id IN (SELECT id FROM "
	    "page) ORDER BY r.received DESC, r.id DESC",
	/* The domain's last report (limit 1, the overview's column): the
	 * highest id of its entries, from index report_policy_domain
	 * (microseconds, whatever the number of reports). Ids grow as
	 * reports are stored, so this is the last one stored. */
	[SQ_REPORT_LAST_DOMAIN] = "WITH " SQ_MX_HOSTS ", last (id) AS ("
	    "SELECT max(report) FROM report_policy WHERE policy_domain = ?1 "
	    "UNION ALL SELECT max(p.report) FROM mx_host h JOIN "
	    "report_policy p ON p.policy_domain = h.name "
	    "WHERE p.policy_type = 'tlsa') SELECT " SQ_REPORT_COLS
	    " FROM report r WHERE r.id = (SELECT max(id) FROM last)",
	/* Walks reports newest first until the limit: each costs a few
	 * index lookups per policy entry. */
	[SQ_REPORT_LIST_UNCLAIMED] = "SELECT " SQ_REPORT_COLS " FROM report r "
	    "WHERE NOT EXISTS (SELECT 1 FROM report_policy p "
	    "WHERE p.report = r.id AND " SQ_CLAIMED("p") ") "
	    "ORDER BY r.received DESC, r.id DESC LIMIT ?1",
	[SQ_REPORT_LIST_CONFLICTS] = "SELECT " SQ_REPORT_COLS " FROM report r "
	    "WHERE r.conflict = 1 ORDER BY r.organization_name, r.report_id, "
	    "r.counted DESC, " SQ_RANK("r.provenance") ", r.received, r.id "
	    "LIMIT ?1",
	[SQ_REPORT_LIST_KEY] = "SELECT " SQ_REPORT_COLS " FROM report r, "
	    "report k WHERE k.id = ?1 AND r.organization_name = "
	    "k.organization_name AND r.report_id = k.report_id "
	    "ORDER BY r.counted DESC, " SQ_RANK("r.provenance") ", "
	    "r.received, r.id LIMIT ?2",
	/* A tenant's (?1) claimed reports, or one of its domain's (?2),
	 * filtered (each NULL or 0: no filter): organization ?3, ending
	 * after ?4, starting before ?5, provenance ?6; after the cursor
	 * (received ?7, id ?8) in the order of the list. Without a domain
	 * it walks reports newest first, each checked as SQ_REPORT_CLAIMED
	 * does, until the limit ?9. */
	[SQ_REPORT_LIST_TENANT] = "WITH " SQ_MX_HOSTS_OF("?2") " SELECT "
	    SQ_REPORT_COLS " FROM report r WHERE (CASE WHEN ?2 IS NOT NULL "
	    "THEN r.id IN (SELECT report FROM report_policy WHERE "
	    "policy_domain = ?2 UNION SELECT p.report FROM mx_host h JOIN "
	    "report_policy p ON p.policy_domain = h.name WHERE "
	    "p.policy_type = 'tlsa') ELSE EXISTS (SELECT 1 FROM "
	    "report_policy p WHERE p.report = r.id AND (EXISTS (SELECT 1 "
	    "FROM domain d WHERE d.name = p.policy_domain AND d.tenant_id = "
	    "(SELECT id FROM tenant WHERE name = ?1)) OR (p.policy_type = "
	    "'tlsa' AND EXISTS (SELECT 1 FROM tlsa_host t JOIN domain_mx m "
	    "ON m.pattern IN (" SQ_DOTLESS("t.name") ", '*.' || t.parent) "
	    "JOIN domain d ON d.id = m.domain_id WHERE t.name = "
	    "p.policy_domain AND d.tenant_id = (SELECT id FROM tenant WHERE "
	    "name = ?1))))) END) "
	    "AND (?3 IS NULL OR r.organization_name = ?3) "
	    "AND (?4 = 0 OR r.end_time > ?4) AND (?5 = 0 OR r.start_time < ?5) "
	    "AND (?6 IS NULL OR r.provenance = ?6) "
	    "AND (?7 = 0 OR r.received < ?7 OR (r.received = ?7 AND "
	    "r.id < ?8)) ORDER BY r.received DESC, r.id DESC LIMIT ?9",
	/* SQ_CLAIMED, for the domains of one tenant (?2). */
	[SQ_REPORT_CLAIMED] = "SELECT 1 FROM report_policy p WHERE "
	    "p.report = ?1 AND (EXISTS (SELECT 1 FROM domain d WHERE "
	    "d.name = p.policy_domain AND d.tenant_id = (SELECT id FROM "
	    "tenant WHERE name = ?2)) OR (p.policy_type = 'tlsa' AND EXISTS "
	    "(SELECT 1 FROM tlsa_host t JOIN domain_mx m ON m.pattern IN ("
	    SQ_DOTLESS("t.name") ", '*.' || t.parent) JOIN domain d ON "
	    "d.id = m.domain_id WHERE t.name = p.policy_domain AND "
	    "d.tenant_id = (SELECT id FROM tenant WHERE name = ?2)))) "
	    "LIMIT 1",
	[SQ_REPORT_GET] = "SELECT " SQ_REPORT_COLS ", r.raw, r.raw_len, "
	    "r.raw_plain FROM report r WHERE r.id = ?1",
	/* Rows of one key may come from several policy-domains: sq_stats
	 * adds them up (saturating, where SUM would fail on overflow). */
	[SQ_STATS] = "WITH " SQ_MX_HOSTS " SELECT day, organization_name, "
	    "policy_type, result_type, sessions FROM rollup "
	    "WHERE policy_domain = ?1 AND day >= ?2 AND day <= ?3 "
	    "UNION ALL SELECT r.day, r.organization_name, r.policy_type, "
	    "r.result_type, r.sessions FROM mx_host h JOIN rollup r "
	    "ON r.policy_domain = h.name WHERE r.day >= ?2 AND r.day <= ?3 "
	    "AND r.policy_type = 'tlsa' ORDER BY 1, 2, 3, 4",
	/* Failure details of what belongs to ?1 in reports that count,
	 * by the day of their start (as the roll-ups), in (day,
	 * organization) order as the roll-ups group them;
	 * an entry without details as one row without one (its totals
	 * still choose the report's view). */
	[SQ_STATS_FAILURES] = "WITH " SQ_MX_HOSTS " SELECT r.id, "
	    "p.policy_type, p.id, p.successful, p.failed, "
	    "coalesce(f.receiving_mx_hostname, "
	    "f.receiving_ip), f.sending_mta_ip, f.failed_session_count, "
	    "f.id IS NOT NULL, " SQ_DAY_NUMBER("r.start_time") ", "
	    "r.organization_name FROM report_policy p JOIN "
	    "report r ON "
	    "r.id = p.report LEFT JOIN failure_detail f ON f.policy = p.id "
	    "WHERE r.counted = 1 "
	    "AND (p.policy_domain = ?1 OR (p.policy_type = 'tlsa' AND "
	    "p.policy_domain IN (SELECT name FROM mx_host))) "
	    /* The days as seconds (?4 the first day's first, ?5 the
	     * day after the last one's), not a day per row. */
	    "AND r.start_time >= ?4 AND r.start_time < ?5 "
	    "ORDER BY 10, 11, r.id, p.id",
	/* One row per host without its trailing dot; "others" counts the
	 * other domains, not removed, with a pattern matching it: index
	 * lookups, as many as domains share the host. */
	[SQ_STATS_MX] = "WITH " SQ_MX_HOSTS ", seen (host, others) AS ("
	    "SELECT " SQ_DOTLESS("h.name") ", (SELECT count(DISTINCT "
	    "m.domain_id) FROM tlsa_host t "
	    "JOIN domain_mx m ON m.pattern IN (" SQ_DOTLESS("t.name") ", "
	    "'*.' || t.parent) JOIN domain d ON d.id = m.domain_id "
	    "WHERE t.name = h.name AND d.removed = 0 AND d.name <> ?1) "
	    "FROM mx_host h WHERE EXISTS (SELECT 1 FROM rollup r "
	    "WHERE r.policy_domain = h.name AND r.day >= ?2 "
	    "AND r.day <= ?3 AND r.policy_type = 'tlsa')) "
	    "SELECT host, max(others) FROM seen GROUP BY host ORDER BY host",
	[SQ_QUAR_INSERT] = "INSERT INTO quarantine (received, kind, route, "
	    "client, mail_from, rcpt_to, intake_domain, reason, size, raw, "
	    "sha256, anon, client_key, last_seen) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?1) RETURNING id",
	[SQ_QUAR_FIND] = "SELECT id FROM quarantine WHERE sha256 = ?1",
	[SQ_QUAR_SEEN] = "UPDATE quarantine SET seen = seen + 1, "
	    "last_seen = ?2 WHERE id = ?1",
	/* The client's anonymous entries beyond the newest ?2 - 1, so
	 * that one more fits: index quarantine_client, newest first. */
	[SQ_QUAR_TRIM_CLIENT] = "DELETE FROM quarantine WHERE id IN ("
	    "SELECT id FROM quarantine WHERE anon = 1 AND client_key = ?1 "
	    "AND id <= (SELECT id FROM quarantine WHERE anon = 1 AND "
	    "client_key = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2 - 1))",
	[SQ_QUAR_TRIM_OLDEST] = "DELETE FROM quarantine WHERE id = ("
	    "SELECT id FROM quarantine WHERE anon = 1 ORDER BY id LIMIT 1)",
	[SQ_QUAR_USAGE] = "SELECT entries, bytes, folded, dropped "
	    "FROM quarantine_usage WHERE id = 1",
	/* count(*) walks the smallest index; the conflicts, the partial
	 * index report_conflict. */
	[SQ_REPORT_TALLY] = "SELECT (SELECT count(*) FROM report), "
	    "(SELECT count(*) FROM report WHERE conflict = 1)",
	[SQ_QUAR_COUNTERS] = "UPDATE quarantine_usage SET "
	    "folded = folded + ?1, dropped = dropped + ?2 WHERE id = 1",
	[SQ_QUAR_COUNT] = "SELECT count(*) FROM quarantine "
	    "WHERE report IS NULL",
	[SQ_QUAR_LIST] = "SELECT " SQ_QUAR_COLS " FROM quarantine "
	    "WHERE ?2 = 0 OR report IS NULL "
	    "ORDER BY received DESC, id DESC LIMIT ?1",
	[SQ_QUAR_GET] = "SELECT " SQ_QUAR_COLS ", raw FROM quarantine "
	    "WHERE id = ?1",
	[SQ_QUAR_RESOLVE] = "UPDATE quarantine SET report = ?2 WHERE id = ?1",
	[SQ_GEN_BUMP] = "UPDATE domain_generation SET n = n + 1 WHERE id = 1",
	[SQ_GEN_GET] = "SELECT n FROM domain_generation WHERE id = 1",
	[SQ_TENANT_ADD] = "INSERT INTO tenant (name, created) VALUES (?1, ?2) "
	    "ON CONFLICT (name) DO NOTHING RETURNING id",
	[SQ_TENANT_LIST] = "SELECT id, name, created, domains FROM tenant "
	    "ORDER BY name",
	[SQ_TENANT_ID] = "SELECT id FROM tenant WHERE name = ?1",
	[SQ_ACCOUNT_ADD] = "INSERT INTO account (email, tenant_id, role, "
	    "password, created) VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (email) DO NOTHING RETURNING id",
	[SQ_ACCOUNT_GET] = "SELECT " SQ_ACCOUNT_COLS " WHERE a.email = ?1",
	[SQ_ACCOUNT_LIST] = "SELECT " SQ_ACCOUNT_COLS " WHERE ?1 IS NULL OR "
	    "t.name = ?1 ORDER BY a.email",
	[SQ_TOKEN_ADD] = "INSERT INTO api_token (tenant_id, hash, prefix, "
	    "read_only, created) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
	[SQ_TOKEN_FIND] = "SELECT " SQ_TOKEN_COLS " WHERE k.hash = ?1",
	[SQ_TOKEN_LIST] = "SELECT " SQ_TOKEN_COLS " WHERE ?1 IS NULL OR "
	    "t.name = ?1 ORDER BY k.id",
	[SQ_TOKEN_REVOKE] = "UPDATE api_token SET revoked = ?2 WHERE id = ?1 "
	    "AND revoked IS NULL",
	[SQ_SESSION_ADD] = "INSERT INTO session (hash, account_id, csrf, "
	    "created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_SESSION_PRUNE] = "DELETE FROM session WHERE expires <= ?1",
	[SQ_SESSION_FIND] = "SELECT a.id, a.email, t.name, a.role, "
	    "a.password, a.created, s.csrf, s.expires FROM session s "
	    "JOIN account a ON a.id = s.account_id "
	    "LEFT JOIN tenant t ON t.id = a.tenant_id "
	    "WHERE s.hash = ?1 AND s.expires > ?2",
	[SQ_SESSION_REMOVE] = "DELETE FROM session WHERE hash = ?1",
	[SQ_LOGIN_FAILURES] = "SELECT count FROM login_failure "
	    "WHERE key = ?1 AND since > ?2 - ?3",
	[SQ_LOGIN_FAILURE_ADD] = "INSERT INTO login_failure (key, count, "
	    "since) VALUES (?1, 1, ?2) ON CONFLICT (key) DO UPDATE SET "
	    "count = CASE WHEN login_failure.since > ?2 - ?3 THEN "
	    "login_failure.count + 1 ELSE 1 END, "
	    "since = CASE WHEN login_failure.since > ?2 - ?3 THEN "
	    "login_failure.since ELSE ?2 END",
	[SQ_LOGIN_FAILURE_CLEAR] = "DELETE FROM login_failure WHERE key = ?1",
	[SQ_LOGIN_FAILURE_PRUNE] = "DELETE FROM login_failure "
	    "WHERE since <= ?1 - ?2",
	/* Index report_policy_domain for the domain's own entries, and
	 * the tlsa ones of its MX hosts; the report's row by its key. */
	[SQ_ENTRIES] = "WITH " SQ_MX_HOSTS " SELECT r.id, p.id, "
	    "r.organization_name, r.start_time, r.end_time, p.policy_type, "
	    "p.policy_domain, p.policy_string, p.mx_host, p.successful, "
	    "p.failed, f.result_type, f.receiving_mx_hostname, "
	    "f.sending_mta_ip, f.failed_session_count FROM report_policy p "
	    "JOIN report r ON r.id = p.report LEFT JOIN failure_detail f "
	    "ON f.policy = p.id WHERE (p.policy_domain = ?1 OR "
	    "(p.policy_type = 'tlsa' AND p.policy_domain IN "
	    "(SELECT name FROM mx_host))) AND r.counted = 1 AND "
	    "r.start_time >= ?2 AND r.start_time < ?3 "
	    "ORDER BY r.start_time, r.id, p.idx, f.id",
	[SQ_FETCH_GET] = "SELECT fetches, clients, hll FROM fetch_day "
	    "WHERE domain = ?1 AND day = ?2",
	[SQ_FETCH_PUT] = "INSERT INTO fetch_day (domain, day, fetches, "
	    "clients, hll, agents_other) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (domain, day) DO UPDATE SET fetches = ?3, "
	    "clients = ?4, hll = ?5, agents_other = fetch_day.agents_other + ?6",
	[SQ_FAGENT_BUMP] = "UPDATE fetch_agent SET fetches = fetches + ?4 "
	    "WHERE domain = ?1 AND day = ?2 AND agent = ?3",
	[SQ_FAGENT_COUNT] = "SELECT count(*) FROM fetch_agent "
	    "WHERE domain = ?1 AND day = ?2",
	[SQ_FAGENT_MIN] = "SELECT agent, fetches FROM fetch_agent "
	    "WHERE domain = ?1 AND day = ?2 ORDER BY fetches, agent LIMIT 1",
	[SQ_FAGENT_DEL] = "DELETE FROM fetch_agent "
	    "WHERE domain = ?1 AND day = ?2 AND agent = ?3",
	[SQ_FAGENT_ADD] = "INSERT INTO fetch_agent (domain, day, agent, "
	    "fetches) VALUES (?1, ?2, ?3, ?4)",
	[SQ_FETCH_PRUNE] = "DELETE FROM fetch_day WHERE day < ?1",
	[SQ_FAGENT_PRUNE] = "DELETE FROM fetch_agent WHERE day < ?1",
	[SQ_FETCH_CLOSE] = "UPDATE fetch_day SET hll = NULL "
	    "WHERE day < ?1 AND hll IS NOT NULL",
	[SQ_FETCH_READ] = "SELECT d.day, d.fetches, d.clients, "
	    "d.agents_other, a.agent, a.fetches FROM fetch_day d "
	    "LEFT JOIN fetch_agent a ON a.domain = d.domain AND a.day = d.day "
	    "WHERE d.domain = ?1 AND d.day >= ?2 AND d.day <= ?3 "
	    "ORDER BY d.day, a.fetches DESC, a.agent",
	[SQ_CHECK_DUE] = "SELECT d.name FROM domain d LEFT JOIN domain_check c "
	    "ON c.domain = d.name WHERE d.removed = 0 AND (c.next_at IS NULL "
	    "OR c.next_at <= ?1) ORDER BY c.next_at IS NOT NULL, c.next_at, "
	    "d.name LIMIT ?2",
	[SQ_CHECK_PUT] = "INSERT INTO domain_check (domain, checked, next_at, "
	    "failures, warnings, findings) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (domain) DO UPDATE SET checked = ?2, next_at = ?3, "
	    "failures = ?4, warnings = ?5, findings = ?6",
	[SQ_CHECK_SOON] = "UPDATE domain_check SET next_at = ?2 WHERE "
	    "domain = ?1 AND next_at > ?2",
	/* checked 0: claimed by sq_check_due, not checked yet. */
	[SQ_CHECK_GET] = "SELECT checked, failures, warnings, findings FROM "
	    "domain_check WHERE domain = ?1 AND checked > 0",
	[SQ_CHECK_CLAIM] = "INSERT INTO domain_check (domain, checked, "
	    "next_at, failures, warnings, findings) VALUES (?1, 0, ?2, 0, 0, "
	    "'') ON CONFLICT (domain) DO UPDATE SET next_at = ?2",
	[SQ_ALERT_LAST] = "SELECT max(raised) FROM alert WHERE domain = ?1 "
	    "AND subject = ?2 AND kind = ?3",
	[SQ_ALERT_ADD] = "INSERT INTO alert (domain, subject, kind, severity, "
	    "text, fix, raised, hook_sent, mail_sent) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9) RETURNING id",
	[SQ_ALERT_PRUNE] = "DELETE FROM alert WHERE domain = ?1 AND id <= "
	    "(SELECT id FROM alert WHERE domain = ?1 ORDER BY id DESC "
	    "LIMIT 1 OFFSET ?2)",
#define SQ_ALERT_COLS "id, domain, subject, kind, severity, text, fix, " \
	"raised, hook_sent, hook_tries, mail_sent, mail_tries"
	[SQ_ALERT_LIST] = "SELECT " SQ_ALERT_COLS " FROM alert "
	    "WHERE domain = ?1 ORDER BY id DESC LIMIT ?2",
	[SQ_ALERT_UNSENT_HOOK] = "SELECT " SQ_ALERT_COLS " FROM alert "
	    "WHERE hook_sent = 0 ORDER BY id LIMIT ?2",
	[SQ_ALERT_UNSENT_MAIL] = "SELECT " SQ_ALERT_COLS " FROM alert "
	    "WHERE mail_sent = 0 ORDER BY id LIMIT ?2",
	[SQ_ALERT_SENT_HOOK] = "UPDATE alert SET hook_tries = hook_tries + 1, "
	    "hook_sent = CASE WHEN ?2 > 0 THEN ?2 WHEN hook_tries + 1 >= ?3 "
	    "THEN -1 ELSE 0 END WHERE id = ?1 AND hook_sent = 0",
	[SQ_ALERT_SENT_MAIL] = "UPDATE alert SET mail_tries = mail_tries + 1, "
	    "mail_sent = CASE WHEN ?2 > 0 THEN ?2 WHEN mail_tries + 1 >= ?3 "
	    "THEN -1 ELSE 0 END WHERE id = ?1 AND mail_sent = 0",
	[SQ_DIGEST_GET] = "SELECT sent FROM digest WHERE tenant = ?1",
	[SQ_DIGEST_PUT] = "INSERT INTO digest (tenant, sent) VALUES (?1, ?2) "
	    "ON CONFLICT (tenant) DO UPDATE SET sent = ?2",
	/* The version is read and written inside one write transaction
	 * (sq_cert_put), so that versions grow in commit order and a node
	 * that asks for "newer than N" misses none. */
	[SQ_CERT_PUT] = "INSERT INTO cert (name, chain, key, not_before, "
	    "not_after, updated, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "(SELECT coalesce(max(version), 0) + 1 FROM cert)) "
	    "ON CONFLICT (name) DO UPDATE SET chain = excluded.chain, "
	    "key = excluded.key, not_before = excluded.not_before, "
	    "not_after = excluded.not_after, updated = excluded.updated, "
	    "version = excluded.version RETURNING version",
#define SQ_CERT_COLS "name, chain, key, not_before, not_after, updated, " \
	"version"
	[SQ_CERT_GET] = "SELECT " SQ_CERT_COLS " FROM cert WHERE name = ?1",
	[SQ_CERT_SINCE] = "SELECT " SQ_CERT_COLS " FROM cert WHERE "
	    "version > ?1 ORDER BY version LIMIT ?2",
	/* No row back: another holder's lease has not expired. */
	[SQ_LEASE_TAKE] = "INSERT INTO cert_lease (name, holder, expires) "
	    "VALUES (?1, ?2, ?4) ON CONFLICT (name) DO UPDATE SET "
	    "holder = excluded.holder, expires = excluded.expires "
	    "WHERE cert_lease.expires <= ?3 OR cert_lease.holder = ?2 "
	    "RETURNING holder",
	[SQ_LEASE_RELEASE] = "DELETE FROM cert_lease WHERE name = ?1 AND "
	    "holder = ?2",
	[SQ_ACME_ACCOUNT_PUT] = "INSERT INTO acme_account (name, key, created) "
	    "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
	[SQ_ACME_ACCOUNT_GET] = "SELECT key FROM acme_account WHERE name = ?1",
	[SQ_CHAL_PUT] = "INSERT INTO acme_challenge (token, name, type, "
	    "keyauth, expires) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
	    "(token) DO UPDATE SET name = excluded.name, type = "
	    "excluded.type, keyauth = excluded.keyauth, expires = "
	    "excluded.expires",
	[SQ_CHAL_REMOVE] = "DELETE FROM acme_challenge WHERE token = ?1 OR "
	    "expires <= ?2",
	[SQ_CHAL_LIST] = "SELECT token, name, type, keyauth, expires FROM "
	    "acme_challenge WHERE expires > ?1 ORDER BY token LIMIT ?2",
};

struct sq {
	struct store	 base;	/* first: store_close casts back */
	struct db	*db;
	struct db_stmt	*st[SQ_NSTMT];	/* prepared once at open */
	/* domains_version's cache: the generation last read, and the
	 * data_version it was read under. gen_valid is cleared by every
	 * domain write of this connection, which data_version misses. */
	int64_t		 gen;
	int64_t		 gen_data_version;
	bool		 gen_valid;
	char		 fetch_pruned[STORE_DAY_LEN + 1];	/* the day
					 * fetch_add last pruned on, or "" */
	/* Roll-up additions of the open transaction, merged by key and
	 * written together before it commits (sq_pend_flush); and the
	 * statements that write k of them at once, prepared when first
	 * needed. */
	struct sq_pend	*pend;
	size_t		 npend, cappend;
	struct db_stmt	*rollup_st[SQ_ROLLUP_ROWS];
};

/* One roll-up addition waiting for its transaction's commit: the five
 * key strings, NUL after each, in one allocation. */
struct sq_pend {
	char		*key;
	size_t		 keylen;	/* with the NULs */
	uint64_t	 sessions;
};

/* A domain row with what only the backend needs. */
struct sq_domain {
	struct store_domain d;		/* d.policy owned */
	int64_t		 tenant_id;
	int64_t		 revision;	/* of d.policy_id */
};

/* --- Small helpers --- */

/* Sets e to "<what>: <SQLite's reason>" and returns -1. */
static int __attribute__((format(printf, 3, 4)))
sq_err(struct sq *q, struct err *e, const char *fmt, ...)
{
	char what[ERR_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(e, "%s: %s", what, db_errmsg(q->db));
}

/* Returns statement id reset and with its bindings cleared. */
static struct db_stmt *
sq_stmt(struct sq *q, enum sq_id id)
{
	struct db_stmt *st = q->st[id];

	db_clear(st);
	return st;
}

/* SQLite integers are signed: counts past INT64_MAX (no real reporter
 * sends them) are stored as INT64_MAX rather than as negative numbers. */
static int
sq_bind_u64(struct db_stmt *st, int i, uint64_t v)
{
	return db_bind_int64(st, i, v > INT64_MAX ? INT64_MAX :
	    (int64_t)v);
}

static uint64_t
sq_column_u64(struct db_stmt *st, int i)
{
	int64_t v = db_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

/* A NOT NULL text column ("" rather than NULL should SQLite fail). */
static const char *
sq_column_text(struct db_stmt *st, int i)
{
	const char *t = db_column_text(st, i);

	return t != NULL ? t : "";
}

/* Copies src into dst of size bytes. Returns 0, or -1 when it does not
 * fit (dst is then ""). */
static int
sq_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* Steps a statement that returns no rows, then resets it; in a
 * transaction its failure may show only at a later statement or at
 * commit (db_step_later): the transaction fails either way. */
static int
sq_exec(struct sq *q, struct db_stmt *st, const char *what, struct err *e)
{
	int rc = 0;

	if (db_step_later(st) != DB_DONE)
		rc = sq_err(q, e, "%s", what);
	db_reset(st);
	return rc;
}

/* sq_exec for a statement whose db_changes the caller reads. */
static int
sq_exec_now(struct sq *q, struct db_stmt *st, const char *what,
    struct err *e)
{
	int rc = 0;

	if (db_step(st) != DB_DONE)
		rc = sq_err(q, e, "%s", what);
	db_reset(st);
	return rc;
}

/* Runs one INSERT ... RETURNING id bound by the caller, then resets
 * it: 0 with the new row's id, 1 when a DO NOTHING conflict kept it out
 * (no row came back), or -1. */
static int
sq_insert(struct sq *q, struct db_stmt *st, int64_t *id, const char *what,
    struct err *e)
{
	int r = db_step(st), rc = -1;

	if (r == DB_ROW) {
		*id = db_column_int64(st, 0);
		rc = 0;
	} else if (r == DB_DONE)
		rc = 1;
	else
		sq_err(q, e, "%s", what);
	db_reset(st);
	return rc;
}

/* --- Roll-up additions, merged per transaction ---
 *
 * A report adds to a few roll-up rows, and a batch of reports to the
 * same rows again and again (one domain, one day, one reporter): the
 * additions are summed here by key and written at the commit, k rows a
 * statement, so that a batch costs a few statements instead of three a
 * report (on PostgreSQL each is a message and an execution). Nothing
 * reads the roll-ups in the transaction that writes them; subtractions
 * (sq_rollup_add with sign < 0) write what is pending first. */

static int sq_pend_flush(struct sq *q, struct err *e);

static void
sq_pend_drop(struct sq *q)
{
	for (size_t i = 0; i < q->npend; i++)
		free(q->pend[i].key);
	q->npend = 0;
}

/* Adds sessions to the pending row of the five key strings k[]. */
static int
sq_pend_add(struct sq *q, const char *const k[5], uint64_t sessions,
    struct err *e)
{
	struct sq_pend *grown;
	size_t len = 0, off = 0;
	char *key;

	for (int i = 0; i < 5; i++)
		len += strlen(k[i]) + 1;
	if ((key = malloc(len)) == NULL)
		return err_set(e, "roll-up: out of memory");
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(k[i]) + 1;

		memcpy(key + off, k[i], n);
		off += n;
	}
	for (size_t i = 0; i < q->npend; i++)
		if (q->pend[i].keylen == len &&
		    memcmp(q->pend[i].key, key, len) == 0) {
			store_add_sat(&q->pend[i].sessions, sessions);
			free(key);
			return 0;
		}
	if (q->npend == SQ_PEND_MAX && sq_pend_flush(q, e) == -1) {
		free(key);
		return -1;
	}
	if (q->npend == q->cappend) {
		size_t cap = q->cappend ? 2 * q->cappend : 32;

		if ((grown = realloc(q->pend, cap * sizeof(*grown))) == NULL) {
			free(key);
			return err_set(e, "roll-up: out of memory");
		}
		q->pend = grown;
		q->cappend = cap;
	}
	q->pend[q->npend++] = (struct sq_pend){ key, len, sessions };
	return 0;
}

/* The statement that writes k roll-up additions (1 <= k <=
 * SQ_ROLLUP_ROWS): an upsert of k roll-up cells, each adding its sessions. */
static struct db_stmt *
sq_pend_stmt(struct sq *q, size_t k, struct err *e)
{
	char sql[1024];
	size_t off;

	if (q->rollup_st[k - 1] != NULL) {
		db_clear(q->rollup_st[k - 1]);
		return q->rollup_st[k - 1];
	}
	off = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO rollup "
	    "(policy_domain, day, organization_name, policy_type, "
	    "result_type, sessions) VALUES ");
	for (size_t r = 0; r < k; r++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off,
		    "%s(?%zu, ?%zu, ?%zu, ?%zu, ?%zu, ?%zu)", r ? ", " : "",
		    6 * r + 1, 6 * r + 2, 6 * r + 3, 6 * r + 4, 6 * r + 5,
		    6 * r + 6);
	snprintf(sql + off, sizeof(sql) - off, " ON CONFLICT "
	    "(policy_domain, day, organization_name, policy_type, "
	    "result_type) DO UPDATE SET sessions = rollup.sessions + "
	    "excluded.sessions");
	if (db_prepare(q->db, sql, &q->rollup_st[k - 1]) != DB_OK) {
		sq_err(q, e, "roll-up");
		return NULL;
	}
	return q->rollup_st[k - 1];
}

/* Writes the pending additions, SQ_ROLLUP_ROWS a statement. */
static int
sq_pend_flush(struct sq *q, struct err *e)
{
	struct db_stmt *st;
	int rc = -1;

	for (size_t i = 0; i < q->npend; i += SQ_ROLLUP_ROWS) {
		size_t k = q->npend - i < SQ_ROLLUP_ROWS ? q->npend - i :
		    SQ_ROLLUP_ROWS;
		int b = DB_OK;

		if ((st = sq_pend_stmt(q, k, e)) == NULL)
			goto out;
		for (size_t r = 0; r < k; r++) {
			const struct sq_pend *pd = &q->pend[i + r];
			const char *f = pd->key;
			int c = (int)(6 * r);

			for (int j = 1; j <= 5; j++) {
				b |= db_bind_text(st, c + j, f);
				f += strlen(f) + 1;
			}
			b |= sq_bind_u64(st, c + 6, pd->sessions);
		}
		if (b != DB_OK) {
			sq_err(q, e, "roll-up");
			goto out;
		}
		if (sq_exec(q, st, "roll-up", e) == -1)
			goto out;
	}
	rc = 0;
out:
	sq_pend_drop(q);
	return rc;
}

static int
sq_begin(struct sq *q, struct err *e)
{
	sq_pend_drop(q);
	return db_begin(q->db) == DB_OK ? 0 :
	    sq_err(q, e, "begin transaction");
}

static int
sq_commit(struct sq *q, struct err *e)
{
	if (sq_pend_flush(q, e) == -1)
		return -1;
	return db_commit(q->db) == DB_OK ? 0 : sq_err(q, e, "commit");
}

static void
sq_rollback(struct sq *q)
{
	sq_pend_drop(q);
	db_rollback(q->db);
}

/* Reports that a callback stopped an iteration, and returns its value. */
static int
sq_stopped(int r, struct err *e)
{
	err_set(e, "stopped by the caller (%d)", r);
	return r;
}

/* --- Domains --- */

/* Fills sd from the current row of a SQ_DOMAIN_COLS query. Returns 0, or
 * -1 (sd left empty) when the row does not hold a valid domain. */
static int
sq_domain_read(struct db_stmt *st, struct sq_domain *sd, struct err *e)
{
	const char *mode;
	int64_t max_age;
	int rc = -1;

	memset(sd, 0, sizeof(*sd));
	sd->d.id = db_column_int64(st, 0);
	if (sq_copy(sd->d.name, sizeof(sd->d.name), sq_column_text(st, 1)) ||
	    sq_copy(sd->d.tenant, sizeof(sd->d.tenant),
	    sq_column_text(st, 2)) ||
	    sq_copy(sd->d.policy_id, sizeof(sd->d.policy_id),
	    sq_column_text(st, 6)) ||
	    sq_copy(sd->d.token, sizeof(sd->d.token), sq_column_text(st, 7))) {
		err_set(e, "domain row %lld: a stored name, tenant, policy id "
		    "or token is too long", (long long)sd->d.id);
		goto out;
	}
	mode = sq_column_text(st, 3);
	if (policy_mode_parse(mode, &sd->d.policy.mode) == -1) {
		err_set(e, "domain %s: stored mode '%s' is unknown",
		    sd->d.name, mode);
		goto out;
	}
	max_age = db_column_int64(st, 4);
	if (max_age < 0 || max_age > LIMIT_POLICY_MAX_AGE) {
		err_set(e, "domain %s: stored max_age %lld out of range",
		    sd->d.name, (long long)max_age);
		goto out;
	}
	sd->d.policy.max_age = (uint32_t)max_age;
	if (store_strv_split(&sd->d.policy.mx, sq_column_text(st, 5),
	    '\n') == -1) {
		err_set(e, "domain %s: out of memory", sd->d.name);
		goto out;
	}
	sd->d.created = (time_t)db_column_int64(st, 8);
	sd->d.updated = (time_t)db_column_int64(st, 9);
	sd->d.removed = (time_t)db_column_int64(st, 10);
	sd->d.serve_until = (time_t)db_column_int64(st, 11);
	sd->tenant_id = db_column_int64(st, 12);
	sd->revision = db_column_int64(st, 13);
	rc = 0;
out:
	if (rc == -1)
		policy_free(&sd->d.policy);
	return rc;
}

/* Loads domain name into sd (caller frees sd->d.policy). Returns 0, 1
 * when there is no such domain, or -1. */
static int
sq_domain_get(struct sq *q, const char *name, struct sq_domain *sd,
    struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_DOMAIN_GET);
	int rc = -1, r;

	memset(sd, 0, sizeof(*sd));
	if (db_bind_text(st, 1, name) != DB_OK) {
		sq_err(q, e, "read domain %s", name);
		goto out;
	}
	r = db_step(st);
	if (r == DB_DONE) {
		rc = 1;
		goto out;
	}
	if (r != DB_ROW) {
		sq_err(q, e, "read domain %s", name);
		goto out;
	}
	rc = sq_domain_read(st, sd, e);
out:
	db_reset(st);
	return rc;
}

/* Gives sd the next policy id of its domain, made at now. */
static int
sq_domain_bump(struct sq_domain *sd, time_t now, struct err *e)
{
	int rc = -1;

	if (sd->revision < 0 || sd->revision == INT64_MAX) {
		err_set(e, "domain %s: revision %lld cannot grow", sd->d.name,
		    (long long)sd->revision);
		goto out;
	}
	if (store_policy_id(now, sd->revision + 1, sd->d.policy_id, e) == -1)
		goto out;
	sd->revision++;
	sd->d.updated = now;
	rc = 0;
out:
	return rc;
}

/* Binds the columns SQ_DOMAIN_INSERT and SQ_DOMAIN_UPDATE share (?1 to
 * ?10) from sd; mx is the joined pattern list. */
static int
sq_domain_bind(struct db_stmt *st, const struct sq_domain *sd, const char *mx)
{
	int b = DB_OK;

	b |= db_bind_text(st, 1, sd->d.name);
	b |= db_bind_int64(st, 2, sd->tenant_id);
	b |= db_bind_text(st, 3, policy_mode_name(sd->d.policy.mode));
	b |= db_bind_int64(st, 4, sd->d.policy.max_age);
	b |= db_bind_text(st, 5, mx);
	b |= db_bind_text(st, 6, sd->d.policy_id);
	b |= db_bind_int64(st, 7, (int64_t)sd->d.updated);
	b |= db_bind_int64(st, 8, (int64_t)sd->d.removed);
	b |= db_bind_int64(st, 9, (int64_t)sd->d.serve_until);
	b |= db_bind_int64(st, 10, sd->revision);
	return b;
}

/* Bumps the domain generation (see sq_domains_version) inside the
 * transaction of a domain write, and drops this connection's cached
 * value: PRAGMA data_version does not change for our own commits. */
static int
sq_gen_bump(struct sq *q, struct err *e)
{
	q->gen_valid = false;
	if (sq_exec(q, sq_stmt(q, SQ_GEN_BUMP), "domain generation", e) == -1)
		return -1;
	return db_notify(q->db) == DB_OK ? 0 :
	    sq_err(q, e, "domain generation");
}

/* Replaces the domain_mx rows of domain sd->d.id by its mx patterns, in
 * the transaction that writes the domain: reports are matched through
 * them when read. */
static int
sq_domain_mx(struct sq *q, const struct sq_domain *sd, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_DOMAIN_MX_CLEAR);

	if (db_bind_int64(st, 1, sd->d.id) != DB_OK)
		return sq_err(q, e, "mx patterns of %s", sd->d.name);
	if (sq_exec(q, st, "clear mx patterns", e) == -1)
		return -1;
	for (size_t i = 0; i < sd->d.policy.mx.n; i++) {
		st = sq_stmt(q, SQ_DOMAIN_MX_ADD);
		if ((db_bind_text(st, 1, sd->d.policy.mx.v[i]) |
		    db_bind_int64(st, 2, sd->d.id)) != DB_OK)
			return sq_err(q, e, "mx patterns of %s", sd->d.name);
		if (sq_exec(q, st, "add mx pattern", e) == -1)
			return -1;
	}
	return 0;
}

/* Writes sd (a new row when insert, giving it a fresh token and its row
 * id; else an update of row sd->d.id), its domain_mx rows, the
 * policy_history row of its policy id with the rendered body, and bumps
 * the domain generation. Inside a transaction. */
static int
sq_domain_write(struct sq *q, struct sq_domain *sd, bool insert,
    const char *body, struct err *e)
{
	struct db_stmt *st = NULL;
	char *mx;
	int rc = -1, r = DB_DONE;

	if ((mx = store_strv_join(&sd->d.policy.mx, '\n')) == NULL) {
		err_set(e, "domain %s: out of memory", sd->d.name);
		goto out;
	}
	if (insert) {
		/* The name was checked in this transaction: no row back
		 * means the token was taken, and another one is tried. */
		for (int tries = 1; r != DB_ROW; tries++) {
			st = sq_stmt(q, SQ_DOMAIN_INSERT);
			if (store_token_new(sd->d.token, e) == -1)
				goto out;
			if ((sq_domain_bind(st, sd, mx) |
			    db_bind_text(st, 11, sd->d.token) |
			    db_bind_int64(st, 12,
			    (int64_t)sd->d.created)) != DB_OK) {
				sq_err(q, e, "insert domain %s", sd->d.name);
				goto out;
			}
			r = db_step(st);
			if (r != DB_ROW && (r != DB_DONE ||
			    tries == SQ_TOKEN_TRIES)) {
				sq_err(q, e, "insert domain %s", sd->d.name);
				goto out;
			}
		}
		sd->d.id = db_column_int64(st, 0);
	} else {
		st = sq_stmt(q, SQ_DOMAIN_UPDATE);
		if (sq_domain_bind(st, sd, mx) != DB_OK ||
		    db_bind_int64(st, 11, sd->d.id) != DB_OK) {
			sq_err(q, e, "update domain %s", sd->d.name);
			goto out;
		}
		if (sq_exec(q, st, "update domain", e) == -1)
			goto out;
	}
	if (sq_domain_mx(q, sd, e) == -1)
		goto out;
	st = sq_stmt(q, SQ_HISTORY_ADD);
	if ((db_bind_int64(st, 1, sd->d.id) |
	    db_bind_text(st, 2, sd->d.policy_id) |
	    db_bind_int64(st, 3, (int64_t)sd->d.updated) |
	    db_bind_text(st, 4, body)) != DB_OK) {
		sq_err(q, e, "policy history of %s", sd->d.name);
		goto out;
	}
	if (sq_exec(q, st, "policy history", e) == -1 ||
	    sq_gen_bump(q, e) == -1)
		goto out;
	rc = 0;
out:
	db_reset(q->st[SQ_DOMAIN_INSERT]);
	free(mx);
	return rc;
}

/* Finds or creates tenant name; returns its row id and active domains. */
static int
sq_tenant_get(struct sq *q, const char *name, time_t now, int64_t *id,
    int64_t *domains, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_TENANT_GET);
	int rc = -1;

	if ((db_bind_text(st, 1, name) |
	    db_bind_int64(st, 2, (int64_t)now)) != DB_OK ||
	    db_step(st) != DB_ROW) {
		sq_err(q, e, "tenant %s", name);
		goto out;
	}
	*id = db_column_int64(st, 0);
	*domains = db_column_int64(st, 1);
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* Adds delta to the active domains of tenant id. */
static int
sq_tenant_count(struct sq *q, int64_t id, int delta, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_TENANT_COUNT);

	if ((db_bind_int64(st, 1, id) |
	    db_bind_int64(st, 2, delta)) != DB_OK)
		return sq_err(q, e, "count tenant domains");
	return sq_exec(q, st, "count tenant domains", e);
}

/* Checks what a caller hands in as a domain name: the store trusts its
 * normalization but not its length. */
static int
sq_check_name(const char *name, struct err *e)
{
	if (name == NULL || name[0] == '\0')
		return err_set(e, "empty domain name");
	if (strlen(name) > LIMIT_DNAME_LEN)
		return err_set(e, "domain name longer than %d characters",
		    LIMIT_DNAME_LEN);
	return 0;
}

/* Checks what domain_add is given, before any transaction; renders the
 * body to serve into *body (caller frees). Returns 0 or -1. */
static int
sq_domain_check(const char *tenant, const char *name, const struct policy *p,
    char **body, struct err *e)
{
	size_t len;

	*body = NULL;
	if (sq_check_name(name, e) == -1)
		return -1;
	if (tenant == NULL || tenant[0] == '\0' ||
	    strlen(tenant) > STORE_TENANT_LEN)
		return err_set(e, "tenant name must have 1 to %d characters",
		    STORE_TENANT_LEN);
	if ((*body = store_policy_body(p, &len, e)) == NULL)
		return -1;
	return 0;
}

/* Inside the open transaction: adds (or brings back) domain name of
 * tenant, serving body. Returns 0 with *out filled (out may be NULL),
 * 1 when it is refused (hosted already, the tenant full; e says why),
 * or -1 (the caller rolls back). */
static int
sq_domain_add_tx(struct sq *q, const char *tenant, const char *name,
    const struct policy *p, const char *body, time_t now,
    struct store_domain *out, struct err *e)
{
	struct sq_domain sd = { 0 };
	int64_t tid, ndomains;
	bool revive;
	int rc = -1, r;

	if ((r = sq_domain_get(q, name, &sd, e)) == -1)
		goto out;
	if (r == 0 && sd.d.removed == 0) {
		err_set(e, "%s is already hosted (tenant %s)", name,
		    sd.d.tenant);
		rc = 1;
		goto out;
	}
	revive = r == 0;
	if (sq_tenant_get(q, tenant, now, &tid, &ndomains, e) == -1)
		goto out;
	if (ndomains >= LIMIT_DOMAINS_PER_TENANT) {
		err_set(e, "tenant %s already hosts %lld domains, the limit",
		    tenant, (long long)ndomains);
		rc = 1;
		goto out;
	}
	/* A removed domain comes back with its row: created, token (rua
	 * URIs out there may still carry it) and revision carry on. */
	policy_free(&sd.d.policy);
	if (policy_copy(&sd.d.policy, p) == -1) {
		err_set(e, "%s: out of memory", name);
		goto out;
	}
	sq_copy(sd.d.name, sizeof(sd.d.name), name);
	sq_copy(sd.d.tenant, sizeof(sd.d.tenant), tenant);
	sd.tenant_id = tid;
	if (!revive)
		sd.d.created = now;
	sd.d.removed = 0;
	sd.d.serve_until = 0;
	if (sq_domain_bump(&sd, now, e) == -1 ||
	    sq_domain_write(q, &sd, !revive, body, e) == -1 ||
	    sq_tenant_count(q, tid, 1, e) == -1)
		goto out;
	if (out != NULL) {
		*out = sd.d;
		memset(&sd.d.policy, 0, sizeof(sd.d.policy));
	}
	rc = 0;
out:
	policy_free(&sd.d.policy);
	return rc;
}

static int
sq_domain_add(struct store *s, const char *tenant, const char *name,
    const struct policy *p, struct store_domain *out, struct err *e)
{
	struct sq *q = (struct sq *)s;
	char *body = NULL;
	int rc = -1, r;

	memset(out, 0, sizeof(*out));
	if (sq_domain_check(tenant, name, p, &body, e) == -1 ||
	    sq_begin(q, e) == -1)
		goto out;
	r = sq_domain_add_tx(q, tenant, name, p, body, time(NULL), out, e);
	if (r != 0 || sq_commit(q, e) == -1) {
		sq_rollback(q);
		store_domain_free(out);
		memset(out, 0, sizeof(*out));
		goto out;
	}
	rc = 0;
out:
	free(body);
	return rc;
}

/* How often a bulk add tells its progress. */
#define SQ_BATCH_PROGRESS 1000

static int
sq_domain_add_batch(struct store *s, const struct store_domain_job *jobs,
    size_t n, const struct store_batch_cb *b, struct err *e)
{
	struct sq *q = (struct sq *)s;
	time_t now = time(NULL);
	bool refused = false;
	struct err je;
	char **bodies;
	int rc = -1, r;

	if ((bodies = calloc(n > 0 ? n : 1, sizeof(*bodies))) == NULL)
		return err_set(e, "domain import: out of memory");
	/* Every job checked and rendered first, outside the write lock. */
	for (size_t i = 0; i < n; i++) {
		if (sq_domain_check(jobs[i].tenant, jobs[i].name, jobs[i].p,
		    &bodies[i], &je) == -1) {
			refused = true;
			if (b != NULL && b->refused != NULL)
				b->refused(b->arg, i, je.msg);
		}
	}
	if (refused) {
		rc = 1;
		goto out;
	}
	if (sq_begin(q, e) == -1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		r = sq_domain_add_tx(q, jobs[i].tenant, jobs[i].name,
		    jobs[i].p, bodies[i], now, NULL, &je);
		if (r == -1) {
			*e = je;
			sq_rollback(q);
			goto out;
		}
		if (r == 1) {
			refused = true;
			if (b != NULL && b->refused != NULL)
				b->refused(b->arg, i, je.msg);
		}
		if (b != NULL && b->progress != NULL &&
		    ((i + 1) % SQ_BATCH_PROGRESS == 0 || i + 1 == n))
			b->progress(b->arg, i + 1, n);
	}
	if (refused || (b != NULL && b->check_only)) {
		sq_rollback(q);
		rc = refused ? 1 : 0;
		goto out;
	}
	if (sq_commit(q, e) == -1) {
		sq_rollback(q);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(bodies[i]);
	free(bodies);
	return rc;
}

static int
sq_domain_get_op(struct store *s, const char *name, struct store_domain *out,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct sq_domain sd;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sq_domain_get(q, name, &sd, e)) == 0)
		*out = sd.d;
	return rc;
}

static int
sq_domain_set(struct store *s, const char *name, const struct policy *p,
    struct store_domain *out, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct sq_domain sd = { 0 };
	char *body = NULL, *old = NULL;
	size_t len, oldlen;
	bool tx = false;
	int rc = -1, r;

	memset(out, 0, sizeof(*out));
	if ((body = store_policy_body(p, &len, e)) == NULL)
		goto out;
	if (sq_begin(q, e) == -1)
		goto out;
	tx = true;
	if ((r = sq_domain_get(q, name, &sd, e)) != 0 || sd.d.removed != 0) {
		rc = r == -1 ? -1 : 1;
		goto out;
	}
	if ((old = policy_render(&sd.d.policy, &oldlen)) == NULL) {
		err_set(e, "%s: out of memory", name);
		goto out;
	}
	/* What senders see is the rendered body: only a change there needs
	 * a new id (a new mx order does; a different spelling cannot). */
	if (oldlen != len || memcmp(old, body, len) != 0) {
		policy_free(&sd.d.policy);
		if (policy_copy(&sd.d.policy, p) == -1) {
			err_set(e, "%s: out of memory", name);
			goto out;
		}
		if (sq_domain_bump(&sd, time(NULL), e) == -1 ||
		    sq_domain_write(q, &sd, false, body, e) == -1)
			goto out;
	}
	if (sq_commit(q, e) == -1)
		goto out;
	tx = false;
	*out = sd.d;
	memset(&sd.d.policy, 0, sizeof(sd.d.policy));
	rc = 0;
out:
	if (tx)
		sq_rollback(q);
	policy_free(&sd.d.policy);
	free(body);
	free(old);
	return rc;
}

/* Until when sd, removed at now, must serve mode none: from the policies
 * it served (its history), by store_serve_until. */
static int
sq_served_until(struct sq *q, const struct sq_domain *sd, time_t now,
    time_t *until, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_HISTORY_LIST);
	struct store_served *h = NULL, *nh;
	size_t n = 0, cap = 0;
	int rc = -1, r;

	if (db_bind_int64(st, 1, sd->d.id) != DB_OK) {
		sq_err(q, e, "policy history of %s", sd->d.name);
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nh = realloc(h, cap * sizeof(*h))) == NULL) {
				err_set(e, "out of memory");
				goto out;
			}
			h = nh;
		}
		h[n].since = (time_t)db_column_int64(st, 1);
		h[n++].max_age = store_body_max_age(sq_column_text(st, 2));
	}
	if (r != DB_DONE) {
		sq_err(q, e, "policy history of %s", sd->d.name);
		goto out;
	}
	/* No history (a store older than it): the policy served now. */
	if (n == 0) {
		*until = now + (time_t)sd->d.policy.max_age;
		rc = 0;
		goto out;
	}
	*until = store_serve_until(h, n, now);
	rc = 0;
out:
	db_reset(st);
	free(h);
	return rc;
}

static int
sq_domain_remove(struct store *s, const char *name, time_t now,
    struct store_domain *out, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct sq_domain sd = { 0 };
	char *body = NULL;
	bool tx = false;
	size_t len;
	int rc = -1, r;

	memset(out, 0, sizeof(*out));
	if (now <= 0 || now > SQ_TIME_MAX - LIMIT_POLICY_MAX_AGE) {
		err_set(e, "remove %s: time %lld out of range", name,
		    (long long)now);
		goto out;
	}
	if (sq_begin(q, e) == -1)
		goto out;
	tx = true;
	if ((r = sq_domain_get(q, name, &sd, e)) != 0 || sd.d.removed != 0) {
		rc = r == -1 ? -1 : 1;
		goto out;
	}
	/* RFC 8461 §8.3: mode none, a short max_age, kept until every
	 * sender's cached copy of any policy it served has expired. */
	if (sq_served_until(q, &sd, now, &sd.d.serve_until, e) == -1)
		goto out;
	store_policy_removed(&sd.d.policy);
	if ((body = policy_render(&sd.d.policy, &len)) == NULL) {
		err_set(e, "%s: out of memory", name);
		goto out;
	}
	sd.d.removed = now;
	if (sq_domain_bump(&sd, now, e) == -1 ||
	    sq_domain_write(q, &sd, false, body, e) == -1 ||
	    sq_tenant_count(q, sd.tenant_id, -1, e) == -1 ||
	    sq_commit(q, e) == -1)
		goto out;
	tx = false;
	*out = sd.d;
	memset(&sd.d.policy, 0, sizeof(sd.d.policy));
	rc = 0;
out:
	if (tx)
		sq_rollback(q);
	policy_free(&sd.d.policy);
	free(body);
	return rc;
}

/* Runs st (bound), a SQ_DOMAIN_COLS query, handing each domain to cb;
 * resets st. */
static int
sq_domains(struct sq *q, struct db_stmt *st, store_domain_cb cb, void *arg,
    struct err *e)
{
	struct sq_domain sd;
	int rc = -1, r;

	while ((r = db_step(st)) == DB_ROW) {
		if (sq_domain_read(st, &sd, e) == -1)
			goto out;
		r = cb(arg, &sd.d);
		policy_free(&sd.d.policy);
		if (r != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "list domains");
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_domain_list(struct store *s, store_domain_cb cb, void *arg,
    struct err *e)
{
	struct sq *q = (struct sq *)s;

	return sq_domains(q, sq_stmt(q, SQ_DOMAIN_LIST), cb, arg, e);
}

static int
sq_domain_page(struct store *s, const char *tenant, const char *after,
    long limit, store_domain_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_DOMAIN_PAGE);

	if ((db_bind_text(st, 1, tenant) | db_bind_text(st, 2, after) |
	    db_bind_int64(st, 3, limit > 0 ? limit : -1)) != DB_OK) {
		db_reset(st);
		return sq_err(q, e, "list domains of %s", tenant);
	}
	return sq_domains(q, st, cb, arg, e);
}

static int
sq_domain_history(struct store *s, const char *name, store_history_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = NULL;
	struct sq_domain sd = { 0 };
	int rc = -1, r;

	if ((r = sq_domain_get(q, name, &sd, e)) != 0) {
		if (r == 1)
			err_set(e, "%s is not a hosted domain", name);
		goto out;
	}
	st = sq_stmt(q, SQ_HISTORY_LIST);
	if (db_bind_int64(st, 1, sd.d.id) != DB_OK) {
		sq_err(q, e, "policy history of %s", name);
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		r = cb(arg, sq_column_text(st, 0),
		    (time_t)db_column_int64(st, 1),
		    sq_column_text(st, 2));
		if (r != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "policy history of %s", name);
		goto out;
	}
	rc = 0;
out:
	if (st != NULL)
		db_reset(st);
	policy_free(&sd.d.policy);
	return rc;
}

/* --- Reports --- */

/* Adds sessions to one roll-up cell (sign > 0: pending until the
 * commit, sq_pend_add), or takes them away (sign < 0: a report that no
 * longer counts), dropping the cell when that leaves nothing. */
static int
sq_rollup_add(struct sq *q, const char *domain, const char *day,
    const char *org, const char *type, const char *result, uint64_t sessions,
    int sign, struct err *e)
{
	const char *const k[5] = { domain, day, org, type, result };
	struct db_stmt *st;
	int64_t v = sessions > INT64_MAX ? INT64_MAX : (int64_t)sessions;

	if (sign > 0)
		return sq_pend_add(q, k, sessions, e);
	/* What is pending first: a subtraction may prune the row. */
	if (sq_pend_flush(q, e) == -1)
		return -1;
	if ((st = sq_pend_stmt(q, 1, e)) == NULL)
		return -1;
	if ((db_bind_text(st, 1, domain) | db_bind_text(st, 2, day) |
	    db_bind_text(st, 3, org) | db_bind_text(st, 4, type) |
	    db_bind_text(st, 5, result) |
	    db_bind_int64(st, 6, -v)) != DB_OK)
		return sq_err(q, e, "roll-up of %s", domain);
	if (sq_exec(q, st, "roll-up", e) == -1)
		return -1;
	st = sq_stmt(q, SQ_ROLLUP_PRUNE);
	if ((db_bind_text(st, 1, domain) | db_bind_text(st, 2, day) |
	    db_bind_text(st, 3, org) | db_bind_text(st, 4, type) |
	    db_bind_text(st, 5, result)) != DB_OK)
		return sq_err(q, e, "roll-up of %s", domain);
	return sq_exec(q, st, "roll-up", e);
}

/* Adds report r to the daily roll-ups (sign > 0) or takes it out of them
 * (sign < 0); see the opening comment for the arithmetic. */
static int
sq_report_rollup(struct sq *q, const struct tlsrpt_report *r, int sign,
    struct err *e)
{
	char day[STORE_DAY_LEN + 1];

	if (store_day_key(r->start, day) == -1)
		return err_set(e, "store report: start-datetime %lld out of "
		    "range", (long long)r->start);
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		const char *domain = p->policy_domain ? p->policy_domain : "";
		const char *type = p->policy_type ? p->policy_type : "";
		const char *org = r->organization_name;
		uint64_t detailed = 0;

		if (sq_rollup_add(q, domain, day, org, type, "successful",
		    p->total_successful, sign, e) == -1)
			return -1;
		for (size_t j = 0; j < p->nfailures; j++) {
			const struct tlsrpt_failure *f = &p->failures[j];
			const char *result = f->result_type;

			if (f->failed_session_count == 0)
				continue;
			if (result == NULL || result[0] == '\0' ||
			    strcmp(result, "successful") == 0)
				result = "unspecified";
			if (sq_rollup_add(q, domain, day, org, type, result,
			    f->failed_session_count, sign, e) == -1)
				return -1;
			store_add_sat(&detailed, f->failed_session_count);
		}
		/* The rest of what the entry counts (tlsrpt_policy_failed):
		 * the failures it did not explain. */
		if (tlsrpt_policy_failed(p, NULL) > detailed &&
		    sq_rollup_add(q, domain, day, org, type, "unspecified",
		    tlsrpt_policy_failed(p, NULL) - detailed, sign, e) == -1)
			return -1;
	}
	return 0;
}

/* Records host, the policy-domain of a tlsa entry, as a possible MX host
 * of hosted domains (see the opening comment); known ones are kept. */
static int
sq_tlsa_host(struct sq *q, const char *host, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_TLSA_HOST_ADD);

	if (db_bind_text(st, 1, host) != DB_OK)
		return sq_err(q, e, "tlsa host");
	return sq_exec(q, st, "tlsa host", e);
}

/* Stores policy entry i of report rid with its failure details, and
 * records the host of a tlsa entry in tlsa_host. */
static int
sq_report_policy(struct sq *q, int64_t rid, size_t i,
    const struct tlsrpt_policy *p, struct err *e)
{
	const char *domain = p->policy_domain ? p->policy_domain : "";
	const char *type = p->policy_type ? p->policy_type : "";
	char *strings = NULL, *mx = NULL;
	struct db_stmt *st;
	int rc = -1;

	strings = store_strv_join(&p->policy_string, '\n');
	mx = store_strv_join(&p->mx_host, '\n');
	if (strings == NULL || mx == NULL) {
		err_set(e, "policies[%zu]: out of memory", i);
		goto out;
	}
	st = sq_stmt(q, SQ_RPOLICY_INSERT);
	if ((db_bind_int64(st, 1, rid) |
	    db_bind_int64(st, 2, (int64_t)i) |
	    db_bind_text(st, 3, type) | db_bind_text(st, 4, domain) |
	    db_bind_text(st, 5, strings) | db_bind_text(st, 6, mx) |
	    sq_bind_u64(st, 7, p->total_successful) |
	    sq_bind_u64(st, 8, p->total_failure)) != DB_OK) {
		sq_err(q, e, "policies[%zu]", i);
		goto out;
	}
	/* Not waited for: its failure details find it by (report, idx),
	 * so that on PostgreSQL a report's rows go out in one round trip
	 * (store_db_pg.c). */
	if (sq_exec(q, st, "insert report policy", e) == -1)
		goto out;
	if (strcmp(type, "tlsa") == 0 && domain[0] != '\0' &&
	    sq_tlsa_host(q, domain, e) == -1)
		goto out;
	for (size_t j = 0; j < p->nfailures; j++) {
		const struct tlsrpt_failure *f = &p->failures[j];

		st = sq_stmt(q, SQ_DETAIL_INSERT);
		if ((db_bind_int64(st, 1, rid) |
		    db_bind_int64(st, 10, (int64_t)i) |
		    db_bind_text(st, 2, f->result_type ? f->result_type : "") |
		    db_bind_text(st, 3, f->sending_mta_ip) |
		    db_bind_text(st, 4, f->receiving_mx_hostname) |
		    db_bind_text(st, 5, f->receiving_mx_helo) |
		    db_bind_text(st, 6, f->receiving_ip) |
		    db_bind_text(st, 7, f->additional_information) |
		    db_bind_text(st, 8, f->failure_reason_code) |
		    sq_bind_u64(st, 9, f->failed_session_count)) != DB_OK) {
			sq_err(q, e, "policies[%zu].failure-details[%zu]",
			    i, j);
			goto out;
		}
		if (sq_exec(q, st, "insert failure detail", e) == -1)
			goto out;
	}
	rc = 0;
out:
	free(strings);
	free(mx);
	return rc;
}

static int sq_report_raw(struct db_stmt *st, int64_t id, uint8_t **raw,
    size_t *rawlen, struct err *e);

/* Reads stored report id back into a parsed report (caller frees). */
static int
sq_report_load(struct sq *q, int64_t id, struct tlsrpt_report **out,
    struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_REPORT_GET);
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = -1, r;

	*out = NULL;
	if (db_bind_int64(st, 1, id) != DB_OK) {
		sq_err(q, e, "read report %lld", (long long)id);
		goto out;
	}
	if ((r = db_step(st)) != DB_ROW) {
		if (r == DB_DONE)
			err_set(e, "report %lld: gone", (long long)id);
		else
			sq_err(q, e, "read report %lld", (long long)id);
		goto out;
	}
	if (sq_report_raw(st, id, &raw, &rawlen, e) == -1)
		goto out;
	if (tlsrpt_parse(raw, rawlen, out, e) == -1) {
		err_prefix(e, "report %lld no longer parses: ", (long long)id);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	free(raw);
	return rc;
}

/* A report already stored under the key of the one being added. */
struct sq_keyed {
	int64_t		 id;
	int		 rank;		/* enum store_provenance */
	bool		 has_digest;
	unsigned char	 digest[32];
};

/* Reads the reports stored under r's (organization-name, report-id),
 * oldest first, into *rows (caller frees; *n of them), computing (and
 * storing) the digest of rows stored before digests were. */
static int
sq_report_keyed(struct sq *q, const struct tlsrpt_report *r,
    struct sq_keyed **rows, size_t *n, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_REPORT_KEY);
	struct sq_keyed *v = NULL, *grown;
	const void *digest;
	size_t cap = 0, k = 0, dn;
	int rc = -1, s;

	if ((db_bind_text(st, 1, r->organization_name) |
	    db_bind_text(st, 2, r->report_id)) != DB_OK) {
		sq_err(q, e, "look up report");
		goto out;
	}
	while ((s = db_step(st)) == DB_ROW) {
		if (k == cap) {
			cap = cap ? 2 * cap : 4;
			if ((grown = realloc(v, cap * sizeof(*v))) == NULL) {
				err_set(e, "look up report: out of memory");
				goto out;
			}
			v = grown;
		}
		v[k].id = db_column_int64(st, 0);
		digest = db_column_blob(st, 1, &dn);
		v[k].has_digest = dn == 32;
		if (v[k].has_digest)
			memcpy(v[k].digest, digest, 32);
		v[k].rank = db_column_int(st, 2);
		k++;
	}
	if (s != DB_DONE) {
		sq_err(q, e, "look up report");
		goto out;
	}
	db_reset(st);
	for (size_t i = 0; i < k; i++) {
		struct tlsrpt_report *old;
		int d;

		if (v[i].has_digest)
			continue;
		if (sq_report_load(q, v[i].id, &old, e) == -1)
			goto out;
		d = tlsrpt_report_digest(old, v[i].digest);
		tlsrpt_report_free(old);
		if (d == -1) {
			err_set(e, "report %lld: SHA-256 failed",
			    (long long)v[i].id);
			goto out;
		}
		v[i].has_digest = true;
		st = sq_stmt(q, SQ_REPORT_DIGEST);
		if ((db_bind_int64(st, 1, v[i].id) |
		    db_bind_blob(st, 2, v[i].digest, 32))
		    != DB_OK) {
			sq_err(q, e, "report digest");
			goto out;
		}
		if (sq_exec(q, st, "report digest", e) == -1)
			goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
	rc = 0;
out:
	db_reset(st);
	free(v);
	return rc;
}

/* The first row id of a one-column query bound to (org, report-id[,
 * require_dkim]), or 0 for none; -1 on error. */
static int64_t
sq_report_pick(struct sq *q, enum sq_id which, const struct tlsrpt_report *r,
    bool require_dkim, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, which);
	int64_t id = -1;
	int s;

	if ((db_bind_text(st, 1, r->organization_name) |
	    db_bind_text(st, 2, r->report_id)) != DB_OK ||
	    (which == SQ_REPORT_WINNER &&
	    db_bind_int64(st, 3, require_dkim) != DB_OK)) {
		sq_err(q, e, "report conflicts");
		goto out;
	}
	s = db_step(st);
	if (s == DB_ROW)
		id = db_column_int64(st, 0);
	else if (s == DB_DONE)
		id = 0;
	else
		sq_err(q, e, "report conflicts");
out:
	db_reset(st);
	return id;
}

/* Moves report id in (sign > 0) or out of the roll-ups, and marks it so.
 * r is the report itself when at hand (the one being added), else NULL:
 * it is read back from the store. */
static int
sq_report_count(struct sq *q, int64_t id, const struct tlsrpt_report *r,
    int sign, struct err *e)
{
	struct tlsrpt_report *loaded = NULL;
	struct db_stmt *st;
	int rc = -1;

	if (r == NULL) {
		if (sq_report_load(q, id, &loaded, e) == -1)
			return -1;
		r = loaded;
	}
	if (sq_report_rollup(q, r, sign, e) == -1)
		goto out;
	st = sq_stmt(q, SQ_REPORT_SET_COUNTED);
	if ((db_bind_int64(st, 1, id) |
	    db_bind_int64(st, 2, sign > 0)) != DB_OK) {
		sq_err(q, e, "report %lld", (long long)id);
		goto out;
	}
	rc = sq_exec(q, st, "mark counted", e);
out:
	tlsrpt_report_free(loaded);
	return rc;
}

/* Decides which of the reports under r's key counts (SQ_REPORT_WINNER)
 * and moves the roll-ups when that changed. added is the row id of r
 * when r was just stored (its parsed form is at hand), else 0. */
static int
sq_report_settle(struct sq *q, const struct tlsrpt_report *r, int64_t added,
    bool require_dkim, struct err *e)
{
	int64_t win, was;

	if ((win = sq_report_pick(q, SQ_REPORT_WINNER, r, require_dkim, e))
	    == -1 ||
	    (was = sq_report_pick(q, SQ_REPORT_COUNTED, r, false, e)) == -1)
		return -1;
	if (win == was)
		return 0;
	/* Out first: cells it leaves empty are dropped, and the new one's
	 * zero-session cells (a reporter showing on its day) come back. */
	if (was != 0 && sq_report_count(q, was, was == added ? r : NULL, -1,
	    e) == -1)
		return -1;
	if (win != 0 && sq_report_count(q, win, win == added ? r : NULL, 1,
	    e) == -1)
		return -1;
	return 0;
}

/* A job of a batch, made ready before the write lock is taken. */
struct sq_prep {
	const uint8_t	*blob;		/* raw, or z */
	size_t		 bloblen;
	uint8_t		*z;		/* raw compressed by us, or NULL */
	bool		 plain;		/* raw was not gzip */
	bool		 ok;		/* passed the checks */
	uint64_t	 succ, fail;
	unsigned char	 sha256[32];	/* quarantine: of raw; report: of
					 * the normalized report */
};

/* Checks quarantine job j, compresses its bytes (always, even gzip
 * input: one rule to undo on reading, and a message is text that
 * compresses well) and hashes them. Returns 0 or -1 with the reason. */
static int
sq_quarantine_prep(const struct store_report_job *j, struct sq_prep *p,
    struct err *e)
{
	const uint8_t *raw = j->raw != NULL ? j->raw : (const uint8_t *)"";

	if (j->kind == NULL || (strcmp(j->kind, "report") != 0 &&
	    strcmp(j->kind, "message") != 0))
		return err_set(e, "quarantine: kind must be 'report' or "
		    "'message'");
	/* The largest input any route reads is a message; a longer one was
	 * refused by its reader (HTTP 413, SMTP 552) and cannot reach us. */
	if ((j->raw == NULL && j->rawlen > 0) ||
	    j->rawlen > LIMIT_SMTP_MESSAGE_BYTES)
		return err_set(e, "quarantine: raw bytes missing or over %d",
		    LIMIT_SMTP_MESSAGE_BYTES);
	if (gzip_deflate(raw, j->rawlen, &p->z, &p->bloblen, e) == -1) {
		err_prefix(e, "quarantine: compress raw bytes: ");
		return -1;
	}
	p->blob = p->z;
	if (EVP_Digest(raw, j->rawlen, p->sha256, NULL, EVP_sha256(), NULL)
	    != 1)
		return err_set(e, "quarantine: SHA-256 failed");
	p->ok = true;
	return 0;
}

/* Checks job j, compresses its raw bytes and hashes the report (the slow
 * part: before the write lock). Returns 0 or -1 with the reason. */
static int
sq_report_prep(const struct store_report_job *j, struct sq_prep *p,
    struct err *e)
{
	const struct tlsrpt_report *r = j->r;
	char day[STORE_DAY_LEN + 1];
	struct tlsrpt_counted c;

	if (j->reason != NULL)
		return sq_quarantine_prep(j, p, e);
	if (r == NULL || r->organization_name == NULL ||
	    r->report_id == NULL || j->raw == NULL || j->rawlen == 0 ||
	    j->rawlen > LIMIT_REPORT_BYTES)
		return err_set(e, "store report: no organization-name, no "
		    "report-id or raw bytes missing or over %d",
		    LIMIT_REPORT_BYTES);
	if (store_day_key(r->start, day) == -1)
		return err_set(e, "store report: start-datetime %lld out of "
		    "range", (long long)r->start);
	if (j->o != NULL && (j->o->provenance < STORE_DKIM_VERIFIED ||
	    j->o->provenance > STORE_PROVENANCE_MAX))
		return err_set(e, "store report: no provenance");
	if (j->digest != NULL)
		memcpy(p->sha256, j->digest, sizeof(p->sha256));
	else if (tlsrpt_report_digest(r, p->sha256) == -1)
		return err_set(e, "store report: SHA-256 failed");
	p->blob = j->raw;
	p->bloblen = j->rawlen;
	p->plain = !gzip_is(j->raw, j->rawlen);
	if (p->plain) {
		if (gzip_deflate(j->raw, j->rawlen, &p->z, &p->bloblen, e)
		    == -1) {
			err_prefix(e, "store report: compress raw bytes: ");
			return -1;
		}
		p->blob = p->z;
	}
	tlsrpt_count(r, &c);	/* what every view counts */
	p->succ = c.successful;
	p->fail = c.failed;
	p->ok = true;
	return 0;
}

/* sq_report_one's answer for a different report under a key that holds
 * LIMIT_REPORT_CONFLICTS already, from an anonymous route: the caller
 * keeps it in quarantine. */
#define SQ_TOO_MANY_CONFLICTS 3

/* Inside the open transaction: stores one prepared report, or counts it
 * as a duplicate of the same report stored before (rows written earlier
 * in this transaction included), raising that one's provenance when
 * this one's is stronger; then settles which report of its key counts.
 * Returns STORE_ADDED or STORE_DUPLICATE with the row id in *id,
 * SQ_TOO_MANY_CONFLICTS, or -1 (the caller rolls back). */
static int
sq_report_one(struct sq *q, const struct store_report_job *j,
    const struct sq_prep *p, time_t now, int64_t *id, struct err *e)
{
	static const struct store_origin none = { .provenance = STORE_IMPORT };
	const struct tlsrpt_report *r = j->r;
	const struct store_origin *o = j->o != NULL ? j->o : &none;
	const char *prov = store_provenance_name(o->provenance);
	bool eligible = o->provenance != STORE_MAIL_UNVERIFIED ||
	    !o->require_dkim;
	struct sq_keyed *rows = NULL;
	struct db_stmt *st;
	size_t n = 0;
	int rc = -1;

	if (sq_report_keyed(q, r, &rows, &n, e) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(rows[i].digest, p->sha256, 32) != 0)
			continue;
		*id = rows[i].id;
		st = sq_stmt(q, SQ_REPORT_DUP);
		if ((db_bind_int64(st, 1, *id) |
		    db_bind_int64(st, 2, (int64_t)now)) != DB_OK) {
			sq_err(q, e, "count duplicate report");
			goto out;
		}
		if (sq_exec(q, st, "count duplicate report", e) == -1)
			goto out;
		if ((int)o->provenance < rows[i].rank) {
			/* The same report, vouched for better (the reporter
			 * posted it, then mailed it signed). */
			st = sq_stmt(q, SQ_REPORT_RAISE);
			if ((db_bind_int64(st, 1, *id) |
			    db_bind_text(st, 2, prov) |
			    db_bind_text(st, 3, o->provenance_reason) |
			    db_bind_text(st, 4, o->dkim_domain)) != DB_OK) {
				sq_err(q, e, "report provenance");
				goto out;
			}
			if (sq_exec(q, st, "report provenance", e) == -1 ||
			    sq_report_settle(q, r, 0, o->require_dkim, e) == -1)
				goto out;
		}
		rc = STORE_DUPLICATE;
		goto out;
	}
	if (n >= LIMIT_REPORT_CONFLICTS && (o->provenance == STORE_HTTPS ||
	    o->provenance == STORE_MAIL_UNVERIFIED)) {
		rc = SQ_TOO_MANY_CONFLICTS;
		goto out;
	}
	st = sq_stmt(q, SQ_REPORT_INSERT);
	if ((db_bind_text(st, 1, r->organization_name) |
	    db_bind_text(st, 2, r->report_id) |
	    db_bind_text(st, 3, r->contact_info) |
	    db_bind_int64(st, 4, (int64_t)r->start) |
	    db_bind_int64(st, 5, (int64_t)r->end) |
	    db_bind_int64(st, 6, (int64_t)now) |
	    db_bind_text(st, 7, o->route) | db_bind_text(st, 8, o->client) |
	    db_bind_text(st, 9, o->mail_from) |
	    db_bind_text(st, 10, o->rcpt_to) |
	    db_bind_int64(st, 11, o->dkim_present) |
	    sq_bind_u64(st, 12, p->succ) | sq_bind_u64(st, 13, p->fail) |
	    db_bind_int64(st, 14, r->quirks) |
	    db_bind_blob(st, 15, p->blob, p->bloblen) |
	    db_bind_int64(st, 16, (int64_t)j->rawlen) |
	    db_bind_int64(st, 17, p->plain) |
	    db_bind_text(st, 18, o->intake_domain) |
	    db_bind_text(st, 19, prov) |
	    db_bind_text(st, 20, o->provenance_reason) |
	    db_bind_text(st, 21, o->dkim_domain) |
	    db_bind_text(st, 22, o->report_domain) |
	    db_bind_text(st, 23, o->report_submitter) |
	    db_bind_int64(st, 24, j->domain_mismatch) |
	    db_bind_blob(st, 25, p->sha256, 32) |
	    db_bind_int64(st, 26, n == 0 && eligible) |
	    db_bind_int64(st, 27, n > 0)) != DB_OK) {
		sq_err(q, e, "store report");
		goto out;
	}
	if (sq_insert(q, st, id, "store report", e) != 0)
		goto out;
	for (size_t i = 0; i < r->npolicies; i++)
		if (sq_report_policy(q, *id, i, &r->policies[i], e) == -1)
			goto out;
	if (n == 0) {
		/* Alone under its key (the rule, by far): it counts unless
		 * it is mail that DKIM must vouch for and does not. */
		if (eligible && sq_report_rollup(q, r, 1, e) == -1)
			goto out;
	} else {
		st = sq_stmt(q, SQ_REPORT_CONFLICT);
		if ((db_bind_text(st, 1, r->organization_name) |
		    db_bind_text(st, 2, r->report_id)) != DB_OK) {
			sq_err(q, e, "report conflict");
			goto out;
		}
		if (sq_exec(q, st, "report conflict", e) == -1 ||
		    sq_report_settle(q, r, *id, o->require_dkim, e) == -1)
			goto out;
	}
	rc = STORE_ADDED;
out:
	free(rows);
	return rc;
}

/* Reads the quarantine's usage row into u (pending is left alone). */
static int
sq_quarantine_read(struct sq *q, struct store_quarantine_usage *u,
    struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_QUAR_USAGE);
	int r = db_step(st);

	if (r == DB_ROW) {
		u->entries = db_column_int64(st, 0);
		u->bytes = db_column_int64(st, 1);
		u->folded = db_column_int64(st, 2);
		u->dropped = db_column_int64(st, 3);
	}
	db_reset(st);
	if (r != DB_ROW)
		return sq_err(q, e, "quarantine usage");
	return 0;
}

/* Inside the open transaction: keeps one prepared quarantine job, or
 * counts it on the entry with the same bytes; then, for anonymous input,
 * makes room under j->caps (the client's oldest beyond its share first,
 * then the oldest of anyone while the bytes are over). Adds what it
 * folded and dropped to *folded and *dropped. Returns STORE_QUARANTINED
 * with the entry's id in *id (0 when the caps dropped it at once), or
 * -1 (the caller rolls back). */
static int
sq_quarantine_one(struct sq *q, const struct store_report_job *j,
    const struct sq_prep *p, time_t now, int64_t *id, int64_t *folded,
    int64_t *dropped, struct err *e)
{
	static const struct store_origin none = { 0 };
	const struct store_origin *o = j->o != NULL ? j->o : &none;
	const struct store_quarantine_caps *caps = j->caps;
	const char *key = o->client_key != NULL ? o->client_key : o->client;
	struct db_stmt *st;
	int r;

	st = sq_stmt(q, SQ_QUAR_FIND);
	if (db_bind_blob(st, 1, p->sha256, sizeof(p->sha256)) != DB_OK)
		return sq_err(q, e, "quarantine");
	r = db_step(st);
	*id = r == DB_ROW ? db_column_int64(st, 0) : 0;
	db_reset(st);
	if (r != DB_ROW && r != DB_DONE)
		return sq_err(q, e, "quarantine: look up the bytes");
	if (*id != 0) {
		st = sq_stmt(q, SQ_QUAR_SEEN);
		if ((db_bind_int64(st, 1, *id) |
		    db_bind_int64(st, 2, (int64_t)now)) != DB_OK)
			return sq_err(q, e, "quarantine");
		if (sq_exec(q, st, "quarantine: count again", e) == -1)
			return -1;
		(*folded)++;
		return STORE_QUARANTINED;
	}
	if (caps != NULL && caps->max_per_client > 0 && key != NULL) {
		st = sq_stmt(q, SQ_QUAR_TRIM_CLIENT);
		if ((db_bind_text(st, 1, key) |
		    db_bind_int64(st, 2, caps->max_per_client)) !=
		    DB_OK)
			return sq_err(q, e, "quarantine");
		if (sq_exec_now(q, st, "quarantine: trim the client's", e) ==
		    -1)
			return -1;
		*dropped += db_changes(q->db);
	}
	st = sq_stmt(q, SQ_QUAR_INSERT);
	if ((db_bind_int64(st, 1, (int64_t)now) |
	    db_bind_text(st, 2, j->kind) | db_bind_text(st, 3, o->route) |
	    db_bind_text(st, 4, o->client) |
	    db_bind_text(st, 5, o->mail_from) |
	    db_bind_text(st, 6, o->rcpt_to) |
	    db_bind_text(st, 7, o->intake_domain) |
	    db_bind_text(st, 8, j->reason) |
	    db_bind_int64(st, 9, (int64_t)j->rawlen) |
	    db_bind_blob(st, 10, p->blob, p->bloblen) |
	    db_bind_blob(st, 11, p->sha256, sizeof(p->sha256)) |
	    db_bind_int64(st, 12, caps != NULL) |
	    db_bind_text(st, 13, caps != NULL ? key : NULL)) != DB_OK)
		return sq_err(q, e, "quarantine");
	if (sq_insert(q, st, id, "quarantine", e) != 0)
		return -1;
	while (caps != NULL && caps->max_bytes > 0) {
		struct store_quarantine_usage u;

		if (sq_quarantine_read(q, &u, e) == -1)
			return -1;
		if (u.bytes <= caps->max_bytes)
			break;
		st = sq_stmt(q, SQ_QUAR_TRIM_OLDEST);
		if (sq_exec_now(q, st, "quarantine: trim the oldest", e) == -1)
			return -1;
		if (db_changes(q->db) == 0)
			break;		/* only the operator's own are left */
		(*dropped)++;
	}
	if (caps != NULL && *dropped > 0) {
		/* Dropped at once when it alone is over (or nothing else
		 * was anonymous)? */
		st = sq_stmt(q, SQ_QUAR_GET);
		if (db_bind_int64(st, 1, *id) != DB_OK)
			return sq_err(q, e, "quarantine");
		r = db_step(st);
		db_reset(st);
		if (r == DB_DONE)
			*id = 0;
		else if (r != DB_ROW)
			return sq_err(q, e, "quarantine");
	}
	return STORE_QUARANTINED;
}

/* Adds folded and dropped to the quarantine's counters. */
static int
sq_quarantine_count(struct sq *q, int64_t folded, int64_t dropped,
    struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_QUAR_COUNTERS);

	if ((db_bind_int64(st, 1, folded) |
	    db_bind_int64(st, 2, dropped)) != DB_OK)
		return sq_err(q, e, "quarantine usage");
	return sq_exec(q, st, "quarantine usage", e);
}

/* Keeps report job j in quarantine: a further different report under a
 * key that holds LIMIT_REPORT_CONFLICTS already, from an anonymous
 * route. Prepared here, under the write lock: rare, and bounded. */
static int
sq_report_overflow(struct sq *q, const struct store_report_job *j,
    time_t now, int64_t *id, int64_t *folded, int64_t *dropped,
    struct err *e)
{
	char why[ERR_MSG_LEN];
	struct store_report_job qj = *j;
	struct sq_prep p = { 0 };
	int r = -1;

	snprintf(why, sizeof(why), "more than %d different reports under "
	    "this organization-name and report-id: not stored as a report",
	    LIMIT_REPORT_CONFLICTS);
	qj.r = NULL;
	qj.reason = why;
	qj.kind = "report";
	if (sq_quarantine_prep(&qj, &p, e) == 0)
		r = sq_quarantine_one(q, &qj, &p, now, id, folded, dropped, e);
	free(p.z);
	return r;
}

static int
sq_report_add_batch(struct store *s, const struct store_report_job *jobs,
    size_t n, int *results, int64_t *ids, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct sq_prep *prep;
	struct err pe;
	time_t now = time(NULL);
	bool tx = false, refused = false;
	size_t nok = 0;
	int64_t folded = 0, dropped = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		results[i] = -1;
		ids[i] = 0;
	}
	if ((prep = calloc(n > 0 ? n : 1, sizeof(*prep))) == NULL)
		return err_set(e, "store report: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (sq_report_prep(&jobs[i], &prep[i], &pe) == -1) {
			if (!refused && e != NULL)
				*e = pe;	/* the first reason */
			refused = true;
			continue;
		}
		nok++;
	}
	if (nok == 0) {
		rc = 0;			/* nothing to write */
		goto out;
	}
	if (sq_begin(q, e) == -1)
		goto out;
	tx = true;
	for (size_t i = 0; i < n; i++) {
		int r;

		if (!prep[i].ok)
			continue;
		if (jobs[i].reason != NULL)
			r = sq_quarantine_one(q, &jobs[i], &prep[i], now,
			    &ids[i], &folded, &dropped, e);
		else
			r = sq_report_one(q, &jobs[i], &prep[i], now, &ids[i],
			    e);
		if (r == SQ_TOO_MANY_CONFLICTS)
			r = sq_report_overflow(q, &jobs[i], now, &ids[i],
			    &folded, &dropped, e);
		if (r == -1)
			goto out;
		results[i] = r;
	}
	if ((folded > 0 || dropped > 0) &&
	    sq_quarantine_count(q, folded, dropped, e) == -1)
		goto out;
	if (sq_commit(q, e) == -1)
		goto out;
	tx = false;
	rc = 0;
out:
	if (tx)
		sq_rollback(q);
	if (rc == -1) {
		for (size_t i = 0; i < n; i++) {
			results[i] = -1;
			ids[i] = 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(prep[i].z);
	free(prep);
	return rc;
}

/* The batch of one: the logic is said once, in sq_report_add_batch. */
static int
sq_report_add(struct store *s, const struct tlsrpt_report *r,
    const uint8_t *raw, size_t rawlen, const struct store_origin *o,
    int64_t *id, struct err *e)
{
	struct store_report_job j = {
		.r = r, .raw = raw, .rawlen = rawlen, .o = o,
	};
	int result;

	if (sq_report_add_batch(s, &j, 1, &result, id, e) == -1)
		return -1;
	return result;		/* -1 with e set when j was refused */
}

/* Fills row from the current row of a SQ_REPORT_COLS query; its strings
 * are borrowed from the statement until it steps or resets. */
static void
sq_report_read(struct db_stmt *st, struct store_report_row *row)
{
	memset(row, 0, sizeof(*row));
	row->id = db_column_int64(st, 0);
	row->organization_name = sq_column_text(st, 1);
	row->report_id = sq_column_text(st, 2);
	row->contact_info = db_column_text(st, 3);
	row->policy_domains = sq_column_text(st, 4);
	row->start = (time_t)db_column_int64(st, 5);
	row->end = (time_t)db_column_int64(st, 6);
	row->successful = sq_column_u64(st, 7);
	row->failed = sq_column_u64(st, 8);
	row->received = (time_t)db_column_int64(st, 9);
	row->route = db_column_text(st, 10);
	row->duplicates = db_column_int64(st, 11);
	row->last_duplicate = (time_t)db_column_int64(st, 12);
	row->quirks = (unsigned)db_column_int64(st, 13);
	row->client = db_column_text(st, 14);
	row->provenance = (enum store_provenance)store_provenance_parse(
	    sq_column_text(st, 15));
	row->provenance_reason = db_column_text(st, 16);
	row->dkim_domain = db_column_text(st, 17);
	row->report_domain = db_column_text(st, 18);
	row->report_submitter = db_column_text(st, 19);
	row->domain_mismatch = db_column_int(st, 20) != 0;
	row->counted = db_column_int(st, 21) != 0;
	row->conflict = db_column_int(st, 22) != 0;
}

static int
sq_report_list(struct store *s, const struct store_report_filter *f,
    store_report_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct store_report_row row;
	bool by_domain = f != NULL && f->domain != NULL;
	bool unclaimed = f != NULL && f->unclaimed;
	bool conflicts = f != NULL && f->conflicts;
	int64_t key = f != NULL ? f->same_key_as : 0;
	long limit = f != NULL && f->limit > 0 ? f->limit : -1;
	struct db_stmt *st = NULL;
	int rc = -1, r, b;

	if (by_domain && unclaimed) {
		err_set(e, "list reports: a domain's reports are claimed");
		goto out;
	}
	if ((conflicts || key != 0) && (by_domain || unclaimed ||
	    (conflicts && key != 0))) {
		err_set(e, "list reports: conflicts and same_key_as go alone");
		goto out;
	}
	if (f != NULL && f->tenant != NULL) {
		if (unclaimed || conflicts || key != 0) {
			err_set(e, "list reports: a tenant's reports are "
			    "claimed");
			goto out;
		}
		st = sq_stmt(q, SQ_REPORT_LIST_TENANT);
		b = db_bind_text(st, 1, f->tenant) |
		    db_bind_text(st, 2, f->domain) |
		    db_bind_text(st, 3, f->org) |
		    db_bind_int64(st, 4, (int64_t)f->from) |
		    db_bind_int64(st, 5, (int64_t)f->to) |
		    db_bind_text(st, 6, f->provenance) |
		    db_bind_int64(st, 7, (int64_t)f->before_received) |
		    db_bind_int64(st, 8, f->before_id) |
		    db_bind_int64(st, 9, limit);
	} else if (key != 0) {
		st = sq_stmt(q, SQ_REPORT_LIST_KEY);
		b = db_bind_int64(st, 1, key) |
		    db_bind_int64(st, 2, limit);
	} else if (conflicts) {
		st = sq_stmt(q, SQ_REPORT_LIST_CONFLICTS);
		b = db_bind_int64(st, 1, limit);
	} else if (by_domain && limit == 1) {
		st = sq_stmt(q, SQ_REPORT_LAST_DOMAIN);
		b = db_bind_text(st, 1, f->domain);
	} else if (by_domain) {
		st = sq_stmt(q, SQ_REPORT_LIST_DOMAIN);
		b = db_bind_text(st, 1, f->domain) |
		    db_bind_int64(st, 2, limit);
	} else {
		st = sq_stmt(q, unclaimed ? SQ_REPORT_LIST_UNCLAIMED :
		    SQ_REPORT_LIST);
		b = db_bind_int64(st, 1, limit);
	}
	if (b != DB_OK) {
		sq_err(q, e, "list reports");
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		sq_report_read(st, &row);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "list reports");
		goto out;
	}
	rc = 0;
out:
	if (st != NULL)
		db_reset(st);
	return rc;
}

/* Copies (or, when we compressed them, inflates) the stored raw bytes of
 * the current SQ_REPORT_GET row. */
static int
sq_report_raw(struct db_stmt *st, int64_t id, uint8_t **raw, size_t *rawlen,
    struct err *e)
{
	size_t bloblen;
	const void *blob = db_column_blob(st, SQ_REPORT_NCOLS, &bloblen);
	int64_t len = db_column_int64(st, SQ_REPORT_NCOLS + 1);
	bool plain = db_column_int(st, SQ_REPORT_NCOLS + 2) != 0;
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = -1;

	if (len < 0 || len > LIMIT_REPORT_BYTES || (blob == NULL && bloblen)) {
		err_set(e, "report %lld: stored raw bytes damaged",
		    (long long)id);
		goto out;
	}
	if (plain) {
		/* Our own gzip of at most LIMIT_REPORT_BYTES: no ratio to
		 * guard against, but the length must come back exact. */
		if (gzip_inflate(blob, bloblen, (size_t)len, UINT_MAX, &buf,
		    &n, e) == -1) {
			err_prefix(e, "report %lld: stored raw bytes: ",
			    (long long)id);
			goto out;
		}
		if (n != (size_t)len) {
			err_set(e, "report %lld: stored raw bytes inflate "
			    "to %zu bytes, not %lld", (long long)id, n,
			    (long long)len);
			goto out;
		}
	} else {
		if ((buf = malloc(bloblen + 1)) == NULL) {
			err_set(e, "report %lld: out of memory", (long long)id);
			goto out;
		}
		if (bloblen > 0)
			memcpy(buf, blob, bloblen);
		buf[bloblen] = '\0';
		n = bloblen;
	}
	*raw = buf;
	*rawlen = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

static int
sq_report_claimed(struct store *s, int64_t id, const char *tenant,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_REPORT_CLAIMED);
	int r, rc = -1;

	if ((db_bind_int64(st, 1, id) | db_bind_text(st, 2, tenant)) !=
	    DB_OK) {
		sq_err(q, e, "report %lld", (long long)id);
		goto out;
	}
	r = db_step(st);
	if (r == DB_ROW)
		rc = 0;
	else if (r == DB_DONE)
		rc = 1;
	else
		sq_err(q, e, "report %lld", (long long)id);
out:
	db_reset(st);
	return rc;
}

static int
sq_report_get(struct store *s, int64_t id, store_report_cb cb, void *arg,
    uint8_t **raw, size_t *rawlen, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_REPORT_GET);
	struct store_report_row row;
	int rc = -1, r;

	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if (db_bind_int64(st, 1, id) != DB_OK) {
		sq_err(q, e, "read report %lld", (long long)id);
		goto out;
	}
	r = db_step(st);
	if (r == DB_DONE) {
		rc = 1;
		goto out;
	}
	if (r != DB_ROW) {
		sq_err(q, e, "read report %lld", (long long)id);
		goto out;
	}
	if (raw != NULL && rawlen != NULL &&
	    sq_report_raw(st, id, raw, rawlen, e) == -1)
		goto out;
	if (cb != NULL) {
		sq_report_read(st, &row);
		cb(arg, &row);
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* Binds ?1 domain, ?2 and ?3 the first and last day of from <= day < to
 * (0: unbounded), days taken as their first second: the first day is
 * from rounded up, the last the one holding to - 1. For SQ_STATS and
 * SQ_STATS_MX, whose day keys are bound as text and must outlive them:
 * first and last are the caller's. */
static int
sq_stats_bind(struct sq *q, struct db_stmt *st, const char *domain,
    time_t from, time_t to, char first[STORE_DAY_LEN + 1],
    char last[STORE_DAY_LEN + 1], struct err *e)
{
	first[0] = '\0';
	memcpy(last, "9999-12-31", STORE_DAY_LEN + 1);
	if (from < 0 || to < 0 || from > SQ_TIME_MAX || to > SQ_TIME_MAX)
		return err_set(e, "stats: time range %lld..%lld out of range",
		    (long long)from, (long long)to);
	if ((from > 0 && store_day_key(from + 86399, first) == -1) ||
	    (to > 0 && store_day_key(to - 1, last) == -1))
		return err_set(e, "stats: time range out of range");
	if ((db_bind_text(st, 1, domain) | db_bind_text(st, 2, first) |
	    db_bind_text(st, 3, last)) != DB_OK)
		return sq_err(q, e, "stats of %s", domain);
	return 0;
}

/* A stats row held back until the next one shows whether its key goes
 * on (rows of one key come from several policy-domains, in a row). Its
 * strings are copies: the statement's go at the next step. */
struct sq_stat_held {
	struct store_stat_row row;
	char	*buf;			/* the four strings, NUL after each */
	size_t	 cap;
	bool	 held;
};

/* True when the current row of st has h's key. */
static bool
sq_stat_same(const struct sq_stat_held *h, struct db_stmt *st)
{
	return h->held && strcmp(h->row.day, sq_column_text(st, 0)) == 0 &&
	    strcmp(h->row.organization_name, sq_column_text(st, 1)) == 0 &&
	    strcmp(h->row.policy_type, sq_column_text(st, 2)) == 0 &&
	    strcmp(h->row.result_type, sq_column_text(st, 3)) == 0;
}

/* Holds the current row of st in h. Returns 0, or -1 when out of
 * memory. */
static int
sq_stat_hold(struct sq_stat_held *h, struct db_stmt *st)
{
	const char *col[4];
	size_t len[4], need = 0, off = 0;
	char *nb, *str[4];

	for (int i = 0; i < 4; i++) {
		col[i] = sq_column_text(st, i);
		len[i] = strlen(col[i]);
		need += len[i] + 1;
	}
	if (need > h->cap) {
		if ((nb = realloc(h->buf, need)) == NULL)
			return -1;
		h->buf = nb;
		h->cap = need;
	}
	for (int i = 0; i < 4; i++) {
		str[i] = h->buf + off;
		memcpy(str[i], col[i], len[i] + 1);
		off += len[i] + 1;
	}
	h->row.day = str[0];
	h->row.organization_name = str[1];
	h->row.policy_type = str[2];
	h->row.result_type = str[3];
	h->row.sessions = sq_column_u64(st, 4);
	h->held = true;
	return 0;
}

static int
sq_stats(struct store *s, const char *domain, time_t from, time_t to,
    store_stat_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_STATS);
	char first[STORE_DAY_LEN + 1], last[STORE_DAY_LEN + 1];
	struct sq_stat_held h = { 0 };
	int rc = -1, r;

	if (sq_stats_bind(q, st, domain, from, to, first, last, e) == -1)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		if (sq_stat_same(&h, st)) {
			store_add_sat(&h.row.sessions, sq_column_u64(st, 4));
			continue;
		}
		if (h.held && (r = cb(arg, &h.row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
		if (sq_stat_hold(&h, st) == -1) {
			err_set(e, "stats of %s: out of memory", domain);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "stats of %s", domain);
		goto out;
	}
	if (h.held && (r = cb(arg, &h.row)) != 0) {
		rc = sq_stopped(r, e);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	free(h.buf);
	return rc;
}

static int
sq_stats_mx_hosts(struct store *s, const char *domain, time_t from,
    time_t to, store_mx_host_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_STATS_MX);
	char first[STORE_DAY_LEN + 1], last[STORE_DAY_LEN + 1];
	struct store_mx_host_row row;
	int rc = -1, r;

	if (sq_stats_bind(q, st, domain, from, to, first, last, e) == -1)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		row.host = sq_column_text(st, 0);
		row.others = db_column_int64(st, 1);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "MX hosts of %s", domain);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_stats_failures(struct store *s, const char *domain, time_t from,
    time_t to, store_failure_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_STATS_FAILURES);
	char first[STORE_DAY_LEN + 1], last[STORE_DAY_LEN + 1];
	char day[STORE_DAY_LEN + 1];
	struct store_failure_row row;
	int64_t lo = 0, hi = SQ_TIME_MAX + 1;
	int rc = -1, r;

	if (sq_stats_bind(q, st, domain, from, to, first, last, e) == -1)
		goto out;
	/* The bounds of sq_stats_bind's days, as seconds. */
	if (from > 0)
		lo = ((int64_t)from + 86399) / 86400 * 86400;
	if (to > 0)
		hi = ((int64_t)to - 1) / 86400 * 86400 + 86400;
	if ((db_bind_int64(st, 4, lo) | db_bind_int64(st, 5, hi)) != DB_OK) {
		sq_err(q, e, "failure details of %s", domain);
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		row.report = db_column_int64(st, 0);
		row.policy_type = sq_column_text(st, 1);
		row.policy = db_column_int64(st, 2);
		row.policy_successful = sq_column_u64(st, 3);
		row.policy_failed = sq_column_u64(st, 4);
		row.receiving_mx = db_column_text(st, 5);
		row.sending_ip = db_column_text(st, 6);
		row.sessions = sq_column_u64(st, 7);
		row.detail = db_column_int(st, 8) != 0;
		if (store_day_key((time_t)db_column_int64(st, 9) * 86400,
		    day) == -1) {
			err_set(e, "failure details of %s: a report's day is "
			    "out of range", domain);
			goto out;
		}
		row.day = day;
		row.organization_name = sq_column_text(st, 10);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "failure details of %s", domain);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* --- Quarantine --- */

/* Fills row from the current row of a SQ_QUAR_COLS query; its strings
 * are borrowed from the statement until it steps or resets. */
static void
sq_quar_read(struct db_stmt *st, struct store_quarantine_row *row)
{
	memset(row, 0, sizeof(*row));
	row->id = db_column_int64(st, 0);
	row->received = (time_t)db_column_int64(st, 1);
	row->kind = sq_column_text(st, 2);
	row->route = db_column_text(st, 3);
	row->client = db_column_text(st, 4);
	row->mail_from = db_column_text(st, 5);
	row->rcpt_to = db_column_text(st, 6);
	row->intake_domain = db_column_text(st, 7);
	row->reason = sq_column_text(st, 8);
	row->size = db_column_int64(st, 9);
	row->report = db_column_int64(st, 10);	/* NULL reads 0 */
	row->seen = db_column_int64(st, 11);
	row->last_seen = (time_t)db_column_int64(st, 12);
}

static int sq_int(struct sq *q, enum sq_id id, int64_t *v, const char *what,
    struct err *e);

/* A batch of one quarantine job, uncapped: said once in
 * sq_report_add_batch. */
static int
sq_quarantine_add(struct store *s, const char *kind, const uint8_t *raw,
    size_t rawlen, const char *reason, const struct store_origin *o,
    int64_t *id, struct err *e)
{
	struct store_report_job j = {
		.raw = raw, .rawlen = rawlen, .o = o, .kind = kind,
		.reason = reason != NULL ? reason : "",
	};
	int result;

	if (sq_report_add_batch(s, &j, 1, &result, id, e) == -1)
		return -1;
	return result == STORE_QUARANTINED ? 0 : -1;	/* -1: e set */
}

static int
sq_quarantine_usage(struct store *s, struct store_quarantine_usage *u,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	int64_t pending;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	/* One read transaction: the two reads agree. */
	if (sq_begin(q, e) == -1)
		return -1;
	if (sq_quarantine_read(q, u, e) == -1 ||
	    sq_int(q, SQ_QUAR_COUNT, &pending, "count quarantine", e) == -1)
		goto out;
	u->pending = pending;
	rc = sq_commit(q, e);
out:
	if (rc == -1)
		sq_rollback(q);
	return rc;
}

static int
sq_quarantine_list(struct store *s, bool pending_only, long limit,
    store_quarantine_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_QUAR_LIST);
	struct store_quarantine_row row;
	int rc = -1, r;

	if ((db_bind_int64(st, 1, limit > 0 ? limit : -1) |
	    db_bind_int64(st, 2, pending_only)) != DB_OK) {
		sq_err(q, e, "list quarantine");
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		sq_quar_read(st, &row);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "list quarantine");
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_quarantine_get(struct store *s, int64_t id, store_quarantine_cb cb,
    void *arg, uint8_t **raw, size_t *rawlen, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_QUAR_GET);
	struct store_quarantine_row row;
	const void *blob;
	size_t bloblen, n = 0;
	uint8_t *buf = NULL;
	int rc = -1, r;

	if (raw != NULL)
		*raw = NULL;
	if (rawlen != NULL)
		*rawlen = 0;
	if (db_bind_int64(st, 1, id) != DB_OK) {
		sq_err(q, e, "read quarantine %lld", (long long)id);
		goto out;
	}
	r = db_step(st);
	if (r == DB_DONE) {
		rc = 1;
		goto out;
	}
	if (r != DB_ROW) {
		sq_err(q, e, "read quarantine %lld", (long long)id);
		goto out;
	}
	sq_quar_read(st, &row);
	if (raw != NULL && rawlen != NULL) {
		blob = db_column_blob(st, 13, &bloblen);
		if (row.size < 0 || row.size > LIMIT_SMTP_MESSAGE_BYTES ||
		    blob == NULL) {
			err_set(e, "quarantine %lld: stored raw bytes damaged",
			    (long long)id);
			goto out;
		}
		/* Our own gzip of at most row.size bytes: no ratio to guard
		 * against, but the length must come back exact. */
		if (gzip_inflate(blob, bloblen, (size_t)row.size, UINT_MAX,
		    &buf, &n, e) == -1) {
			err_prefix(e, "quarantine %lld: stored raw bytes: ",
			    (long long)id);
			goto out;
		}
		if (n != (size_t)row.size) {
			err_set(e, "quarantine %lld: stored raw bytes inflate "
			    "to %zu bytes, not %lld", (long long)id, n,
			    (long long)row.size);
			goto out;
		}
	}
	if (cb != NULL)
		cb(arg, &row);
	if (raw != NULL && rawlen != NULL) {
		*raw = buf;
		*rawlen = n;
		buf = NULL;
	}
	rc = 0;
out:
	free(buf);
	db_reset(st);
	return rc;
}

static int
sq_report_tally(struct store *s, struct store_report_tally *t, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_REPORT_TALLY);
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (db_step(st) != DB_ROW) {
		sq_err(q, e, "count reports");
		goto out;
	}
	t->reports = db_column_int64(st, 0);
	t->conflicts = db_column_int64(st, 1);
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_quarantine_resolve(struct store *s, int64_t id, int64_t report,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_QUAR_RESOLVE);
	int rc = -1;

	/* report must name a stored report: the foreign key refuses 0 and
	 * unknown ids. Autocommit: durable when this returns. */
	if ((db_bind_int64(st, 1, id) |
	    db_bind_int64(st, 2, report)) != DB_OK) {
		sq_err(q, e, "resolve quarantine %lld", (long long)id);
		goto out;
	}
	if (sq_exec_now(q, st, "resolve quarantine", e) == -1)
		goto out;
	rc = db_changes(q->db) == 0 ? 1 : 0;
out:
	return rc;
}

/* Reads one integer from a one-row statement. */
static int
sq_int(struct sq *q, enum sq_id id, int64_t *v, const char *what,
    struct err *e)
{
	struct db_stmt *st = sq_stmt(q, id);
	int rc = -1;

	if (db_step(st) != DB_ROW) {
		sq_err(q, e, "%s", what);
		goto out;
	}
	*v = db_column_int64(st, 0);
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* The domain generation, read again only when it may have changed:
 * PRAGMA data_version changes when another connection commits, and our
 * own domain writes clear gen_valid. data_version is read first, so
 * that a commit landing between the two reads leaves a data_version
 * that differs at the next call (the reverse order could cache a stale
 * generation under a fresh data_version forever). */
static int
sq_domains_version(struct store *s, uint64_t *v, struct err *e)
{
	struct sq *q = (struct sq *)s;
	int64_t dv, gen;
	int rc = -1;

	*v = 0;
	if (db_data_version(q->db, &dv) != DB_OK) {
		sq_err(q, e, "data_version");
		goto out;
	}
	if (!q->gen_valid || dv != q->gen_data_version) {
		if (sq_int(q, SQ_GEN_GET, &gen, "domain generation", e) == -1)
			goto out;
		q->gen = gen;
		q->gen_data_version = dv;
		q->gen_valid = true;
	}
	*v = q->gen < 0 ? 0 : (uint64_t)q->gen;
	rc = 0;
out:
	return rc;
}

static int
sq_domains_wait(struct store *s, int ms)
{
	return db_wait(((struct sq *)s)->db, ms);
}

/* --- Opening --- */

static void
sq_close(struct store *s)
{
	struct sq *q = (struct sq *)s;

	if (q == NULL)
		return;
	for (size_t i = 0; i < SQ_NSTMT; i++)
		db_finalize(q->st[i]);
	for (size_t i = 0; i < SQ_ROLLUP_ROWS; i++)
		db_finalize(q->rollup_st[i]);
	sq_pend_drop(q);
	free(q->pend);
	db_close(q->db);
	free(q);
}

/* --- Accounts --- */

/* A list's caller: the typed callback, and how to read a row for it. */
struct sq_visit {
	int	(*row)(const struct sq_visit *v, struct db_stmt *st);
	void	*arg;
	union {
		store_tenant_cb	 tenant;
		store_account_cb account;
		store_token_cb	 token;
	} cb;
};

/* Runs st (bound) to its end, handing each row to v; resets st. Stops
 * when v's callback returns non-zero. */
static int
sq_rows(struct sq *q, struct db_stmt *st, const struct sq_visit *v,
    const char *what, struct err *e)
{
	int r, rc = -1;

	while ((r = db_step(st)) == DB_ROW) {
		if ((r = v->row(v, st)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE)
		sq_err(q, e, "%s", what);
	else
		rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_tenant_row(const struct sq_visit *v, struct db_stmt *st)
{
	struct store_tenant_row t;

	t.id = db_column_int64(st, 0);
	t.name = sq_column_text(st, 1);
	t.created = (time_t)db_column_int64(st, 2);
	t.domains = db_column_int64(st, 3);
	return v->cb.tenant(v->arg, &t);
}

static void
sq_account_read(struct db_stmt *st, struct store_account_row *a)
{
	a->id = db_column_int64(st, 0);
	a->email = sq_column_text(st, 1);
	a->tenant = db_column_text(st, 2);
	a->role = sq_column_text(st, 3);
	a->password = sq_column_text(st, 4);
	a->created = (time_t)db_column_int64(st, 5);
}

static int
sq_account_row(const struct sq_visit *v, struct db_stmt *st)
{
	struct store_account_row a;

	sq_account_read(st, &a);
	return v->cb.account(v->arg, &a);
}

static void
sq_token_read(struct db_stmt *st, struct store_token_row *k)
{
	k->id = db_column_int64(st, 0);
	k->tenant = sq_column_text(st, 1);
	k->prefix = sq_column_text(st, 2);
	k->read_only = db_column_int(st, 3) != 0;
	k->created = (time_t)db_column_int64(st, 4);
	k->revoked = (time_t)db_column_int64(st, 5);
}

static int
sq_token_row(const struct sq_visit *v, struct db_stmt *st)
{
	struct store_token_row k;

	sq_token_read(st, &k);
	return v->cb.token(v->arg, &k);
}

/* The row id of tenant name into *id: 0, 1 when there is none, -1. */
static int
sq_tenant_id(struct sq *q, const char *name, int64_t *id, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_TENANT_ID);
	int r, rc = -1;

	if (db_bind_text(st, 1, name) != DB_OK) {
		sq_err(q, e, "tenant %s", name);
		goto out;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		*id = db_column_int64(st, 0);
		rc = 0;
	} else if (r == DB_DONE) {
		rc = 1;
	} else {
		sq_err(q, e, "tenant %s", name);
	}
out:
	db_reset(st);
	return rc;
}

static int
sq_tenant_add(struct store *s, const char *name, time_t now, int64_t *id,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_TENANT_ADD);

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > STORE_TENANT_LEN)
		return err_set(e, "tenant name must have 1 to %d characters",
		    STORE_TENANT_LEN);
	if ((db_bind_text(st, 1, name) |
	    db_bind_int64(st, 2, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "tenant %s", name);
	return sq_insert(q, st, id, "add tenant", e);
}

static int
sq_tenant_list(struct store *s, store_tenant_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct sq_visit v = { sq_tenant_row, arg, { .tenant = cb } };

	return sq_rows(q, sq_stmt(q, SQ_TENANT_LIST), &v, "list tenants", e);
}

static int
sq_account_add(struct store *s, const char *email, const char *tenant,
    const char *role, const char *password, time_t now, int64_t *id,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st;
	int64_t tid = 0;
	int r;

	if (tenant != NULL && (r = sq_tenant_id(q, tenant, &tid, e)) != 0)
		return r == 1 ? 2 : -1;
	st = sq_stmt(q, SQ_ACCOUNT_ADD);
	if ((db_bind_text(st, 1, email) |
	    (tenant != NULL ? db_bind_int64(st, 2, tid) :
	    db_bind_null(st, 2)) | db_bind_text(st, 3, role) |
	    db_bind_text(st, 4, password) |
	    db_bind_int64(st, 5, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "add user %s", email);
	return sq_insert(q, st, id, "add user", e);
}

static int
sq_account_get(struct store *s, const char *email, store_account_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ACCOUNT_GET);
	struct store_account_row row;
	int r, rc = -1;

	if (db_bind_text(st, 1, email) != DB_OK) {
		sq_err(q, e, "user %s", email);
		goto out;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		sq_account_read(st, &row);
		cb(arg, &row);
		rc = 0;
	} else if (r == DB_DONE) {
		rc = 1;
	} else {
		sq_err(q, e, "user %s", email);
	}
out:
	db_reset(st);
	return rc;
}

static int
sq_account_list(struct store *s, const char *tenant, store_account_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ACCOUNT_LIST);
	struct sq_visit v = { sq_account_row, arg, { .account = cb } };

	if (db_bind_text(st, 1, tenant) != DB_OK)
		return sq_err(q, e, "list users");
	return sq_rows(q, st, &v, "list users", e);
}

static int
sq_token_add(struct store *s, const char *tenant, const unsigned char
    hash[32], const char *prefix, bool read_only, time_t now, int64_t *id,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st;
	int64_t tid;
	int r;

	if ((r = sq_tenant_id(q, tenant, &tid, e)) != 0)
		return r == 1 ? 2 : -1;
	st = sq_stmt(q, SQ_TOKEN_ADD);
	if ((db_bind_int64(st, 1, tid) |
	    db_bind_blob(st, 2, hash, 32) |
	    db_bind_text(st, 3, prefix) | db_bind_int64(st, 4, read_only) |
	    db_bind_int64(st, 5, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "add token");
	r = sq_insert(q, st, id, "add token", e);
	return r == 1 ? err_set(e, "add token: the same hash twice") : r;
}

static int
sq_token_find(struct store *s, const unsigned char hash[32],
    store_token_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_TOKEN_FIND);
	struct store_token_row row;
	int r, rc = -1;

	if (db_bind_blob(st, 1, hash, 32) != DB_OK) {
		sq_err(q, e, "find token");
		goto out;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		sq_token_read(st, &row);
		cb(arg, &row);
		rc = 0;
	} else if (r == DB_DONE) {
		rc = 1;
	} else {
		sq_err(q, e, "find token");
	}
out:
	db_reset(st);
	return rc;
}

static int
sq_token_list(struct store *s, const char *tenant, store_token_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_TOKEN_LIST);
	struct sq_visit v = { sq_token_row, arg, { .token = cb } };

	if (db_bind_text(st, 1, tenant) != DB_OK)
		return sq_err(q, e, "list tokens");
	return sq_rows(q, st, &v, "list tokens", e);
}

static int
sq_token_revoke(struct store *s, int64_t id, time_t now, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_TOKEN_REVOKE);

	if ((db_bind_int64(st, 1, id) |
	    db_bind_int64(st, 2, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "revoke token");
	if (sq_exec_now(q, st, "revoke token", e) == -1)
		return -1;
	return db_changes(q->db) == 0 ? 1 : 0;
}

/* --- the dashboard's sessions and failed logins ---------------------- */

static int
sq_session_add(struct store *s, const unsigned char hash[32],
    int64_t account, const char *csrf, time_t now, time_t expires,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_SESSION_PRUNE);

	/* Expired sessions go when new ones come: the table holds what
	 * logins made in the last LIMIT_SESSION_SECONDS. */
	if (db_bind_int64(st, 1, (int64_t)now) != DB_OK ||
	    sq_exec(q, st, "prune sessions", e) == -1)
		return -1;
	st = sq_stmt(q, SQ_SESSION_ADD);
	if ((db_bind_blob(st, 1, hash, 32) |
	    db_bind_int64(st, 2, account) | db_bind_text(st, 3, csrf) |
	    db_bind_int64(st, 4, (int64_t)now) |
	    db_bind_int64(st, 5, (int64_t)expires)) != DB_OK)
		return sq_err(q, e, "add session");
	return sq_exec(q, st, "add session", e);
}

static int
sq_session_find(struct store *s, const unsigned char hash[32], time_t now,
    store_session_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_SESSION_FIND);
	struct store_account_row row;
	int r, rc = -1;

	if ((db_bind_blob(st, 1, hash, 32) |
	    db_bind_int64(st, 2, (int64_t)now)) != DB_OK) {
		sq_err(q, e, "find session");
		goto out;
	}
	r = db_step(st);
	if (r == DB_ROW) {
		sq_account_read(st, &row);
		cb(arg, &row, sq_column_text(st, 6),
		    (time_t)db_column_int64(st, 7));
		rc = 0;
	} else if (r == DB_DONE) {
		rc = 1;
	} else {
		sq_err(q, e, "find session");
	}
out:
	db_reset(st);
	return rc;
}

static int
sq_session_remove(struct store *s, const unsigned char hash[32],
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_SESSION_REMOVE);

	if (db_bind_blob(st, 1, hash, 32) != DB_OK)
		return sq_err(q, e, "remove session");
	return sq_exec(q, st, "remove session", e);
}

static int
sq_login_failures(struct store *s, const char *key, time_t now,
    time_t window, int64_t *count, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_LOGIN_FAILURES);
	int r, rc = -1;

	*count = 0;
	if ((db_bind_text(st, 1, key) |
	    db_bind_int64(st, 2, (int64_t)now) |
	    db_bind_int64(st, 3, (int64_t)window)) != DB_OK) {
		sq_err(q, e, "failed logins");
		goto out;
	}
	if ((r = db_step(st)) == DB_ROW)
		*count = db_column_int64(st, 0);
	if (r == DB_ROW || r == DB_DONE)
		rc = 0;
	else
		sq_err(q, e, "failed logins");
out:
	db_reset(st);
	return rc;
}

static int
sq_login_failure(struct store *s, const char *key, bool failed, time_t now,
    time_t window, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st;

	if (!failed) {
		st = sq_stmt(q, SQ_LOGIN_FAILURE_CLEAR);
		if (db_bind_text(st, 1, key) != DB_OK)
			return sq_err(q, e, "clear failed logins");
		return sq_exec(q, st, "clear failed logins", e);
	}
	/* Windows that ended are dropped as failures come: the table
	 * holds the keys that failed within the last window only. */
	st = sq_stmt(q, SQ_LOGIN_FAILURE_PRUNE);
	if ((db_bind_int64(st, 1, (int64_t)now) |
	    db_bind_int64(st, 2, (int64_t)window)) != DB_OK ||
	    sq_exec(q, st, "prune failed logins", e) == -1)
		return -1;
	st = sq_stmt(q, SQ_LOGIN_FAILURE_ADD);
	if ((db_bind_text(st, 1, key) |
	    db_bind_int64(st, 2, (int64_t)now) |
	    db_bind_int64(st, 3, (int64_t)window)) != DB_OK)
		return sq_err(q, e, "count a failed login");
	return sq_exec(q, st, "count a failed login", e);
}

/* --- What the dashboard's views read --- */

static int
sq_entries(struct store *s, const char *domain, time_t from, time_t to,
    store_entry_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ENTRIES);
	struct store_entry_row row;
	int rc = -1, r;

	if ((db_bind_text(st, 1, domain) |
	    db_bind_int64(st, 2, (int64_t)from) |
	    db_bind_int64(st, 3, to > 0 ? (int64_t)to : INT64_MAX)) !=
	    DB_OK) {
		sq_err(q, e, "entries of %s", domain);
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		row.report = db_column_int64(st, 0);
		row.entry = db_column_int64(st, 1);
		row.organization_name = sq_column_text(st, 2);
		row.start = (time_t)db_column_int64(st, 3);
		row.end = (time_t)db_column_int64(st, 4);
		row.policy_type = sq_column_text(st, 5);
		row.policy_domain = sq_column_text(st, 6);
		row.policy_string = sq_column_text(st, 7);
		row.mx_host = sq_column_text(st, 8);
		row.successful = sq_column_u64(st, 9);
		row.failed = sq_column_u64(st, 10);
		row.result_type = db_column_text(st, 11);
		row.receiving_mx_hostname = db_column_text(st, 12);
		row.sending_mta_ip = db_column_text(st, 13);
		row.failed_sessions = sq_column_u64(st, 14);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "entries of %s", domain);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* Runs st, bound by the caller, and reads one integer column (0 when
 * there is no row). */
static int
sq_one_int(struct sq *q, struct db_stmt *st, int64_t *v, const char *what,
    struct err *e)
{
	int r = db_step(st);

	*v = r == DB_ROW ? db_column_int64(st, 0) : 0;
	db_reset(st);
	if (r != DB_ROW && r != DB_DONE)
		return sq_err(q, e, "%s", what);
	return 0;
}

/* One agent's fetches into the domain-day's bounded table. */
static int
sq_fetch_agent(struct sq *q, const struct store_fetch_day *v,
    const struct store_fetch_agent *a, uint64_t *other, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_FAGENT_BUMP);
	char least[LIMIT_FETCH_AGENT_LEN + 1];
	uint64_t lf;
	int64_t n;
	int r;

	if ((db_bind_text(st, 1, v->domain) | db_bind_text(st, 2, v->day) |
	    db_bind_text(st, 3, a->agent) | sq_bind_u64(st, 4, a->fetches)) !=
	    DB_OK || sq_exec_now(q, st, "fetch agent", e) == -1)
		return sq_err(q, e, "fetch agent");
	if (db_changes(q->db) > 0)
		return 0;
	st = sq_stmt(q, SQ_FAGENT_COUNT);
	if ((db_bind_text(st, 1, v->domain) | db_bind_text(st, 2, v->day)) !=
	    DB_OK || sq_one_int(q, st, &n, "fetch agents", e) == -1)
		return -1;
	if (n >= LIMIT_FETCH_DAY_AGENTS) {
		st = sq_stmt(q, SQ_FAGENT_MIN);
		if ((db_bind_text(st, 1, v->domain) |
		    db_bind_text(st, 2, v->day)) != DB_OK)
			return sq_err(q, e, "fetch agents");
		if ((r = db_step(st)) != DB_ROW) {
			db_reset(st);
			return sq_err(q, e, "fetch agents");
		}
		sq_copy(least, sizeof(least), sq_column_text(st, 0));
		lf = sq_column_u64(st, 1);
		db_reset(st);
		if (a->fetches <= lf) {
			store_add_sat(other, a->fetches);
			return 0;
		}
		st = sq_stmt(q, SQ_FAGENT_DEL);
		if ((db_bind_text(st, 1, v->domain) |
		    db_bind_text(st, 2, v->day) | db_bind_text(st, 3, least)) !=
		    DB_OK || sq_exec(q, st, "fetch agent", e) == -1)
			return sq_err(q, e, "fetch agent");
		store_add_sat(other, lf);
	}
	st = sq_stmt(q, SQ_FAGENT_ADD);
	if ((db_bind_text(st, 1, v->domain) | db_bind_text(st, 2, v->day) |
	    db_bind_text(st, 3, a->agent) | sq_bind_u64(st, 4, a->fetches)) !=
	    DB_OK)
		return sq_err(q, e, "fetch agent");
	return sq_exec(q, st, "fetch agent", e);
}

/* One domain-day: its counts merged into the stored ones. */
static int
sq_fetch_day(struct sq *q, const struct store_fetch_day *v, struct err *e)
{
	struct db_stmt *st = sq_stmt(q, SQ_FETCH_GET);
	uint8_t regs[FETCHLOG_HLL_REGS];
	uint64_t fetches = v->fetches, clients = 0, other = v->agents_other;
	const void *hll;
	size_t n;
	int r;

	memcpy(regs, v->hll, sizeof(regs));
	if ((db_bind_text(st, 1, v->domain) | db_bind_text(st, 2, v->day)) !=
	    DB_OK)
		return sq_err(q, e, "fetch log");
	if ((r = db_step(st)) == DB_ROW) {
		store_add_sat(&fetches, sq_column_u64(st, 0));
		clients = sq_column_u64(st, 1);
		hll = db_column_blob(st, 2, &n);
		if (n == FETCHLOG_HLL_REGS)
			fetchlog_hll_merge(regs, hll);
	}
	db_reset(st);
	if (r != DB_ROW && r != DB_DONE)
		return sq_err(q, e, "fetch log");
	/* A day closed already (its sketch dropped) keeps its estimate
	 * when a late flush would lower it. */
	if (fetchlog_hll_estimate(regs) > clients)
		clients = fetchlog_hll_estimate(regs);
	for (size_t i = 0; i < v->nagents; i++)
		if (sq_fetch_agent(q, v, &v->agents[i], &other, e) == -1)
			return -1;
	st = sq_stmt(q, SQ_FETCH_PUT);
	if ((db_bind_text(st, 1, v->domain) | db_bind_text(st, 2, v->day) |
	    sq_bind_u64(st, 3, fetches) | sq_bind_u64(st, 4, clients) |
	    db_bind_blob(st, 5, regs, sizeof(regs)) |
	    sq_bind_u64(st, 6, other)) != DB_OK)
		return sq_err(q, e, "fetch log");
	return sq_exec(q, st, "fetch log", e);
}

/* Once a day per handle: drops what retention no longer keeps and the
 * sketches of days that cannot grow any more. */
static int
sq_fetch_prune(struct sq *q, time_t now, struct err *e)
{
	char today[STORE_DAY_LEN + 1], cut[STORE_DAY_LEN + 1],
	    closed[STORE_DAY_LEN + 1];
	const enum sq_id ids[] = { SQ_FETCH_PRUNE, SQ_FAGENT_PRUNE,
	    SQ_FETCH_CLOSE };

	if (store_day_key(now, today) == -1 || strcmp(today,
	    q->fetch_pruned) == 0)
		return 0;
	if (store_day_key(now - (time_t)LIMIT_FETCH_RETENTION_DAYS * 86400,
	    cut) == -1 || store_day_key(now - 86400, closed) == -1)
		return 0;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct db_stmt *st = sq_stmt(q, ids[i]);

		if (db_bind_text(st, 1, i < 2 ? cut : closed) != DB_OK ||
		    sq_exec(q, st, "fetch log retention", e) == -1)
			return sq_err(q, e, "fetch log retention");
	}
	memcpy(q->fetch_pruned, today, sizeof(today));
	return 0;
}

static int
sq_fetch_add(struct store *s, const struct store_fetch_day *v, size_t n,
    time_t now, struct err *e)
{
	struct sq *q = (struct sq *)s;
	char was[STORE_DAY_LEN + 1];

	memcpy(was, q->fetch_pruned, sizeof(was));
	if (sq_begin(q, e) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sq_fetch_day(q, &v[i], e) == -1)
			goto fail;
	if (sq_fetch_prune(q, now, e) == -1)
		goto fail;
	if (sq_commit(q, e) == -1)
		goto fail;
	return 0;
fail:
	sq_rollback(q);
	memcpy(q->fetch_pruned, was, sizeof(was));
	return -1;
}

static int
sq_fetch_read(struct store *s, const char *domain, time_t from, time_t to,
    store_fetch_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_FETCH_READ);
	char first[STORE_DAY_LEN + 1], last[STORE_DAY_LEN + 1];
	struct store_fetch_row row;
	int rc = -1, r;

	if (sq_stats_bind(q, st, domain, from, to, first, last, e) == -1)
		goto out;
	while ((r = db_step(st)) == DB_ROW) {
		row.day = sq_column_text(st, 0);
		row.fetches = sq_column_u64(st, 1);
		row.clients = sq_column_u64(st, 2);
		row.agents_other = sq_column_u64(st, 3);
		row.agent = db_column_text(st, 4);
		row.agent_fetches = sq_column_u64(st, 5);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "fetch log of %s", domain);
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

/* --- The monitor: latest checks and alerts --- */

/* Claims the domains due (their next check moved SQ_CHECK_CLAIM_SECONDS
 * on, in the transaction that found them due), then hands them to cb:
 * nodes sharing the database check each domain once a period, and a
 * claim left by a node that died runs out. */
static int
sq_check_due(struct store *s, time_t now, size_t max, store_name_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st;
	struct strv due = { 0 };
	int rc = -1, r;

	if (sq_begin(q, e) == -1)
		return -1;
	st = sq_stmt(q, SQ_CHECK_DUE);
	if ((db_bind_int64(st, 1, (int64_t)now) |
	    sq_bind_u64(st, 2, max)) != DB_OK) {
		sq_err(q, e, "domains due for a check");
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW)
		if (strv_push(&due, sq_column_text(st, 0)) == -1) {
			err_set(e, "domains due for a check: out of memory");
			goto out;
		}
	db_reset(st);
	if (r != DB_DONE) {
		sq_err(q, e, "domains due for a check");
		goto out;
	}
	for (size_t i = 0; i < due.n; i++) {
		st = sq_stmt(q, SQ_CHECK_CLAIM);
		if ((db_bind_text(st, 1, due.v[i]) | db_bind_int64(st, 2,
		    (int64_t)now + SQ_CHECK_CLAIM_SECONDS)) != DB_OK ||
		    sq_exec(q, st, "claim a check", e) == -1)
			goto out;
	}
	if (sq_commit(q, e) == -1)
		goto out;
	for (size_t i = 0; i < due.n; i++)
		if ((r = cb(arg, due.v[i])) != 0) {
			rc = sq_stopped(r, e);
			goto done;
		}
	rc = 0;
	goto done;
out:
	sq_rollback(q);
done:
	strv_free(&due);
	return rc;
}

static int
sq_check_put(struct store *s, const char *domain, time_t checked,
    time_t next_at, uint64_t failures, uint64_t warnings, const char *json,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHECK_PUT);

	if ((db_bind_text(st, 1, domain) |
	    db_bind_int64(st, 2, (int64_t)checked) |
	    db_bind_int64(st, 3, (int64_t)next_at) |
	    sq_bind_u64(st, 4, failures) | sq_bind_u64(st, 5, warnings) |
	    db_bind_text(st, 6, json)) != DB_OK)
		return sq_err(q, e, "keep the check of %s", domain);
	return sq_exec(q, st, "keep the check", e);
}

static int
sq_check_soon(struct store *s, const char *domain, time_t at, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHECK_SOON);

	if ((db_bind_text(st, 1, domain) |
	    db_bind_int64(st, 2, (int64_t)at)) != DB_OK)
		return sq_err(q, e, "a check of %s soon", domain);
	return sq_exec(q, st, "a check soon", e);
}

static int
sq_check_get(struct store *s, const char *domain, store_check_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHECK_GET);
	struct store_check_row row;
	int rc = -1, r;

	if (db_bind_text(st, 1, domain) != DB_OK) {
		sq_err(q, e, "the check of %s", domain);
		goto out;
	}
	if ((r = db_step(st)) == DB_DONE) {
		rc = 1;
		goto out;
	}
	if (r != DB_ROW) {
		sq_err(q, e, "the check of %s", domain);
		goto out;
	}
	row.domain = domain;
	row.checked = (time_t)db_column_int64(st, 0);
	row.failures = sq_column_u64(st, 1);
	row.warnings = sq_column_u64(st, 2);
	row.json = sq_column_text(st, 3);
	rc = (r = cb(arg, &row)) != 0 ? sq_stopped(r, e) : 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_alert_last(struct store *s, const char *domain, const char *subject,
    const char *kind, time_t *raised, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ALERT_LAST);
	int rc = -1;

	*raised = 0;
	if ((db_bind_text(st, 1, domain) | db_bind_text(st, 2, subject) |
	    db_bind_text(st, 3, kind)) != DB_OK ||
	    db_step(st) != DB_ROW) {
		sq_err(q, e, "the last alert of %s", domain);
		goto out;
	}
	*raised = (time_t)db_column_int64(st, 0);	/* NULL: 0 */
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_alert_add(struct store *s, const char *domain, const char *subject,
    const char *kind, const char *severity, const char *text,
    const char *fix, unsigned channels, time_t now, int64_t *id,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ALERT_ADD);

	if ((db_bind_text(st, 1, domain) | db_bind_text(st, 2, subject) |
	    db_bind_text(st, 3, kind) | db_bind_text(st, 4, severity) |
	    db_bind_text(st, 5, text) | db_bind_text(st, 6, fix ? fix : "") |
	    db_bind_int64(st, 7, (int64_t)now) |
	    db_bind_int64(st, 8, channels & STORE_ALERT_HOOK ? 0 : -2) |
	    db_bind_int64(st, 9, channels & STORE_ALERT_MAIL ? 0 : -2)) !=
	    DB_OK)
		return sq_err(q, e, "keep an alert of %s", domain);
	if (sq_insert(q, st, id, "keep an alert", e) != 0)
		return -1;
	st = sq_stmt(q, SQ_ALERT_PRUNE);
	if ((db_bind_text(st, 1, domain) |
	    db_bind_int64(st, 2, LIMIT_ALERTS_PER_DOMAIN)) != DB_OK)
		return sq_err(q, e, "drop old alerts of %s", domain);
	return sq_exec(q, st, "drop old alerts", e);
}

static int
sq_alert_list(struct store *s, const char *domain, unsigned channel,
    size_t max, store_alert_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, domain != NULL ? SQ_ALERT_LIST :
	    channel == STORE_ALERT_MAIL ? SQ_ALERT_UNSENT_MAIL :
	    SQ_ALERT_UNSENT_HOOK);
	struct store_alert_row row;
	int rc = -1, r;

	if ((db_bind_text(st, 1, domain) | sq_bind_u64(st, 2, max)) !=
	    DB_OK) {
		sq_err(q, e, "alerts");
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		row.id = db_column_int64(st, 0);
		row.domain = sq_column_text(st, 1);
		row.subject = sq_column_text(st, 2);
		row.kind = sq_column_text(st, 3);
		row.severity = sq_column_text(st, 4);
		row.text = sq_column_text(st, 5);
		row.fix = sq_column_text(st, 6);
		row.raised = (time_t)db_column_int64(st, 7);
		row.hook_sent = (time_t)db_column_int64(st, 8);
		row.hook_tries = db_column_int64(st, 9);
		row.mail_sent = (time_t)db_column_int64(st, 10);
		row.mail_tries = db_column_int64(st, 11);
		if ((r = cb(arg, &row)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "alerts");
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_alert_sent(struct store *s, int64_t id, unsigned channel, time_t sent,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, channel == STORE_ALERT_MAIL ?
	    SQ_ALERT_SENT_MAIL : SQ_ALERT_SENT_HOOK);

	if ((db_bind_int64(st, 1, id) |
	    db_bind_int64(st, 2, (int64_t)sent) |
	    db_bind_int64(st, 3, LIMIT_ALERT_TRIES)) != DB_OK)
		return sq_err(q, e, "alert %lld", (long long)id);
	return sq_exec(q, st, "note a delivery try", e);
}

static int
sq_digest_last(struct store *s, const char *tenant, time_t *sent,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_DIGEST_GET);
	int rc = -1, r;

	*sent = 0;
	if (db_bind_text(st, 1, tenant) != DB_OK ||
	    ((r = db_step(st)) != DB_ROW && r != DB_DONE)) {
		sq_err(q, e, "the digest of %s", tenant);
		goto out;
	}
	if (r == DB_ROW)
		*sent = (time_t)db_column_int64(st, 0);
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_digest_sent(struct store *s, const char *tenant, time_t sent,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_DIGEST_PUT);

	if ((db_bind_text(st, 1, tenant) |
	    db_bind_int64(st, 2, (int64_t)sent)) != DB_OK)
		return sq_err(q, e, "the digest of %s", tenant);
	return sq_exec(q, st, "note a digest", e);
}

/* --- Certificates shared by the nodes, and their ACME state --- */

static int
sq_cert_put(struct store *s, const struct store_cert *c, int64_t *version,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st;
	int64_t v = 0;
	int r;

	if (sq_begin(q, e) == -1)
		return -1;
	st = sq_stmt(q, SQ_CERT_PUT);
	if ((db_bind_text(st, 1, c->name) | db_bind_text(st, 2, c->chain) |
	    db_bind_blob(st, 3, c->key, c->key_len) |
	    db_bind_int64(st, 4, (int64_t)c->not_before) |
	    db_bind_int64(st, 5, (int64_t)c->not_after) |
	    db_bind_int64(st, 6, (int64_t)c->updated)) != DB_OK) {
		sq_err(q, e, "the certificate of %s", c->name);
		db_reset(st);
		goto fail;
	}
	if ((r = sq_insert(q, st, &v, "store the certificate", e)) != 0) {
		if (r == 1)
			err_set(e, "store the certificate of %s: no version",
			    c->name);
		goto fail;
	}
	if (sq_commit(q, e) == -1)
		goto fail;
	if (version != NULL)
		*version = v;
	return 0;
fail:
	sq_rollback(q);
	return -1;
}

/* Runs st (bound by the caller) and hands each SQ_CERT_COLS row to cb.
 * Returns 0, 1 when there was no row, cb's non-zero value, or -1. */
static int
sq_cert_rows(struct sq *q, struct db_stmt *st, store_cert_cb cb, void *arg,
    struct err *e)
{
	struct store_cert c;
	size_t rows = 0;
	int rc = -1, r;

	while ((r = db_step(st)) == DB_ROW) {
		rows++;
		c.name = sq_column_text(st, 0);
		c.chain = sq_column_text(st, 1);
		c.key = db_column_blob(st, 2, &c.key_len);
		c.not_before = (time_t)db_column_int64(st, 3);
		c.not_after = (time_t)db_column_int64(st, 4);
		c.updated = (time_t)db_column_int64(st, 5);
		c.version = db_column_int64(st, 6);
		if ((r = cb(arg, &c)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "certificates");
		goto out;
	}
	rc = rows == 0 ? 1 : 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_cert_get(struct store *s, const char *name, store_cert_cb cb, void *arg,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CERT_GET);

	if (db_bind_text(st, 1, name) != DB_OK)
		return sq_err(q, e, "the certificate of %s", name);
	return sq_cert_rows(q, st, cb, arg, e);
}

static int
sq_cert_since(struct store *s, int64_t after, size_t max, store_cert_cb cb,
    void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CERT_SINCE);
	int r;

	if ((db_bind_int64(st, 1, after) | sq_bind_u64(st, 2, max)) != DB_OK)
		return sq_err(q, e, "certificates");
	r = sq_cert_rows(q, st, cb, arg, e);
	return r == 1 ? 0 : r;
}

static int
sq_lease_take(struct store *s, const char *name, const char *holder,
    time_t now, time_t until, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_LEASE_TAKE);
	int r;

	if ((db_bind_text(st, 1, name) | db_bind_text(st, 2, holder) |
	    db_bind_int64(st, 3, (int64_t)now) |
	    db_bind_int64(st, 4, (int64_t)until)) != DB_OK) {
		db_reset(st);
		return sq_err(q, e, "the lease on %s", name);
	}
	r = db_step(st);
	db_reset(st);
	if (r == DB_ROW)
		return 1;
	if (r == DB_DONE)
		return 0;
	return sq_err(q, e, "the lease on %s", name);
}

static int
sq_lease_release(struct store *s, const char *name, const char *holder,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_LEASE_RELEASE);

	if ((db_bind_text(st, 1, name) | db_bind_text(st, 2, holder)) !=
	    DB_OK)
		return sq_err(q, e, "the lease on %s", name);
	return sq_exec(q, st, "release a lease", e);
}

static int
sq_acme_account_put(struct store *s, const char *name, const void *key,
    size_t len, time_t now, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ACME_ACCOUNT_PUT);

	if ((db_bind_text(st, 1, name) | db_bind_blob(st, 2, key, len) |
	    db_bind_int64(st, 3, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "the ACME account %s", name);
	return sq_exec(q, st, "store the ACME account key", e);
}

static int
sq_acme_account_get(struct store *s, const char *name, void **key,
    size_t *len, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_ACME_ACCOUNT_GET);
	const void *p;
	int rc = -1, r;

	*key = NULL;
	*len = 0;
	if (db_bind_text(st, 1, name) != DB_OK ||
	    ((r = db_step(st)) != DB_ROW && r != DB_DONE)) {
		sq_err(q, e, "the ACME account %s", name);
		goto out;
	}
	if (r == DB_DONE) {
		rc = 1;
		goto out;
	}
	p = db_column_blob(st, 0, len);
	if ((*key = malloc(*len ? *len : 1)) == NULL) {
		*len = 0;
		err_set(e, "out of memory");
		goto out;
	}
	if (*len > 0)
		memcpy(*key, p, *len);
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static int
sq_challenge_put(struct store *s, const struct store_challenge *c,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHAL_PUT);

	if ((db_bind_text(st, 1, c->token) | db_bind_text(st, 2, c->name) |
	    db_bind_int64(st, 3, c->type) | db_bind_text(st, 4, c->keyauth) |
	    db_bind_int64(st, 5, (int64_t)c->expires)) != DB_OK)
		return sq_err(q, e, "the challenge for %s", c->name);
	return sq_exec(q, st, "store a challenge", e);
}

static int
sq_challenge_remove(struct store *s, const char *token, time_t now,
    struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHAL_REMOVE);

	if ((db_bind_text(st, 1, token) |
	    db_bind_int64(st, 2, (int64_t)now)) != DB_OK)
		return sq_err(q, e, "a challenge");
	return sq_exec(q, st, "remove a challenge", e);
}

static int
sq_challenge_list(struct store *s, time_t now, size_t max,
    store_challenge_cb cb, void *arg, struct err *e)
{
	struct sq *q = (struct sq *)s;
	struct db_stmt *st = sq_stmt(q, SQ_CHAL_LIST);
	struct store_challenge c;
	int rc = -1, r;

	if ((db_bind_int64(st, 1, (int64_t)now) | sq_bind_u64(st, 2, max)) !=
	    DB_OK) {
		sq_err(q, e, "challenges");
		goto out;
	}
	while ((r = db_step(st)) == DB_ROW) {
		c.token = sq_column_text(st, 0);
		c.name = sq_column_text(st, 1);
		c.type = db_column_int(st, 2);
		c.keyauth = sq_column_text(st, 3);
		c.expires = (time_t)db_column_int64(st, 4);
		if ((r = cb(arg, &c)) != 0) {
			rc = sq_stopped(r, e);
			goto out;
		}
	}
	if (r != DB_DONE) {
		sq_err(q, e, "challenges");
		goto out;
	}
	rc = 0;
out:
	db_reset(st);
	return rc;
}

static const struct store_ops sq_ops = {
	.name = "sql",
	.close = sq_close,
	.domain_add = sq_domain_add,
	.domain_add_batch = sq_domain_add_batch,
	.domain_get = sq_domain_get_op,
	.domain_set = sq_domain_set,
	.domain_remove = sq_domain_remove,
	.domain_list = sq_domain_list,
	.domain_page = sq_domain_page,
	.domain_history = sq_domain_history,
	.report_add = sq_report_add,
	.report_add_batch = sq_report_add_batch,
	.report_list = sq_report_list,
	.report_get = sq_report_get,
	.report_claimed = sq_report_claimed,
	.stats = sq_stats,
	.stats_mx_hosts = sq_stats_mx_hosts,
	.stats_failures = sq_stats_failures,
	.quarantine_add = sq_quarantine_add,
	.quarantine_list = sq_quarantine_list,
	.quarantine_get = sq_quarantine_get,
	.quarantine_resolve = sq_quarantine_resolve,
	.quarantine_usage = sq_quarantine_usage,
	.report_tally = sq_report_tally,
	.domains_version = sq_domains_version,
	.domains_wait = sq_domains_wait,
	.tenant_add = sq_tenant_add,
	.tenant_list = sq_tenant_list,
	.account_add = sq_account_add,
	.account_get = sq_account_get,
	.account_list = sq_account_list,
	.token_add = sq_token_add,
	.token_find = sq_token_find,
	.token_list = sq_token_list,
	.token_revoke = sq_token_revoke,
	.session_add = sq_session_add,
	.session_find = sq_session_find,
	.session_remove = sq_session_remove,
	.login_failures = sq_login_failures,
	.login_failure = sq_login_failure,
	.entries = sq_entries,
	.fetch_add = sq_fetch_add,
	.fetch_read = sq_fetch_read,
	.check_due = sq_check_due,
	.check_put = sq_check_put,
	.check_soon = sq_check_soon,
	.check_get = sq_check_get,
	.alert_last = sq_alert_last,
	.alert_add = sq_alert_add,
	.alert_list = sq_alert_list,
	.alert_sent = sq_alert_sent,
	.digest_last = sq_digest_last,
	.digest_sent = sq_digest_sent,
	.cert_put = sq_cert_put,
	.cert_get = sq_cert_get,
	.cert_since = sq_cert_since,
	.lease_take = sq_lease_take,
	.lease_release = sq_lease_release,
	.acme_account_put = sq_acme_account_put,
	.acme_account_get = sq_acme_account_get,
	.challenge_put = sq_challenge_put,
	.challenge_remove = sq_challenge_remove,
	.challenge_list = sq_challenge_list,
};

int
store_sql_open(const char *url, struct store **s, struct err *e)
{
	struct sq *q;
	int rc = -1;

	*s = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		err_set(e, "store %s: out of memory", url);
		goto out;
	}
	q->base.ops = &sq_ops;
	if (db_open(url, &q->db, e) == -1)
		goto out;
	for (size_t i = 0; i < SQ_NSTMT; i++) {
		if (db_prepare(q->db, sq_sql[i], &q->st[i]) != DB_OK) {
			sq_err(q, e, "store %s: prepare statement %zu", url,
			    i);
			goto out;
		}
	}
	*s = &q->base;
	q = NULL;
	rc = 0;
out:
	sq_close(q != NULL ? &q->base : NULL);
	return rc;
}
