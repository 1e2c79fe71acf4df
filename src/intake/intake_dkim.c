/*
 * intake_dkim.c - is a report mail signed by its reporter? (RFC 8460 §3:
 * a report sent by mail carries a DKIM signature, RFC 6376, of the
 * reporting domain, without l=; unsigned ones are to be ignored.)
 *
 *	message --libopendkim--> signatures, each checked against its key
 *	key     <-- intake_key_lookup (the daemon: the one resolver, dns.h)
 *	verified = some signature passes, has no l=, and its d= is one of
 *	           the aligned domains or a parent of one (the
 *	           TLS-Report-Submitter header's domain, the reports'
 *	           contact-info domains)
 *
 * The verification is libopendkim's (Debian's libopendkim, the library
 * of OpenDKIM, maintained and used by mail systems for years): we only
 * feed it the message, hand it keys and read its verdict. Never does I/O
 * itself (the key lookup is the caller's), never logs.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendkim/dkim.h>

#include "../tlsrpt/tlsrpt.h"

#include "intake.h"

static pthread_once_t intake_dkim_once = PTHREAD_ONCE_INIT;
static DKIM_LIB *intake_dkim_lib;

/* What one verification lends the key lookup callback. */
struct intake_dkim_ctx {
	intake_key_lookup fn;
	void		*arg;
	char		 domain[LIMIT_DNAME_LEN + 1];	/* whose key was
							 * looked up last */
};

static DKIM_CBSTAT
intake_dkim_key(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct intake_dkim_ctx *c = dkim_get_user_context(dkim);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	char name[512];

	if (c == NULL || sel == NULL || dom == NULL ||
	    (size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", sel,
	    dom) >= sizeof(name))
		return DKIM_CBSTAT_ERROR;
	snprintf(c->domain, sizeof(c->domain), "%s", dom);
	switch (c->fn(c->arg, name, (char *)buf, buflen)) {
	case 0:
		return DKIM_CBSTAT_CONTINUE;
	case 1:
		return DKIM_CBSTAT_NOTFOUND;
	default:
		return DKIM_CBSTAT_TRYAGAIN;
	}
}

static void
intake_dkim_init(void)
{
	if ((intake_dkim_lib = dkim_init(NULL, NULL)) == NULL)
		return;
	(void)dkim_set_key_lookup(intake_dkim_lib, intake_dkim_key);
}

/* The message with every bare LF made CRLF (a new buffer, *outlen its
 * bytes; NULL when out of memory). Messages by SMTP come with CRLF, .eml
 * files often without. libopendkim's own fixing (DKIM_LIBFLAGS_FIXCRLF)
 * is not used: on a message that starts with a bare LF it fails an
 * assertion in dkim_header and aborts the whole process (fuzz_dkim
 * found it; seed regress-leading-bare-lf), so the library is given CRLF
 * only. */
static uint8_t *
intake_dkim_crlf(const uint8_t *msg, size_t len, size_t *outlen)
{
	size_t bare = 0, k = 0;
	uint8_t *out;

	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			bare++;
	if ((out = malloc(len + bare + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			out[k++] = '\r';
		out[k++] = msg[i];
	}
	*outlen = k;
	return out;
}

/* True when d (a signature's domain) is x or a parent of x. */
static bool
intake_dkim_covers(const char *d, const char *x)
{
	size_t nd = strlen(d), nx = strlen(x);

	if (nd == 0 || nd > nx)
		return false;
	if (strcasecmp(d, x + nx - nd) != 0)
		return false;
	return nd == nx || x[nx - nd - 1] == '.';
}

static bool
intake_dkim_aligned(const char *d, const char *const *aligned, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (aligned[i] != NULL && intake_dkim_covers(d, aligned[i]))
			return true;
	return false;
}

/* How close a failed signature came, to report the best reason: an
 * aligned one that failed says more than an unaligned one that
 * passed. */
enum { RANK_OTHER, RANK_UNALIGNED, RANK_KEY, RANK_BAD, RANK_LTAG };

void
intake_dkim_verify(const uint8_t *msg, size_t len,
    const char *const *aligned, size_t naligned, intake_key_lookup fn,
    void *arg, struct intake_dkim *out)
{
	struct intake_dkim_ctx ctx = { fn, arg, "" };
	DKIM_SIGINFO **sigs = NULL;
	DKIM *d = NULL;
	DKIM_STAT st;
	int nsigs = 0, best = -1;
	uint8_t *crlf = NULL;
	size_t crlflen;

	memset(out, 0, sizeof(*out));
	snprintf(out->reason, sizeof(out->reason), "no signature");
	pthread_once(&intake_dkim_once, intake_dkim_init);
	if (intake_dkim_lib == NULL) {
		snprintf(out->reason, sizeof(out->reason), "DKIM library "
		    "unavailable");
		return;
	}
	if ((d = dkim_verify(intake_dkim_lib, (const u_char *)"stsguard",
	    NULL, &st)) == NULL) {
		snprintf(out->reason, sizeof(out->reason), "DKIM: %s",
		    dkim_getresultstr(st));
		return;
	}
	dkim_set_user_context(d, &ctx);
	if ((crlf = intake_dkim_crlf(msg, len, &crlflen)) == NULL) {
		snprintf(out->reason, sizeof(out->reason), "DKIM: out of "
		    "memory");
		dkim_free(d);
		return;
	}
	st = dkim_chunk(d, crlf, crlflen);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_CBTRYAGAIN || st == DKIM_STAT_KEYFAIL ||
	    st == DKIM_STAT_CANTVRFY || st == DKIM_STAT_CBERROR) {
		/* The key could not be looked up: say so, for the domain
		 * whose key it was. */
		memcpy(out->domain, ctx.domain, sizeof(out->domain));
		snprintf(out->reason, sizeof(out->reason), "key not found "
		    "(d=%s): the lookup failed", out->domain);
		dkim_free(d);
		free(crlf);
		return;
	}
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (int i = 0; i < nsigs; i++) {
		DKIM_SIGINFO *s = sigs[i];
		const char *dom = (const char *)dkim_sig_getdomain(s);
		int err = dkim_sig_geterror(s), rank;
		bool passed = (dkim_sig_getflags(s) & DKIM_SIGFLAG_PASSED) &&
		    dkim_sig_getbh(s) == DKIM_SIGBH_MATCH;
		bool ltag = dkim_sig_gettagvalue(s, false, (u_char *)"l") !=
		    NULL;
		char why[sizeof(out->reason)];

		if (dom == NULL)
			dom = "";
		if (passed && !ltag && intake_dkim_aligned(dom, aligned,
		    naligned)) {
			out->verified = true;
			snprintf(out->domain, sizeof(out->domain), "%s", dom);
			out->reason[0] = '\0';
			break;
		}
		if (ltag) {
			rank = RANK_LTAG;
			snprintf(why, sizeof(why), "l= used (d=%s)", dom);
		} else if (passed) {
			rank = RANK_UNALIGNED;
			snprintf(why, sizeof(why), "domain not aligned (d=%s)",
			    dom);
		} else if (err == DKIM_SIGERROR_NOKEY) {
			rank = RANK_KEY;
			snprintf(why, sizeof(why), "key not found (d=%s)", dom);
		} else if (err == DKIM_SIGERROR_KEYFAIL) {
			rank = RANK_KEY;
			snprintf(why, sizeof(why), "key not found (d=%s): the "
			    "lookup failed", dom);
		} else if (dkim_sig_getbh(s) == DKIM_SIGBH_MISMATCH) {
			rank = RANK_BAD;
			snprintf(why, sizeof(why), "bad signature: body hash "
			    "mismatch (d=%s)", dom);
		} else if (err == DKIM_SIGERROR_BADSIG ||
		    err == DKIM_SIGERROR_OK) {
			rank = RANK_BAD;
			snprintf(why, sizeof(why), "bad signature (d=%s)", dom);
		} else {
			rank = RANK_OTHER;
			snprintf(why, sizeof(why), "bad signature: %s (d=%s)",
			    dkim_sig_geterrorstr(err), dom);
		}
		/* An aligned signature's reason comes first. */
		if (intake_dkim_aligned(dom, aligned, naligned))
			rank += 10;
		if (rank > best) {
			best = rank;
			memcpy(out->reason, why, sizeof(out->reason));
			snprintf(out->domain, sizeof(out->domain), "%s", dom);
		}
	}
	dkim_free(d);
	free(crlf);
}

/* The domain of a contact-info (RFC 8460 §4.4: an e-mail address, a
 * mailto: or https: URI) into out, lower case, or "". */
static void
intake_contact_domain(const char *ci, char out[LIMIT_DNAME_LEN + 1])
{
	const char *p = ci != NULL ? strrchr(ci, '@') : NULL;
	size_t n = 0;

	out[0] = '\0';
	if (p != NULL)
		p++;
	else if (ci != NULL && (p = strstr(ci, "://")) != NULL)
		p += 3;
	else
		return;
	while (p[n] != '\0' && n < LIMIT_DNAME_LEN &&
	    (isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-')) {
		out[n] = (char)tolower((unsigned char)p[n]);
		n++;
	}
	out[n] = '\0';
}

void
intake_dkim_message(const struct intake_parts *parts, const uint8_t *msg,
    size_t len, intake_key_lookup fn, void *arg, struct intake_dkim *out)
{
	char contact[LIMIT_MIME_REPORTS][LIMIT_DNAME_LEN + 1];
	const char *aligned[LIMIT_MIME_REPORTS + 1];
	size_t n = 0;

	if (parts->report_submitter[0] != '\0')
		aligned[n++] = parts->report_submitter;
	for (size_t i = 0; i < parts->n && i < LIMIT_MIME_REPORTS; i++) {
		if (parts->p[i].r == NULL)
			continue;
		intake_contact_domain(parts->p[i].r->contact_info, contact[i]);
		if (contact[i][0] != '\0')
			aligned[n++] = contact[i];
	}
	intake_dkim_verify(msg, len, aligned, n, fn, arg, out);
}
