/*
 * dns_resolve.c - the one resolver (dns.h), over libunbound.
 *
 *	dns_resolver_new(nameserver, trust anchor) -> a context forwarding
 *	    to it (or to resolv.conf's servers), validating DNSSEC below
 *	    the anchor; queries run asynchronously in the context's own
 *	    thread, so that we can stop waiting after DNS_TIMEOUT_MS
 *	dns_last_sec -> secure, insecure, not validated or bogus: the
 *	    last answer's DNSSEC status
 *	dns_txt(name) -> TXT rdata, each record's <character-string>s joined
 *	dns_mx, dns_cname, dns_addrs, dns_count, dns_ns -> the checker's
 *	    lookups
 *	dns_probe_soa -> one name server asked directly (lame, slow)
 *
 * rdata of MX and CNAME holds a name in wire form (RFC 1035 §3.1),
 * which libunbound hands over uncompressed:
 *
 *	name  = *label 0x00        label = len(1..63) 1*len(octet)
 *	MX    = preference(2 octets, big-endian) name
 *
 * dns_rdata_name() reads one, refusing compression pointers, labels
 * running past the rdata and bytes that no host name has.
 *
 * A context is for one thread: the daemon's pool threads have one each.
 * Never follows anything but what libunbound does (CNAMEs).
 *
 * DNSSEC: with the setting dnssec_trust_anchor (a file of DS or DNSKEY
 * records, read by libunbound itself: ub_ctx_add_ta_file) every answer
 * is validated below those keys; each lookup leaves its status for
 * dns_last_sec, and a bogus answer is never handed over as data: the
 * lookup fails, saying why. The anchor may be a zone's own key (a test
 * zone under test., a private zone): no chain from the root is needed
 * below it. Without an anchor nothing is validated.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "../lib/conf.h"
#include "../lib/limits.h"
#include "dns.h"

#define DNS_TYPE_A	1
#define DNS_TYPE_NS	2
#define DNS_TYPE_CNAME	5
#define DNS_TYPE_MX	15
#define DNS_TYPE_TXT	16
#define DNS_TYPE_AAAA	28
#define DNS_CLASS_IN	1

struct dns_resolver {
	struct ub_ctx	*ctx;
	bool		 anchored;	/* a trust anchor was given */
	enum dns_sec	 sec;		/* of the last answer */
	char		 why[320];	/* why it was bogus, or "" */
};

struct dns_conf
dns_conf_get(const struct conf *c)
{
	struct dns_conf dc = { conf_get(c, CONF_NAMESERVER),
	    conf_get(c, CONF_DNSSEC_TRUST_ANCHOR) };

	if (dc.nameserver != NULL && *dc.nameserver == '\0')
		dc.nameserver = NULL;
	if (dc.trust_anchor != NULL && *dc.trust_anchor == '\0')
		dc.trust_anchor = NULL;
	return dc;
}

/* libunbound's error text; its "initialization failure" with an anchor
 * is nearly always the anchor file (libunbound logs the line on
 * stderr). */
static const char *
dns_ub_strerror(const struct dns_resolver *r, int rc)
{
	if (rc == UB_INITFAIL && r->anchored)
		return "initialization failure: the dnssec_trust_anchor file "
		    "is not DS or DNSKEY records in zone-file format";
	return ub_strerror(rc);
}

/* "IP", "IP:PORT", "[V6]", "[V6]:PORT" -> "IP@PORT" for libunbound. */
static int
dns_fwd_spec(const char *ns, char *out, size_t cap, struct err *e)
{
	const char *port = NULL, *end;
	size_t n;

	if (ns[0] == '[') {
		if ((end = strchr(ns, ']')) == NULL)
			return err_set(e, "nameserver '%s': no ']'", ns);
		n = (size_t)(end - ns - 1);
		ns++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return err_set(e, "nameserver '%s': expected IP[:PORT]",
			    ns - 1);
	} else if ((end = strchr(ns, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		n = (size_t)(end - ns);	/* one colon: IPv4:PORT */
		port = end + 1;
	} else {
		n = strlen(ns);		/* an IPv4, or a bare IPv6 */
	}
	if (port != NULL && (*port == '\0' || strspn(port, "0123456789") !=
	    strlen(port) || strlen(port) > 5))
		return err_set(e, "nameserver '%s': bad port", ns);
	if (snprintf(out, cap, "%.*s%s%s", (int)n, ns, port ? "@" : "",
	    port ? port : "") >= (int)cap)
		return err_set(e, "nameserver '%s': too long", ns);
	return 0;
}

int
dns_resolver_new(const struct dns_conf *dc, struct dns_resolver **out,
    struct err *e)
{
	const char *nameserver = dc->nameserver, *ta = dc->trust_anchor;
	struct dns_resolver *r;
	char fwd[128];
	FILE *f;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ctx = ub_ctx_create()) == NULL) {
		free(r);
		return err_set(e, "resolver: out of memory");
	}
	/* Queries in a thread of the context, never a fork of ours. */
	if ((rc = ub_ctx_async(r->ctx, 1)) != 0)
		goto ub_fail;
	/* The anchor before anything that finalizes the context (a zone
	 * added below does): libunbound refuses it after. It reads the
	 * file later, at its first use; a file it cannot parse fails
	 * that, so a missing one is said here, by name. */
	if (ta != NULL && *ta != '\0') {
		if ((f = fopen(ta, "r")) == NULL) {
			err_set(e, "dnssec_trust_anchor %s: %s", ta,
			    strerror(errno));
			dns_resolver_free(r);
			return -1;
		}
		fclose(f);
		if ((rc = ub_ctx_add_ta_file(r->ctx, ta)) != 0)
			goto ub_fail;
		r->anchored = true;
	}
	if (nameserver != NULL && *nameserver != '\0') {
		if (dns_fwd_spec(nameserver, fwd, sizeof(fwd), e) == -1) {
			dns_resolver_free(r);
			return -1;
		}
		/* A given nameserver answers for everything: also on
		 * loopback (which unbound skips by default), also for the
		 * names RFC 6761 reserves for tests (which unbound answers
		 * itself, with NXDOMAIN). */
		if ((rc = ub_ctx_set_option(r->ctx, "do-not-query-localhost:",
		    "no")) != 0 || (rc = ub_ctx_set_fwd(r->ctx, fwd)) != 0 ||
		    (rc = ub_ctx_zone_add(r->ctx, "test.", "nodefault")) != 0 ||
		    (rc = ub_ctx_zone_add(r->ctx, "invalid.", "nodefault")) != 0)
			goto ub_fail;
	} else if ((rc = ub_ctx_resolvconf(r->ctx, NULL)) != 0) {
		goto ub_fail;
	}
	*out = r;
	return 0;
ub_fail:
	err_set(e, "resolver: %s", dns_ub_strerror(r, rc));
	dns_resolver_free(r);
	return -1;
}

void
dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return;
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	free(r);
}

/* What an async query left for us. */
struct dns_query {
	bool		 done;
	int		 err;
	struct ub_result *res;
};

static void
dns_done(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;

	q->done = true;
	q->err = err;
	q->res = res;
}

static long
dns_ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Appends the strings of one TXT rdata (length-prefixed) as one. */
static int
dns_txt_rdata(const unsigned char *p, size_t len, struct strv *out)
{
	char buf[LIMIT_TXT_BYTES + 1];
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t n = p[i++];

		if (n > len - i || o + n > LIMIT_TXT_BYTES)
			return -1;
		memcpy(buf + o, p + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	return strv_pushn(out, buf, o);
}

/* Asks for (name, type) and waits at most DNS_TIMEOUT_MS. Returns
 * DNS_FOUND with *res (caller calls ub_resolve_free), DNS_NONE (NXDOMAIN
 * or NODATA) or DNS_FAILED, with the reason in e for both. */
static int
dns_ask(struct dns_resolver *r, const char *name, int type,
    struct ub_result **res, struct err *e)
{
	struct dns_query q = { false, 0, NULL };
	long deadline = dns_ms_now() + DNS_TIMEOUT_MS;
	int async_id, rc;

	*res = NULL;
	r->sec = DNS_SEC_NONE;
	r->why[0] = '\0';
	if ((rc = ub_resolve_async(r->ctx, name, type, DNS_CLASS_IN,
	    &q, dns_done, &async_id)) != 0)
		return err_set(e, "%s: %s", name, dns_ub_strerror(r, rc)),
		    DNS_FAILED;
	while (!q.done) {
		struct pollfd p = { ub_fd(r->ctx), POLLIN, 0 };
		long left = deadline - dns_ms_now();

		if (left <= 0) {
			ub_cancel(r->ctx, async_id);
			return err_set(e, "%s: no answer within %d ms", name,
			    DNS_TIMEOUT_MS), DNS_FAILED;
		}
		if (poll(&p, 1, (int)left) == -1 && errno != EINTR)
			return err_set(e, "%s: poll: %s", name,
			    strerror(errno)), DNS_FAILED;
		if ((rc = ub_process(r->ctx)) != 0)
			return err_set(e, "%s: %s", name, ub_strerror(rc)),
			    DNS_FAILED;
	}
	if (q.err != 0) {
		err_set(e, "%s: %s", name, dns_ub_strerror(r, q.err));
		return DNS_FAILED;
	}
	/* libunbound hands a bogus answer over with its data: never
	 * ours to use. */
	if (q.res->bogus) {
		r->sec = DNS_SEC_BOGUS;
		snprintf(r->why, sizeof(r->why), "%s", q.res->why_bogus ?
		    q.res->why_bogus : "validation failed");
		err_set(e, "%s: DNSSEC bogus: %s", name, r->why);
		ub_resolve_free(q.res);
		return DNS_FAILED;
	}
	r->sec = !r->anchored ? DNS_SEC_UNCHECKED : q.res->secure ?
	    DNS_SEC_SECURE : DNS_SEC_INSECURE;
	if (q.res->havedata) {
		*res = q.res;
		return DNS_FOUND;
	}
	if (q.res->nxdomain || q.res->rcode == 0) {
		err_set(e, "%s: %s", name, q.res->nxdomain ? "no such name" :
		    "no record of that type");
		rc = DNS_NONE;
	} else {
		err_set(e, "%s: rcode %d", name, q.res->rcode);
		r->sec = DNS_SEC_NONE;	/* no answer to judge */
		rc = DNS_FAILED;
	}
	ub_resolve_free(q.res);
	return rc;
}

enum dns_sec
dns_last_sec(const struct dns_resolver *r, const char **why)
{
	if (why != NULL)
		*why = r->why;
	return r->sec;
}

int
dns_txt(struct dns_resolver *r, const char *name, struct strv *out,
    struct err *e)
{
	struct ub_result *res;
	int rc;

	if ((rc = dns_ask(r, name, DNS_TYPE_TXT, &res, e)) != DNS_FOUND)
		return rc;
	for (int i = 0; res->data[i] != NULL; i++)
		if (dns_txt_rdata((const unsigned char *)res->data[i],
		    (size_t)res->len[i], out) == -1) {
			rc = DNS_FAILED;
			err_set(e, "%s: a TXT record too long or corrupt", name);
			break;
		}
	ub_resolve_free(res);
	return rc;
}

int
dns_rdata_name(const uint8_t *p, size_t len, size_t *used,
    char out[LIMIT_DNAME_LEN + 1], struct err *e)
{
	size_t i = 0, o = 0;

	out[0] = '\0';
	for (;;) {
		size_t n;

		if (i >= len)
			return err_set(e, "name: cut short at byte %zu", i);
		if ((n = p[i++]) == 0)
			break;
		if (n > LIMIT_LABEL_LEN)
			return err_set(e, "name: label of %zu bytes (a "
			    "compression pointer or over 63)", n);
		if (n > len - i)
			return err_set(e, "name: label runs past the "
			    "record (byte %zu)", i);
		if (o + (o ? 1 : 0) + n > LIMIT_DNAME_LEN)
			return err_set(e, "name: longer than %d characters",
			    LIMIT_DNAME_LEN);
		if (o)
			out[o++] = '.';
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = p[i + k];

			/* Host names only: letters, digits, '-', '_'. */
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' &&
			    ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			    ch == '-' || ch == '_'))
				return err_set(e, "name: byte 0x%02x in a "
				    "label", ch);
			out[o++] = (char)(ch >= 'A' && ch <= 'Z' ?
			    ch + 32 : ch);
		}
		i += n;
	}
	out[o] = '\0';
	if (used != NULL)
		*used = i;
	return 0;
}

int
dns_rdata_mx(const uint8_t *p, size_t len, struct dns_mx *mx,
    struct err *e)
{
	size_t used;

	if (len < 3)
		return err_set(e, "MX: %zu bytes, at least 3 needed", len);
	mx->pref = (uint16_t)(p[0] << 8 | p[1]);
	if (dns_rdata_name(p + 2, len - 2, &used, mx->host, e) == -1)
		return err_prefix(e, "MX: "), -1;
	if (used != len - 2)
		return err_set(e, "MX: %zu bytes after the name", len - 2 -
		    used);
	return 0;
}

static int
dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->host, y->host);
}

int
dns_mx(struct dns_resolver *r, const char *name, struct dns_mx *out,
    size_t cap, size_t *n, struct err *e)
{
	struct ub_result *res;
	int rc;

	*n = 0;
	if ((rc = dns_ask(r, name, DNS_TYPE_MX, &res, e)) != DNS_FOUND)
		return rc;
	for (int i = 0; res->data[i] != NULL && *n < cap; i++) {
		if (dns_rdata_mx((const uint8_t *)res->data[i],
		    (size_t)res->len[i], &out[*n], e) == -1) {
			err_prefix(e, "%s: ", name);
			rc = DNS_FAILED;
			break;
		}
		(*n)++;
	}
	ub_resolve_free(res);
	if (rc == DNS_FOUND)
		qsort(out, *n, sizeof(*out), dns_mx_cmp);
	return rc;
}

int
dns_cname(struct dns_resolver *r, const char *name,
    char target[LIMIT_DNAME_LEN + 1], struct err *e)
{
	struct ub_result *res;
	int rc;

	target[0] = '\0';
	if ((rc = dns_ask(r, name, DNS_TYPE_CNAME, &res, e)) != DNS_FOUND)
		return rc;
	if (dns_rdata_name((const uint8_t *)res->data[0],
	    (size_t)res->len[0], NULL, target, e) == -1) {
		err_prefix(e, "%s: CNAME ", name);
		rc = DNS_FAILED;
	}
	ub_resolve_free(res);
	return rc;
}

int
dns_addrs(struct dns_resolver *r, const char *name, struct strv *out,
    struct err *e)
{
	static const int types[2] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	struct err e2;
	int rc = DNS_NONE;

	for (size_t t = 0; t < 2; t++) {
		struct ub_result *res;
		int one = dns_ask(r, name, types[t], &res, &e2);

		if (one == DNS_FAILED) {
			*e = e2;
			return DNS_FAILED;
		}
		if (one == DNS_NONE)
			continue;
		for (int i = 0; res->data[i] != NULL; i++) {
			char text[INET6_ADDRSTRLEN];
			int af = types[t] == DNS_TYPE_A ? AF_INET : AF_INET6;

			if (res->len[i] != (af == AF_INET ? 4 : 16) ||
			    inet_ntop(af, res->data[i], text,
			    sizeof(text)) == NULL)
				continue;
			if (strv_push(out, text) == -1) {
				ub_resolve_free(res);
				return err_set(e, "out of memory"), DNS_FAILED;
			}
		}
		ub_resolve_free(res);
		rc = DNS_FOUND;
	}
	if (rc == DNS_NONE)
		err_set(e, "%s: no address (A or AAAA)", name);
	return rc;
}

int
dns_count(struct dns_resolver *r, const char *name, int type, size_t *n,
    struct err *e)
{
	struct ub_result *res;
	int rc;

	*n = 0;
	if ((rc = dns_ask(r, name, type, &res, e)) != DNS_FOUND)
		return rc;
	while (res->data[*n] != NULL)
		(*n)++;
	ub_resolve_free(res);
	return rc;
}

int
dns_ns(struct dns_resolver *r, const char *name, struct strv *out,
    struct err *e)
{
	struct ub_result *res;
	char host[LIMIT_DNAME_LEN + 1];
	int rc;

	if ((rc = dns_ask(r, name, DNS_TYPE_NS, &res, e)) != DNS_FOUND)
		return rc;
	for (int i = 0; res->data[i] != NULL; i++) {
		if (dns_rdata_name((const uint8_t *)res->data[i],
		    (size_t)res->len[i], NULL, host, e) == -1) {
			err_prefix(e, "%s: NS ", name);
			rc = DNS_FAILED;
			break;
		}
		if (strv_push(out, host) == -1) {
			err_set(e, "out of memory");
			rc = DNS_FAILED;
			break;
		}
	}
	ub_resolve_free(res);
	return rc;
}

/* --- asking one server ------------------------------------------------
 *
 * The checker asks each name server of a domain itself, because a
 * resolver hides which server was lame or slow:
 *
 *	query = header(id, flags 0: QUERY, RD clear, 1 question) qname
 *	    QTYPE=SOA(6) QCLASS=IN(1)
 *	reply header = id(2) flags(2: QR bit 15, AA bit 10, TC bit 9,
 *	    RCODE bits 0-3) counts(8)
 *
 * Only the header of the reply is read (dns_probe_reply): whether the
 * server answered, with authority, and how. */

int
dns_probe_reply(const uint8_t *p, size_t len, uint16_t id,
    struct dns_probe *out, struct err *e)
{
	unsigned flags;

	if (len < 12)
		return err_set(e, "a reply of %zu bytes (under 12)", len);
	if ((unsigned)(p[0] << 8 | p[1]) != id)
		return err_set(e, "a reply to another query (id)");
	flags = (unsigned)(p[2] << 8 | p[3]);
	if (!(flags & 0x8000))
		return err_set(e, "a query, not a reply");
	out->answered = true;
	out->aa = (flags & 0x0400) != 0;
	out->rcode = (int)(flags & 0x000f);
	return 0;
}

void
dns_probe_soa(const char *addr, unsigned port, const char *zone,
    int timeout_ms, struct dns_probe *out)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	uint8_t q[LIMIT_DNAME_LEN + 32], buf[512];
	socklen_t sl;
	size_t qn = 12;
	uint16_t id;
	long start = dns_ms_now(), left;
	struct err e;
	int fd = -1;

	memset(out, 0, sizeof(*out));
	if (port == 0)
		port = 53;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		snprintf(out->error, sizeof(out->error), "not an address");
		return;
	}
	/* The query: header, then zone label by label. */
	id = (uint16_t)(((unsigned)start * 2654435761u) >> 16 ^
	    (unsigned)getpid());
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[5] = 1;				/* QDCOUNT */
	for (const char *l = zone; *l != '\0'; ) {
		const char *dot = strchr(l, '.');
		size_t n = dot ? (size_t)(dot - l) : strlen(l);

		if (n == 0 || n > 63 || qn + n + 6 > sizeof(q)) {
			snprintf(out->error, sizeof(out->error), "bad zone "
			    "name");
			return;
		}
		q[qn++] = (uint8_t)n;
		memcpy(q + qn, l, n);
		qn += n;
		l += n + (dot != NULL);
	}
	q[qn++] = 0;
	q[qn++] = 0, q[qn++] = 6;		/* SOA */
	q[qn++] = 0, q[qn++] = 1;		/* IN */
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    send(fd, q, qn, 0) != (ssize_t)qn) {
		snprintf(out->error, sizeof(out->error), "%s",
		    strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t got;

		left = timeout_ms - (dns_ms_now() - start);
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			snprintf(out->error, sizeof(out->error), "no answer "
			    "within %d ms", timeout_ms);
			break;
		}
		if ((got = recv(fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(out->error, sizeof(out->error), "%s",
			    errno == ECONNREFUSED ? "port 53 closed (ICMP "
			    "unreachable)" : strerror(errno));
			break;
		}
		if (dns_probe_reply(buf, (size_t)got, id, out, &e) == 0)
			break;
		/* Another datagram (a stray, a forgery): keep waiting. */
	}
out:
	out->ms = dns_ms_now() - start;
	if (fd != -1)
		close(fd);
}
