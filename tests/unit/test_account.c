/*
 * test_account.c - roles, user names, passwords (Argon2id) and API
 * tokens (src/account/account.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "account/account.h"

static void
test_roles(void **state)
{
	for (int r = ACCOUNT_ADMIN; r <= ACCOUNT_VIEWER; r++)
		assert_int_equal(account_role_parse(account_role_name(
		    (enum account_role)r)), r);
	assert_int_equal(account_role_parse("owner"), ACCOUNT_OWNER);
	assert_int_equal(account_role_parse("Owner"), -1);
	assert_int_equal(account_role_parse(""), -1);
	assert_int_equal(account_role_parse(NULL), -1);
	assert_string_equal(account_role_name(0), "none");
}

static void
test_email(void **state)
{
	char out[ACCOUNT_EMAIL_LEN + 1], big[ACCOUNT_EMAIL_LEN + 2];
	struct err e = { "" };

	assert_int_equal(account_email("Ann.Smith@Example.COM", out, &e), 0);
	assert_string_equal(out, "Ann.Smith@example.com");
	assert_int_equal(account_email("a@b", out, &e), 0);
	assert_int_equal(account_email("ab", out, &e), -1);
	assert_int_equal(account_email("@example.com", out, &e), -1);
	assert_int_equal(account_email("ann@", out, &e), -1);
	assert_int_equal(account_email("a@b@c", out, &e), -1);
	assert_int_equal(account_email("ann smith@example.com", out, &e), -1);
	assert_non_null(strstr(e.msg, "no blanks"));
	assert_int_equal(account_email("ann\x01@example.com", out, &e), -1);
	assert_int_equal(account_email(NULL, out, &e), -1);
	/* 254 bytes exactly, then 255. */
	memset(big, 'a', sizeof(big));
	big[10] = '@';
	big[ACCOUNT_EMAIL_LEN] = '\0';
	assert_int_equal(account_email(big, out, &e), 0);
	big[ACCOUNT_EMAIL_LEN] = 'a';
	big[ACCOUNT_EMAIL_LEN + 1] = '\0';
	assert_int_equal(account_email(big, out, &e), -1);
}

static void
test_password(void **state)
{
	char h[ACCOUNT_HASH_LEN], h2[ACCOUNT_HASH_LEN];
	char pw[LIMIT_PASSWORD_BYTES + 2];
	struct err e = { "" };

	assert_int_equal(account_password_hash("correct horse", h, &e), 0);
	assert_non_null(strstr(h, "$argon2id$"));
	assert_true(account_password_check(h, "correct horse"));
	assert_false(account_password_check(h, "correct horsE"));
	assert_false(account_password_check(h, ""));
	assert_false(account_password_check(NULL, "correct horse"));
	/* A salt of its own each time. */
	assert_int_equal(account_password_hash("correct horse", h2, &e), 0);
	assert_string_not_equal(h, h2);
	assert_true(account_password_check(h2, "correct horse"));
	/* 11 characters refused, 12 taken; LIMIT_PASSWORD_BYTES taken, one
	 * more refused (and never checked). */
	assert_int_equal(account_password_hash("elevenchars", h, &e), -1);
	assert_non_null(strstr(e.msg, "at least 12"));
	assert_int_equal(account_password_hash("twelve chars", h, &e), 0);
	memset(pw, 'p', sizeof(pw));
	pw[LIMIT_PASSWORD_BYTES] = '\0';
	assert_int_equal(account_password_hash(pw, h, &e), 0);
	assert_true(account_password_check(h, pw));
	pw[LIMIT_PASSWORD_BYTES] = 'p';
	pw[LIMIT_PASSWORD_BYTES + 1] = '\0';
	assert_int_equal(account_password_hash(pw, h2, &e), -1);
	assert_false(account_password_check(h, pw));
}

static void
test_token(void **state)
{
	char t[ACCOUNT_TOKEN_LEN + 1], t2[ACCOUNT_TOKEN_LEN + 1];
	unsigned char h[32], h2[32], again[32];
	struct err e = { "" };

	assert_int_equal(account_token_new(t, h, &e), 0);
	assert_int_equal(strlen(t), ACCOUNT_TOKEN_LEN);
	assert_memory_equal(t, "sgt_", 4);
	for (size_t i = 4; i < ACCOUNT_TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_", t[i]));
	assert_int_equal(account_token_hash(t, strlen(t), again), 0);
	assert_memory_equal(h, again, 32);
	assert_int_equal(account_token_new(t2, h2, &e), 0);
	assert_string_not_equal(t, t2);
	assert_memory_not_equal(h, h2, 32);
	/* One character off: another hash; wrong length or prefix: none. */
	t[10] = t[10] == 'A' ? 'B' : 'A';
	assert_int_equal(account_token_hash(t, strlen(t), again), 0);
	assert_memory_not_equal(h, again, 32);
	assert_int_equal(account_token_hash(t, strlen(t) - 1, again), -1);
	t[0] = 'x';
	assert_int_equal(account_token_hash(t, strlen(t), again), -1);
	assert_int_equal(account_token_hash("", 0, again), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
