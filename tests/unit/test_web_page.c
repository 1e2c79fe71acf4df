/*
 * test_web_page.c - the dashboard's markup (src/web/web_html.c,
 * web_svg.c, web_explain.c): escaping, URL encoding, the page limit,
 * charts whose labels are hostile, and the plain sentences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/limits.h"
#include "web/web.h"

/* Every byte that could open markup or end an attribute is an entity. */
static void
test_escape(void **state)
{
	struct web_html h = { 0 };
	static const char nul[] = "a\0b";

	(void)state;
	web_html_raw(&h, "<p title=\"");
	web_html_text(&h, "\"><script>alert('x')</script>&");
	web_html_raw(&h, "\">");
	web_html_textn(&h, nul, 3);
	web_html_text(&h, NULL);
	assert_false(h.failed);
	assert_string_equal(h.p, "<p title=\"&quot;&gt;&lt;script&gt;"
	    "alert(&#39;x&#39;)&lt;/script&gt;&amp;\">a\xef\xbf\xbd" "b");
	assert_int_equal(h.len, strlen(h.p));
	web_html_free(&h);

	web_html_url(&h, "b\xc3\xbc" "cher.example/x?y=<z>&");
	assert_string_equal(h.p, "b%C3%BCcher.example%2Fx%3Fy%3D%3Cz%3E%26");
	web_html_free(&h);
	web_html_fmt(&h, "%d-%s", 42, "ok");
	assert_string_equal(h.p, "42-ok");
	web_html_free(&h);
}

/* The page limit: past LIMIT_WEB_PAGE_BYTES the buffer fails, and stays
 * failed (no partial page is ever sent). */
static void
test_limit(void **state)
{
	struct web_html h = { 0 };
	char *big = malloc(LIMIT_WEB_PAGE_BYTES / 2);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', LIMIT_WEB_PAGE_BYTES / 2 - 1);
	big[LIMIT_WEB_PAGE_BYTES / 2 - 1] = '\0';
	web_html_raw(&h, big);
	assert_false(h.failed);
	web_html_raw(&h, big);		/* exactly up to the limit, less one */
	assert_false(h.failed);
	assert_int_equal(h.len, LIMIT_WEB_PAGE_BYTES - 2);
	web_html_raw(&h, "x");		/* exactly full, with the NUL */
	assert_false(h.failed);
	assert_int_equal(h.cap, LIMIT_WEB_PAGE_BYTES);
	web_html_raw(&h, "y");		/* one more */
	assert_true(h.failed);
	web_html_raw(&h, "z");
	assert_true(h.failed);
	web_html_free(&h);
	free(big);
}

/* Charts: labels from reports are escaped; every day gets a bar with a
 * title; a failure among many still shows. */
static void
test_svg(void **state)
{
	struct web_stat_key d[2] = {
		{ "2026-05-11", 1000000, 1 },
		{ "2026-05-12", 5, 0 },
	};
	struct web_stat_key t[1] = { { "<b>x</b>", 0, 3 } };
	struct web_stat_table days = { d, 2, 2 }, types = { t, 1, 1 };
	struct web_html h = { 0 };
	time_t from;

	(void)state;
	web_svg_days(&h, &days, 0, 0);
	assert_non_null(strstr(h.p, "<title>2026-05-11: 1000000 successful, "
	    "1 failed</title>"));
	assert_non_null(strstr(h.p, "height=\"1.00\" fill=\"#c62828\""));
	web_html_free(&h);
	/* Over a range: each day at its place, the range's ends labelled,
	 * days outside it left out. */
	assert_int_equal(web_parse_day("2026-05-10", &from), 0);
	web_svg_days(&h, &days, from, 4);
	assert_non_null(strstr(h.p, "<rect x=\"180.00\""));	/* 05-11 */
	assert_non_null(strstr(h.p, "<rect x=\"360.00\""));	/* 05-12 */
	assert_non_null(strstr(h.p, ">2026-05-10</text>"));
	assert_non_null(strstr(h.p, ">2026-05-13</text>"));
	web_html_free(&h);
	web_svg_days(&h, &days, from + 2 * 86400, 4);	/* 05-12 .. 05-15 */
	assert_null(strstr(h.p, "2026-05-11:"));
	assert_non_null(strstr(h.p, "<rect x=\"0.00\""));
	web_html_free(&h);
	web_svg_types(&h, &types);
	assert_null(strstr(h.p, "<b>"));
	assert_non_null(strstr(h.p, "&lt;b&gt;x&lt;/b&gt;"));
	web_html_free(&h);
	web_svg_spark(&h, &days);
	assert_non_null(strstr(h.p, "M0.0 "));
	assert_non_null(strstr(h.p, "L120.0 1.0"));
	web_html_free(&h);
	days.n = 0;
	web_svg_days(&h, &days, 0, 0);
	assert_non_null(strstr(h.p, "no sessions"));
	web_html_free(&h);
}

static void
test_explain(void **state)
{
	struct web_html h = { 0 };

	(void)state;
	web_explain(&h, "certificate-expired", "mx2.example.com");
	assert_string_equal(h.p, "the certificate of mx2.example.com has "
	    "expired: renew it.");
	web_html_free(&h);
	web_explain(&h, "starttls-not-supported", NULL);
	assert_non_null(strstr(h.p, "an MX host did not offer STARTTLS"));
	web_html_free(&h);
	web_explain(&h, "<i>new</i>", "<mx>");
	assert_null(strstr(h.p, "<i>"));
	assert_non_null(strstr(h.p, "&lt;mx&gt;"));
	web_html_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
