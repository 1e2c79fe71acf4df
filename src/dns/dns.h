/*
 * dns.h - stsguard and the DNS: the records a customer publishes once for
 * a hosted domain (built here, and only here, for the CLI, and later the
 * API and DNS UPDATE), and the one resolver (libunbound) that everything
 * asking the DNS uses: DKIM keys and the checker (src/check/); the
 * monitor next; and the publisher of the delegated mode (dns_update.c,
 * RFC 2136 DNS UPDATE signed with TSIG).
 */
#ifndef STSGUARD_DNS_H
#define STSGUARD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/strv.h"

#define DNS_TTL 3600		/* seconds, of the records we suggest */

/* One record, without the trailing dots of zone-file syntax. */
struct dns_rr {
	char		 name[LIMIT_DNAME_LEN + 16];	/* "mta-sts.example.com" */
	const char	*type;				/* "CNAME" or "TXT" */
	char		 value[2 * LIMIT_DNAME_LEN + 192];
};

/* What the owner of a hosted domain publishes, and the intake points
 * the _smtp._tls record names. Self-published (no operator zone):
 *
 *	mta-sts.D     CNAME  <service_host>
 *	_mta-sts.D    TXT    "v=STSv1; id=<policy id>;"
 *	_smtp._tls.D  TXT    "v=TLSRPTv1; rua=mailto:<intake address>,<intake URL>"
 *
 * Delegated (the setting dns_zone, RFC 8461 §8.2): the owner publishes
 * three CNAMEs once and stsguard keeps the TXT records in the operator's
 * zone Z, by DNS UPDATE or a zone-file export:
 *
 *	mta-sts.D     CNAME  <service_host>
 *	_mta-sts.D    CNAME  D._mta-sts.Z       kept: TXT "v=STSv1; id=...;"
 *	_smtp._tls.D  CNAME  D._smtp._tls.Z     kept: TXT "v=TLSRPTv1; ..."
 *
 * The owner names under Z keep the labels a reader knows from the
 * customer's side, prefixed by the whole domain, so that every domain
 * has its own names and a name says whose record it is.
 *
 * The mailto: URI comes first because some senders use only the first
 * rua URI, and mail is the route every sender supports. */
struct dns_records {
	struct dns_rr	 rr[3];		/* what the owner publishes, in the
					 * order above */
	struct dns_rr	 kept[2];	/* delegated: the TXT records at
					 * the CNAMEs' targets */
	size_t		 nkept;		/* 2 delegated, else 0 */
	char		 intake_url[LIMIT_DNAME_LEN + 64];	/* https://<service_host>/tlsrpt/<token> */
	char		 intake_addr[LIMIT_DNAME_LEN + 64];	/* tlsrpt+<token>@<service_host> */
};

/* Fills out for domain (A-label, lower case) with its policy id and
 * intake token, served by service_host (normalized); zone (normalized,
 * the setting dns_zone) for the delegated mode, NULL or "" for the
 * owner publishing the TXT records. Pure. A name under zone longer than
 * a DNS name may be (253 bytes) is cut here; DNS UPDATE refuses it. */
void	dns_records(const char *domain, const char *policy_id,
	    const char *token, const char *service_host, const char *zone,
	    struct dns_records *out);

/* The setting dns_zone (NULL: unset) normalized into out, "" when
 * unset. The zone must leave room under it for the owner names above
 * (a domain of LIMIT_DNS_ZONE_ROOM bytes). Returns 0, or -1 with the
 * reason ("dns_zone 'x': ..."). Pure. */
int	dns_zone_parse(const char *setting, char out[LIMIT_DNAME_LEN + 1],
	    struct err *e);

/* What the owner publishes now that a change took the domain's policy
 * id from old_id to new_id: the _mta-sts TXT with the new id, or
 * nothing when the id did not change, or when stsguard keeps that TXT
 * itself (delegated: the setting dns_zone is set; the owner published
 * CNAMEs into the operator's zone, RFC 8461 §8.2, and DNS UPDATE
 * follows every change). Until senders see the new id they keep the policy they
 * hold for up to its max_age. Returns how many records went to out
 * (0 or 1). Pure. */
size_t	dns_publish_now(const char *domain, const char *old_id,
	    const char *new_id, bool delegated, struct dns_rr *out);

/* --- the publisher: DNS UPDATE with TSIG (dns_update.c) ------------- */

/* A TSIG key (RFC 8945), as the setting dns_tsig_key's file gives it. */
struct dns_tsig {
	char	alg[32];			/* "hmac-sha256." */
	char	name[LIMIT_DNAME_LEN + 2];	/* with the final dot */
	char	secret[LIMIT_TSIG_SECRET_BYTES * 4 / 3 + 8];	/* base64 */
};

/* Pure: reads "ALGORITHM:NAME:BASE64SECRET" (one line, as dig -y takes
 * it; a final line end is fine) from text[0..len) into out. Returns 0,
 * or -1 with what is wrong (the secret is never quoted). */
int	dns_tsig_parse(const char *text, size_t len, struct dns_tsig *out,
	    struct err *e);

/* dns_tsig_parse of the file at path (at most LIMIT_TSIG_FILE_BYTES).
 * Returns 0, or -1 with the reason naming the file. */
int	dns_tsig_load(const char *path, struct dns_tsig *out, struct err *e);

/* One UPDATE message, signed. */
struct dns_update_msg {
	uint8_t	*wire;		/* owned: dns_update_msg_free */
	size_t	 len;
	uint16_t id;
	uint8_t	 mac[2 + 64];	/* the request's MAC as ldns keeps it
				 * (length, bytes), to check the answer */
	size_t	 mac_len;
};

/* Pure but for the clock (TSIG's time signed): the UPDATE for zone
 * that replaces, for each of the n TXT records in txt (1 to
 * 2 * LIMIT_DNS_UPDATE_DOMAINS; names under zone), the TXT RRset at its
 * name by that one record (a record of type NULL: only the delete, for
 * a name that goes); message id id, signed with key. Returns 0
 * and out (caller calls dns_update_msg_free), or -1 with the reason
 * (a name outside the zone or too long, a TXT over LIMIT_TXT_BYTES). */
int	dns_update_build(const char *zone, const struct dns_rr *txt, size_t n,
	    uint16_t id, const struct dns_tsig *key, struct dns_update_msg *out,
	    struct err *e);
void	dns_update_msg_free(struct dns_update_msg *m);

/* Pure: checks the server's answer ans[0..len) to m: our id, rcode
 * NOERROR and the answer's TSIG signature by key. Returns 0, or -1 with
 * the reason ("refused: NOTAUTH (...), TSIG error BADSIG (...)"). */
int	dns_update_check_answer(const struct dns_update_msg *m,
	    const uint8_t *ans, size_t len, const struct dns_tsig *key,
	    struct err *e);

/* Pure: 0 when spec is IP[:PORT] as dns_update_send takes it, else -1
 * with the reason. */
int	dns_update_server_check(const char *spec, struct err *e);

/* Sends the n TXT records of txt to server ("IP[:PORT]", port 53 when
 * none; the setting dns_update_server) over TCP, in messages of at most
 * LIMIT_DNS_UPDATE_DOMAINS domains, each answer checked. Blocks up to
 * DNS_TIMEOUT_MS a message: never call it on a worker's event loop.
 * Returns 0 when every message was applied, or -1 with the server's
 * reason at the first that was not (earlier messages stay applied). */
int	dns_update_send(const char *server, const struct dns_tsig *key,
	    const char *zone, const struct dns_rr *txt, size_t n,
	    struct err *e);

/* --- what to send: the store's domains (dns_publish.c) --------------- */

struct store;
struct dns_publisher;

/* A publisher for the settings dns_zone, dns_update_server (IP[:PORT])
 * and dns_tsig_key (a file, read now) and service_host (normalized).
 * Returns 0 and *out (dns_publisher_free), or -1 with the reason (a
 * setting unset or wrong, the key file). */
int	dns_publisher_new(const char *zone, const char *server,
	    const char *key_path, const char *service_host,
	    struct dns_publisher **out, struct err *e);
void	dns_publisher_free(struct dns_publisher *p);

/* Sends the kept TXT records (dns_records) of the hosted domains named
 * in names (NULL or none: every domain that serves a policy) now, and
 * says in *sent how many domains went. Blocks (dns_update_send).
 * Returns 0, or -1 with the reason (a name not hosted, the server's
 * answer). */
int	dns_publisher_push(struct dns_publisher *p, struct store *s,
	    const struct strv *names, size_t *sent, struct err *e);

/* Sends the records of the domains whose id or token changed since the
 * last successful sync of p (every domain at the first), and remembers
 * them on success; after a failure the next sync sends them again.
 * served_version: the store's domains_version (masked to int64) of the
 * policy table being served; when the store moved past it (a change
 * not served yet), nothing is sent and 1 returned (-1 in
 * served_version: no such check). *sent: how many domains went.
 * Returns 0, 1, or -1 with the reason. */
int	dns_publisher_sync(struct dns_publisher *p, struct store *s,
	    int64_t served_version, size_t *sent, struct err *e);

/* --- the resolver (dns_resolve.c) ------------------------------------ */

/* Seconds a lookup may take before it counts as failed: a sender's
 * report waits for its DKIM key on a pool thread, and the pool must not
 * be held by a DNS server that does not answer. */
#define DNS_TIMEOUT_MS 5000

struct dns_resolver;
struct conf;

/* What every resolver is made with: the settings `nameserver` and
 * `dnssec_trust_anchor`, read together by dns_conf_get so that the
 * daemon, the monitor and the CLI make the same resolver. Borrowed
 * strings. */
struct dns_conf {
	const char	*nameserver;	/* "IP", "IP:PORT", "[V6]:PORT", or
					 * NULL: /etc/resolv.conf */
	const char	*trust_anchor;	/* a file of DS or DNSKEY records
					 * (zone-file format), or NULL: no
					 * DNSSEC validation */
};

/* The two settings of c (borrowed until c changes); "" counts as
 * unset. */
struct dns_conf dns_conf_get(const struct conf *c);

/* A resolver asking dc->nameserver when given, else the servers of
 * /etc/resolv.conf, validating DNSSEC below the keys of
 * dc->trust_anchor when given. One per thread (it is not shared).
 * Returns 0 and *out, or -1 with the reason (a bad nameserver, an
 * anchor file that cannot be read or that libunbound refuses). */
int	dns_resolver_new(const struct dns_conf *dc, struct dns_resolver **out,
	    struct err *e);
void	dns_resolver_free(struct dns_resolver *r);

enum dns_answer {
	DNS_FOUND = 0,		/* records in out */
	DNS_NONE = 1,		/* the name or the type does not exist */
	DNS_FAILED = -1,	/* no answer (timeout, SERVFAIL, a bogus
				 * DNSSEC answer, ...): e says */
};

/* What DNSSEC said of an answer (libunbound's secure and bogus flags). */
enum dns_sec {
	DNS_SEC_NONE = 0,	/* no answer came (timeout, SERVFAIL) */
	DNS_SEC_UNCHECKED,	/* the resolver has no trust anchor */
	DNS_SEC_INSECURE,	/* no signed chain leads there (unsigned) */
	DNS_SEC_SECURE,		/* signed, and validated up to an anchor */
	DNS_SEC_BOGUS,		/* signed, but validation failed: the
				 * lookup gave DNS_FAILED, never the data */
};

/* The DNSSEC status of the answer to r's last lookup (dns_addrs: its
 * AAAA one), and for DNS_SEC_BOGUS libunbound's reason in *why
 * (borrowed until r's next lookup; "" for the others). why may be
 * NULL. */
enum dns_sec dns_last_sec(const struct dns_resolver *r, const char **why);

/* The TXT records of name, each one's strings joined, appended to out.
 * Returns an enum dns_answer. */
int	dns_txt(struct dns_resolver *r, const char *name, struct strv *out,
	    struct err *e);

/* A DNS type the checker asks for by number (RFC 6698: TLSA is 52). */
#define DNS_TYPE_TLSA 52

/* One MX record (RFC 1035 §3.3.9). */
struct dns_mx {
	uint16_t pref;				/* lower is preferred */
	char	 host[LIMIT_DNAME_LEN + 1];	/* lower case, no final dot */
};

/* The MX records of name, at most cap of them into out, sorted by
 * preference then name; *n says how many. Returns an enum dns_answer. */
int	dns_mx(struct dns_resolver *r, const char *name, struct dns_mx *out,
	    size_t cap, size_t *n, struct err *e);

/* The target of the CNAME at name (just that one step) into target.
 * Returns DNS_FOUND, DNS_NONE when name holds no CNAME, or DNS_FAILED. */
int	dns_cname(struct dns_resolver *r, const char *name,
	    char target[LIMIT_DNAME_LEN + 1], struct err *e);

/* The A, then AAAA, addresses of name (CNAMEs followed) as text, appended
 * to out. Returns DNS_FOUND when there was at least one. */
int	dns_addrs(struct dns_resolver *r, const char *name, struct strv *out,
	    struct err *e);

/* How many records of type name holds, in *n. Returns an enum
 * dns_answer. */
int	dns_count(struct dns_resolver *r, const char *name, int type,
	    size_t *n, struct err *e);

/* Pure: decodes a name in wire form from p[0..len) (no compression) into
 * out, lower case, without the final dot, and how many bytes it took in
 * *used (may be NULL). Only letters, digits, '-' and '_' are accepted in
 * labels. Returns 0, or -1 with the reason in e. */
int	dns_rdata_name(const uint8_t *p, size_t len, size_t *used,
	    char out[LIMIT_DNAME_LEN + 1], struct err *e);

/* Pure: decodes MX rdata (preference, name) of exactly len bytes.
 * Returns 0 or -1 with the reason. */
int	dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *mx,
	    struct err *e);

/* The NS records of name (the names of its name servers, lower case, no
 * final dot), appended to out. Returns an enum dns_answer. */
int	dns_ns(struct dns_resolver *r, const char *name, struct strv *out,
	    struct err *e);

/* --- asking one name server directly (dns_resolve.c) ----------------- */

/* What one server said to "zone SOA?" asked without recursion. */
struct dns_probe {
	bool	 answered;	/* a reply to our query came */
	int	 rcode;		/* RFC 1035 §4.1.1: 0 NOERROR, 2 SERVFAIL,
				 * 3 NXDOMAIN, 5 REFUSED */
	bool	 aa;		/* Authoritative Answer bit */
	long	 ms;		/* from sending to the reply (or the
				 * error), milliseconds */
	char	 error[128];	/* why there is no answer: "" if answered */
};

/* Sends one UDP query (RD clear) for zone's SOA to addr (IPv4 or IPv6
 * text) port 53 (port: the `nameserver` setting's, for tests; 0 means
 * 53) and waits up to timeout_ms for the reply. Never fails: what went
 * wrong is in out->error. Blocks the calling thread (the checker's). */
void	dns_probe_soa(const char *addr, unsigned port, const char *zone,
	    int timeout_ms, struct dns_probe *out);

/* Pure: reads the header of a reply to query id (RFC 1035 §4.1.1) from
 * p[0..len) into out (rcode, aa). Returns 0, or -1 with the reason
 * (short, not a reply, another id, truncated). */
int	dns_probe_reply(const uint8_t *p, size_t len, uint16_t id,
	    struct dns_probe *out, struct err *e);

#endif
