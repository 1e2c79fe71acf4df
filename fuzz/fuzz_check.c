/*
 * fuzz_check.c - fuzz target for the checker's two readers of bytes a
 * checked host sends: check_reply_parse (SMTP replies, RFC 5321 §4.2)
 * dns_rdata_mx / dns_rdata_name (MX rdata in wire form, RFC 1035), and
 * dns_probe_reply (the header of a name server's reply, RFC 1035
 * §4.1.1). Every input goes to each.
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - replies are read one after the other until the input ends or one
 *     is refused; each complete one takes at least one byte and no more
 *     than is left, has a code of 200 to 599, and a printable text;
 *   - an accepted MX has a host of at most 253 characters of lower-case
 *     letters, digits, '-', '_' and '.', with no empty label; an accepted
 *     name took no more bytes than it was given;
 *   - a reply header is accepted only with 12 bytes or more, the id
 *     asked (the input's first two bytes) and QR set; its rcode is 0-15;
 *     a refused one leaves the probe unanswered.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/check/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char name[LIMIT_DNAME_LEN + 1];
	struct check_reply rep;
	struct dns_mx mx;
	struct err e;
	size_t off = 0, used, n;

	while (off < size) {
		int rc = check_reply_parse(buf + off, size - off, &rep, &e);

		if (rc != 0)
			break;
		if (rep.used == 0 || rep.used > size - off ||
		    rep.code < 200 || rep.code > 599)
			abort();
		for (const char *p = rep.text; *p; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p >= 0x7f)
				abort();
		off += rep.used;
	}
	if (dns_rdata_mx(data, size, &mx, &e) == 0) {
		n = strlen(mx.host);
		if (n > LIMIT_DNAME_LEN ||
		    strspn(mx.host, "abcdefghijklmnopqrstuvwxyz0123456789-_.")
		    != n || (n > 0 && (mx.host[0] == '.' ||
		    mx.host[n - 1] == '.' || strstr(mx.host, "..") != NULL)))
			abort();
	}
	if (dns_rdata_name(data, size, &used, name, &e) == 0 && used > size)
		abort();
	{
		struct dns_probe p;
		uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) :
		    0;
		int rc;

		memset(&p, 0, sizeof(p));
		rc = dns_probe_reply(data, size, id, &p, &e);
		if (rc == 0 && (size < 12 || !(data[2] & 0x80) ||
		    !p.answered || p.rcode < 0 || p.rcode > 15))
			abort();
		if (rc == -1 && p.answered)
			abort();
		memset(&p, 0, sizeof(p));
		if (size >= 2 && dns_probe_reply(data, size, (uint16_t)(id + 1),
		    &p, &e) == 0)
			abort();
	}
	return 0;
}
