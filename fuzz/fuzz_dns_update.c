/*
 * fuzz_dns_update.c - fuzz target for the delegated mode's two readers:
 * dns_tsig_parse (the TSIG key file, ALGORITHM:NAME:BASE64SECRET) and
 * dns_update_check_answer (the server's answer to an UPDATE, RFC 2136
 * §2 and RFC 8945: header, rcode, TSIG record). Every input goes to both;
 * for the answer, our message's id is the input's first two bytes, so
 * that inputs get past the id check.
 *
 * Properties checked on every input, each a crash (abort) when broken:
 *   - an accepted key has one of the six algorithms, a name of at most
 *     254 bytes ending in '.', and a secret of base64 characters only;
 *   - no answer is ever accepted: one that is not signed with our key
 *     (which the fuzzer cannot forge) must be refused with a reason.
 * Built with libFuzzer by `make fuzz`, and with fuzz/replay.c by `make
 * test`, which replays fuzz/corpus/dns_update/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY "hmac-sha256:k:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dns_rr txt = { "d.test._mta-sts.zone.test", "TXT",
	    "v=STSv1; id=r1;" };
	struct dns_update_msg m;
	struct dns_tsig k;
	struct err e;

	if (dns_tsig_parse((const char *)data, size, &k, &e) == 0) {
		size_t n = strlen(k.name);

		if (strncmp(k.alg, "hmac-", 5) != 0 || n == 0 ||
		    n > LIMIT_DNAME_LEN + 1 || k.name[n - 1] != '.' ||
		    k.secret[0] == '\0' || strspn(k.secret,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/=") != strlen(k.secret))
			abort();
	}
	if (dns_tsig_parse(FUZZ_KEY, strlen(FUZZ_KEY), &k, &e) != 0 ||
	    dns_update_build("zone.test", &txt, 1, size >= 2 ?
	    (uint16_t)(data[0] << 8 | data[1]) : 0, &k, &m, &e) != 0)
		abort();
	if (dns_update_check_answer(&m, data, size, &k, &e) != -1 ||
	    e.msg[0] == '\0')
		abort();
	dns_update_msg_free(&m);
	return 0;
}
