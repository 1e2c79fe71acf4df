/*
 * dns_resolve.c - the one resolver (dns.h), over libunbound.
 *
 *	dns_resolver_new(nameserver) -> a context forwarding to it (or to
 *	    resolv.conf's servers); queries run asynchronously in the
 *	    context's own thread, so that we can stop waiting after
 *	    DNS_TIMEOUT_MS
 *	dns_txt(name) -> TXT rdata, each record's <character-string>s joined
 *
 * A context is for one thread: the daemon's pool threads have one each.
 * Never follows anything but what libunbound does (CNAMEs); DNSSEC is
 * not validated (no trust anchor is configured) yet.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "../lib/limits.h"
#include "dns.h"

#define DNS_TYPE_TXT	16
#define DNS_CLASS_IN	1

struct dns_resolver {
	struct ub_ctx	*ctx;
};

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
dns_resolver_new(const char *nameserver, struct dns_resolver **out,
    struct err *e)
{
	struct dns_resolver *r;
	char fwd[128];
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
	err_set(e, "resolver: %s", ub_strerror(rc));
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

int
dns_txt(struct dns_resolver *r, const char *name, struct strv *out,
    struct err *e)
{
	struct dns_query q = { false, 0, NULL };
	long deadline = dns_ms_now() + DNS_TIMEOUT_MS;
	int async_id, rc;

	if ((rc = ub_resolve_async(r->ctx, name, DNS_TYPE_TXT, DNS_CLASS_IN,
	    &q, dns_done, &async_id)) != 0)
		return err_set(e, "%s: %s", name, ub_strerror(rc)), DNS_FAILED;
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
		rc = DNS_FAILED;
		err_set(e, "%s: %s", name, ub_strerror(q.err));
	} else if (q.res->havedata) {
		rc = DNS_FOUND;
		for (int i = 0; q.res->data[i] != NULL; i++)
			if (dns_txt_rdata((const unsigned char *)q.res->data[i],
			    (size_t)q.res->len[i], out) == -1) {
				rc = DNS_FAILED;
				err_set(e, "%s: a TXT record too long or "
				    "corrupt", name);
				break;
			}
	} else if (q.res->nxdomain || q.res->rcode == 0) {
		rc = DNS_NONE;
		err_set(e, "%s: %s", name, q.res->nxdomain ? "no such name" :
		    "no TXT record");
	} else {
		rc = DNS_FAILED;
		err_set(e, "%s: rcode %d", name, q.res->rcode);
	}
	ub_resolve_free(q.res);
	return rc;
}
