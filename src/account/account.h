/*
 * account.h - who may use stsguard's dashboard and API: roles, e-mail
 * addresses as user names, passwords and API tokens. Pure apart from the
 * randomness of new tokens (libsodium) and the memory Argon2id takes.
 *
 *	role     = "admin" / "owner" / "viewer"
 *	           admin: the whole service (no tenant); owner: changes a
 *	           tenant's domains; viewer: reads them
 *	password = 12..LIMIT_PASSWORD_BYTES bytes, stored only as an
 *	           Argon2id hash (libsodium crypto_pwhash_str: the string
 *	           carries its salt and parameters)
 *	token    = "sgt_" 43*base64url   ; 32 random bytes; stored only as
 *	           its SHA-256 (it is random, so a fast hash is enough) and
 *	           its first 8 characters, to tell tokens apart in lists
 */
#ifndef STSGUARD_ACCOUNT_H
#define STSGUARD_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "../lib/err.h"
#include "../lib/limits.h"

enum account_role {
	ACCOUNT_ADMIN = 1,
	ACCOUNT_OWNER = 2,
	ACCOUNT_VIEWER = 3,
};

/* "admin", "owner", "viewer". */
const char *account_role_name(enum account_role r);
/* The role named name, or -1. */
int	account_role_parse(const char *name);

/* An e-mail address as a user name: 3..254 bytes, one '@' with a local
 * part and a domain on each side, printable ASCII without blanks. Writes
 * it, its domain lower-cased, to out. Returns 0, or -1 with the reason. */
#define ACCOUNT_EMAIL_LEN 254
int	account_email(const char *in, char out[ACCOUNT_EMAIL_LEN + 1],
	    struct err *e);

/* crypto_pwhash_str's output: "$argon2id$v=19$m=...,t=...,p=1$salt$hash"
 * and a NUL. */
#define ACCOUNT_HASH_LEN 128
/* Hashes password pw (its length checked) with Argon2id at libsodium's
 * "interactive" cost (64 MiB, 2 passes). Returns 0, or -1 with the
 * reason (too short, too long, out of memory). */
int	account_password_hash(const char *pw, char out[ACCOUNT_HASH_LEN],
	    struct err *e);
/* True when pw is the password of hash. */
bool	account_password_check(const char *hash, const char *pw);

#define ACCOUNT_TOKEN_PREFIX "sgt_"
#define ACCOUNT_TOKEN_LEN 47		/* "sgt_" and 43 characters */
#define ACCOUNT_TOKEN_SHOWN 8		/* kept in clear: "sgt_AbCd" */
/* A new API token into token, and its hash into hash. Returns 0, or -1
 * with the reason. */
int	account_token_new(char token[ACCOUNT_TOKEN_LEN + 1],
	    unsigned char hash[32], struct err *e);
/* The hash of a token as presented (any bytes): what the store keeps.
 * Returns 0, or -1 when it cannot be one of ours (wrong length or
 * prefix: no look-up needed). */
int	account_token_hash(const char *token, size_t len,
	    unsigned char hash[32]);

#endif
