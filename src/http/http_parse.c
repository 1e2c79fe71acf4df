/*
 * http_parse.c - the HTTP/1.1 request head parser (RFC 9112 §2-§7).
 *
 *	request-head  = request-line *( field-line EOL ) EOL
 *	request-line  = method SP request-target SP HTTP-version EOL
 *	method        = token
 *	HTTP-version  = "HTTP/1." DIGIT
 *	field-line    = field-name ":" OWS field-value OWS
 *	EOL           = CRLF / LF          (bare LF tolerated, §2.2)
 *
 * Limits are checked before anything else is looked at: a head that does
 * not end within LIMIT_HTTP_HEADER_BYTES is a 431 even when incomplete,
 * so a client cannot make us buffer more. Never allocates, never copies:
 * the request points into the caller's buffer. Bodies are not read here.
 */
#include <string.h>
#include <time.h>

#include "http.h"

/* RFC 9110 §5.6.2 tchar (http.h). */
const unsigned char http_tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static bool
http_ieq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* Finds the end of the line starting at p (before end): returns the
 * position of the LF, or NULL. */
static const char *
http_eol(const char *p, const char *end)
{
	return memchr(p, '\n', (size_t)(end - p));
}

/* Target bytes: visible ASCII only (RFC 3986 characters and '%'). */
static bool
http_target_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

/* Field values: VCHAR, obs-text, SP and HTAB; no other control bytes. */
static bool
http_value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Connection: a comma-separated list of tokens. */
static void
http_connection(struct http_request *r, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (http_ieq(v + s, e - s, "close"))
			r->keep_alive = false;
		else if (http_ieq(v + s, e - s, "keep-alive") && r->minor == 0)
			r->keep_alive = true;
	}
}

/* Splits an absolute-form target "http://host[:port]/path" into host and
 * path. Returns 0 or -1. */
static int
http_absolute(struct http_request *r)
{
	const char *t = r->target, *end = t + r->target_len, *p, *slash;

	if (r->target_len > 7 && http_ieq(t, 7, "http://"))
		p = t + 7;
	else if (r->target_len > 8 && http_ieq(t, 8, "https://"))
		p = t + 8;
	else
		return -1;
	slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL)
		slash = end;
	if (slash == p || memchr(p, '@', (size_t)(slash - p)) != NULL)
		return -1;
	r->host = p;
	r->host_len = (size_t)(slash - p);
	r->path = slash == end ? "/" : slash;
	r->path_len = slash == end ? 1 : (size_t)(end - slash);
	return 0;
}

enum http_parse
http_parse_request(const char *buf, size_t len, struct http_request *r,
    int *status)
{
	const char *end, *p, *eol, *line_end, *sp1, *sp2, *q;
	const char *hdr_end = NULL;
	size_t scan = len < LIMIT_HTTP_HEADER_BYTES ? len :
	    LIMIT_HTTP_HEADER_BYTES;
	bool seen_host = false, seen_cl = false, seen_te = false;
	unsigned nfields = 0;

	memset(r, 0, sizeof(*r));
	*status = 400;

	/* RFC 9112 §2.2: ignore at least one empty line before a request. */
	p = buf;
	end = buf + scan;
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;

	/* The request line, within its own limit. */
	/* The limit counts the line without its end, CRLF or LF alike; an
	 * unfinished line is over it once it cannot end in time (a CR
	 * just past the limit may still be the start of its CRLF). */
	if ((eol = http_eol(p, end)) == NULL) {
		size_t n = (size_t)(end - p);

		if (n > LIMIT_HTTP_REQUEST_LINE && !(n ==
		    LIMIT_HTTP_REQUEST_LINE + 1 && p[n - 1] == '\r')) {
			*status = 414;
			return HTTP_PARSE_ERROR;
		}
		if (len >= LIMIT_HTTP_HEADER_BYTES) {
			*status = 431;
			return HTTP_PARSE_ERROR;
		}
		return HTTP_PARSE_MORE;
	}
	if ((size_t)(eol - p) - (eol > p && eol[-1] == '\r') >
	    LIMIT_HTTP_REQUEST_LINE) {
		*status = 414;
		return HTTP_PARSE_ERROR;
	}
	/* The whole head must end within the limit: find the blank line. */
	for (q = eol; q != NULL; q = http_eol(q + 1, end)) {
		if (q + 1 < end && q[1] == '\n') {
			hdr_end = q + 2;
			break;
		}
		if (q + 2 < end && q[1] == '\r' && q[2] == '\n') {
			hdr_end = q + 3;
			break;
		}
	}
	if (hdr_end == NULL) {
		if (len >= LIMIT_HTTP_HEADER_BYTES) {
			*status = 431;
			return HTTP_PARSE_ERROR;
		}
		return HTTP_PARSE_MORE;
	}

	line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	if ((sp1 = memchr(p, ' ', (size_t)(line_end - p))) == NULL ||
	    sp1 == p)
		return HTTP_PARSE_ERROR;
	for (q = p; q < sp1; q++)
		if (!http_tchar[(unsigned char)*q])
			return HTTP_PARSE_ERROR;
	r->method_str = p;
	r->method_len = (size_t)(sp1 - p);
	if (r->method_len == 3 && memcmp(p, "GET", 3) == 0)
		r->method = HTTP_GET;
	else if (r->method_len == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = HTTP_HEAD;
	else if (r->method_len == 4 && memcmp(p, "POST", 4) == 0)
		r->method = HTTP_POST;
	else if (r->method_len == 5 && memcmp(p, "PATCH", 5) == 0)
		r->method = HTTP_PATCH;
	else if (r->method_len == 6 && memcmp(p, "DELETE", 6) == 0)
		r->method = HTTP_DELETE;
	else
		r->method = HTTP_OTHER;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return HTTP_PARSE_ERROR;
	r->target = sp1 + 1;
	r->target_len = (size_t)(sp2 - r->target);
	if (!http_target_ok(r->target, r->target_len))
		return HTTP_PARSE_ERROR;
	q = sp2 + 1;
	if (line_end - q != 8 || memcmp(q, "HTTP/", 5) != 0 ||
	    q[5] < '0' || q[5] > '9' || q[6] != '.' || q[7] < '0' ||
	    q[7] > '9')
		return HTTP_PARSE_ERROR;
	if (q[5] != '1') {
		*status = 505;
		return HTTP_PARSE_ERROR;
	}
	r->minor = (unsigned)(q[7] - '0') > 1 ? 1 : (unsigned)(q[7] - '0');
	r->keep_alive = r->minor >= 1;

	/* Target forms (RFC 9112 §3.2). */
	if (r->target[0] == '/') {
		r->path = r->target;
		r->path_len = r->target_len;
	} else if (r->target_len == 1 && r->target[0] == '*') {
		if (!(r->method_len == 7 && memcmp(r->method_str, "OPTIONS",
		    7) == 0))
			return HTTP_PARSE_ERROR;
		r->path = r->target;
		r->path_len = 1;
	} else if (http_absolute(r) == -1) {
		return HTTP_PARSE_ERROR;
	}
	if ((q = memchr(r->path, '?', r->path_len)) != NULL)
		r->path_len = (size_t)(q - r->path);

	/* Header fields. */
	for (p = eol + 1; p < hdr_end; p = eol + 1) {
		const char *colon, *v, *ve;
		size_t nlen, vlen;

		eol = http_eol(p, hdr_end);
		line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (line_end == p)
			break;				/* the blank line */
		if (++nfields > LIMIT_HTTP_HEADERS) {
			*status = 431;
			return HTTP_PARSE_ERROR;
		}
		if (*p == ' ' || *p == '\t')		/* obs-fold */
			return HTTP_PARSE_ERROR;
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon == NULL || colon == p)
			return HTTP_PARSE_ERROR;
		for (q = p; q < colon; q++)
			if (!http_tchar[(unsigned char)*q])
				return HTTP_PARSE_ERROR;
		nlen = (size_t)(colon - p);
		v = colon + 1;
		ve = line_end;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		vlen = (size_t)(ve - v);
		if (!http_value_ok(v, vlen))
			return HTTP_PARSE_ERROR;

		switch (nlen) {
		case 6:
			/* RFC 9110 §10.1.1: the only expectation defined. */
			if (http_ieq(p, nlen, "expect") &&
			    http_ieq(v, vlen, "100-continue")) {
				r->expect_continue = true;
			} else if (http_ieq(p, nlen, "cookie")) {
				if (r->cookie == NULL) {	/* one kept */
					r->cookie = v;
					r->cookie_len = vlen;
				}
			} else if (http_ieq(p, nlen, "origin")) {
				if (r->origin == NULL) {
					r->origin = v;
					r->origin_len = vlen;
				}
			}
			break;
		case 4:
			if (http_ieq(p, nlen, "host")) {
				if (seen_host)
					return HTTP_PARSE_ERROR;
				seen_host = true;
				if (r->host == NULL) {	/* absolute-form wins */
					r->host = v;
					r->host_len = vlen;
				}
			}
			break;
		case 10:
			if (http_ieq(p, nlen, "user-agent")) {
				r->user_agent = v;
				r->user_agent_len = vlen;
			} else if (http_ieq(p, nlen, "connection")) {
				http_connection(r, v, vlen);
			}
			break;
		case 12:
			if (http_ieq(p, nlen, "content-type")) {
				r->content_type = v;
				r->content_type_len = vlen;
			}
			break;
		case 13:
			if (http_ieq(p, nlen, "authorization")) {
				if (r->authorization != NULL)
					return HTTP_PARSE_ERROR;
				r->authorization = v;
				r->authorization_len = vlen;
			}
			break;
		case 14:
			if (http_ieq(p, nlen, "content-length")) {
				uint64_t n = 0;

				if (vlen == 0 || vlen > 15)
					return HTTP_PARSE_ERROR;
				for (size_t i = 0; i < vlen; i++) {
					if (v[i] < '0' || v[i] > '9')
						return HTTP_PARSE_ERROR;
					n = n * 10 + (uint64_t)(v[i] - '0');
				}
				if (seen_cl && n != r->content_length)
					return HTTP_PARSE_ERROR;
				seen_cl = true;
				r->content_length = n;
			}
			break;
		case 17:
			if (http_ieq(p, nlen, "transfer-encoding")) {
				if (seen_te || !http_ieq(v, vlen, "chunked")) {
					*status = 501;
					return HTTP_PARSE_ERROR;
				}
				seen_te = true;
				r->chunked = true;
			}
			break;
		default:
			break;
		}
	}
	/* RFC 9112 §6.1: both framings at once is request smuggling. */
	if (seen_te && seen_cl)
		return HTTP_PARSE_ERROR;
	/* RFC 9112 §3.2: HTTP/1.1 requests carry exactly one Host. */
	if (r->minor >= 1 && !seen_host)
		return HTTP_PARSE_ERROR;
	if (seen_te && r->minor == 0)
		return HTTP_PARSE_ERROR;
	r->has_body = r->chunked || r->content_length > 0;
	r->has_length = seen_cl;
	r->head_len = (size_t)(hdr_end - buf);
	*status = 0;
	return HTTP_PARSE_DONE;
}

int
http_host_normalize(const char *host, size_t len,
    char out[LIMIT_DNAME_LEN + 1])
{
	size_t n = len, i;

	/* Drop ":port" when what follows the last ':' is all digits. */
	for (i = len; i > 0; i--) {
		char c = host[i - 1];

		if (c == ':') {
			if (i == len)
				return -1;
			n = i - 1;
			break;
		}
		if (c < '0' || c > '9')
			break;
	}
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0 || n > LIMIT_DNAME_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_'))
			return -1;
		out[i] = (char)c;
	}
	out[n] = '\0';
	return (int)n;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default:  return "Error";
	}
}

/* Appends n bytes to buf at *off if they fit. */
static bool
http_put(char *buf, size_t cap, size_t *off, const char *s, size_t n)
{
	if (n > cap - *off)
		return false;
	memcpy(buf + *off, s, n);
	*off += n;
	return true;
}

static bool
http_puts(char *buf, size_t cap, size_t *off, const char *s)
{
	return http_put(buf, cap, off, s, strlen(s));
}

/* Decimal of n into out (at least 21 bytes); returns the length. */
static size_t
http_utoa(uint64_t n, char *out)
{
	char tmp[21];
	size_t i = 0, k = 0;

	do {
		tmp[i++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	while (i > 0)
		out[k++] = tmp[--i];
	return k;
}

size_t
http_response_head(char *buf, size_t cap, int status, const char *date_line,
    const char *content_type, size_t body_len, const char *extra, bool close)
{
	const char *reason = http_reason(status);
	char num[24];
	size_t off = 0, k;

	k = http_utoa((uint64_t)status, num);
	if (!http_puts(buf, cap, &off, "HTTP/1.1 ") ||
	    !http_put(buf, cap, &off, num, k) ||
	    !http_puts(buf, cap, &off, " ") ||
	    !http_puts(buf, cap, &off, reason) ||
	    !http_puts(buf, cap, &off, "\r\n") ||
	    (date_line != NULL && !http_puts(buf, cap, &off, date_line)) ||
	    !http_puts(buf, cap, &off, "Content-Type: ") ||
	    !http_puts(buf, cap, &off, content_type) ||
	    !http_puts(buf, cap, &off, "\r\nContent-Length: "))
		return 0;
	k = http_utoa(body_len, num);
	if (!http_put(buf, cap, &off, num, k) ||
	    !http_puts(buf, cap, &off, "\r\n") ||
	    (extra != NULL && !http_puts(buf, cap, &off, extra)) ||
	    (close && !http_puts(buf, cap, &off, "Connection: close\r\n")) ||
	    !http_puts(buf, cap, &off, "\r\n"))
		return 0;
	return off;
}

size_t
http_error_response(char *buf, size_t cap, int status, const char *date_line,
    const char *extra, bool close, bool head_only)
{
	const char *reason = http_reason(status);
	char body[96];
	size_t off, blen;

	blen = http_utoa((uint64_t)status, body);
	if (blen + 1 + strlen(reason) + 1 > sizeof(body))
		return 0;
	body[blen++] = ' ';
	memcpy(body + blen, reason, strlen(reason));
	blen += strlen(reason);
	body[blen++] = '\n';
	if ((off = http_response_head(buf, cap, status, date_line,
	    "text/plain", blen, extra, close)) == 0 ||
	    (!head_only && !http_put(buf, cap, &off, body, blen)))
		return 0;
	return off;
}

size_t
http_date_line(long long t, char out[HTTP_DATE_LINE_LEN + 1])
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	return strftime(out, HTTP_DATE_LINE_LEN + 1,
	    "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}
