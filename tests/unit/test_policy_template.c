/*
 * test_policy_template.c - the mx templates of hosted mail providers
 * (policy.h, policy_template.c): the table's parser with its limits and
 * reasons, the built-in table, and the mapping of MX hosts to mx
 * patterns that `domain add --mx auto` uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const char table[] =
    "# a comment\n"
    "\n"
    "microsoft-365 *.mail.protection.outlook.com "
    "*.mail.protection.outlook.com https://learn.microsoft.com/x\r\n"
    "  google-workspace\tsmtp.google.com smtp.google.com "
    "https://support.google.com/a/answer/9276511\n"
    "google-workspace *.aspmx.l.google.com aspmx.l.google.com,"
    "*.aspmx.l.google.com,*.googlemail.com https://support.google.com/a\n"
    "zoho-mail *.zoho.com.au *.zoho.com.au https://www.zoho.com/x";

static void
parse_ok(struct policy_templates *t)
{
	struct err e;

	if (policy_templates_parse(table, strlen(table), t, &e) == -1)
		fail_msg("%s", e.msg);
}

/* Parses s and asserts the error contains why. */
static void
refused(const char *s, const char *why)
{
	struct policy_templates t;
	struct err e;

	if (policy_templates_parse(s, strlen(s), &t, &e) != -1)
		fail_msg("accepted: %s", s);
	if (strstr(e.msg, why) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", s, e.msg, why);
	assert_null(t.t);
	assert_int_equal(t.n, 0);
}

static void
test_parse(void **state)
{
	struct policy_templates t;

	parse_ok(&t);
	assert_int_equal(t.n, 4);
	assert_string_equal(t.t[0].provider, "microsoft-365");
	assert_string_equal(t.t[0].match, "*.mail.protection.outlook.com");
	assert_int_equal(t.t[0].npat, 1);
	assert_string_equal(t.t[0].doc, "https://learn.microsoft.com/x");
	assert_int_equal(t.t[0].line, 3);
	assert_string_equal(t.t[1].match, "smtp.google.com");
	assert_int_equal(t.t[2].npat, 3);
	assert_string_equal(t.t[2].pat[2], "*.googlemail.com");
	assert_int_equal(t.t[3].line, 6);	/* no final LF */
	policy_templates_free(&t);
}

static void
test_parse_refused(void **state)
{
	char big[LIMIT_TEMPLATE_BYTES + 2], line[LIMIT_TEMPLATE_LINE + 64];

	refused("# only comments\n\n", "no template");
	refused("", "no template");
	refused("a b c\n", "line 1: too few fields");
	refused("a *.b.com b.com https://x extra\n", "line 1: too many");
	refused("A *.b.com b.com https://x\n", "line 1: provider");
	refused("a *.b.com b.com http://x\n", "line 1: url: https://");
	refused("a *.b.com b.com https://\n", "line 1: url");
	refused("# x\na b..com b.com https://x\n", "line 2: match");
	refused("a b.com c.com,,d.com https://x\n", "line 1: pattern 2");
	refused("a b.com c.com,c.com https://x\n", "pattern c.com twice");
	refused("a b.com x.*.com https://x\n", "line 1: pattern 1");
	refused("a b.com c.com,d.com,e.com,f.com,g.com,h.com,i.com,j.com,"
	    "k.com https://x\n", "more than 8 patterns");
	refused("a b.com c.com https://x\x01y\n", "control byte");
	{
		const char nul[] = "a b.com c.com https://x\0\n";

		struct policy_templates t;
		struct err e;

		assert_int_equal(policy_templates_parse(nul, sizeof(nul) - 1,
		    &t, &e), -1);
		assert_non_null(strstr(e.msg, "NUL"));
	}
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	line[0] = '#';
	refused(line, "line 1: over 1024 bytes");
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused(big, "over 65536 bytes");
	{
		/* More lines than allowed, each short. */
		static char many[LIMIT_TEMPLATE_LINES * 2 + 8];

		memset(many, '\n', LIMIT_TEMPLATE_LINES + 1);
		many[LIMIT_TEMPLATE_LINES + 1] = '\0';
		refused(many, "more than 2048 lines");
	}
}

static void
test_builtin(void **state)
{
	struct policy_templates t;
	const struct policy_template *tp;
	struct err e;

	if (policy_templates_builtin(&t, &e) == -1)
		fail_msg("%s", e.msg);
	assert_true(t.n >= 5);
	for (size_t i = 0; i < t.n; i++)
		assert_memory_equal(t.t[i].doc, "https://", 8);
	tp = policy_template_find(&t, "contoso-com.mail.protection.outlook.com");
	assert_non_null(tp);
	assert_string_equal(tp->provider, "microsoft-365");
	assert_string_equal(tp->pat[0], "*.mail.protection.outlook.com");
	tp = policy_template_find(&t, "ALT2.ASPMX.L.GOOGLE.COM.");
	assert_non_null(tp);
	assert_string_equal(tp->provider, "google-workspace");
	tp = policy_template_find(&t, "smtp.google.com");
	assert_non_null(tp);
	assert_string_equal(tp->pat[0], "smtp.google.com");
	assert_null(policy_template_find(&t, "mail.example.com"));
	/* A suffix match needs a label boundary. */
	assert_null(policy_template_find(&t, "evilmail.protection.outlook.com"));
	policy_templates_free(&t);
}

static void
test_map(void **state)
{
	struct policy_templates t;
	const struct policy_template *used[4];
	const char *hosts[] = { "contoso-com.mail.protection.outlook.com",
	    "aspmx.l.google.com", "alt1.aspmx.l.google.com",
	    "Backup.Example.COM" };
	struct strv out = { 0 };
	struct err e;

	parse_ok(&t);
	assert_int_equal(policy_template_map(&t, hosts, 4, &out, used, &e),
	    0);
	/* aspmx.l.google.com is no "*.aspmx" name and has no line of its
	 * own in this table: it stands for itself; alt1 maps to three. */
	assert_int_equal(out.n, 5);
	assert_string_equal(out.v[0], "*.mail.protection.outlook.com");
	assert_string_equal(out.v[1], "aspmx.l.google.com");
	assert_string_equal(out.v[2], "*.aspmx.l.google.com");
	assert_string_equal(out.v[3], "*.googlemail.com");
	assert_string_equal(out.v[4], "backup.example.com");
	assert_non_null(used[0]);
	assert_null(used[1]);
	assert_non_null(used[2]);
	assert_null(used[3]);
	strv_free(&out);

	/* Two hosts of one provider give its patterns once. */
	hosts[1] = "other-org.mail.protection.outlook.com";
	assert_int_equal(policy_template_map(&t, hosts, 2, &out, NULL, &e),
	    0);
	assert_int_equal(out.n, 1);
	strv_free(&out);

	assert_int_equal(policy_template_map(&t, hosts, 0, &out, NULL, &e),
	    -1);
	assert_non_null(strstr(e.msg, "no MX record"));
	hosts[0] = "";
	assert_int_equal(policy_template_map(&t, hosts, 1, &out, NULL, &e),
	    -1);
	assert_non_null(strstr(e.msg, "null MX"));
	hosts[0] = "bad..name";
	assert_int_equal(policy_template_map(&t, hosts, 1, &out, NULL, &e),
	    -1);
	assert_non_null(strstr(e.msg, "MX 'bad..name'"));
	strv_free(&out);
	policy_templates_free(&t);
}

static void
test_stray(void **state)
{
	struct policy_templates t;
	const char *hosts[] = { "contoso-com.mail.protection.outlook.com" };

	parse_ok(&t);
	/* In Microsoft's namespace, matching none of the MX names. */
	assert_true(policy_template_stray(&t.t[0],
	    "mail.protection.outlook.com", hosts, 1));
	assert_true(policy_template_stray(&t.t[0], "*.outlook.com", hosts, 1));
	assert_true(policy_template_stray(&t.t[0],
	    "*.protection.outlook.com", hosts, 1));
	/* The documented pattern, a pattern that matches an MX, or one
	 * outside the provider's zone are not. */
	assert_false(policy_template_stray(&t.t[0],
	    "*.mail.protection.outlook.com", hosts, 1));
	assert_false(policy_template_stray(&t.t[0],
	    "contoso-com.mail.protection.outlook.com", hosts, 1));
	assert_false(policy_template_stray(&t.t[0], "mx.example.com", hosts,
	    1));
	assert_false(policy_template_stray(&t.t[0], "notoutlook.com", hosts,
	    1));
	/* A zone under a two-letter country code keeps three labels. */
	assert_true(policy_template_stray(&t.t[3], "mx.zoho.com.au", hosts,
	    1));
	assert_false(policy_template_stray(&t.t[3], "mx.other.com.au", hosts,
	    1));
	policy_templates_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_builtin),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_stray),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
