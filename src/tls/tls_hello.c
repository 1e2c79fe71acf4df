/*
 * tls_hello.c - reads the two ClientHello extensions the choice of a
 * certificate depends on: server_name (RFC 6066 §3) and ALPN (RFC 7301
 * §3.1). The ClientHello callback gets their bodies raw from
 * SSL_client_hello_get0_ext, before OpenSSL has parsed or checked them,
 * so every byte here comes straight from an anonymous peer.
 *
 *	server_name body = list-len(2) entry
 *	entry            = name-type(1)=0 name-len(2) host-name
 *	host-name        = 1*253(LDH / "_") ["."]   ; or an IP literal
 *
 *	ALPN body        = list-len(2) 1*( proto-len(1) proto )
 *	proto            = 1*255OCTET               ; proto-len >= 1
 *
 * Both are read strictly, as OpenSSL itself reads them once the callback
 * returns (a hello these refuse, OpenSSL would fail with decode_error
 * anyway): the list length must equal the body length, the server_name
 * list must hold exactly one host_name entry (RFC 6066: "MUST NOT contain
 * more than one name of the same name_type", and no other type is
 * defined), and no protocol name may be empty (RFC 7301: "Empty strings
 * MUST NOT be included").
 *
 * Pure: bytes in, result out; no SSL, no allocation, no globals, so the
 * unit tests (tests/unit/test_tls_hello.c) and the fuzzer
 * (fuzz/fuzz_tls_hello.c) call it directly. It never reads outside the
 * bytes it is given.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tls.h"

#define TLS_NAMETYPE_HOST 0	/* RFC 6066 NameType host_name */

/* True when s (n bytes, lower case) is an IPv4 or IPv6 literal. */
static bool
tls_ip_literal(const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN + 8];	/* longest literal fits */
	unsigned char a[16];

	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET, tmp, a) == 1 ||
	    inet_pton(AF_INET6, tmp, a) == 1;
}

int
tls_sni_parse(const uint8_t *p, size_t len, char out[LIMIT_DNAME_LEN + 1])
{
	size_t list, nlen, label = 0;

	out[0] = '\0';
	if (len < 5)
		return -1;
	list = (size_t)p[0] << 8 | p[1];
	if (list != len - 2 || p[2] != TLS_NAMETYPE_HOST)
		return -1;
	nlen = (size_t)p[3] << 8 | p[4];
	if (nlen + 3 != list)
		return -1;
	p += 5;
	/* RFC 6066: "without a trailing dot"; older clients send one. */
	if (nlen > 0 && p[nlen - 1] == '.')
		nlen--;
	if (nlen == 0 || nlen > LIMIT_DNAME_LEN)
		return -1;
	for (size_t i = 0; i < nlen; i++) {
		unsigned char ch = p[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == ':'))
			goto bad;
		out[i] = (char)ch;
	}
	out[nlen] = '\0';
	/* RFC 6066 forbids IP literals, but clients given an IP URL (wrk,
	 * curl -k) send them: treat as no SNI. ':' is allowed above only
	 * to recognise IPv6 literals here. */
	if (tls_ip_literal(out, nlen)) {
		out[0] = '\0';
		return 0;
	}
	/* Labels of 1..63 bytes (RFC 1035 §2.3.4): no leading dot, no
	 * "..", no second trailing dot, so the name goes on to the hosted
	 * table and into file names exactly as dname_normalize would
	 * store it. */
	for (size_t i = 0; i <= nlen; i++) {
		if (i == nlen || out[i] == '.') {
			if (label == 0 || label > LIMIT_LABEL_LEN)
				goto bad;
			label = 0;
		} else if (out[i] == ':') {
			goto bad;
		} else {
			label++;
		}
	}
	return 1;
bad:
	out[0] = '\0';
	return -1;
}

const uint8_t *
tls_alpn_find(const uint8_t *list, size_t len, const char *proto,
    size_t plen)
{
	const uint8_t *hit = NULL;

	/* Every entry is checked, also after a match: a list that is
	 * malformed anywhere offers nothing. */
	for (size_t i = 0; i < len; i += 1u + list[i]) {
		size_t n = list[i];

		if (n == 0 || n > len - i - 1)
			return NULL;
		if (hit == NULL && n == plen &&
		    memcmp(list + i + 1, proto, n) == 0)
			hit = list + i + 1;
	}
	return hit;
}

bool
tls_alpn_offers(const uint8_t *p, size_t len, const char *proto,
    size_t plen)
{
	if (len < 2 || ((size_t)p[0] << 8 | p[1]) != len - 2)
		return false;
	return tls_alpn_find(p + 2, len - 2, proto, plen) != NULL;
}
