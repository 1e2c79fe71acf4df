/*
 * mime_report.c - finding TLS-RPT reports in e-mail messages with GMime 3.
 *
 * What it reads (RFC 8460 §5.3, RFC 5322, RFC 2045-2049), and what real
 * reporters send instead (corpus MANIFEST quirks 12-15):
 *
 *   message    = headers CRLF body            ; LF alone is accepted too
 *   body       = multipart / single-part
 *   multipart  = preamble *(delimiter part) [close-delimiter]
 *                ; close-delimiter missing: Mail.ru; read to the end
 *   part       = headers CRLF (multipart / message/rfc822 / leaf)
 *   leaf       = application/tlsrpt[+gzip|+json]   -> a report (rule 1)
 *              / any type, filename *.json[.gz]    -> a report (rule 2)
 *              / text/plain, text/html, ...        -> ignored
 *   single-part body starting with 1f 8b or '{'    -> a report (rule 3)
 *
 * Envelope-independent facts are read from the top-level header: From's
 * domain, Subject, Message-ID and whether a DKIM-Signature with a d= of
 * the From domain (or a parent) is present.
 *
 * What it never does: verify DKIM, parse or validate the report itself
 * (tlsrpt_parse does), parse dates (the RFC 8460 example's Date is not
 * RFC 5322; quirk 15), touch files or sockets, or keep state between
 * calls. GMime's parser recurses once per nested container and has no
 * depth limit, so containers are counted in the raw bytes first.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mime.h"

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void
mime_init_once(void)
{
	g_mime_init();
}

void
mime_init(void)
{
	pthread_once(&mime_once, mime_init_once);
}

const char *
mime_source_name(enum mime_source src)
{
	switch (src) {
	case MIME_SRC_TLSRPT_PART:
		return "tlsrpt-part";
	case MIME_SRC_ATTACHMENT:
		return "attachment";
	case MIME_SRC_BODY:
		return "body";
	}
	return "unknown";
}

void
mime_message_free(struct mime_message *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nreports; i++) {
		free(m->reports[i].data);
		free(m->reports[i].content_type);
		free(m->reports[i].filename);
	}
	free(m->reports);
	free(m->from_domain);
	free(m->subject);
	free(m->message_id);
	free(m->report_domain);
	free(m->report_submitter);
	free(m);
}

/* Case-insensitive search for needle (lower case) in buf. */
static const uint8_t *
mime_memcasemem(const uint8_t *buf, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++) {
		size_t j = 0;

		while (j < n && tolower(buf[i + j]) == needle[j])
			j++;
		if (j == n)
			return buf + i;
	}
	return NULL;
}

/* Counts "Content-Type:" headers (anywhere: a part's header is only known
 * once parsed) whose value starts with multipart/ or message/. Text that
 * merely mentions such a header overcounts, which only makes us stricter
 * on a message nobody would send as a report. */
static size_t
mime_count_containers(const uint8_t *buf, size_t len)
{
	static const char ct[] = "content-type:";
	const uint8_t *p = buf, *end = buf + len, *hit;
	size_t count = 0;

	while ((hit = mime_memcasemem(p, (size_t)(end - p), ct)) != NULL) {
		p = hit + sizeof(ct) - 1;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		if ((size_t)(end - p) >= 10 &&
		    strncasecmp((const char *)p, "multipart/", 10) == 0)
			count++;
		else if ((size_t)(end - p) >= 8 &&
		    strncasecmp((const char *)p, "message/", 8) == 0)
			count++;
	}
	return count;
}

static bool
mime_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static char *
mime_strdup_lower(const char *s)
{
	char *d;

	if (s == NULL || (d = strdup(s)) == NULL)
		return NULL;
	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* What the walk collects: parts are borrowed from the GMime tree. */
struct mime_walk {
	GMimePart *tlsrpt[LIMIT_MIME_REPORTS];
	size_t	   ntlsrpt;
	GMimePart *named[LIMIT_MIME_REPORTS];
	size_t	   nnamed;
	unsigned   nparts;
};

static bool
mime_is_tlsrpt_type(GMimeContentType *ct)
{
	const char *type, *sub;

	if (ct == NULL)
		return false;
	type = g_mime_content_type_get_media_type(ct);
	sub = g_mime_content_type_get_media_subtype(ct);
	if (type == NULL || sub == NULL || strcasecmp(type, "application"))
		return false;
	return strcasecmp(sub, "tlsrpt") == 0 ||
	    strncasecmp(sub, "tlsrpt+", 7) == 0;
}

static int
mime_walk(GMimeObject *obj, unsigned depth, struct mime_walk *w,
    struct err *e)
{
	GMimePart *part;
	const char *name;

	if (obj == NULL)
		return 0;
	if (depth > LIMIT_MIME_CONTAINERS)
		return err_set(e, "MIME nesting deeper than %d levels",
		    LIMIT_MIME_CONTAINERS);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n; i++)
			if (mime_walk(g_mime_multipart_get_part(mp, i),
			    depth + 1, w, e) == -1)
				return -1;
		return 0;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));

		if (inner == NULL)
			return 0;
		return mime_walk(g_mime_message_get_mime_part(inner),
		    depth + 1, w, e);
	}
	if (++w->nparts > LIMIT_MIME_PARTS)
		return err_set(e, "more than %d MIME parts", LIMIT_MIME_PARTS);
	if (!GMIME_IS_PART(obj))
		return 0;	/* message/partial and the like */
	part = GMIME_PART(obj);
	name = g_mime_part_get_filename(part);
	if (mime_is_tlsrpt_type(g_mime_object_get_content_type(obj))) {
		if (w->ntlsrpt == LIMIT_MIME_REPORTS)
			return err_set(e, "more than %d application/tlsrpt "
			    "parts", LIMIT_MIME_REPORTS);
		w->tlsrpt[w->ntlsrpt++] = part;
	} else if (name != NULL && (mime_ends_with(name, ".json") ||
	    mime_ends_with(name, ".json.gz"))) {
		if (w->nnamed == LIMIT_MIME_REPORTS)
			return err_set(e, "more than %d *.json(.gz) "
			    "attachments", LIMIT_MIME_REPORTS);
		w->named[w->nnamed++] = part;
	}
	return 0;
}

/* Decodes part's content (base64, quoted-printable, ...) into a new
 * malloc'ed buffer. Returns 0 or -1 with a reason. */
static int
mime_decode(GMimePart *part, uint8_t **data, size_t *len, struct err *e)
{
	GMimeDataWrapper *wrapper;
	GMimeStream *mem = NULL;
	GByteArray *bytes;
	int rc = -1;

	*data = NULL;
	*len = 0;
	if ((wrapper = g_mime_part_get_content(part)) == NULL) {
		err_set(e, "empty part");
		goto out;
	}
	mem = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(wrapper, mem) < 0) {
		err_set(e, "cannot decode the part's content");
		goto out;
	}
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (bytes == NULL || bytes->len == 0) {
		err_set(e, "empty part");
		goto out;
	}
	if (bytes->len > LIMIT_REPORT_BYTES) {
		err_set(e, "report of %u bytes exceeds %d", bytes->len,
		    LIMIT_REPORT_BYTES);
		goto out;
	}
	if ((*data = malloc(bytes->len)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	memcpy(*data, bytes->data, bytes->len);
	*len = bytes->len;
	rc = 0;
out:
	if (mem != NULL)
		g_object_unref(mem);
	return rc;
}

static bool
mime_looks_like_report(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
		return true;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
	    buf[i] == '\n'))
		i++;
	return i < len && buf[i] == '{';
}

/* Appends the decoded content of part to m->reports. */
static int
mime_add_report(struct mime_message *m, GMimePart *part,
    enum mime_source src, const uint8_t *data, size_t len, struct err *e)
{
	struct mime_report *r = &m->reports[m->nreports];
	GMimeContentType *ct;
	const char *name;
	char *type;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (data != NULL) {
		if ((r->data = malloc(len)) == NULL) {
			err_set(e, "out of memory");
			goto out;
		}
		memcpy(r->data, data, len);
		r->len = len;
	} else if (mime_decode(part, &r->data, &r->len, e) == -1) {
		goto out;
	}
	ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
	r->content_type = mime_strdup_lower(type != NULL ? type :
	    "text/plain");
	g_free(type);
	name = g_mime_part_get_filename(part);
	if (r->content_type == NULL ||
	    (name != NULL && (r->filename = strdup(name)) == NULL)) {
		err_set(e, "out of memory");
		goto out;
	}
	r->source = src;
	rc = 0;
out:
	if (rc == 0) {
		m->nreports++;
	} else {
		free(r->data);
		free(r->content_type);
		free(r->filename);
		memset(r, 0, sizeof(*r));
	}
	return rc;
}

/* The d= tag of a DKIM-Signature value (RFC 6376 §3.2 tag-list), lower
 * case, white space removed, into buf. Returns true when found. */
static bool
mime_dkim_domain(const char *v, char *buf, size_t size)
{
	const char *p = v;

	while (*p != '\0') {
		const char *tag, *val, *end;
		size_t n = 0;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		tag = p;
		while (*p != '\0' && *p != '=' && *p != ';')
			p++;
		if (*p != '=') {
			if (*p == ';')
				p++;
			continue;
		}
		end = p;
		while (end > tag && isspace((unsigned char)end[-1]))
			end--;
		val = ++p;
		while (*p != '\0' && *p != ';')
			p++;
		if (end - tag == 1 && (*tag == 'd' || *tag == 'D')) {
			for (const char *q = val; q < p; q++) {
				if (isspace((unsigned char)*q))
					continue;
				if (n + 1 >= size)
					return false;
				buf[n++] = (char)tolower((unsigned char)*q);
			}
			buf[n] = '\0';
			return n > 0;
		}
		if (*p == ';')
			p++;
	}
	return false;
}

/* True when d is from or a parent domain of from ("google.com" for
 * "mail.google.com"). A bare top-level d= ("com") never counts. */
static bool
mime_domain_covers(const char *d, const char *from)
{
	size_t nd = strlen(d), nf = strlen(from);

	if (strchr(d, '.') == NULL)
		return false;
	if (nd == nf)
		return strcmp(d, from) == 0;
	return nf > nd && from[nf - nd - 1] == '.' &&
	    strcmp(from + nf - nd, d) == 0;
}

/* A header value that should be a domain name: blanks trimmed, lower
 * case, at most LIMIT_DNAME_LEN letters, digits, '-' and '.'; NULL
 * otherwise (errno ENOMEM when out of memory, else 0). */
static char *
mime_header_domain(const char *v)
{
	size_t n;

	errno = 0;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' ||
	    v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n > 0 && v[n - 1] == '.')
		n--;
	if (n == 0 || n > LIMIT_DNAME_LEN ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-.") < n)
		return NULL;
	{
		char *d = strndup(v, n);

		if (d == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		for (size_t i = 0; i < n; i++)
			if (d[i] >= 'A' && d[i] <= 'Z')
				d[i] = (char)(d[i] - 'A' + 'a');
		return d;
	}
}

static int
mime_read_headers(GMimeMessage *msg, struct mime_message *m, struct err *e)
{
	InternetAddressList *from = g_mime_message_get_from(msg);
	GMimeHeaderList *hl;
	const char *s;
	char d[LIMIT_DNAME_LEN + 2];
	int n;

	n = from != NULL ? internet_address_list_length(from) : 0;
	for (int i = 0; i < n && m->from_domain == NULL; i++) {
		InternetAddress *ia = internet_address_list_get_address(from,
		    i);
		const char *addr, *at;

		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		addr = internet_address_mailbox_get_addr(
		    INTERNET_ADDRESS_MAILBOX(ia));
		if (addr == NULL || (at = strrchr(addr, '@')) == NULL ||
		    at[1] == '\0')
			continue;
		if ((m->from_domain = mime_strdup_lower(at + 1)) == NULL)
			return err_set(e, "out of memory");
	}
	if ((s = g_mime_message_get_subject(msg)) != NULL &&
	    (m->subject = strdup(s)) == NULL)
		return err_set(e, "out of memory");
	if ((s = g_mime_message_get_message_id(msg)) != NULL &&
	    (m->message_id = strdup(s)) == NULL)
		return err_set(e, "out of memory");
	/* RFC 8460 §5.3; the value is a domain name, kept only when it
	 * fits one (a reporter's string, not trusted for anything but
	 * display and the DKIM alignment). */
	if ((s = g_mime_object_get_header(GMIME_OBJECT(msg),
	    "TLS-Report-Domain")) != NULL && (m->report_domain =
	    mime_header_domain(s)) == NULL && errno == ENOMEM)
		return err_set(e, "out of memory");
	if ((s = g_mime_object_get_header(GMIME_OBJECT(msg),
	    "TLS-Report-Submitter")) != NULL && (m->report_submitter =
	    mime_header_domain(s)) == NULL && errno == ENOMEM)
		return err_set(e, "out of memory");
	if (m->from_domain == NULL)
		return 0;
	hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < n && !m->dkim_present; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *v = g_mime_header_get_value(h);

		if (name == NULL || v == NULL ||
		    strcasecmp(name, "DKIM-Signature") != 0)
			continue;
		if (mime_dkim_domain(v, d, sizeof(d)) &&
		    mime_domain_covers(d, m->from_domain))
			m->dkim_present = true;
	}
	return 0;
}

int
mime_report_extract(const uint8_t *buf, size_t len,
    struct mime_message **out, struct err *e)
{
	struct mime_message *m = NULL;
	struct mime_walk w;
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;
	GMimeObject *top;
	uint8_t *body = NULL;
	size_t bodylen = 0;
	struct err de;
	int rc = -1;

	*out = NULL;
	memset(&w, 0, sizeof(w));
	mime_init();
	if (len == 0) {
		err_set(e, "empty message");
		goto out;
	}
	if (len > LIMIT_SMTP_MESSAGE_BYTES) {
		err_set(e, "message of %zu bytes exceeds %d", len,
		    LIMIT_SMTP_MESSAGE_BYTES);
		goto out;
	}
	if (mime_count_containers(buf, len) > LIMIT_MIME_CONTAINERS) {
		err_set(e, "more than %d multipart/ or message/ containers",
		    LIMIT_MIME_CONTAINERS);
		goto out;
	}
	stream = g_mime_stream_mem_new_with_buffer((const char *)buf, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	if ((msg = g_mime_parser_construct_message(parser, NULL)) == NULL) {
		err_set(e, "not an RFC 5322 message (no header block)");
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->reports = calloc(LIMIT_MIME_REPORTS,
	    sizeof(*m->reports))) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	if (mime_read_headers(msg, m, e) == -1)
		goto out;
	top = g_mime_message_get_mime_part(msg);
	if (mime_walk(top, 0, &w, e) == -1)
		goto out;
	m->nparts = w.nparts;
	for (size_t i = 0; i < w.ntlsrpt; i++)
		if (mime_add_report(m, w.tlsrpt[i], MIME_SRC_TLSRPT_PART, NULL,
		    0, e) == -1) {
			err_prefix(e, "application/tlsrpt part %zu of %zu: ",
			    i + 1, w.ntlsrpt);
			goto out;
		}
	for (size_t i = 0; w.ntlsrpt == 0 && i < w.nnamed; i++)
		if (mime_add_report(m, w.named[i], MIME_SRC_ATTACHMENT, NULL,
		    0, e) == -1) {
			err_prefix(e, "attachment %s: ",
			    g_mime_part_get_filename(w.named[i]));
			goto out;
		}
	if (m->nreports == 0 && top != NULL && GMIME_IS_PART(top) &&
	    mime_decode(GMIME_PART(top), &body, &bodylen, &de) == 0 &&
	    mime_looks_like_report(body, bodylen) &&
	    mime_add_report(m, GMIME_PART(top), MIME_SRC_BODY, body, bodylen,
	    e) == -1)
		goto out;
	if (m->nreports == 0) {
		err_set(e, "no application/tlsrpt part or *.json(.gz) "
		    "attachment in %u MIME part%s%s", w.nparts,
		    w.nparts == 1 ? "" : "s", w.nparts == 1 ?
		    ", and the body is neither gzip nor JSON" : "");
		goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	free(body);
	mime_message_free(m);
	if (msg != NULL)
		g_object_unref(msg);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	return rc;
}
