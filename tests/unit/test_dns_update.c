/*
 * test_dns_update.c - the delegated mode's records (dns_records with a
 * zone, dns_zone_parse), the TSIG key file (dns_tsig_parse) and the
 * RFC 2136 UPDATE message (dns_update_build, dns_update_check_answer),
 * read back with ldns: the zone section holds the zone's SOA (§2.3),
 * the update section deletes each TXT RRset (class ANY, TTL 0, no rdata,
 * §2.5.2) before adding the one record (class IN, §2.5.1), and the TSIG
 * record (RFC 8945) is last and verifies with the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "dns/dns.h"

#define KEY "hmac-sha256:stsguard-test:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
#define WRONG "hmac-sha256:stsguard-test:d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmcteg=="

static void
test_records_delegated(void **state)
{
	struct dns_records r;

	(void)state;
	dns_records("example.com", "20260101r1", "tok", "sts.example.net",
	    "zone.example.net", &r);
	assert_int_equal(r.nkept, 2);
	assert_string_equal(r.rr[0].name, "mta-sts.example.com");
	assert_string_equal(r.rr[0].type, "CNAME");
	assert_string_equal(r.rr[0].value, "sts.example.net");
	assert_string_equal(r.rr[1].name, "_mta-sts.example.com");
	assert_string_equal(r.rr[1].type, "CNAME");
	assert_string_equal(r.rr[1].value,
	    "example.com._mta-sts.zone.example.net");
	assert_string_equal(r.rr[2].name, "_smtp._tls.example.com");
	assert_string_equal(r.rr[2].type, "CNAME");
	assert_string_equal(r.rr[2].value,
	    "example.com._smtp._tls.zone.example.net");
	/* The CNAMEs' targets hold the TXT records stsguard keeps. */
	assert_string_equal(r.kept[0].name, r.rr[1].value);
	assert_string_equal(r.kept[0].type, "TXT");
	assert_string_equal(r.kept[0].value, "v=STSv1; id=20260101r1;");
	assert_string_equal(r.kept[1].name, r.rr[2].value);
	assert_string_equal(r.kept[1].value, "v=TLSRPTv1; rua=mailto:"
	    "tlsrpt+tok@sts.example.net,https://sts.example.net/tlsrpt/tok");
	/* Without a zone: the owner publishes the TXT records. */
	dns_records("example.com", "20260101r1", "tok", "sts.example.net",
	    NULL, &r);
	assert_int_equal(r.nkept, 0);
	assert_string_equal(r.rr[1].type, "TXT");
	assert_string_equal(r.rr[1].value, "v=STSv1; id=20260101r1;");
	assert_string_equal(r.rr[2].type, "TXT");
}

static void
test_zone_parse(void **state)
{
	char z[LIMIT_DNAME_LEN + 1], big[200];
	struct err e = { "" };

	(void)state;
	assert_int_equal(dns_zone_parse(NULL, z, &e), 0);
	assert_string_equal(z, "");
	assert_int_equal(dns_zone_parse("STS.Example.NET.", z, &e), 0);
	assert_string_equal(z, "sts.example.net");
	assert_int_equal(dns_zone_parse("bad..zone", z, &e), -1);
	assert_non_null(strstr(e.msg, "dns_zone 'bad..zone'"));
	/* 150 bytes leave no room for a 100-byte domain and the labels. */
	memset(big, 0, sizeof(big));
	for (size_t i = 0; i < 150; i += 10)
		memcpy(big + i, "abcdefghi.", 10);
	memcpy(big + 150, "net", 3);
	assert_int_equal(dns_zone_parse(big, z, &e), -1);
	assert_non_null(strstr(e.msg, "too long"));
}

static void
tsig_bad(const char *text, const char *reason)
{
	struct dns_tsig k;
	struct err e = { "" };

	if (dns_tsig_parse(text, strlen(text), &k, &e) != -1)
		fail_msg("accepted '%s'", text);
	if (strstr(e.msg, reason) == NULL)
		fail_msg("'%s': '%s' does not say '%s'", text, e.msg, reason);
}

static void
test_tsig_parse(void **state)
{
	struct dns_tsig k;
	struct err e = { "" };
	const char *line = KEY "\n";

	(void)state;
	assert_int_equal(dns_tsig_parse(line, strlen(line), &k, &e), 0);
	assert_string_equal(k.alg, "hmac-sha256.");
	assert_string_equal(k.name, "stsguard-test.");
	assert_string_equal(k.secret,
	    "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==");
	line = "HMAC-MD5:key.example.:YWJjZA==";
	assert_int_equal(dns_tsig_parse(line, strlen(line), &k, &e), 0);
	assert_string_equal(k.alg, "hmac-md5.sig-alg.reg.int.");
	assert_string_equal(k.name, "key.example.");
	tsig_bad("stsguard:c2VjcmV0", "expected ALGORITHM:NAME:BASE64SECRET");
	tsig_bad("hmac-sha999:k:c2VjcmV0", "algorithm 'hmac-sha999'");
	tsig_bad("hmac-sha256:bad..name:c2VjcmV0", "key name");
	tsig_bad("hmac-sha256:bad name:c2VjcmV0", "key name");
	tsig_bad("hmac-sha256:k:", "secret");
	tsig_bad("hmac-sha256:k:not*base64", "secret");
	tsig_bad("hmac-sha256:k:abc", "secret");	/* not 4-aligned */
	tsig_bad("hmac-sha256:k:c2Vj\nhmac-sha256:k:c2Vj", "one line");
	/* 129 bytes of secret are over the limit. */
	{
		char big[400];
		int n = snprintf(big, sizeof(big), "hmac-sha256:k:");

		for (int i = 0; i < 43; i++)	/* 43 * 3 = 129 bytes */
			n += snprintf(big + n, sizeof(big) - (size_t)n, "QUFB");
		tsig_bad(big, "secret");
	}
}

static void
key(struct dns_tsig *k, const char *text)
{
	struct err e = { "" };

	if (dns_tsig_parse(text, strlen(text), k, &e) != 0)
		fail_msg("%s", e.msg);
}

static void
test_build(void **state)
{
	struct dns_rr txt[2] = {
		{ "a.example._mta-sts.zone.test", "TXT", "v=STSv1; id=r1;" },
		{ "a.example._smtp._tls.zone.test", "TXT", "" },
	};
	struct dns_update_msg m;
	struct dns_tsig k;
	struct err e = { "" };
	ldns_pkt *p = NULL;
	ldns_rr_list *up;
	ldns_rr *rr, *sig;
	ldns_rdf *mac;
	char *s;

	(void)state;
	/* A TLS-RPT value over 255 bytes goes as several strings. */
	memset(txt[1].value, 'x', 300);
	memcpy(txt[1].value, "v=TLSRPTv1; rua=", 16);
	key(&k, KEY);
	if (dns_update_build("zone.test", txt, 2, 0x1234, &k, &m, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(ldns_wire2pkt(&p, m.wire, m.len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), 0x1234);
	assert_int_equal(ldns_pkt_get_opcode(p), LDNS_PACKET_UPDATE);
	assert_false(ldns_pkt_qr(p));
	/* Zone section: one entry, the zone's SOA, class IN. */
	assert_int_equal(ldns_update_zocount(p), 1);
	rr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
	s = ldns_rdf2str(ldns_rr_owner(rr));
	assert_string_equal(s, "zone.test.");
	free(s);
	/* No prerequisites; four updates: delete, add, delete, add. */
	assert_int_equal(ldns_update_prcount(p), 0);
	assert_int_equal(ldns_update_upcount(p), 4);
	up = ldns_pkt_authority(p);
	for (size_t i = 0; i < 2; i++) {
		ldns_rr *del = ldns_rr_list_rr(up, 2 * i);
		ldns_rr *add = ldns_rr_list_rr(up, 2 * i + 1);
		size_t len = 0;

		s = ldns_rdf2str(ldns_rr_owner(del));
		assert_int_equal(strncmp(s, txt[i].name, strlen(txt[i].name)),
		    0);
		free(s);
		assert_int_equal(ldns_rr_get_type(del), LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_rr_get_class(del), LDNS_RR_CLASS_ANY);
		assert_int_equal(ldns_rr_ttl(del), 0);
		assert_int_equal(ldns_rr_rd_count(del), 0);
		assert_int_equal(ldns_rdf_compare(ldns_rr_owner(del),
		    ldns_rr_owner(add)), 0);
		assert_int_equal(ldns_rr_get_type(add), LDNS_RR_TYPE_TXT);
		assert_int_equal(ldns_rr_get_class(add), LDNS_RR_CLASS_IN);
		assert_int_equal(ldns_rr_ttl(add), DNS_TTL);
		/* The strings put back together are the value. */
		for (size_t j = 0; j < ldns_rr_rd_count(add); j++) {
			const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(add, j));

			assert_true(d[0] <= 255);
			assert_memory_equal(d + 1, txt[i].value + len, d[0]);
			len += d[0];
		}
		assert_int_equal(len, strlen(txt[i].value));
		assert_int_equal(ldns_rr_rd_count(add), i == 0 ? 1 : 2);
	}
	/* TSIG last, and it verifies with the key but not another. */
	assert_non_null(sig = ldns_pkt_tsig(p));
	s = ldns_rdf2str(ldns_rr_owner(sig));
	assert_string_equal(s, "stsguard-test.");
	free(s);
	assert_true(ldns_pkt_tsig_verify(p, m.wire, m.len, k.name, k.secret,
	    NULL));
	key(&k, WRONG);
	assert_false(ldns_pkt_tsig_verify(p, m.wire, m.len, k.name, k.secret,
	    NULL));
	(void)mac;
	ldns_pkt_free(p);
	dns_update_msg_free(&m);

	/* A name that goes: only the delete. */
	key(&k, KEY);
	txt[0].type = NULL;
	assert_int_equal(dns_update_build("zone.test", txt, 2, 7, &k, &m, &e),
	    0);
	assert_int_equal(ldns_wire2pkt(&p, m.wire, m.len), LDNS_STATUS_OK);
	assert_int_equal(ldns_update_upcount(p), 3);
	up = ldns_pkt_authority(p);
	assert_int_equal(ldns_rr_get_class(ldns_rr_list_rr(up, 0)),
	    LDNS_RR_CLASS_ANY);
	assert_int_equal(ldns_rr_get_class(ldns_rr_list_rr(up, 1)),
	    LDNS_RR_CLASS_ANY);
	assert_int_equal(ldns_rr_get_class(ldns_rr_list_rr(up, 2)),
	    LDNS_RR_CLASS_IN);
	ldns_pkt_free(p);
	dns_update_msg_free(&m);
	txt[0].type = "TXT";

	/* A name outside the zone, none at all, too many. */
	assert_int_equal(dns_update_build("other.test", txt, 1, 1, &k, &m, &e),
	    -1);
	assert_non_null(strstr(e.msg, "not in the zone"));
	assert_int_equal(dns_update_build("zone.test", txt, 0, 1, &k, &m, &e),
	    -1);
	assert_int_equal(dns_update_build("zone.test", txt,
	    2 * LIMIT_DNS_UPDATE_DOMAINS + 1, 1, &k, &m, &e), -1);
}

/* The server's answer: our request with QR set, rcode and TSIG error as
 * given, signed with sign_key (NULL: unsigned, as a server answers a
 * key it does not trust). */
static void
answer(const struct dns_update_msg *m, int rcode, const char *sign_key,
    uint8_t **wire, size_t *len)
{
	ldns_pkt *p = NULL;
	ldns_rdf *mac;
	ldns_rr_list *l;

	assert_int_equal(ldns_wire2pkt(&p, m->wire, m->len), LDNS_STATUS_OK);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	/* An answer holds no update records and its own TSIG. */
	l = ldns_pkt_authority(p);
	while (ldns_rr_list_rr_count(l) > 0)
		ldns_rr_free(ldns_rr_list_pop_rr(l));
	ldns_pkt_set_nscount(p, 0);
	ldns_rr_free(ldns_pkt_tsig(p));
	ldns_pkt_set_tsig(p, NULL);
	if (sign_key != NULL) {
		struct dns_tsig k;

		key(&k, sign_key);
		mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA,
		    m->mac_len, m->mac);
		assert_int_equal(ldns_pkt_tsig_sign(p, k.name, k.secret, 300,
		    k.alg, mac), LDNS_STATUS_OK);
		ldns_rdf_deep_free(mac);
	}
	assert_int_equal(ldns_pkt2wire(wire, p, len), LDNS_STATUS_OK);
	ldns_pkt_free(p);
}

static void
test_answer(void **state)
{
	struct dns_rr txt = { "d.test._mta-sts.zone.test", "TXT",
	    "v=STSv1; id=r1;" };
	struct dns_update_msg m;
	struct dns_tsig k;
	struct err e = { "" };
	uint8_t *w;
	size_t len;

	(void)state;
	key(&k, KEY);
	assert_int_equal(dns_update_build("zone.test", &txt, 1, 77, &k, &m,
	    &e), 0);
	answer(&m, 0, KEY, &w, &len);
	if (dns_update_check_answer(&m, w, len, &k, &e) != 0)
		fail_msg("%s", e.msg);
	free(w);
	/* NOERROR signed with another key: not our server's word. */
	answer(&m, 0, WRONG, &w, &len);
	assert_int_equal(dns_update_check_answer(&m, w, len, &k, &e), -1);
	assert_non_null(strstr(e.msg, "does not verify"));
	free(w);
	/* Unsigned NOERROR. */
	answer(&m, 0, NULL, &w, &len);
	assert_int_equal(dns_update_check_answer(&m, w, len, &k, &e), -1);
	free(w);
	/* REFUSED and NOTAUTH say why. */
	answer(&m, 5, NULL, &w, &len);
	assert_int_equal(dns_update_check_answer(&m, w, len, &k, &e), -1);
	assert_non_null(strstr(e.msg, "REFUSED"));
	free(w);
	answer(&m, 9, NULL, &w, &len);
	assert_int_equal(dns_update_check_answer(&m, w, len, &k, &e), -1);
	assert_non_null(strstr(e.msg, "NOTAUTH"));
	free(w);
	/* Another id is not our answer; garbage is no message. */
	m.id = 78;
	answer(&m, 0, KEY, &w, &len);
	assert_int_equal(dns_update_check_answer(&m, w, len, &k, &e), -1);
	assert_non_null(strstr(e.msg, "not for our update"));
	free(w);
	assert_int_equal(dns_update_check_answer(&m, (const uint8_t *)"xx", 2,
	    &k, &e), -1);
	dns_update_msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_delegated),
		cmocka_unit_test(test_zone_parse),
		cmocka_unit_test(test_tsig_parse),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
