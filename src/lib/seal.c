/*
 * seal.c - sealing secrets under the operator's key (seal.h has the
 * format):
 *
 *	sealed   = magic nonce box
 *	magic    = "SGS1"                 ; format version 1
 *	nonce    = 24 OCTET               ; random, one per value
 *	box      = 16 OCTET *OCTET        ; crypto_secretbox_easy: tag, text
 *
 *	key file = 32 OCTET / 64 HEXDIG *WSP-or-line-break
 *
 * Only seal_key_load touches a file; the rest is pure. Never logs or
 * copies a key into an error message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "seal.h"


_Static_assert(crypto_secretbox_KEYBYTES == SEAL_KEY_LEN, "key size");
_Static_assert(SEAL_OVERHEAD == SEAL_MAGIC_LEN +
    crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, "overhead");

int
seal_key_parse(const void *p, size_t n, unsigned char key[SEAL_KEY_LEN],
    struct err *e)
{
	const char *s = p;
	size_t len = n, bin = 0;

	if (n == SEAL_KEY_LEN) {
		memcpy(key, p, SEAL_KEY_LEN);
		return 0;
	}
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
	    s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len != 2 * SEAL_KEY_LEN)
		return err_set(e, "expected 32 bytes or 64 hex digits, found "
		    "%zu bytes", n);
	if (sodium_hex2bin(key, SEAL_KEY_LEN, s, len, NULL, &bin, NULL) != 0 ||
	    bin != SEAL_KEY_LEN) {
		sodium_memzero(key, SEAL_KEY_LEN);
		return err_set(e, "64 characters but not all hex digits");
	}
	return 0;
}

int
seal_key_load(const char *path, unsigned char key[SEAL_KEY_LEN],
    struct err *e)
{
	unsigned char buf[LIMIT_SEAL_KEY_FILE + 1];
	size_t n;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "rb")) == NULL)
		return err_set(e, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		err_set(e, "%s: %s", path, strerror(errno));
	else if (n > LIMIT_SEAL_KEY_FILE)
		err_set(e, "%s: larger than a key file", path);
	else if (seal_key_parse(buf, n, key, e) == -1)
		err_prefix(e, "%s: ", path);
	else
		rc = 0;
	fclose(f);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
seal_encrypt(const unsigned char key[SEAL_KEY_LEN], const void *in,
    size_t n, unsigned char **out, size_t *outlen, struct err *e)
{
	unsigned char *b;

	*out = NULL;
	*outlen = 0;
	if (n > SEAL_MAX_PLAIN)
		return err_set(e, "secret of %zu bytes: more than %d", n,
		    SEAL_MAX_PLAIN);
	if (sodium_init() < 0)
		return err_set(e, "libsodium: cannot initialise");
	if ((b = malloc(n + SEAL_OVERHEAD)) == NULL)
		return err_set(e, "out of memory");
	memcpy(b, SEAL_MAGIC, SEAL_MAGIC_LEN);
	randombytes_buf(b + SEAL_MAGIC_LEN, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(b + SEAL_MAGIC_LEN + crypto_secretbox_NONCEBYTES,
	    in, n, b + SEAL_MAGIC_LEN, key);
	*out = b;
	*outlen = n + SEAL_OVERHEAD;
	return 0;
}

int
seal_decrypt(const unsigned char key[SEAL_KEY_LEN], const void *in,
    size_t n, unsigned char **out, size_t *outlen, struct err *e)
{
	const unsigned char *p = in;
	unsigned char *b;
	size_t plain;

	*out = NULL;
	*outlen = 0;
	if (n < SEAL_OVERHEAD || memcmp(p, SEAL_MAGIC, SEAL_MAGIC_LEN) != 0)
		return err_set(e, "not a sealed value (%zu bytes)", n);
	plain = n - SEAL_OVERHEAD;
	if (plain > SEAL_MAX_PLAIN)
		return err_set(e, "sealed value of %zu bytes: more than %d",
		    plain, SEAL_MAX_PLAIN);
	if (sodium_init() < 0)
		return err_set(e, "libsodium: cannot initialise");
	if ((b = malloc(plain + 1)) == NULL)
		return err_set(e, "out of memory");
	if (crypto_secretbox_open_easy(b, p + SEAL_MAGIC_LEN +
	    crypto_secretbox_NONCEBYTES, n - SEAL_MAGIC_LEN -
	    crypto_secretbox_NONCEBYTES, p + SEAL_MAGIC_LEN, key) != 0) {
		free(b);
		return err_set(e, "wrong store_key_file, or the value was "
		    "changed");
	}
	b[plain] = '\0';
	*out = b;
	*outlen = plain;
	return 0;
}
