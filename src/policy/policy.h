/*
 * policy.h - MTA-STS (RFC 8461): the policy file, the _mta-sts TXT record
 * and MX pattern matching.
 *
 * Pure functions: bytes in, struct or error out. No I/O, no globals.
 */
#ifndef STSGUARD_POLICY_H
#define STSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/err.h"
#include "../lib/limits.h"
#include "../lib/strv.h"

enum policy_mode {
	POLICY_MODE_NONE = 0,
	POLICY_MODE_TESTING,
	POLICY_MODE_ENFORCE,
};

struct policy {
	enum policy_mode mode;
	uint32_t	 max_age;	/* seconds, 0..LIMIT_POLICY_MAX_AGE */
	struct strv	 mx;		/* patterns, lower-case A-labels,
					 * "*.example.net" allowed; in the
					 * order of the source, duplicates
					 * removed */
};

/* Parses a policy body (RFC 8461 §3.2) of len bytes. Tolerates CRLF, LF
 * and mixed line ends, a missing final line end, whitespace after ':' and
 * at the end of a value, empty lines (skipped with a warning), and
 * unknown keys (ignored with a warning). A CR alone is not a line end
 * (the RFC allows CRLF and LF only): it is an error. For every key but mx
 * the first instance wins (later ones warned about, but still checked to
 * be well-formed fields). Requires version STSv1, a mode, a max_age of
 * 1-10 digits up to LIMIT_POLICY_MAX_AGE, and at least one mx unless mode
 * is none; mx values must be host names of A-labels, optionally "*."
 * first; they are stored lower-case, duplicates dropped with a warning.
 * Refuses bodies over LIMIT_POLICY_BYTES, more than LIMIT_POLICY_MX mx
 * lines, and policies whose canonical form would exceed
 * LIMIT_POLICY_BYTES. Warnings (may be NULL) receive one line each,
 * "line N: ...". *p is overwritten (not freed) first.
 * On success fills *p (caller calls policy_free) and returns 0; on error
 * returns -1 with the reason in e ("line N: ..." when a line is at
 * fault, e.g. "line 3: max_age 40000000 exceeds 31557600") and *p
 * empty. */
int	policy_parse(const char *buf, size_t len, struct policy *p,
	    struct strv *warnings, struct err *e);

/* Renders the canonical body: CRLF lines "version: STSv1", "mode: M",
 * one "mx: P" per pattern, "max_age: N". Returns a new NUL-terminated
 * string (caller frees) with its length in *len, or NULL when out of
 * memory. */
char	*policy_render(const struct policy *p, size_t *len);

/* Checks a policy built by hand (the CLI's --mode/--mx/--max-age) by the
 * same rules policy_parse applies. The mx patterns must already be
 * normalized (dname_normalize: lower-case A-labels, no trailing dot) and
 * distinct; a repeated one is an error here, not silently dropped.
 * Returns 0 or -1 with the reason. */
int	policy_validate(const struct policy *p, struct err *e);

/* Applies what a person typed to p (which holds the current policy, or
 * the defaults of a new one): mode ("testing", "enforce", "none"),
 * max_age (decimal seconds, 0..LIMIT_POLICY_MAX_AGE) and mx patterns
 * (U- or A-labels, "*." allowed; they replace p's when n > 0), each left
 * alone when NULL or empty; then policy_validate. The CLI's flags and
 * `domain import`'s CSV columns both go through here. Returns 0, or -1
 * with the reason, naming the field ("mode: 'x' is not one of ...",
 * "max-age: ...", "mx 'P': ..."), or "policy: ..." for the whole. */
int	policy_apply(struct policy *p, const char *mode, const char *max_age,
	    const char *const *mx, size_t nmx, struct err *e);

/* Deep copy. Returns 0 or -1 (out of memory; dst left empty). */
int	policy_copy(struct policy *dst, const struct policy *src);

/* Frees what p owns and leaves it empty (mode none, no mx). */
void	policy_free(struct policy *p);

/* "none", "testing", "enforce" ("invalid" for a value out of range);
 * and back, case-sensitively as in RFC 8461 (returns -1 for anything
 * else, leaving *m alone). */
const char *policy_mode_name(enum policy_mode m);
int	policy_mode_parse(const char *s, enum policy_mode *m);

/* RFC 8461 §4.1: true when host matches pattern. Case-insensitive, one
 * trailing dot on either side ignored; "*.example.com" matches exactly one
 * extra leftmost label ("a.example.com", not "example.com" nor
 * "a.b.example.com"). */
bool	policy_mx_match(const char *pattern, const char *host);

/* True when host matches any mx pattern of p. */
bool	policy_match(const struct policy *p, const char *host);

/* The _mta-sts TXT record (RFC 8461 §3.1). */
struct sts_record {
	char	id[LIMIT_STS_ID_LEN + 1];	/* 1..32 letters and digits */
};

/* Parses one TXT record (its strings already concatenated): "v=STSv1"
 * first, then fields "name=value" separated by ';' with optional
 * whitespace around it, and an optional final ';'; an "id" of 1-32
 * ALPHA/DIGIT is required; extension fields are allowed (warned about
 * when unknown, if warnings is not NULL); a repeated id counts once, the
 * first (warned about). An empty field (";;") is an error. Refuses
 * records over LIMIT_TXT_BYTES. Returns 0 with r->id filled, or -1 with
 * the reason in e and r->id empty. */
int	sts_record_parse(const char *txt, size_t len, struct sts_record *r,
	    struct strv *warnings, struct err *e);

/* Given every TXT record at _mta-sts.<domain>, picks the STSv1 one.
 * Records not starting with "v=STSv1" followed by ';', SP, TAB or their
 * end are ignored (RFC 8461 §3.1; so "v=STSv12..." is ignored, not an
 * error). lens may be NULL when every txts[i] is NUL-terminated; NULL
 * entries are skipped. Returns 0 with *r filled, 1 when there is no STSv1
 * record, -1 when there is more than one (the caller must treat the
 * domain as having no policy) or the one there is invalid; the reason is
 * in e (also for 1). */
int	sts_record_select(const char *const *txts, const size_t *lens,
	    size_t n, struct sts_record *r, struct err *e);

/* --- mx templates of hosted mail providers (policy_template.c) -------
 *
 * What a provider's MX hosts are called and which mx patterns its own
 * documentation gives for them: share/mx-templates.txt, compiled in
 * (policy_templates_builtin) or the operator's file of the same format
 * (the setting mx_templates). Used by `domain add --mx auto` and by the
 * checker. */

struct policy_template {
	char	 provider[LIMIT_TEMPLATE_NAME + 1];	/* "microsoft-365" */
	char	 match[LIMIT_DNAME_LEN + 1];	/* a host, or "*.suffix":
						 * any depth under suffix */
	char	 pat[LIMIT_TEMPLATE_PATTERNS][LIMIT_DNAME_LEN + 1];
	size_t	 npat;				/* 1..LIMIT_TEMPLATE_PATTERNS */
	char	 doc[LIMIT_TEMPLATE_URL + 1];	/* https:// */
	size_t	 line;				/* in the source, for messages */
};

struct policy_templates {
	struct policy_template *t;	/* t[0..n), in file order */
	size_t	 n;
};

/* Parses a table (see share/mx-templates.txt) of len bytes: per line
 * PROVIDER MATCH PATTERN[,PATTERN]... URL, '#' comment lines and blank
 * lines skipped. Names are normalized (lower-case A-labels). Refuses
 * more than LIMIT_TEMPLATE_BYTES, LIMIT_TEMPLATE_LINES lines,
 * LIMIT_TEMPLATE_ENTRIES templates, a line over LIMIT_TEMPLATE_LINE
 * bytes, a NUL byte, and any bad field, with "line N: ..." in e; a
 * table without a template is an error too. On success fills *out
 * (caller calls policy_templates_free) and returns 0; on error returns
 * -1 with *out empty. */
int	policy_templates_parse(const char *buf, size_t len,
	    struct policy_templates *out, struct err *e);
void	policy_templates_free(struct policy_templates *t);

/* The table stsguard was built with (share/mx-templates.txt), parsed.
 * Returns 0, or -1 with the reason (a broken build: a unit test parses
 * it). */
int	policy_templates_builtin(struct policy_templates *out, struct err *e);

/* The first template whose match covers host (case and one final dot
 * aside), or NULL. */
const struct policy_template *policy_template_find(
	    const struct policy_templates *t, const char *host);

/* True when pattern lies in the namespace of template tp (its
 * provider's zone: the last two labels of its match, or three when the
 * second-level label is two letters or fewer, as in zoho.com.au) yet
 * is none of its patterns and matches none of hosts[0..n): a pattern
 * that looks meant for the provider but covers none of the names the
 * provider uses. */
bool	policy_template_stray(const struct policy_template *tp,
	    const char *pattern, const char *const *hosts, size_t n);

/* Maps MX hosts (hosts[0..n), in preference order; "" is a null MX) to
 * mx patterns: the patterns of the template that matches each host,
 * else the host itself; duplicates dropped, in order of first use.
 * used[i] (an array of n, may be NULL) gets host i's template or NULL.
 * Appends to out. Returns 0, or -1 with the reason (no MX, a null MX,
 * a host that is no valid name, more than LIMIT_POLICY_MX patterns,
 * out of memory). */
int	policy_template_map(const struct policy_templates *t,
	    const char *const *hosts, size_t n, struct strv *out,
	    const struct policy_template **used, struct err *e);

#endif
