/*
 * account.c - roles, user names, passwords and API tokens (account.h).
 *
 * Passwords are libsodium's Argon2id (crypto_pwhash_str): the hash
 * string holds its own salt and cost, so stronger costs can come later
 * without breaking stored hashes. Tokens are 32 bytes from libsodium's
 * randombytes, written base64url; only their SHA-256 is stored.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "account.h"

static const char *const account_roles[] = {
	[ACCOUNT_ADMIN] = "admin",
	[ACCOUNT_OWNER] = "owner",
	[ACCOUNT_VIEWER] = "viewer",
};

const char *
account_role_name(enum account_role r)
{
	return r >= ACCOUNT_ADMIN && r <= ACCOUNT_VIEWER ? account_roles[r] :
	    "none";
}

int
account_role_parse(const char *name)
{
	for (int r = ACCOUNT_ADMIN; r <= ACCOUNT_VIEWER; r++)
		if (name != NULL && strcmp(name, account_roles[r]) == 0)
			return r;
	return -1;
}

int
account_email(const char *in, char out[ACCOUNT_EMAIL_LEN + 1], struct err *e)
{
	size_t n = in != NULL ? strlen(in) : 0;
	const char *at = in != NULL ? strchr(in, '@') : NULL;

	if (n < 3 || n > ACCOUNT_EMAIL_LEN)
		return err_set(e, "e-mail address: 3 to %d bytes",
		    ACCOUNT_EMAIL_LEN);
	if (at == NULL || at == in || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return err_set(e, "e-mail address: one '@' between a name "
		    "and a domain");
	for (size_t i = 0; i < n; i++)
		if (in[i] <= ' ' || in[i] >= 0x7f)
			return err_set(e, "e-mail address: only printable "
			    "ASCII, no blanks (byte %zu)", i + 1);
	for (size_t i = 0; i <= n; i++)	/* the domain part lower-cased */
		out[i] = in + i > at && in[i] >= 'A' && in[i] <= 'Z' ?
		    (char)(in[i] - 'A' + 'a') : in[i];
	return 0;
}

static int
account_sodium(struct err *e)
{
	if (sodium_init() < 0)
		return err_set(e, "libsodium could not start");
	return 0;
}

int
account_password_hash(const char *pw, char out[ACCOUNT_HASH_LEN],
    struct err *e)
{
	size_t n = pw != NULL ? strlen(pw) : 0;

	_Static_assert(crypto_pwhash_STRBYTES <= ACCOUNT_HASH_LEN,
	    "ACCOUNT_HASH_LEN must hold crypto_pwhash_str's output");
	if (n < LIMIT_PASSWORD_MIN)
		return err_set(e, "password: at least %d characters",
		    LIMIT_PASSWORD_MIN);
	if (n > LIMIT_PASSWORD_BYTES)
		return err_set(e, "password: at most %d bytes",
		    LIMIT_PASSWORD_BYTES);
	if (account_sodium(e) == -1)
		return -1;
	if (crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return err_set(e, "password: hashing failed (out of memory)");
	return 0;
}

bool
account_password_check(const char *hash, const char *pw)
{
	size_t n = pw != NULL ? strlen(pw) : 0;

	if (hash == NULL || n == 0 || n > LIMIT_PASSWORD_BYTES ||
	    sodium_init() < 0)
		return false;
	return crypto_pwhash_str_verify(hash, pw, n) == 0;
}

int
account_token_new(char token[ACCOUNT_TOKEN_LEN + 1], unsigned char hash[32],
    struct err *e)
{
	unsigned char raw[32];
	const size_t pre = sizeof(ACCOUNT_TOKEN_PREFIX) - 1;

	_Static_assert(sizeof(ACCOUNT_TOKEN_PREFIX) - 1 + 43 ==
	    ACCOUNT_TOKEN_LEN, "a token is its prefix and 43 characters");
	if (account_sodium(e) == -1)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	memcpy(token, ACCOUNT_TOKEN_PREFIX, pre);
	sodium_bin2base64(token + pre, ACCOUNT_TOKEN_LEN + 1 - pre, raw,
	    sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	if (account_token_hash(token, strlen(token), hash) == -1)
		return err_set(e, "token: made one of the wrong form");
	return 0;
}

int
account_token_hash(const char *token, size_t len, unsigned char hash[32])
{
	const size_t pre = sizeof(ACCOUNT_TOKEN_PREFIX) - 1;

	if (len != ACCOUNT_TOKEN_LEN ||
	    memcmp(token, ACCOUNT_TOKEN_PREFIX, pre) != 0 ||
	    sodium_init() < 0)
		return -1;
	crypto_hash_sha256(hash, (const unsigned char *)token, len);
	return 0;
}
