/*
 * seal.h - secrets kept at rest under the operator's key: certificate
 * keys and the ACME account key in a store that several nodes share.
 *
 * The key-encryption key is 32 bytes in a file the operator makes once
 * and copies to every node (setting store_key_file):
 *	head -c 32 /dev/urandom > /etc/stsguard/store.key
 * (or the same 32 bytes as 64 hex digits, a line break allowed after).
 *
 * A sealed value (libsodium crypto_secretbox_easy: XSalsa20-Poly1305, a
 * new random nonce for every value):
 *	sealed = "SGS1" nonce[24] box[16 + n]
 * so that a value sealed under another key, or changed, is refused by
 * its tag, never decrypted to garbage.
 */
#ifndef STSGUARD_SEAL_H
#define STSGUARD_SEAL_H

#include <stddef.h>

#include "err.h"
#include "limits.h"

#define SEAL_KEY_LEN 32
#define SEAL_MAGIC "SGS1"
#define SEAL_MAGIC_LEN 4
/* Bytes a sealed value has beyond its plain text: magic, nonce, tag. */
#define SEAL_OVERHEAD (SEAL_MAGIC_LEN + 24 + 16)
/* The largest plain text sealed or opened (limits.h says why). */
#define SEAL_MAX_PLAIN LIMIT_SEAL_PLAIN

/* Reads a key from the bytes of a key file, p[0..n): exactly 32 bytes, or
 * 64 hex digits with optional trailing white space. Pure. Returns 0 and
 * key, or -1 with what is wrong (never the key's bytes). */
int	seal_key_parse(const void *p, size_t n, unsigned char key[SEAL_KEY_LEN],
	    struct err *e);

/* seal_key_parse of the file at path (refused when larger than
 * LIMIT_SEAL_KEY_FILE).
 * Returns 0 or -1 with "PATH: reason". */
int	seal_key_load(const char *path, unsigned char key[SEAL_KEY_LEN],
	    struct err *e);

/* Seals in[0..n) (n <= SEAL_MAX_PLAIN) under key into a new buffer of
 * n + SEAL_OVERHEAD bytes (caller frees). Returns 0, or -1 with the
 * reason (out of memory, too large, no randomness). */
int	seal_encrypt(const unsigned char key[SEAL_KEY_LEN], const void *in,
	    size_t n, unsigned char **out, size_t *outlen, struct err *e);

/* Opens a sealed value in[0..n) (untrusted bytes). Returns 0 with the
 * plain text in a new buffer (caller frees; one NUL byte after
 * *outlen so that PEM text can be read as a string), or -1 with the
 * reason: "not a sealed value", or "wrong store_key_file, or the value
 * was changed" when the tag does not match. Pure; reads no byte
 * outside in[0..n). */
int	seal_decrypt(const unsigned char key[SEAL_KEY_LEN], const void *in,
	    size_t n, unsigned char **out, size_t *outlen, struct err *e);

#endif
