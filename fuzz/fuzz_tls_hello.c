/*
 * fuzz_tls_hello.c - libFuzzer target for the ClientHello readers of
 * tls_hello.c: tls_sni_parse (server_name, RFC 6066 §3) and
 * tls_alpn_offers / tls_alpn_find (ALPN, RFC 7301 §3.1).
 *
 * Input: a 2-byte big-endian length n, then n bytes of server_name
 * extension body (clamped to what is there), then the rest: the ALPN
 * extension body. Each body is copied into a buffer of exactly its size,
 * so that ASan sees any read past len.
 *
 * Checks, server_name: the result is 1, 0 or -1; out is NUL-terminated
 * within LIMIT_DNAME_LEN + 1 bytes and "" unless 1; a bad framing is
 * always -1; a name (1) is 1..253 bytes of [a-z0-9._-], lower case, in
 * labels of 1..63 bytes (so no leading, double or trailing dot), equal
 * to the name sent folded to lower case minus at most one trailing dot,
 * and parses again to itself; 0 only for what inet_pton reads as an
 * IPv4 or IPv6 address.
 * ALPN: the answers agree with a reference reader written from the RFC
 * text, for "acme-tls/1", "http/1.1" and the first protocol sent;
 * tls_alpn_find returns a pointer to a matching entry inside the list.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *
fz_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	if (c == NULL)
		abort();
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

static char
fz_lower(uint8_t ch)
{
	return (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
}

/* True when s is [a-z0-9._-]*, in labels of 1..63 bytes. */
static bool
fz_hostname(const char *s, size_t n)
{
	size_t label = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > LIMIT_LABEL_LEN)
				return false;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '_'))
			return false;
		label++;
	}
	return true;
}

static void
fz_sni(const uint8_t *p, size_t len)
{
	char out[LIMIT_DNAME_LEN + 1], again[LIMIT_DNAME_LEN + 1];
	char raw[LIMIT_DNAME_LEN + 1];
	unsigned char a[16];
	uint8_t ext[LIMIT_DNAME_LEN + 5];
	size_t n, nlen;
	bool framed, ip;
	int r;

	memset(out, 'X', sizeof(out));
	r = tls_sni_parse(p, len, out);
	if (r < -1 || r > 1 || memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	n = strlen(out);
	if (r != 1 && n != 0)
		abort();
	framed = len >= 5 && ((size_t)p[0] << 8 | p[1]) == len - 2 &&
	    p[2] == 0 && ((size_t)p[3] << 8 | p[4]) == len - 5;
	if (!framed && r != -1)
		abort();
	if (!framed)
		return;
	nlen = len - 5;
	if (nlen > 0 && p[len - 1] == '.')
		nlen--;
	if (nlen > LIMIT_DNAME_LEN) {
		if (r != -1)
			abort();
		return;
	}
	for (size_t i = 0; i < nlen; i++)
		raw[i] = fz_lower(p[5 + i]);
	raw[nlen] = '\0';
	ip = strlen(raw) == nlen && (inet_pton(AF_INET, raw, a) == 1 ||
	    inet_pton(AF_INET6, raw, a) == 1);
	/* 0 exactly for IP literals; 1 exactly for the other host names,
	 * which come out as sent, folded to lower case. */
	if ((r == 0) != ip)
		abort();
	if (r == -1 && fz_hostname(raw, nlen))
		abort();
	if (r != 1)
		return;
	if (n == 0 || n > LIMIT_DNAME_LEN || n != nlen ||
	    !fz_hostname(out, n) || memcmp(out, raw, n) != 0)
		abort();
	/* What came out goes in again unchanged. */
	ext[0] = (uint8_t)((n + 3) >> 8);
	ext[1] = (uint8_t)(n + 3);
	ext[2] = 0;
	ext[3] = (uint8_t)(n >> 8);
	ext[4] = (uint8_t)n;
	memcpy(ext + 5, out, n);
	if (tls_sni_parse(ext, n + 5, again) != 1 || strcmp(again, out) != 0)
		abort();
}

/* The reference: RFC 7301 §3.1 read with a cursor. */
static bool
fz_alpn_ref(const uint8_t *p, size_t len, const char *proto, size_t plen)
{
	size_t off = 2;
	bool found = false;

	if (len < 2 || (size_t)p[0] * 256 + p[1] + 2 != len)
		return false;
	while (off < len) {
		size_t n = p[off];

		if (n == 0 || off + 1 + n > len)
			return false;
		if (n == plen && memcmp(p + off + 1, proto, n) == 0)
			found = true;
		off += 1 + n;
	}
	return found;
}

static void
fz_alpn_one(const uint8_t *p, size_t len, const char *proto, size_t plen)
{
	bool got = tls_alpn_offers(p, len, proto, plen);
	const uint8_t *hit;

	if (got != fz_alpn_ref(p, len, proto, plen))
		abort();
	if (len < 2)
		return;
	hit = tls_alpn_find(p + 2, len - 2, proto, plen);
	if (hit != NULL && (hit < p + 3 || hit + plen > p + len ||
	    hit[-1] != plen || memcmp(hit, proto, plen) != 0))
		abort();
	/* With a good list length, find and offers agree. */
	if ((size_t)p[0] * 256 + p[1] + 2 == len && got != (hit != NULL))
		abort();
}

static void
fz_alpn(const uint8_t *p, size_t len)
{
	char first[256];
	size_t n = 0;

	fz_alpn_one(p, len, "acme-tls/1", 10);
	fz_alpn_one(p, len, "http/1.1", 8);
	if (len >= 3 && p[2] > 0 && (size_t)p[2] + 3 <= len) {
		n = p[2];
		memcpy(first, p + 3, n);
		fz_alpn_one(p, len, first, n);
	}
	/* The whole body read as a bare list (what the select callback
	 * gets): must stay inside it too. */
	if (tls_alpn_find(p, len, "", 0) != NULL)
		abort();
	tls_alpn_find(p, len, "h2", 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *sni, *alpn;

	if (size < 2)
		return 0;
	n = (size_t)data[0] << 8 | data[1];
	if (n > size - 2)
		n = size - 2;
	sni = fz_copy(data + 2, n);
	alpn = fz_copy(data + 2 + n, size - 2 - n);
	fz_sni(sni, n);
	fz_alpn(alpn, size - 2 - n);
	free(sni);
	free(alpn);
	return 0;
}
