/*
 * limits.h - every bound stsguard puts on untrusted input, in one place.
 *
 * Each limit says why it has the value it has. Parsers and listeners
 * include this header and enforce the limit while reading, before parsing,
 * so that a hostile peer costs us at most these many bytes, items or levels.
 * (Modelled on SQLite's sqliteLimit.h.)
 */
#ifndef STSGUARD_LIMITS_H
#define STSGUARD_LIMITS_H

/* --- DNS names -------------------------------------------------------- */

/* RFC 1035 §2.3.4: 255 octets on the wire, so 253 characters in text form
 * without the trailing dot. */
#define LIMIT_DNAME_LEN 253
/* RFC 1035 §2.3.4: 63 octets per label. */
#define LIMIT_LABEL_LEN 63

/* Delegated mode (dns_zone): "D._smtp._tls.ZONE" must be a DNS name, so
 * the operator's zone may be at most 253 - 12 - this long. 100 bytes
 * hold every real domain name (a hosted domain's name is longer than
 * this only on purpose); a longer domain cannot be delegated and DNS
 * UPDATE says so for it alone. */
#define LIMIT_DNS_ZONE_ROOM 100

/* --- DNS UPDATE (RFC 2136), the delegated mode ------------------------ */

/* Domains per UPDATE message: each adds a delete and two TXT records
 * (~250 bytes with the TLS-RPT record), so 100 stay well under the
 * 64 KiB a message over TCP may hold, and a server's answer covers a
 * batch small enough to retry. */
#define LIMIT_DNS_UPDATE_DOMAINS 100
/* The TSIG key file: one line "ALGORITHM:NAME:BASE64SECRET"; an
 * HMAC-SHA512 key is 64 bytes (88 in base64), names are DNS names. */
#define LIMIT_TSIG_FILE_BYTES 1024
#define LIMIT_TSIG_SECRET_BYTES 128

/* --- MTA-STS (RFC 8461) ----------------------------------------------- */

/* RFC 8461 §3.3: senders may refuse policy bodies over 64 KiB; we refuse
 * to parse or publish anything larger. */
#define LIMIT_POLICY_BYTES (64 * 1024)
/* RFC 8461 §3.2: max_age at most 31557600 (about one year). */
#define LIMIT_POLICY_MAX_AGE 31557600u
/* max_age is "1*10DIGIT" in the ABNF. */
#define LIMIT_POLICY_MAX_AGE_DIGITS 10
/* No real policy lists more than a handful of MX patterns; 1000 keeps a
 * 64 KiB body of one-letter patterns from allocating without bound. */
#define LIMIT_POLICY_MX 1000
/* RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT). */
#define LIMIT_STS_ID_LEN 32

/* --- DNS TXT records -------------------------------------------------- */

/* A TXT RRset may be split over several 255-byte strings; the DNS message
 * limit of 64 KiB bounds the whole, but no sane record exceeds 4 KiB. */
#define LIMIT_TXT_BYTES 4096
/* _smtp._tls rua URIs per record: reporters send to a few at most. */
#define LIMIT_RUA_URIS 16

/* --- TLS-RPT reports (RFC 8460) --------------------------------------- */

/* Compressed (or plain) report as received. Google's largest daily
 * reports for busy domains are tens of KiB; 4 MiB leaves two orders of
 * magnitude of headroom. */
#define LIMIT_REPORT_BYTES (4 * 1024 * 1024)
/* Decompressed JSON. Reports are aggregates, so even the busiest
 * reporter stays far below this. */
#define LIMIT_REPORT_JSON_BYTES (16 * 1024 * 1024)
/* Decompressed / compressed. Real reports compress 3-20x; a gzip bomb
 * compresses about 1000x. Checked only once the output passes 1 MiB, so
 * that small, very repetitive reports are never refused. */
#define LIMIT_REPORT_GZIP_RATIO 100
#define LIMIT_REPORT_GZIP_RATIO_FLOOR (1024 * 1024)
/* JSON nesting: a report is at most 5 levels deep (report, policies[],
 * policy, failure-details[], detail); 16 tolerates extensions and stops
 * stack-hungry 1000-level arrays before the JSON library sees them. */
#define LIMIT_REPORT_JSON_DEPTH 16
/* JSON tokens (values and keys) per report, counted in the text before
 * the JSON library builds anything: its tree costs about 100 bytes a
 * token, so 16 MiB of "{},[]," would take a gigabyte and seconds of CPU.
 * The largest real report in our corpus has under 200; a busy domain's
 * report with thousands of failure details (9 to 17 tokens each) some
 * tens of thousands; 200,000 is room for a 2 MiB report of 11,000
 * details, and at most about 20 MB of tree per parse. */
#define LIMIT_REPORT_JSON_TOKENS 200000
/* Policy entries per report: one per policy (and type) seen that day. */
#define LIMIT_REPORT_POLICIES 10000
/* Failure-detail entries per policy: one per (result, sending IP,
 * receiving MX) triple seen that day. With every field set, a detail is
 * 17 tokens, and LIMIT_REPORT_JSON_TOKENS binds first. */
#define LIMIT_REPORT_FAILURE_DETAILS 20000
/* Strings in policy-string or mx-host arrays. */
#define LIMIT_REPORT_STRINGS 1000
/* Any single JSON string in a report. */
#define LIMIT_REPORT_STRING_BYTES (64 * 1024)
/* Different reports stored under one (organization-name, report-id): a
 * reporter sends one, a forger may post variants of it, and each insert
 * reads the key's rows to decide which counts. Past this, anonymous ones
 * go to quarantine (capped), the operator's and dkim-verified ones are
 * still stored. */
#define LIMIT_REPORT_CONFLICTS 32

/* --- SMTP listener (RFC 5321) ---------------------------------------- */

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its
 * CRLF. Longer lines are answered 500 5.5.2 and skipped. */
#define LIMIT_SMTP_CMD_LINE 512
/* RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
 * In DATA we do not refuse longer lines: an application/tlsrpt+json part
 * sent without transfer encoding by a compact encoder (quirk 10: one-line
 * JSON) would break it, and refusing would lose the report; the message
 * size below bounds memory instead. */
#define LIMIT_SMTP_TEXT_LINE 1000
/* RFC 5321 §4.5.3.1.3: a reverse- or forward-path is at most 256 octets. */
#define LIMIT_SMTP_PATH_LEN 256
/* Advertised as SIZE (RFC 1870) and enforced while reading DATA (552).
 * A report of LIMIT_REPORT_BYTES grows to about 5.5 MiB in base64 with
 * CRLFs; 8 MiB leaves room for headers and a human-readable part. */
#define LIMIT_SMTP_MESSAGE_BYTES (8 * 1024 * 1024)
/* Recipients per transaction. A reporter sends one message per rua
 * address, so a handful is plenty; RFC 5321 §4.5.3.1.10 lets us answer
 * 452 for the rest, which the client retries later. */
#define LIMIT_SMTP_RCPTS 32
/* Error replies (5xx) per session before 421 and disconnect: a sender
 * that gets ten errors is confused or probing. (Postfix's
 * smtpd_hard_error_limit is 20; anonymous intake gets less.) */
#define LIMIT_SMTP_ERRORS 10
/* Commands that carry no mail (RSET, NOOP, VRFY, HELP, a repeated HELO)
 * per session before 421 and disconnect: a reporter sends a handful; a
 * session of NOOPs only holds a slot. (Postfix's smtpd_junk_command_limit
 * is 100.) */
#define LIMIT_SMTP_JUNK_COMMANDS 100
/* A session's whole life, seconds: past it, 421 (a message being
 * committed is answered first). A reporter's session takes seconds, and
 * 30 minutes carry a dozen 8 MiB messages over a slow 64 KiB/s link;
 * without a bound, one byte per command timeout keeps a slot for days. */
#define LIMIT_SMTP_SESSION_SECONDS 1800
/* RFC 5321 §4.5.3.2.7: the server SHOULD wait at least 5 minutes for the
 * next command. Seconds. */
#define LIMIT_SMTP_CMD_TIMEOUT 300
/* RFC 5321 §4.5.3.2.6: 3 minutes between two blocks of DATA. Seconds. */
#define LIMIT_SMTP_DATA_TIMEOUT 180
/* Simultaneous connections from one client (an IPv4 address, an IPv6
 * /64), process-wide: real reporters open one or two; more is a scan or
 * a flood. */
#define LIMIT_SMTP_CONN_PER_CLIENT 10
/* Simultaneous SMTP connections per listener (per worker thread); lowered
 * at start to what RLIMIT_NOFILE allows. Message bytes are bounded by
 * LIMIT_INTAKE_INFLIGHT_BYTES, not by this. */
#define LIMIT_SMTP_CONNECTIONS 1000
/* Replies queued for a client that does not read them (a pipelining
 * flood): past this many bytes we stop reading its input until it has
 * read its replies. */
#define LIMIT_SMTP_OUTBUF (64 * 1024)

/* --- MIME (report e-mails) -------------------------------------------- */

/* Leaf parts looked at per message: report mails have 2 or 3. */
#define LIMIT_MIME_PARTS 64
/* multipart/ and message/ containers per message, counted in the raw
 * bytes before GMime sees them, because GMime's parser recurses once per
 * nested container and has no depth limit of its own. A report forwarded
 * as an attachment has 3. */
#define LIMIT_MIME_CONTAINERS 16
/* Reports taken from one message: one per policy domain at most, in
 * practice one. */
#define LIMIT_MIME_REPORTS 16

/* --- Configuration ---------------------------------------------------- */

/* The config file is written by an operator, but read at every start. */
#define LIMIT_CONFIG_BYTES (1024 * 1024)
#define LIMIT_CONFIG_LINE 4096

/* --- Tenants ---------------------------------------------------------- */

/* Domains one tenant may host: big providers host hundreds of thousands
 * of domains, but in several tenants. */
#define LIMIT_DOMAINS_PER_TENANT 1000000

/* `domain import FILE` (bulk onboarding): a file of at most this many
 * bytes and lines, a line of at most LIMIT_IMPORT_LINE bytes. A million
 * domains (the most one tenant may have) at about 120 bytes a line fit;
 * a line holds a domain, a tenant, a mode, a few mx patterns and a
 * number. Errors shown, at most LIMIT_IMPORT_ERRORS (and how many more). */
#define LIMIT_IMPORT_BYTES (256 * 1024 * 1024)
#define LIMIT_IMPORT_LINES LIMIT_DOMAINS_PER_TENANT
#define LIMIT_IMPORT_LINE 4096
#define LIMIT_IMPORT_ERRORS 100

/* --- Accounts (src/account/) ------------------------------------------- */

/* A password's bytes. NIST SP 800-63B asks verifiers to take at least 64;
 * a bound keeps a login from feeding Argon2id megabytes. */
#define LIMIT_PASSWORD_BYTES 1024
/* The shortest password taken: 12 characters (NIST asks at least 8; a
 * dashboard that shows a tenant's mail security deserves more). */
#define LIMIT_PASSWORD_MIN 12

/* --- The REST API and the dashboard (src/web/, authenticated) --------- */

/* A request body of the API or a dashboard form (JSON of one domain, a
 * form, or the CSV of `POST /api/v1/domains/import`). Only a token's or
 * a session's holder gets past the head, but the body is read before the
 * token is checked (on the pool), so it is buffered with the per-client
 * reservations of report intake (LIMIT_INTAKE_CLIENT_BYTES per client,
 * LIMIT_INTAKE_INFLIGHT_BYTES in all). 8 MiB is an import of about
 * 70,000 domains at 120 bytes a line: bigger onboardings go in several
 * requests or through `stsguard domain import`. Over it: 413, from the
 * Content-Length before reading, or at the chunk that passes it. */
#define LIMIT_WEB_BODY_BYTES (8 * 1024 * 1024)
/* Seconds from the request head to the body's last byte: 8 MiB at
 * 70 KiB/s; LIMIT_INTAKE_MIN_RATE still closes slower uploads. */
#define LIMIT_WEB_BODY_SECONDS 120
/* JSON of an API request body: a domain is an object of four members,
 * its mx an array of at most LIMIT_POLICY_MX patterns, which a policy of
 * LIMIT_POLICY_BYTES holds: 128 KiB is that with room for quotes and
 * blanks. Nesting is 2 levels (object, mx array); 4 is checked in the
 * text before the JSON library builds anything. Over either: 400. */
#define LIMIT_WEB_JSON_BYTES (128 * 1024)
#define LIMIT_WEB_JSON_DEPTH 4
/* An organization-name asked for in a query (?org=): a filter, compared
 * exactly; real names are tens of bytes. Over it: 400. */
#define LIMIT_REPORT_ORG_QUERY 1024

/* --- HTTP front (src/http/, src/daemon/) ------------------------------ */

/* Request line plus header fields. Real MTA-STS fetchers send < 300 bytes;
 * 8 KiB is what nginx and h2o allow by default. Over it: 431 and close.
 * A chunked body's trailer section has the same bound, and that of
 * LIMIT_HTTP_HEADERS, on its own. */
#define LIMIT_HTTP_HEADER_BYTES 8192
/* The request line alone (method, target, version). A policy URL is 40
 * bytes; ACME tokens and intake tokens keep the target under 200. Over
 * it: 414. */
#define LIMIT_HTTP_REQUEST_LINE 2048
/* Header fields per request: browsers send about 15. Over it: 431. */
#define LIMIT_HTTP_HEADERS 64
/* A chunk-size line of a chunked body (RFC 9112 §7.1) without its line
 * end: hex digits and extensions. Real senders send a few hex digits and
 * no extension; 4096 is what Go's net/http allows (maxLineLength), and
 * bounds the bytes a client makes us read for one chunk before any
 * data. Over it: 400. */
#define LIMIT_HTTP_CHUNK_LINE 4096
/* Request body on the policy listener: policy fetches have none; report
 * intake reads up to LIMIT_INTAKE_BODY_BYTES. Over it: 413. */
#define LIMIT_HTTP_BODY_BYTES LIMIT_REPORT_BYTES
/* A body sent with a request to a route that takes none (a POST to a
 * policy URL) is read and dropped up to this size so that the connection
 * stays usable (keep-alive); a bigger or chunked one closes it. */
#define LIMIT_HTTP_BODY_DISCARD (64 * 1024)

/* --- Report intake (HTTPS POST /tlsrpt/<token>, anonymous) ------------ */

/* Body of one HTTPS POST. Anyone who knows an intake URL may POST, so
 * this is tighter than LIMIT_REPORT_BYTES (what an operator may import):
 * real daily reports are tens of KiB compressed, so 2 MiB is still 50x
 * headroom, and a body is buffered whole before parsing. Over it: 413,
 * answered from the Content-Length before reading the body; a chunked
 * body counts its decoded data, and gets 413 at the size line of the
 * chunk that would pass it. */
#define LIMIT_INTAKE_BODY_BYTES (2 * 1024 * 1024)
/* A chunked body's framing (size lines, extensions, line ends,
 * trailers) may come to LIMIT_INTAKE_CHUNK_FRAMING_FLOOR bytes plus
 * LIMIT_INTAKE_CHUNK_FRAMING times its data bytes so far; past that,
 * 400. Real senders chunk kilobytes at a time (a few bytes of framing
 * each); even 1-byte chunks ("1\r\nX\r\n", 5 bytes of framing) pass.
 * Chunk extensions of up to LIMIT_HTTP_CHUNK_LINE bytes around 1-byte
 * chunks do not: without this bound they make us parse 4 KiB for every
 * byte of data, and the minimum upload rate counts data only. (Go's
 * net/http has a like rule: "too much non-data", CVE-2023-39326.) */
#define LIMIT_INTAKE_CHUNK_FRAMING 8
#define LIMIT_INTAKE_CHUNK_FRAMING_FLOOR (64 * 1024)
/* Seconds from the request head to the last body byte. A 2 MiB body at
 * a slow sender's 64 KiB/s takes 32 s. */
#define LIMIT_INTAKE_SECONDS 60
/* An upload must average this many bytes a second once it has had
 * LIMIT_INTAKE_RATE_GRACE seconds: slower ones hold a slot and their
 * bytes for nothing (a real reporter posts tens of KiB in a moment).
 * A chunked body counts its data bytes, not its framing. */
#define LIMIT_INTAKE_MIN_RATE (16 * 1024)
#define LIMIT_INTAKE_RATE_GRACE 5
/* A body buffer starts at this size (or the Content-Length) and doubles
 * as bytes arrive, each step reserved before it is used: a client holds
 * only what it has sent, not what it announced. */
#define LIMIT_INTAKE_BODY_FIRST (16 * 1024)
/* Bytes of report intake held at once: unfinished uploads and messages,
 * and reports on their way to the disk, over all clients (beyond it:
 * HTTPS 503 + Retry-After, SMTP 452) and per client (an IPv4 address,
 * an IPv6 /64). A client's share holds one largest message and a few
 * largest uploads; the total is a bound on memory that a flood from
 * many addresses cannot pass. */
#define LIMIT_INTAKE_INFLIGHT_BYTES (128 * 1024 * 1024)
#define LIMIT_INTAKE_CLIENT_BYTES (16 * 1024 * 1024)
/* Reports one client (an IPv4 address, an IPv6 /64) may send a minute,
 * by HTTPS and by mail together (setting intake_client_rate; 0: no
 * limit, for a node behind a trusted relay), as a token bucket that
 * holds a minute's worth (peer.h): past it, HTTPS 429 and SMTP 450 (at
 * RCPT, a message counts once), each with when to come back. The
 * busiest reporter delivering a day's reports for 100,000 hosted
 * domains from a handful of addresses within a few hours sends about
 * 100,000 / (10 x 180 min) = 55 a minute from each; 600 leaves tenfold
 * room and still holds a flood from one address to 10 a second. */
#define LIMIT_INTAKE_CLIENT_RATE 600
/* Report uploads (HTTPS requests being read or stored) one client may
 * have at once (setting intake_client_concurrent; 0: no limit): past
 * it, 429. A reporter posts one at a time; HTTP clients open up to 6
 * connections to a host. Its SMTP sessions are bounded by
 * LIMIT_SMTP_CONN_PER_CLIENT (421). */
#define LIMIT_INTAKE_CLIENT_CONCURRENT 8
/* Retry-After of that 429, seconds: an upload takes a moment (at most
 * LIMIT_INTAKE_SECONDS); a few seconds let one finish without inviting
 * a tight loop of retries. */
#define LIMIT_INTAKE_CONCURRENT_RETRY 5
/* One group commit of HTTPS reports (daemon_intake.c): at most this
 * many reports and raw bytes per transaction. A bigger batch barely
 * saves more syncs (one sync already costs as much as ~20 page writes)
 * but holds the write lock longer and delays the first answer of the
 * batch; the bytes bound keeps the compressed copies a commit holds in
 * memory small. Whatever is queued beyond it goes in the next batch. */
#define LIMIT_INTAKE_BATCH_JOBS 256
#define LIMIT_INTAKE_BATCH_BYTES (8 * 1024 * 1024)
/* Seconds a client may take from accepting the connection (TLS handshake
 * included) to the end of its request head, and after a response before
 * its next request. Slow clients cost a connection slot, not a worker. */
#define LIMIT_HTTP_REQUEST_SECONDS 10
#define LIMIT_HTTP_IDLE_SECONDS 30
/* Seconds to drain a connection closed after an error, so that the
 * client reads our answer instead of a reset. */
#define LIMIT_HTTP_LINGER_SECONDS 2
/* Milliseconds a listener stops accepting after accept failed for want
 * of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
 * listener stays readable, so without a pause the loop spins at 100 %
 * CPU; open connections are served meanwhile, and some close. */
#define LIMIT_ACCEPT_PAUSE_MS 250
/* The metrics listener (metrics_listen): the operator's Prometheus
 * scrapes it every 15-60 s over one connection, but it is a socket all
 * the same, so it is bounded like the others: connections at once
 * (more are closed at accept), seconds from accept to the end of the
 * answer (head within LIMIT_HTTP_HEADER_BYTES), one request each. */
#define LIMIT_METRICS_CONNS 8
#define LIMIT_METRICS_SECONDS 5
/* Seconds in-flight requests get to finish after SIGTERM. */
#define LIMIT_SHUTDOWN_SECONDS 5
/* Open connections per worker; beyond it new ones are closed at once, so
 * a flood costs bounded memory (about 40 KiB each with TLS buffers).
 * Lowered at start to what RLIMIT_NOFILE allows (daemon_serve.c). */
#define LIMIT_CONNS_PER_WORKER 20000
/* Open HTTPS and HTTP connections of one client (an IPv4 address, an
 * IPv6 /64) over all workers, and at most a quarter of all slots: a
 * sender fetches a policy or posts a report on one or two; a big
 * provider's relay, policies of many domains at once, some dozens. */
#define LIMIT_HTTP_CONN_PER_CLIENT 256
/* Descriptors kept free of connections: the store's files (3 per handle:
 * the writer's and the reload thread's), certificate files read on a
 * cache miss (2 per worker at once), the ACME client's sockets, pipes.
 * Connection limits are lowered so that these always fit. */
#define LIMIT_FD_RESERVE 32
/* Below this many connections per worker the daemon refuses to start:
 * RLIMIT_NOFILE is too low to serve anyone. */
#define LIMIT_CONNS_MIN 8
/* Certificates (leaf, key, chain) kept in the SNI cache. Each costs about
 * 6.5 KiB resident (bench/policy-serving: +6.5 MB for 1000 names), so
 * 10,000 keep a node hosting 100,000 domains near 120 MB; names beyond
 * this are reloaded from disk on demand (about 1.5 ms). */
#define LIMIT_TLS_CACHE_ENTRIES 10000
/* Seconds a failure to load a name's certificate is remembered: within
 * them handshakes for the name fail at once, without reading files or
 * logging again. A certificate the ACME client obtains is served at once
 * (it clears the entry); an operator's new file (certificates = files)
 * within this many seconds. */
#define LIMIT_TLS_RETRY_SECONDS 5

/* --- the dashboard (src/web) ---------------------------------------- */

/* A rendered page: the overview shows a page of domains, the domain page
 * a year of days at most; 8 MiB is far past either, and stops a bug or a
 * huge store from building pages without end. */
#define LIMIT_WEB_PAGE_BYTES (8 * 1024 * 1024)
/* A dashboard session lasts this long after login (then log in again). */
#define LIMIT_SESSION_SECONDS (12 * 3600)
/* Failed logins: after this many in the window for an account, its
 * logins wait for the window to end; after LIMIT_LOGIN_FAILURES_CLIENT
 * from one client address (IPv6 per /64; higher, since an office shares
 * one), every login from there waits. Argon2id makes each guess cost
 * 64 MiB and ~0.1 s of a pool thread anyway. */
#define LIMIT_LOGIN_FAILURES 5
#define LIMIT_LOGIN_FAILURES_CLIENT 20
#define LIMIT_LOGIN_WINDOW_SECONDS 900
/* Argon2id password checks running at once in the daemon; a login that
 * finds them all busy is 503 with Retry-After: 1. */
#define LIMIT_LOGIN_CONCURRENT 1
/* A form posted to the dashboard (login, policy editor): small; a body
 * past it is refused from the head (413), and so is any body that comes
 * with neither a cookie nor an Authorization header (nobody could be
 * allowed to send it), before a byte of it is buffered. */
#define LIMIT_WEB_FORM_BYTES (16 * 1024)

/* --- the policy-fetch log (fetchlog.h) -------------------------------- */

/* Anyone can fetch any hosted policy with any User-Agent from any
 * address, so what the fetch log keeps is bounded, not what it sees. */
/* Domain-days one worker counts between two flushes: each slot is about
 * 1.4 KiB (its HyperLogLog and agents), two tables per worker (one
 * counting, one being written), so 4096 slots cost at most 12 MiB per
 * worker, touched only as used. Fetches of further domains until the
 * next flush are counted as dropped and logged. */
#define LIMIT_FETCH_SLOTS 4096
/* Distinct User-Agents one slot keeps between flushes; further ones are
 * counted as "other". Senders use one or two each. */
#define LIMIT_FETCH_SLOT_AGENTS 8
/* Bytes of a User-Agent kept (longer ones are cut): enough for the MTA's
 * name and version. */
#define LIMIT_FETCH_AGENT_LEN 96
/* Distinct User-Agents stored per domain and day: a heavier new one
 * takes the place of the lightest, whose fetches go to "other"
 * (store_fetch_add). The views show the first ten. */
#define LIMIT_FETCH_DAY_AGENTS 32
/* Seconds between flushes of a worker's counts to the store (on a pool
 * thread, never on the loop). */
#define LIMIT_FETCH_FLUSH_SECONDS 5
/* Days of fetch roll-ups kept: a year and a month, so that a year's
 * chart always has its first month. */
#define LIMIT_FETCH_RETENTION_DAYS 400

/* --- the checker (src/check/; what the domains it checks send) ------- */

/* MX records probed per domain: real domains list a handful; a zone
 * listing hundreds must not turn one check into hundreds of probes. */
#define LIMIT_CHECK_MX 32
/* CNAME steps followed by hand when reporting a chain; resolvers give up
 * near 8-16 too, and a longer chain is an error in itself. */
#define LIMIT_CHECK_CNAME_CHAIN 8
/* Name servers of a domain asked directly (and one address of each):
 * registries allow up to 13; the first eight show a broken delegation
 * as well as all would, at a bounded cost per check. */
#define LIMIT_CHECK_NS 8
/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
#define LIMIT_CHECK_SMTP_LINE 512
/* One reply (a multi-line EHLO answer included): servers advertise a
 * dozen extensions; 64 lines of 512 bytes is plenty and bounds what a
 * hostile MX can make us buffer. */
#define LIMIT_CHECK_SMTP_LINES 64
/* Domains one `check` reads with --file: a bulk run of a provider's
 * domains, not an unbounded stream held in memory. */
#define LIMIT_CHECK_DOMAINS 100000

/* --- mx templates (share/mx-templates.txt, policy_template.c) -------- */

/* The table is the operator's own file or the built-in one, not
 * anonymous input, but a typo (a binary file given by mistake) must be
 * refused with a reason rather than read whole: a few dozen providers
 * fit in a few KiB. */
#define LIMIT_TEMPLATE_BYTES (64 * 1024)
/* Lines of the table (comments included), and template lines in it. */
#define LIMIT_TEMPLATE_LINES 2048
#define LIMIT_TEMPLATE_ENTRIES 512
/* Bytes of one line: four fields, the longest a URL. */
#define LIMIT_TEMPLATE_LINE 1024
/* Patterns one template gives (Google's older set needs three). */
#define LIMIT_TEMPLATE_PATTERNS 8
/* A provider's name ([a-z0-9-]) and its documentation URL. */
#define LIMIT_TEMPLATE_NAME 32
#define LIMIT_TEMPLATE_URL 512

/* --- the monitor (check_monitor.c) ------------------------------------ */

/* Domains one monitor round takes from the store: a round is a few
 * minutes of checks at most, so that a stop or an interval change is
 * seen soon; the next round takes the next ones. */
#define LIMIT_MONITOR_ROUND 64
/* Alerts one check may raise: one per (kind, subject); a domain with
 * LIMIT_CHECK_MX broken MX hosts and its records stays under it. */
#define LIMIT_MONITOR_ALERTS 64
/* Alerts kept per domain, newest first: what the dashboard shows; older
 * ones go (the latest per (subject, kind) is what the cool-down needs,
 * and an alert older than a cool-down no longer decides anything). */
#define LIMIT_ALERTS_PER_DOMAIN 100
/* Webhook tries per alert (one a round) before it is given up: a
 * receiver down for days should not get a week-old flood. */
#define LIMIT_ALERT_TRIES 24
/* Alerts sent to the webhook per round: a backlog drains over rounds. */
#define LIMIT_ALERT_SEND_ROUND 256
/* Domains a tenant's weekly digest names one by one: a mail to read, not
 * a report of a provider's 100,000 domains (the rest are counted, and
 * the dashboard has them all). */
#define LIMIT_DIGEST_DOMAINS 200
/* The webhook's POST, connection and answer: a slow receiver must not
 * stall the monitor. */
#define LIMIT_ALERT_WEBHOOK_TIMEOUT_S 10

/* --- sealed keys (seal.c), rows another node stored ------------------- */

/* A sealed secret's plain text: a PEM private key is a few hundred
 * bytes; 64 KiB bounds a damaged or hostile row of the shared store. */
#define LIMIT_SEAL_PLAIN (64 * 1024)
/* A store_key_file: 32 bytes, or 64 hex digits and a line break; a
 * larger file is not a key (a certificate given by mistake). */
#define LIMIT_SEAL_KEY_FILE 4096
/* Challenges in progress one sync mirrors from the store: one per order
 * running on some node, a few at a time. */
#define LIMIT_CLUSTER_CHALLENGES 64

#endif
