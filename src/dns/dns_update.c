/*
 * dns_update.c - the publisher of the delegated mode: RFC 2136 DNS
 * UPDATE messages, signed with TSIG (RFC 8945), that keep the TXT
 * records of hosted domains in the operator's zone (dns_zone) right,
 * sent to its authoritative server (dns_update_server) over TCP.
 *
 * One message (RFC 2136 §2; ldns builds, signs and parses it):
 *
 *	header     opcode UPDATE, id
 *	zone       ZONE SOA IN                       (one entry)
 *	prereq     none
 *	update     per TXT record R, in order:
 *	             R.name 0 ANY TXT                (delete the RRset, §2.5.2)
 *	             R.name 3600 IN TXT "..." ...    (add the record, §2.5.1;
 *	                                              not for a name that goes)
 *	additional TSIG (key name, algorithm, time, fudge, MAC)
 *
 * The delete and the add of a name travel in the same message, which
 * the server applies as a whole (§3.4), so a name never stands without
 * its record. At most LIMIT_DNS_UPDATE_DOMAINS domains a message.
 *
 * The key file: one line, as `dig -y` takes a key,
 *
 *	key   = algorithm ":" name ":" secret
 *	algorithm = "hmac-md5" / "hmac-sha1" / "hmac-sha224" /
 *	            "hmac-sha256" / "hmac-sha384" / "hmac-sha512"
 *	name  = label *( "." label ) [ "." ]     ; letters, digits, - and _
 *	secret = base64, at most LIMIT_TSIG_SECRET_BYTES decoded
 *
 * Building and reading messages is pure (tested without a server);
 * dns_update_send is the one function that touches the network, and it
 * blocks: callers are the CLI and the daemon's reload thread, never a
 * worker's event loop. Never asks the server anything but UPDATE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <ldns/ldns.h>
#include <openssl/evp.h>

#include "dns.h"

#define DNS_UPDATE_FUDGE 300	/* seconds of clock skew TSIG allows
				 * (RFC 8945 §5.2.3 recommends 300) */

/* The algorithms, as the key file names them and as ldns and the wire
 * name them (RFC 8945 §6). */
static const struct {
	const char *file;
	const char *wire;
} dns_tsig_algs[] = {
	{ "hmac-md5", "hmac-md5.sig-alg.reg.int." },
	{ "hmac-sha1", "hmac-sha1." },
	{ "hmac-sha224", "hmac-sha224." },
	{ "hmac-sha256", "hmac-sha256." },
	{ "hmac-sha384", "hmac-sha384." },
	{ "hmac-sha512", "hmac-sha512." },
};

/* A key name: labels of letters, digits, '-' and '_', 1..63 bytes each,
 * at most LIMIT_DNAME_LEN in all, one final dot allowed. */
static int
dns_tsig_name_ok(const char *s, size_t len)
{
	size_t label = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > LIMIT_DNAME_LEN)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > LIMIT_LABEL_LEN)
				return -1;
		} else {
			return -1;
		}
	}
	return label == 0 ? -1 : 0;
}

static bool
dns_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

int
dns_tsig_parse(const char *text, size_t len, struct dns_tsig *out,
    struct err *e)
{
	const char *c1, *c2, *end = text + len;
	size_t alen, nlen, slen, i;
	uint8_t bin[sizeof(out->secret)];
	int n;

	memset(out, 0, sizeof(*out));
	while (end > text && (end[-1] == '\n' || end[-1] == '\r' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (memchr(text, '\n', (size_t)(end - text)) != NULL)
		return err_set(e, "more than one line; expected "
		    "ALGORITHM:NAME:BASE64SECRET");
	if ((c1 = memchr(text, ':', (size_t)(end - text))) == NULL ||
	    (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1))) == NULL)
		return err_set(e, "expected ALGORITHM:NAME:BASE64SECRET");
	alen = (size_t)(c1 - text);
	nlen = (size_t)(c2 - c1 - 1);
	slen = (size_t)(end - c2 - 1);
	for (i = 0; i < sizeof(dns_tsig_algs) / sizeof(dns_tsig_algs[0]); i++)
		if (strlen(dns_tsig_algs[i].file) == alen &&
		    strncasecmp(text, dns_tsig_algs[i].file, alen) == 0)
			break;
	if (i == sizeof(dns_tsig_algs) / sizeof(dns_tsig_algs[0]))
		return err_set(e, "algorithm '%.*s': expected hmac-sha256 "
		    "(or hmac-md5, -sha1, -sha224, -sha384, -sha512)",
		    (int)(alen > 32 ? 32 : alen), text);
	snprintf(out->alg, sizeof(out->alg), "%s", dns_tsig_algs[i].wire);
	if (dns_tsig_name_ok(c1 + 1, nlen) == -1)
		return err_set(e, "key name '%.*s': expected a DNS name "
		    "(letters, digits, '-', '_'; labels of 1 to 63 bytes)",
		    (int)(nlen > 64 ? 64 : nlen), c1 + 1);
	snprintf(out->name, sizeof(out->name), "%.*s%s", (int)nlen, c1 + 1,
	    c1[nlen] == '.' ? "" : ".");
	/* text need not end in a NUL: every check stays within len. */
	for (i = 0; i < slen; i++)
		if (!dns_b64_char(c2[1 + i]))
			break;
	if (slen == 0 || slen > sizeof(out->secret) - 1 || i < slen)
		return err_set(e, "secret: expected base64 of 1 to %d bytes",
		    LIMIT_TSIG_SECRET_BYTES);
	snprintf(out->secret, sizeof(out->secret), "%.*s", (int)slen, c2 + 1);
	/* EVP_DecodeBlock counts the padding's bytes too. */
	n = slen % 4 == 0 ? EVP_DecodeBlock(bin, (const unsigned char *)
	    out->secret, (int)slen) : -1;
	if (n > 0)
		n -= (out->secret[slen - 1] == '=') +
		    (slen > 1 && out->secret[slen - 2] == '=');
	if (n <= 0 || n > LIMIT_TSIG_SECRET_BYTES) {
		explicit_bzero(out, sizeof(*out));
		return err_set(e, "secret: not base64 of 1 to %d bytes",
		    LIMIT_TSIG_SECRET_BYTES);
	}
	explicit_bzero(bin, sizeof(bin));
	return 0;
}

int
dns_tsig_load(const char *path, struct dns_tsig *out, struct err *e)
{
	char buf[LIMIT_TSIG_FILE_BYTES + 1];
	struct err why;
	size_t len = 0;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return err_set(e, "dns_tsig_key %s: cannot open it", path);
	len = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		err_set(e, "dns_tsig_key %s: cannot read it", path);
	else if (len > LIMIT_TSIG_FILE_BYTES)
		err_set(e, "dns_tsig_key %s: over %d bytes", path,
		    LIMIT_TSIG_FILE_BYTES);
	else if (dns_tsig_parse(buf, len, out, &why) == -1)
		err_set(e, "dns_tsig_key %s: %s", path, why.msg);
	else
		rc = 0;
	fclose(f);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* A TXT rdata of value, split into strings of at most 255 bytes
 * (RFC 1035 §3.3.14), pushed onto rr. Returns 0 or -1. */
static int
dns_update_txt_rdata(ldns_rr *rr, const char *value)
{
	size_t len = strlen(value), off = 0;

	do {
		size_t n = len - off > 255 ? 255 : len - off;
		uint8_t s[256];
		ldns_rdf *f;

		s[0] = (uint8_t)n;
		memcpy(s + 1, value + off, n);
		if ((f = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1,
		    s)) == NULL || !ldns_rr_push_rdf(rr, f)) {
			ldns_rdf_deep_free(f);
			return -1;
		}
		off += n;
	} while (off < len);
	return 0;
}

/* The delete and the add of txt, into the update section of p. */
static int
dns_update_push(ldns_pkt *p, const ldns_rdf *zone, const struct dns_rr *txt,
    struct err *e)
{
	ldns_rdf *owner = NULL;
	ldns_rr *del = NULL, *add = NULL;
	int rc = -1;

	if (ldns_str2rdf_dname(&owner, txt->name) != LDNS_STATUS_OK ||
	    ldns_dname_label_count(owner) < 2) {
		err_set(e, "%s: not a DNS name (too long?)", txt->name);
		goto out;
	}
	if (!ldns_dname_is_subdomain(owner, zone)) {
		err_set(e, "%s: not in the zone", txt->name);
		goto out;
	}
	if (txt->type != NULL && strlen(txt->value) > LIMIT_TXT_BYTES) {
		err_set(e, "%s: TXT over %d bytes", txt->name,
		    LIMIT_TXT_BYTES);
		goto out;
	}
	if ((del = ldns_rr_new()) == NULL || (add = ldns_rr_new()) == NULL)
		goto oom;
	ldns_rr_set_owner(del, ldns_rdf_clone(owner));
	ldns_rr_set_type(del, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(del, LDNS_RR_CLASS_ANY);
	ldns_rr_set_ttl(del, 0);
	ldns_rr_set_owner(add, owner);
	owner = NULL;
	ldns_rr_set_type(add, LDNS_RR_TYPE_TXT);
	ldns_rr_set_class(add, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(add, DNS_TTL);
	if (dns_update_txt_rdata(add, txt->value) == -1)
		goto oom;
	if (!ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, del))
		goto oom;
	del = NULL;
	if (txt->type == NULL) {	/* the name goes */
		rc = 0;
		goto out;
	}
	if (!ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, add))
		goto oom;
	add = NULL;
	rc = 0;
	goto out;
oom:
	err_set(e, "out of memory");
out:
	ldns_rdf_deep_free(owner);
	ldns_rr_free(del);
	ldns_rr_free(add);
	return rc;
}

void
dns_update_msg_free(struct dns_update_msg *m)
{
	free(m->wire);
	m->wire = NULL;
	m->len = 0;
}

int
dns_update_build(const char *zone, const struct dns_rr *txt, size_t n,
    uint16_t id, const struct dns_tsig *key, struct dns_update_msg *out,
    struct err *e)
{
	ldns_rdf *zrdf = NULL;
	ldns_rr_list *none;
	ldns_pkt *p = NULL;
	ldns_rr *sig;
	ldns_status st;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n > 2 * LIMIT_DNS_UPDATE_DOMAINS)
		return err_set(e, "%zu records in one update: expected 1 to %d",
		    n, 2 * LIMIT_DNS_UPDATE_DOMAINS);
	if (ldns_str2rdf_dname(&zrdf, zone) != LDNS_STATUS_OK)
		return err_set(e, "zone '%s': not a DNS name", zone);
	/* ldns wants an update list, even an empty one; the records go in
	 * below, each checked. The packet owns zrdf from here. */
	if ((none = ldns_rr_list_new()) == NULL || (p = ldns_update_pkt_new(
	    zrdf, LDNS_RR_CLASS_IN, NULL, none, NULL)) == NULL) {
		ldns_rr_list_free(none);
		ldns_rdf_deep_free(zrdf);
		return err_set(e, "out of memory");
	}
	ldns_rr_list_free(none);
	ldns_pkt_set_id(p, id);
	for (size_t i = 0; i < n; i++) {
		if (dns_update_push(p, ldns_rr_owner(ldns_rr_list_rr(
		    ldns_pkt_question(p), 0)), &txt[i], e) == -1)
			goto out;
	}
	if ((st = ldns_pkt_tsig_sign(p, key->name, key->secret,
	    DNS_UPDATE_FUDGE, key->alg, NULL)) != LDNS_STATUS_OK) {
		err_set(e, "TSIG signing: %s", ldns_get_errorstr_by_id(st));
		goto out;
	}
	if ((sig = ldns_pkt_tsig(p)) == NULL || ldns_rr_rd_count(sig) < 4 ||
	    ldns_rdf_size(ldns_rr_rdf(sig, 3)) > sizeof(out->mac)) {
		err_set(e, "TSIG signing: no MAC");
		goto out;
	}
	/* The MAC as ldns keeps it (INT16_DATA: length, then the bytes),
	 * to check the answer's signature with (RFC 8945 §5.3). */
	out->mac_len = ldns_rdf_size(ldns_rr_rdf(sig, 3));
	memcpy(out->mac, ldns_rdf_data(ldns_rr_rdf(sig, 3)), out->mac_len);
	out->id = id;
	if ((st = ldns_pkt2wire(&out->wire, p, &out->len)) != LDNS_STATUS_OK) {
		err_set(e, "building the update: %s",
		    ldns_get_errorstr_by_id(st));
		goto out;
	}
	rc = 0;
out:
	ldns_pkt_free(p);
	if (rc == -1)
		dns_update_msg_free(out);
	return rc;
}

/* RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8945 §3: the rcodes an UPDATE's
 * answer carries, with what each means for us. */
static const char *
dns_update_rcode_str(int rc)
{
	switch (rc) {
	case 0:  return "NOERROR";
	case 1:  return "FORMERR (the server could not read the update)";
	case 2:  return "SERVFAIL (the server failed to apply it)";
	case 3:  return "NXDOMAIN";
	case 4:  return "NOTIMP (the server does not take DNS UPDATE)";
	case 5:  return "REFUSED (not allowed: check the server's ACL for "
		    "this key and zone)";
	case 6:  return "YXDOMAIN";
	case 7:  return "YXRRSET";
	case 8:  return "NXRRSET";
	case 9:  return "NOTAUTH (the server is not authoritative for the "
		    "zone, or does not know the key)";
	case 10: return "NOTZONE (a name outside the zone)";
	case 16: return "BADSIG (the TSIG secret is wrong)";
	case 17: return "BADKEY (the server does not know this key name or "
		    "algorithm)";
	case 18: return "BADTIME (the clocks differ by more than 300 s)";
	case 22: return "BADTRUNC";
	default: return "an unknown rcode";
	}
}

/* Whether domain name rdf d is name (text, with or without the final
 * dot), case aside. */
static bool
dns_update_same_name(const ldns_rdf *d, const char *name)
{
	char *t;
	size_t n, m;
	bool same;

	if (d == NULL || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME ||
	    (t = ldns_rdf2str(d)) == NULL)
		return false;
	n = strlen(t);
	m = strlen(name);
	if (n > 0 && t[n - 1] == '.')
		n--;
	if (m > 0 && name[m - 1] == '.')
		m--;
	same = n == m && strncasecmp(t, name, n) == 0;
	free(t);
	return same;
}

int
dns_update_check_answer(const struct dns_update_msg *m, const uint8_t *ans,
    size_t len, const struct dns_tsig *key, struct err *e)
{
	ldns_pkt *p = NULL;
	ldns_rdf *mac = NULL;
	ldns_rr *sig;
	int rc = -1, rcode, tsig_err = 0;

	if (ldns_wire2pkt(&p, ans, len) != LDNS_STATUS_OK)
		return err_set(e, "the answer is not a DNS message");
	if (ldns_pkt_id(p) != m->id || !ldns_pkt_qr(p) ||
	    ldns_pkt_get_opcode(p) != LDNS_PACKET_UPDATE) {
		err_set(e, "the answer is not for our update");
		goto out;
	}
	rcode = ldns_pkt_get_rcode(p);
	if ((sig = ldns_pkt_tsig(p)) != NULL && ldns_rr_rd_count(sig) >= 6)
		tsig_err = (int)ldns_rdf2native_int16(ldns_rr_rdf(sig, 5));
	if (tsig_err != 0) {
		err_set(e, "refused: %s, TSIG error %s", dns_update_rcode_str(
		    rcode), dns_update_rcode_str(tsig_err));
		goto out;
	}
	if (rcode != 0) {
		err_set(e, "refused: %s", dns_update_rcode_str(rcode));
		goto out;
	}
	if ((mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, m->mac_len,
	    m->mac)) == NULL) {
		err_set(e, "out of memory");
		goto out;
	}
	/* Only a signature by our key and algorithm goes to ldns: its
	 * verifier leaks the packet's TSIG record when the algorithm is
	 * one it does not know (found by fuzz_dns_update; seed
	 * regress-leak-unknown-algorithm), and such an answer cannot be
	 * from the server holding our key. */
	if (sig == NULL || !dns_update_same_name(ldns_rr_owner(sig),
	    key->name) || ldns_rr_rd_count(sig) < 1 ||
	    !dns_update_same_name(ldns_rr_rdf(sig, 0), key->alg) ||
	    !ldns_pkt_tsig_verify(p, ans, len, key->name, key->secret, mac)) {
		err_set(e, "the answer's TSIG signature does not verify "
		    "(not from the server holding our key?)");
		goto out;
	}
	rc = 0;
out:
	ldns_rdf_deep_free(mac);
	ldns_pkt_free(p);
	return rc;
}

/* "IP", "IP:PORT", "[V6]:PORT" into ss. Returns 0 or -1 with the
 * reason. */
static int
dns_update_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *sl,
    struct err *e)
{
	char host[64];
	const char *port = NULL, *end;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	unsigned long pn = 53;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL || (end[1] != '\0' &&
		    end[1] != ':'))
			goto bad;
		n = (size_t)(end - spec - 1);
		spec++;
		port = end[1] == ':' ? end + 2 : NULL;
	} else if ((end = strchr(spec, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		n = (size_t)(end - spec);
		port = end + 1;
	} else {
		n = strlen(spec);
	}
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (port != NULL) {
		char *x;

		if (*port < '0' || *port > '9' || (pn = strtoul(port, &x, 10),
		    *x != '\0') || pn == 0 || pn > 65535)
			goto bad;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pn);
		*sl = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pn);
		*sl = sizeof(*s6);
		return 0;
	}
bad:
	return err_set(e, "dns_update_server '%s': expected IP[:PORT]", spec);
}

int
dns_update_server_check(const char *spec, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	return dns_update_addr(spec, &ss, &sl, e);
}

/* A message id nobody can guess from the time alone. */
static uint16_t
dns_update_id(void)
{
	return ldns_get_random();
}

int
dns_update_send(const char *server, const struct dns_tsig *key,
    const char *zone, const struct dns_rr *txt, size_t n, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	struct timeval tv = { DNS_TIMEOUT_MS / 1000,
	    (DNS_TIMEOUT_MS % 1000) * 1000 };

	if (dns_update_addr(server, &ss, &sl, e) == -1)
		return -1;
	for (size_t off = 0; off < n; off += 2 * LIMIT_DNS_UPDATE_DOMAINS) {
		size_t k = n - off > 2 * LIMIT_DNS_UPDATE_DOMAINS ?
		    2 * LIMIT_DNS_UPDATE_DOMAINS : n - off;
		struct dns_update_msg m;
		ldns_buffer *q;
		uint8_t *ans = NULL;
		size_t alen = 0;
		ldns_status st;
		struct err why;
		int rc;

		if (dns_update_build(zone, txt + off, k, dns_update_id(), key,
		    &m, e) == -1)
			return -1;
		if ((q = ldns_buffer_new(m.len)) == NULL) {
			dns_update_msg_free(&m);
			return err_set(e, "out of memory");
		}
		/* ldns sends the bytes up to the position: not flipped. */
		ldns_buffer_write(q, m.wire, m.len);
		st = ldns_tcp_send(&ans, q, &ss, sl, tv, &alen);
		ldns_buffer_free(q);
		if (st != LDNS_STATUS_OK) {
			dns_update_msg_free(&m);
			return err_set(e, "%s: no answer (%s)", server,
			    ldns_get_errorstr_by_id(st));
		}
		rc = dns_update_check_answer(&m, ans, alen, key, &why);
		free(ans);
		dns_update_msg_free(&m);
		if (rc == -1)
			return err_set(e, "%s: %s", server, why.msg);
	}
	return 0;
}
