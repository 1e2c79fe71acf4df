/*
 * test_seal.c - secrets sealed under the operator's key (src/lib/seal.c):
 * the key file's two forms, a round trip, a new nonce per value, and
 * every way a sealed value can be refused (wrong key, a changed byte,
 * cut short, another format).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/seal.h"

static const char hexkey[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void
test_key_parse(void **state)
{
	unsigned char k[SEAL_KEY_LEN], raw[SEAL_KEY_LEN];
	char buf[80];
	struct err e = { "" };

	(void)state;
	for (int i = 0; i < SEAL_KEY_LEN; i++)
		raw[i] = (unsigned char)i;
	assert_int_equal(seal_key_parse(raw, sizeof(raw), k, &e), 0);
	assert_memory_equal(k, raw, SEAL_KEY_LEN);
	memset(k, 0, sizeof(k));
	assert_int_equal(seal_key_parse(hexkey, 64, k, &e), 0);
	assert_memory_equal(k, raw, SEAL_KEY_LEN);
	snprintf(buf, sizeof(buf), "%s\n", hexkey);
	assert_int_equal(seal_key_parse(buf, strlen(buf), k, &e), 0);
	assert_memory_equal(k, raw, SEAL_KEY_LEN);
	/* Too short, too long, not hex. */
	assert_int_equal(seal_key_parse(raw, 31, k, &e), -1);
	assert_string_equal(e.msg, "expected 32 bytes or 64 hex digits, "
	    "found 31 bytes");
	assert_int_equal(seal_key_parse(buf, 33, k, &e), -1);
	snprintf(buf, sizeof(buf), "%.63sg", hexkey);
	assert_int_equal(seal_key_parse(buf, 64, k, &e), -1);
	assert_string_equal(e.msg, "64 characters but not all hex digits");
	assert_int_equal(seal_key_parse("", 0, k, &e), -1);
}

static void
test_round_trip(void **state)
{
	unsigned char k[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], *a, *b, *p;
	const char secret[] = "-----BEGIN PRIVATE KEY-----\nabc\n";
	size_t an, bn, pn;
	struct err e = { "" };

	(void)state;
	assert_int_equal(seal_key_parse(hexkey, 64, k, &e), 0);
	assert_int_equal(seal_encrypt(k, secret, strlen(secret), &a, &an, &e),
	    0);
	assert_int_equal(an, strlen(secret) + SEAL_OVERHEAD);
	assert_memory_equal(a, SEAL_MAGIC, SEAL_MAGIC_LEN);
	assert_null(memmem(a, an, "PRIVATE", 7));	/* not in clear */
	/* A new nonce each time: the same secret seals differently. */
	assert_int_equal(seal_encrypt(k, secret, strlen(secret), &b, &bn, &e),
	    0);
	assert_int_equal(an, bn);
	assert_memory_not_equal(a, b, an);
	assert_int_equal(seal_decrypt(k, a, an, &p, &pn, &e), 0);
	assert_int_equal(pn, strlen(secret));
	assert_string_equal((char *)p, secret);	/* NUL-terminated */
	free(p);
	/* The wrong key: refused, said so. */
	memcpy(k2, k, sizeof(k2));
	k2[0] ^= 1;
	assert_int_equal(seal_decrypt(k2, a, an, &p, &pn, &e), -1);
	assert_null(p);
	assert_string_equal(e.msg, "wrong store_key_file, or the value was "
	    "changed");
	/* One changed byte anywhere after the magic: refused. */
	for (size_t i = SEAL_MAGIC_LEN; i < an; i++) {
		a[i] ^= 0x80;
		assert_int_equal(seal_decrypt(k, a, an, &p, &pn, &e), -1);
		a[i] ^= 0x80;
	}
	/* Cut short, by one byte and down to less than the overhead. */
	assert_int_equal(seal_decrypt(k, a, an - 1, &p, &pn, &e), -1);
	assert_int_equal(seal_decrypt(k, a, SEAL_OVERHEAD - 1, &p, &pn, &e),
	    -1);
	assert_string_equal(e.msg, "not a sealed value (43 bytes)");
	/* Another magic (a PEM key stored in clear, say). */
	assert_int_equal(seal_decrypt(k, secret, strlen(secret), &p, &pn, &e),
	    -1);
	free(a);
	free(b);
}

static void
test_empty_and_limits(void **state)
{
	unsigned char k[SEAL_KEY_LEN] = { 0 }, *a, *p;
	size_t an, pn;
	struct err e = { "" };

	(void)state;
	/* An empty secret seals to exactly the overhead and opens to "". */
	assert_int_equal(seal_encrypt(k, "", 0, &a, &an, &e), 0);
	assert_int_equal(an, SEAL_OVERHEAD);
	assert_int_equal(seal_decrypt(k, a, an, &p, &pn, &e), 0);
	assert_int_equal(pn, 0);
	assert_string_equal((char *)p, "");
	free(p);
	free(a);
	assert_int_equal(seal_encrypt(k, "", SEAL_MAX_PLAIN + 1, &a, &an, &e),
	    -1);
	assert_null(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
