/*
 * cli_report.c - `stsguard report ...`: TLS-RPT reports (RFC 8460) on the
 * command line, and the intake routes that are not the daemon's.
 *
 *	report parse FILE|-	 parse and print, store nothing
 *	report import PATH...	 store reports: files and maildirs
 *	report import --stdin	 store one input from an MTA's pipe
 *	report list		 stored reports, newest first; a domain's
 *				 (--domain), those no domain claims
 *				 (--unclaimed), or those in conflict
 *				 (--conflicts: different reports under one
 *				 organization-name and report-id)
 *	report show ID		 one stored report
 *	report quarantine list	 input that could not be taken
 *	report quarantine show ID
 *	report quarantine retry ID|--all
 *
 * What import reads (each file, and stdin, is one input):
 *
 *   input   = report / message		; told apart by the bytes:
 *   report  = gzip / json		; 1f 8b, or '{' after white space
 *   message = RFC 5322 message		; anything else: .eml files, the
 *					; files of a maildir's cur/ and new/
 *
 * Each input goes through intake (intake.h), as it does by HTTPS and
 * SMTP: intake_examine takes it apart (a message's reports found by
 * mime_report_extract), intake_commit stores a batch of inputs in one
 * transaction (see struct cli_import); a batch never splits an input, so
 * an input is stored whole or not at all. So the same bytes have the same
 * outcome by every route: a duplicate (the same report) is counted, never
 * stored twice; a different report under a stored organization-name and
 * report-id is stored, flagged a conflict (store.h says which counts); an invalid report is kept in
 * quarantine with the reason and its origin, alone when valid reports
 * came with it in a message (they are stored), or as the whole message
 * when nothing in it could be taken; and `quarantine retry` runs an entry
 * through the same steps again after a fix. Nothing is printed as stored
 * before the store's commit returned.
 *
 * Exit codes of import: 0 all stored or duplicates, 1 some input invalid
 * (kept in quarantine), 2 I/O or store error. With --stdin they are
 * sysexits(3) codes for Postfix pipe(8) and Exim's pipe transport, and
 * lose nothing: 0 also for an invalid input, since it is kept (a bounce
 * would go to a reporter's no-reply address); 75 (EX_TEMPFAIL: the MTA
 * keeps the message and retries) when the pipe or the store failed; 65
 * (EX_DATAERR: a bounce) only for input over LIMIT_SMTP_MESSAGE_BYTES,
 * which nothing can keep. On a terminal, import of several inputs draws
 * a progress line on stderr.
 *
 * Never writes report bytes anywhere but the store, and never prints a
 * reporter's string unescaped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "web/web.h"
#include "intake/intake.h"
#include "lib/gzip.h"
#include "tlsrpt/tlsrpt.h"

/* Prints "label value" with value escaped (it comes from a reporter). */
static void
cli_report_field(const char *label, const char *value)
{
	printf("%-14s", label);
	cli_put_safe(stdout, value != NULL ? value : "-");
	putchar('\n');
}

static void
cli_report_print(const struct tlsrpt_report *r)
{
	char t1[21], t2[21], b1[256], b2[256], b3[256];
	struct tlsrpt_counted c;

	cli_report_field("organization:", r->organization_name);
	cli_report_field("report-id:", r->report_id);
	cli_report_field("contact:", r->contact_info);
	printf("date-range:   %s .. %s\n", cli_time(r->start, t1),
	    cli_time(r->end, t2));
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];

		printf("policy %zu:     %s %s: %llu successful, %llu failed\n",
		    i + 1, cli_safe(p->policy_type, b1, sizeof(b1)),
		    p->policy_domain[0] ? cli_safe(p->policy_domain, b2,
		    sizeof(b2)) : "-",
		    (unsigned long long)p->total_successful,
		    (unsigned long long)p->total_failure);
		for (size_t j = 0; j < p->nfailures; j++) {
			const struct tlsrpt_failure *f = &p->failures[j];

			printf("  %-28s %8llu  %s %s\n",
			    cli_safe(f->result_type, b1, sizeof(b1)),
			    (unsigned long long)f->failed_session_count,
			    f->receiving_mx_hostname ? cli_safe(
			    f->receiving_mx_hostname, b2, sizeof(b2)) : "-",
			    f->sending_mta_ip ? cli_safe(f->sending_mta_ip, b3,
			    sizeof(b3)) : "-");
		}
	}
	tlsrpt_count(r, &c);
	printf("totals:       %llu successful, %llu failed\n",
	    (unsigned long long)c.successful, (unsigned long long)c.failed);
	if (web_counted_note(&c) != NULL)
		printf("counted:      %s\n", web_counted_note(&c));
	if (r->quirks) {
		printf("quirks:      ");
		for (unsigned b = 0; b < TLSRPT_Q_COUNT; b++)
			if (r->quirks & (1u << b))
				printf(" %s", tlsrpt_quirk_name(1u << b));
		printf("\n");
	}
}

/* Reads a report file. LIMIT_REPORT_BYTES + 1 so that the parser, not
 * the reader, words the size error. */
static int
cli_report_read(const char *path, uint8_t **buf, size_t *len, struct err *e)
{
	return cli_read_file(path, LIMIT_REPORT_BYTES + 1, buf, len, e);
}

static int
cli_report_parse(struct cli *c)
{
	struct tlsrpt_report *r = NULL;
	uint8_t *buf;
	size_t len;
	struct err e;
	int rc;

	if (cli_report_read(c->args.v[0], &buf, &len, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (tlsrpt_parse(buf, len, &r, &e) == -1) {
		if (c->json) {
			json_t *o = json_object();

			json_object_set_new(o, "report", json_null());
			json_object_set_new(o, "error", json_string(e.msg));
			cli_print_json(o);
		}
		rc = cli_fail(CLI_INVALID, "%s: %s", c->args.v[0], e.msg);
		goto out;
	}
	if (c->json)
		cli_print_json(web_parsed_json(r));
	else
		cli_report_print(r);
	rc = CLI_OK;
out:
	tlsrpt_report_free(r);
	free(buf);
	return rc;
}

/* --- Import: files, maildirs, a pipe --- */

/* One input examined and waiting in the batch: its bytes, its origin,
 * and what intake_examine found in it. */
struct cli_pend {
	char	*label;			/* file name, "stdin", ... */
	uint8_t	*buf;			/* the input (owned) */
	size_t	 len;
	bool	 is_msg;		/* a message, not a bare report */
	struct store_origin o;		/* its strings borrowed from the
					 * caller until the commit */
	struct intake_item item;	/* pieces, then what became of them */
};

/* One run of `report import` or `report quarantine retry`: the store,
 * counters, the progress line, and the inputs parsed but not yet
 * committed. Inputs are committed in batches (store report_add_batch:
 * one transaction and one sync for up to LIMIT_INTAKE_BATCH_JOBS reports
 * or LIMIT_INTAKE_BATCH_BYTES bytes), which makes a backfill of
 * thousands of files several times faster than a sync per report;
 * nothing is printed as stored before its batch is committed. */
struct cli_import {
	struct store *s;
	size_t	 total, done;		/* inputs, for the progress line */
	size_t	 stored, dups, invalid;	/* reports, reports, inputs with
					 * something kept in quarantine */
	bool	 progress;		/* stderr is a terminal, > 1 input */
	bool	 drawn;			/* a progress line is on screen */
	bool	 tty_out;		/* stdout is a terminal too */
	int	 rc;			/* worst so far: CLI_OK, CLI_INVALID,
					 * CLI_USAGE (I/O or store) */
	struct cli_pend *pend;		/* the batch, in input order */
	size_t	 npend, cappend;
	size_t	 npieces, bytes;	/* in the batch */
};

/* Remembers the worst outcome: a store error outranks invalid input. */
static void
cli_import_rc(struct cli_import *im, int rc)
{
	if (rc > im->rc)
		im->rc = rc;
}

/* Clears the progress line before a line is printed on f, when f shows
 * on the same terminal. */
static void
cli_import_unbar(struct cli_import *im, FILE *f)
{
	if (im->drawn && (f == stderr || im->tty_out)) {
		fputs("\r\033[K", stderr);
		im->drawn = false;
	}
}

/* Redraws "[done/total] stored N dup N invalid N" on stderr, after what
 * the input printed on stdout. */
static void
cli_import_bar(struct cli_import *im)
{
	int w = 1;

	if (!im->progress)
		return;
	fflush(stdout);
	for (size_t t = im->total; t >= 10; t /= 10)
		w++;
	fprintf(stderr, "\r[%*zu/%zu] stored %zu dup %zu invalid %zu",
	    w, im->done, im->total, im->stored, im->dups, im->invalid);
	im->drawn = true;
}

/* Prints "<label>: " with label escaped (a file name is anyone's). */
static void
cli_import_label(FILE *f, const char *label)
{
	cli_put_safe(f, label);
	fputs(": ", f);
}

/* True when buf is a bare report rather than an e-mail: it starts with
 * the gzip magic bytes, or with '{' after white space. A message starts
 * with a header field name, never with either. */
static bool
cli_is_report(const uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (gzip_is(buf, len))
		return true;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' ||
	    buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < len && buf[i] == '{';
}

static void
cli_pend_free(struct cli_pend *p)
{
	intake_parts_free(&p->item.parts);
	free(p->buf);
	free(p->label);
	memset(p, 0, sizeof(*p));
}

/* Prints what became of p's pieces (or the store's error), counts them,
 * and remembers the first report's row id in *first (when not yet set). */
static void
cli_import_report(struct cli_import *im, struct cli_pend *p, bool failed,
    const struct err *e, int64_t *first)
{
	const struct intake_parts *parts = &p->item.parts;
	char org[256], safe[512];
	bool invalid = false;

	if (failed) {
		cli_import_unbar(im, stderr);
		cli_fail(CLI_USAGE, "%s: %s", cli_safe(p->label, safe,
		    sizeof(safe)), e->msg);
		cli_import_rc(im, CLI_USAGE);
		return;
	}
	for (size_t j = 0; j < parts->n; j++) {
		const struct intake_piece *pc = &parts->p[j];
		int res = p->item.results[j];

		cli_import_unbar(im, stdout);
		cli_import_label(stdout, p->label);
		if (pc->r == NULL) {
			/* A report of several in a message says which. */
			printf("invalid %s: ", pc->kind);
			if (p->is_msg && strcmp(pc->kind, "report") == 0)
				printf("report %zu of %zu: ", j + 1, parts->n);
			cli_put_safe(stdout, pc->reason);
			printf("; kept as quarantine %lld\n",
			    (long long)p->item.ids[j]);
			invalid = true;
			continue;
		}
		if (first != NULL && *first == 0)
			*first = p->item.ids[j];
		printf("%s report %lld (%s, ", res == STORE_DUPLICATE ?
		    "duplicate of" : "stored as", (long long)p->item.ids[j],
		    cli_safe(pc->r->organization_name, org, sizeof(org)));
		cli_put_safe(stdout, pc->r->report_id);
		printf(")\n");
		if (res == STORE_DUPLICATE)
			im->dups++;
		else
			im->stored++;
	}
	if (invalid) {
		im->invalid++;
		cli_import_rc(im, CLI_INVALID);
	}
}

/* Commits the batch in one transaction (intake_commit, as every route
 * does) and prints a line per piece of each input (or the store's error
 * per input); every input of it counts as done. Returns 0 with the row
 * id of the batch's first report in *first (may be NULL; 0 when none),
 * or -1 when the commit failed (reported). */
static int
cli_import_flush(struct cli_import *im, int64_t *first)
{
	struct intake_item **items = NULL;
	struct err e;
	int rc = -1;

	if (first != NULL)
		*first = 0;
	if (im->npend == 0)
		return 0;
	if ((items = calloc(im->npend, sizeof(*items))) == NULL) {
		err_set(&e, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < im->npend; i++) {
		im->pend[i].item.o = &im->pend[i].o;
		items[i] = &im->pend[i].item;
	}
	rc = intake_commit(im->s, items, im->npend, &e);
out:
	for (size_t i = 0; i < im->npend; i++) {
		struct cli_pend *p = &im->pend[i];
		bool failed = items == NULL;

		for (size_t j = 0; !failed && j < p->item.parts.n; j++)
			failed = p->item.results[j] == -1;
		cli_import_report(im, p, failed, &e, first);
		im->done++;
		cli_pend_free(p);
	}
	cli_import_bar(im);
	im->npend = im->npieces = im->bytes = 0;
	free(items);
	return rc;
}

/* The batch's next entry, zeroed (not yet counted in npend), or NULL. */
static struct cli_pend *
cli_pend_slot(struct cli_import *im)
{
	struct cli_pend *np;

	if (im->npend == im->cappend) {
		size_t cap = im->cappend ? im->cappend * 2 : 64;

		if ((np = realloc(im->pend, cap * sizeof(*np))) == NULL)
			return NULL;
		im->pend = np;
		im->cappend = cap;
	}
	memset(&im->pend[im->npend], 0, sizeof(*np));
	return &im->pend[im->npend];
}

/* Takes one input (buf: ours, freed with the batch) into the batch: a
 * report or a message, told apart by its bytes (or given, is_msg >= 0),
 * examined by intake_examine as every route does; commits the batch when
 * it is full. o's strings must live until the batch is committed.
 * Returns the entry (valid until the next call), or NULL when out of
 * memory (reported; buf freed). */
static struct cli_pend *
cli_import_add(struct cli_import *im, const char *label, uint8_t *buf,
    size_t len, int is_msg, const struct store_origin *o)
{
	struct cli_pend *p;
	char why[ERR_MSG_LEN * 4];

	if ((p = cli_pend_slot(im)) == NULL || (p->label = strdup(label)) ==
	    NULL) {
		free(buf);
		cli_import_unbar(im, stderr);
		cli_fail(CLI_USAGE, "%s: out of memory", cli_safe(label, why,
		    sizeof(why)));
		cli_import_rc(im, CLI_USAGE);
		im->done++;
		return NULL;
	}
	p->buf = buf;
	p->len = len;
	p->is_msg = is_msg >= 0 ? is_msg != 0 : !cli_is_report(buf, len);
	p->o = *o;
	intake_examine(p->is_msg, buf, len, &p->item.parts);
	/* A batch never splits an input; it is flushed before it would
	 * pass its bounds. */
	if (im->npend > 0 && (im->npieces + p->item.parts.n >
	    LIMIT_INTAKE_BATCH_JOBS || im->bytes + len >
	    LIMIT_INTAKE_BATCH_BYTES)) {
		struct cli_pend tmp = *p;

		cli_import_flush(im, NULL);
		if ((p = cli_pend_slot(im)) == NULL) {	/* cannot fail: room */
			cli_pend_free(&tmp);
			return NULL;
		}
		*p = tmp;
	}
	im->npend++;
	im->npieces += p->item.parts.n;
	im->bytes += len;
	return p;
}

/* Appends the messages of maildir dir (every file in cur/ and new/, in
 * name order, dot files skipped; tmp/ holds deliveries in progress and
 * is not read) to paths. Returns 0, CLI_USAGE after printing why (not
 * a maildir, I/O). */
static int
cli_import_maildir(const char *dir, struct strv *paths)
{
	static const char *const subs[] = { "cur", "new" };
	struct dirent **ents = NULL;
	char sub[4096], path[4096], safe[512];
	struct stat st;
	int n = 0, rc = CLI_USAGE;

	for (size_t k = 0; k < 2; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[k]);
		if (stat(sub, &st) == -1 || !S_ISDIR(st.st_mode))
			return cli_fail(CLI_USAGE, "%s: a directory, but not "
			    "a maildir (no cur/ and new/)",
			    cli_safe(dir, safe, sizeof(safe)));
	}
	for (size_t k = 0; k < 2; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[k]);
		if ((n = scandir(sub, &ents, NULL, alphasort)) == -1) {
			cli_fail(CLI_USAGE, "%s: %s", cli_safe(sub, safe,
			    sizeof(safe)), strerror(errno));
			n = 0;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (ents[i]->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", sub,
			    ents[i]->d_name) >= sizeof(path)) {
				cli_fail(CLI_USAGE, "%s/...: path too long",
				    cli_safe(sub, safe, sizeof(safe)));
				goto out;
			}
			if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
				continue;
			if (strv_push(paths, path) == -1) {
				cli_fail(CLI_USAGE, "out of memory");
				goto out;
			}
		}
		for (int i = 0; i < n; i++)
			free(ents[i]);
		free(ents);
		ents = NULL;
		n = 0;
	}
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

/* Reads all of stdin, at most max bytes. Returns 0 (*buf: caller
 * frees), -1 on a read error, -2 when there is more than max. */
static int
cli_read_stdin(size_t max, uint8_t **buf, size_t *len)
{
	uint8_t *b = NULL, *nb;
	size_t n = 0, cap = 0, r;
	int rc = -1;

	*buf = NULL;
	*len = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			if ((nb = realloc(b, cap + 1)) == NULL)
				goto out;
			b = nb;
		}
		r = fread(b + n, 1, cap - n, stdin);
		n += r;
		if (n > max) {
			rc = -2;
			goto out;
		}
		if (r == 0)
			break;
	}
	if (ferror(stdin))
		goto out;
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	return rc;
}

/* `report import --stdin`, for an MTA's pipe transport. Exit codes are
 * sysexits(3), which Postfix pipe(8) and Exim's pipe transport read:
 * 0 when the input is stored, a duplicate, or invalid but kept in
 * quarantine (note on stderr): bouncing a report would only send a
 * bounce to a reporter's no-reply address, and the operator finds it in
 * `report quarantine list`; EX_TEMPFAIL (75) when reading the pipe or
 * the store failed, so that the MTA keeps the message and retries;
 * EX_DATAERR (65), a bounce, only for input over
 * LIMIT_SMTP_MESSAGE_BYTES, which we cannot keep (the SMTP listener
 * answers 552 for it). */
static int
cli_import_stdin(struct cli *c)
{
	struct store_origin o = { .route = "stdin",
	    .provenance = STORE_IMPORT };
	struct cli_import im = { .total = 1 };
	uint8_t *buf = NULL;
	size_t len;
	int rc, r;

	r = cli_read_stdin(LIMIT_SMTP_MESSAGE_BYTES, &buf, &len);
	if (r == -2) {
		rc = cli_fail(EX_DATAERR, "stdin: larger than %d bytes, not "
		    "kept", LIMIT_SMTP_MESSAGE_BYTES);
		goto out;
	}
	if (r == -1) {
		rc = cli_fail(EX_TEMPFAIL, "stdin: read error; try again");
		goto out;
	}
	if ((im.s = cli_store(c)) == NULL) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	cli_import_add(&im, "stdin", buf, len, -1, &o);
	buf = NULL;
	cli_import_flush(&im, NULL);
	free(im.pend);
	if (im.rc == CLI_USAGE)
		rc = EX_TEMPFAIL;
	else if (im.rc == CLI_INVALID)
		rc = cli_fail(EX_OK, "stdin: invalid input kept in quarantine "
		    "(see report quarantine list); accepted");
	else
		rc = EX_OK;
out:
	free(buf);
	return rc;
}

/* `report import FILE|MAILDIR...`: every file is a report or a message,
 * told apart by its bytes (cli_is_report); a maildir gives every file of
 * its cur/ and new/. Exit: CLI_OK when all were stored or duplicates,
 * CLI_INVALID when some input was invalid (and kept in quarantine),
 * CLI_USAGE on an I/O or store error. */
static int
cli_report_import(struct cli *c)
{
	struct store_origin o = { .route = "import",
	    .provenance = STORE_IMPORT };
	struct cli_import im = { 0 };
	struct strv paths = { 0 };
	char safe[512];
	uint8_t *buf;
	struct stat st;
	struct err e;
	size_t len;

	if (c->stdin_flag) {
		if (c->args.n > 0)
			return cli_fail(CLI_USAGE, "report import: --stdin "
			    "takes no FILE arguments");
		return cli_import_stdin(c);
	}
	if (c->args.n == 0)
		return cli_fail(CLI_USAGE, "report import: no FILE (or "
		    "--stdin) given");
	for (size_t i = 0; i < c->args.n; i++) {
		const char *a = c->args.v[i];

		if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
			cli_import_rc(&im, cli_import_maildir(a, &paths));
		} else if (strv_push(&paths, a) == -1) {
			strv_free(&paths);
			return cli_fail(CLI_USAGE, "out of memory");
		}
	}
	if ((im.s = cli_store(c)) == NULL) {
		strv_free(&paths);
		return CLI_USAGE;
	}
	im.total = paths.n;
	im.progress = paths.n > 1 && isatty(STDERR_FILENO);
	im.tty_out = isatty(STDOUT_FILENO);
	for (size_t i = 0; i < paths.n; i++) {
		const char *path = paths.v[i];

		/* Read up to a message's size: a report file over
		 * LIMIT_REPORT_BYTES is refused (and kept) by the parser,
		 * which words the reason. */
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size > LIMIT_SMTP_MESSAGE_BYTES) {
			cli_import_unbar(&im, stdout);
			cli_import_label(stdout, path);
			printf("invalid: larger than %d bytes, not kept\n",
			    LIMIT_SMTP_MESSAGE_BYTES);
			im.invalid++;
			cli_import_rc(&im, CLI_INVALID);
		} else if (cli_read_file(path, LIMIT_SMTP_MESSAGE_BYTES, &buf,
		    &len, &e) == -1) {
			cli_import_unbar(&im, stderr);
			cli_fail(CLI_USAGE, "%s", cli_safe(e.msg, safe,
			    sizeof(safe)));
			cli_import_rc(&im, CLI_USAGE);
		} else {
			o.client = path;
			cli_import_add(&im, path, buf, len, -1, &o);
			continue;
		}
		cli_import_flush(&im, NULL);	/* keep lines in order */
		im.done++;
		cli_import_bar(&im);
	}
	cli_import_flush(&im, NULL);
	free(im.pend);
	cli_import_unbar(&im, stderr);
	fflush(stdout);		/* the summary after the lines, in a pipe too */
	fprintf(stderr, "imported %zu, duplicates %zu, invalid %zu\n",
	    im.stored, im.dups, im.invalid);
	strv_free(&paths);
	return im.rc;
}

static int
cli_report_list_json(void *arg, const struct store_report_row *r)
{
	json_array_append_new(arg, web_report_json(r));
	return 0;
}

static int
cli_report_list_text(void *arg, const struct store_report_row *r)
{
	char t[21], org[256], rid[256];

	printf("%6lld  %-10.10s  %-24.24s  %-32.32s  %-24.24s  %10llu  %8llu"
	    "  %-15s  %s\n", (long long)r->id, cli_time(r->start, t),
	    cli_safe(r->organization_name, org, sizeof(org)),
	    cli_safe(r->report_id, rid, sizeof(rid)), r->policy_domains,
	    (unsigned long long)r->successful, (unsigned long long)r->failed,
	    store_provenance_name(r->provenance), r->counted ?
	    (r->conflict ? "yes, conflict" : "yes") :
	    (r->conflict ? "no, conflict" : "no"));
	return 0;
}

static int
cli_report_list(struct cli *c)
{
	struct store_report_filter f = { .limit = c->limit,
	    .unclaimed = c->unclaimed, .conflicts = c->conflicts };
	char name[LIMIT_DNAME_LEN + 1];
	struct store *s;
	struct err e;
	json_t *a = NULL;
	int r;

	if ((c->domain != NULL) + c->unclaimed + c->conflicts > 1)
		return cli_fail(CLI_USAGE, "report list: --domain, "
		    "--unclaimed and --conflicts exclude each other");
	if (c->domain != NULL) {
		if (cli_domain_arg(c->domain, name) != 0)
			return CLI_INVALID;
		f.domain = name;
	}
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (c->json) {
		a = json_array();
		r = store_report_list(s, &f, cli_report_list_json, a, &e);
	} else {
		printf("%6s  %-10s  %-24s  %-32s  %-24s  %10s  %8s  %-15s  "
		    "%s\n", "ID", "DAY", "ORGANIZATION", "REPORT-ID",
		    "DOMAINS", "SUCCESSFUL", "FAILED", "PROVENANCE", "COUNTED");
		r = store_report_list(s, &f, cli_report_list_text, NULL, &e);
		if (r == 0)
			printf("%s\n", CLI_COUNTED_NOTE);
	}
	if (r == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

static int
cli_report_show_row(void *arg, const struct store_report_row *r)
{
	*(json_t **)arg = web_report_json(r);
	return 0;
}

/* Prints a line "label value" when the row's key holds a string. */
static void
cli_print_field(const char *label, json_t *row, const char *key)
{
	const char *v = json_string_value(json_object_get(row, key));

	if (v != NULL) {
		printf("%-14s", label);
		cli_put_safe(stdout, v);
		putchar('\n');
	}
}

/* report show's lines on where the report came from, how far it is
 * trusted, and whether it counts (row: "stored", with the group's). */
static void
cli_report_print_origin(json_t *row)
{
	json_t *x;
	size_t i;

	cli_print_field("client:", row, "client");
	cli_print_field("provenance:", row, "provenance");
	cli_print_field("dkim:", row, "provenance-reason");
	cli_print_field("dkim domain:", row, "dkim-domain");
	cli_print_field("report domain:", row, "tls-report-domain");
	if (json_is_true(json_object_get(row, "report-domain-mismatch")))
		printf("              (not among the report's "
		    "policy-domains)\n");
	cli_print_field("submitter:", row, "tls-report-submitter");
	cli_print_field("statistics:", row, "counted-why");
	json_array_foreach(json_object_get(row, "conflicts"), i, x)
		printf("%-14sreport %lld (%s, %s)\n", i == 0 ? "conflicts:" :
		    "", (long long)json_integer_value(json_object_get(x,
		    "id")), json_string_value(json_object_get(x,
		    "provenance")), json_is_true(json_object_get(x,
		    "counted")) ? "counts" : "not counted");
}

static int
cli_report_show(struct cli *c)
{
	struct tlsrpt_report *r = NULL;
	json_t *row = NULL, *o;
	uint8_t *raw = NULL;
	size_t rawlen;
	struct store *s;
	struct err e;
	long long id;
	char *end;
	int rc, res;

	errno = 0;
	id = strtoll(c->args.v[0], &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return cli_fail(CLI_USAGE, "report show: '%s' is not a report "
		    "id (see report list)", c->args.v[0]);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	res = store_report_get(s, id, cli_report_show_row, &row, &raw,
	    &rawlen, &e);
	if (res != 0) {
		rc = res == 1 ? cli_fail(CLI_INVALID, "no report %lld", id) :
		    cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (c->raw) {
		fwrite(raw, 1, rawlen, stdout);
		rc = CLI_OK;
		goto out;
	}
	if (web_report_group(s, id, row, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (tlsrpt_parse(raw, rawlen, &r, &e) == -1) {
		rc = cli_fail(CLI_USAGE, "report %lld no longer parses: %s",
		    id, e.msg);
		goto out;
	}
	if (c->json) {
		o = web_parsed_json(r);
		json_object_set_new(o, "stored", row);
		row = NULL;
		cli_print_json(o);
	} else {
		printf("id:           %lld\n", id);
		printf("received:     %s\n", json_string_value(
		    json_object_get(row, "received")));
		printf("route:        %s\n", json_string_value(
		    json_object_get(row, "route")));
		printf("duplicates:   %lld\n", (long long)json_integer_value(
		    json_object_get(row, "duplicates")));
		cli_report_print_origin(row);
		cli_report_print(r);
	}
	rc = CLI_OK;
out:
	json_decref(row);
	tlsrpt_report_free(r);
	free(raw);
	return rc;
}

/* --- Quarantine --- */

static json_t *
cli_quarantine_json(const struct store_quarantine_row *q)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(q->id));
	json_object_set_new(o, "received", cli_json_time(q->received));
	json_object_set_new(o, "kind", json_string(q->kind));
	json_object_set_new(o, "route", cli_json_str(q->route));
	json_object_set_new(o, "client", cli_json_str(q->client));
	json_object_set_new(o, "mail-from", cli_json_str(q->mail_from));
	json_object_set_new(o, "rcpt-to", cli_json_str(q->rcpt_to));
	json_object_set_new(o, "intake-domain",
	    cli_json_str(q->intake_domain));
	json_object_set_new(o, "reason", cli_json_str(q->reason));
	json_object_set_new(o, "size", json_integer(q->size));
	json_object_set_new(o, "report", q->report != 0 ?
	    json_integer(q->report) : json_null());
	json_object_set_new(o, "seen", json_integer(q->seen));
	json_object_set_new(o, "last-seen", cli_json_time(q->last_seen));
	return o;
}

static int
cli_quarantine_list_json(void *arg, const struct store_quarantine_row *q)
{
	json_array_append_new(arg, cli_quarantine_json(q));
	return 0;
}

static int
cli_quarantine_list_text(void *arg, const struct store_quarantine_row *q)
{
	char t[21], route[64], rep[24] = "-";

	if (q->report != 0)
		snprintf(rep, sizeof(rep), "%lld", (long long)q->report);
	printf("%6lld  %-20s  %-7s  %-6.6s  %8lld  %5lld  %6s  ",
	    (long long)q->id, cli_time(q->received, t), q->kind,
	    cli_safe(q->route ? q->route : "-", route, sizeof(route)),
	    (long long)q->size, (long long)q->seen, rep);
	cli_put_safe(stdout, q->reason);
	putchar('\n');
	return 0;
}

/* `report quarantine list [--all] [--limit N] [--json]`: pending
 * entries (with --all, resolved ones too), newest first; in text, then
 * what the quarantine holds in all. */
static int
cli_quarantine_list(struct cli *c)
{
	bool pending = !c->all;
	struct store_quarantine_usage u;
	struct store *s;
	struct err e;
	json_t *a = NULL;
	int r;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (c->json) {
		a = json_array();
		r = store_quarantine_list(s, pending, c->limit,
		    cli_quarantine_list_json, a, &e);
	} else {
		printf("%6s  %-20s  %-7s  %-6s  %8s  %5s  %6s  %s\n", "ID",
		    "RECEIVED", "KIND", "ROUTE", "BYTES", "SEEN", "REPORT",
		    "REASON");
		r = store_quarantine_list(s, pending, c->limit,
		    cli_quarantine_list_text, NULL, &e);
		if (r == 0 && (r = store_quarantine_usage(s, &u, &e)) == 0)
			printf("in all: %lld entries, %lld pending, %lld bytes "
			    "stored; repeats counted: %lld; dropped by the "
			    "caps: %lld\n", (long long)u.entries,
			    (long long)u.pending, (long long)u.bytes,
			    (long long)u.folded, (long long)u.dropped);
	}
	if (r == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

/* Parses a quarantine entry id argument. Returns 0 or CLI_USAGE after
 * printing why. */
static int
cli_quarantine_id(const char *cmd, const char *arg, int64_t *id)
{
	char safe[64], *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return cli_fail(CLI_USAGE, "%s: '%s' is not a quarantine id "
		    "(see report quarantine list)", cmd, cli_safe(arg, safe,
		    sizeof(safe)));
	*id = v;
	return 0;
}

/* A quarantine row copied out of the store's callback, whose strings
 * are borrowed only until it returns. */
struct cli_qrow {
	int64_t	 id, report, size, seen;
	time_t	 received, last_seen;
	bool	 message;
	char	*route, *client, *mail_from, *rcpt_to, *intake_domain;
	char	*reason;
	json_t	*json;
};

static char *
cli_dup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
cli_qrow_cb(void *arg, const struct store_quarantine_row *q)
{
	struct cli_qrow *r = arg;

	r->id = q->id;
	r->report = q->report;
	r->size = q->size;
	r->seen = q->seen;
	r->received = q->received;
	r->last_seen = q->last_seen;
	r->message = strcmp(q->kind, "message") == 0;
	r->route = cli_dup(q->route);
	r->client = cli_dup(q->client);
	r->mail_from = cli_dup(q->mail_from);
	r->rcpt_to = cli_dup(q->rcpt_to);
	r->intake_domain = cli_dup(q->intake_domain);
	r->reason = cli_dup(q->reason);
	r->json = cli_quarantine_json(q);
	return 0;
}

static void
cli_qrow_free(struct cli_qrow *r)
{
	free(r->route);
	free(r->client);
	free(r->mail_from);
	free(r->rcpt_to);
	free(r->intake_domain);
	free(r->reason);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* `report quarantine show ID [--raw] [--json]`. */
static int
cli_quarantine_show(struct cli *c)
{
	struct cli_qrow q = { 0 };
	uint8_t *raw = NULL;
	size_t rawlen;
	struct store *s;
	struct err e;
	char t[21];
	int64_t id;
	int rc, res;

	if ((rc = cli_quarantine_id("report quarantine show", c->args.v[0],
	    &id)) != 0)
		return rc;
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	res = store_quarantine_get(s, id, cli_qrow_cb, &q, &raw, &rawlen,
	    &e);
	if (res != 0) {
		rc = res == 1 ? cli_fail(CLI_INVALID, "no quarantine entry "
		    "%lld", (long long)id) : cli_fail(CLI_USAGE, "%s", e.msg);
		goto out;
	}
	if (c->raw) {
		fwrite(raw, 1, rawlen, stdout);
	} else if (c->json) {
		cli_print_json(q.json);
		q.json = NULL;
	} else {
		printf("id:            %lld\n", (long long)q.id);
		printf("received:      %s\n", cli_time(q.received, t));
		printf("kind:          %s\n", q.message ? "message" : "report");
		printf("route:         ");
		cli_put_safe(stdout, q.route ? q.route : "-");
		printf("\nclient:        ");
		cli_put_safe(stdout, q.client ? q.client : "-");
		printf("\nmail-from:     ");
		cli_put_safe(stdout, q.mail_from ? q.mail_from : "-");
		printf("\nrcpt-to:       ");
		cli_put_safe(stdout, q.rcpt_to ? q.rcpt_to : "-");
		printf("\nintake-domain: ");
		cli_put_safe(stdout, q.intake_domain ? q.intake_domain : "-");
		printf("\nsize:          %lld bytes\n", (long long)q.size);
		printf("seen:          %lld time%s, last %s\n",
		    (long long)q.seen, q.seen == 1 ? "" : "s",
		    cli_time(q.last_seen, t));
		printf("reason:        ");
		cli_put_safe(stdout, q.reason);
		if (q.report != 0)
			printf("\nstatus:        stored as report %lld by a "
			    "retry\n", (long long)q.report);
		else
			printf("\nstatus:        quarantined\n");
	}
	rc = CLI_OK;
out:
	cli_qrow_free(&q);
	free(raw);
	return rc;
}

/* Runs entry id through intake again, with the origin it arrived with;
 * on success stores its report(s) and marks it resolved. */
static void
cli_quarantine_retry_one(struct cli_import *im, int64_t id)
{
	struct cli_qrow q = { 0 };
	struct store_origin o = { .provenance = STORE_IMPORT };
	struct store *s = im->s;
	struct cli_pend *p;
	uint8_t *raw = NULL;
	size_t rawlen;
	char label[48];
	struct err e;
	int64_t first;
	int r;

	snprintf(label, sizeof(label), "quarantine %lld", (long long)id);
	r = store_quarantine_get(s, id, cli_qrow_cb, &q, &raw, &rawlen, &e);
	if (r != 0) {
		if (r == 1)
			cli_fail(CLI_INVALID, "no quarantine entry %lld",
			    (long long)id);
		else
			cli_fail(CLI_USAGE, "%s", e.msg);
		cli_import_rc(im, r == 1 ? CLI_INVALID : CLI_USAGE);
		goto out;
	}
	if (q.report != 0) {
		printf("%s: already stored as report %lld\n", label,
		    (long long)q.report);
		goto out;
	}
	o.route = q.route;
	o.client = q.client;
	o.mail_from = q.mail_from;
	o.rcpt_to = q.rcpt_to;
	o.intake_domain = q.intake_domain;
	/* The batch is empty here: a retry commits its input alone, taken
	 * apart as every route does. */
	if ((p = cli_import_add(im, label, raw, rawlen, q.message, &o)) ==
	    NULL) {
		raw = NULL;		/* freed */
		goto out;
	}
	raw = NULL;			/* the batch's */
	if (p->item.parts.nvalid == 0) {
		/* Nothing in it can be stored yet: the entry stays as it
		 * is (keeping it again would only count it again). */
		printf("%s: still invalid: ", label);
		cli_put_safe(stdout, p->item.parts.first_error);
		putchar('\n');
		im->invalid++;
		cli_import_rc(im, CLI_INVALID);
		cli_pend_free(p);
		im->npend = im->npieces = im->bytes = 0;
		goto out;
	}
	if (cli_import_flush(im, &first) == 0 && first != 0) {
		if ((r = store_quarantine_resolve(s, id, first, &e)) != 0) {
			cli_fail(CLI_USAGE, "%s: %s", label, r == 1 ?
			    "entry vanished" : e.msg);
			cli_import_rc(im, CLI_USAGE);
		} else {
			printf("%s: resolved (report %lld)\n", label,
			    (long long)first);
		}
	}
out:
	cli_qrow_free(&q);
	free(raw);
}

/* Pending entry ids, collected before retrying them. */
struct cli_qids {
	int64_t	*v;
	size_t	 n, cap;
};

static int
cli_quarantine_ids(void *arg, const struct store_quarantine_row *q)
{
	struct cli_qids *ids = arg;
	int64_t *nv;

	if (ids->n == ids->cap) {
		ids->cap = ids->cap ? ids->cap * 2 : 64;
		if ((nv = realloc(ids->v, ids->cap * sizeof(*nv))) == NULL)
			return -1;
		ids->v = nv;
	}
	ids->v[ids->n++] = q->id;
	return 0;
}

/* `report quarantine retry ID|--all`: CLI_OK when every entry tried is
 * now stored, CLI_INVALID when one is still invalid (or unknown),
 * CLI_USAGE on a store error. */
static int
cli_quarantine_retry(struct cli *c)
{
	struct cli_import im = { 0 };
	struct cli_qids ids = { 0 };
	struct err e;
	int64_t id = 0;
	int rc;

	if (c->all == (c->args.n == 1))
		return cli_fail(CLI_USAGE, "report quarantine retry: give an "
		    "ID or --all");
	if (c->args.n == 1 && (rc = cli_quarantine_id(
	    "report quarantine retry", c->args.v[0], &id)) != 0)
		return rc;
	if ((im.s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (c->args.n == 1) {
		cli_quarantine_retry_one(&im, id);
		free(im.pend);
		return im.rc;
	}
	/* Ids first: a callback must not call back into the store. Oldest
	 * first, the order they came in. */
	if (store_quarantine_list(im.s, true, 0, cli_quarantine_ids,
	    &ids, &e) != 0) {
		free(ids.v);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	for (size_t i = ids.n; i > 0; i--)
		cli_quarantine_retry_one(&im, ids.v[i - 1]);
	fprintf(stderr, "retried %zu: stored %zu, duplicates %zu, still "
	    "invalid %zu\n", ids.n, im.stored, im.dups, im.invalid);
	free(ids.v);
	free(im.pend);
	return im.rc;
}

static const struct cli_flag cli_report_json_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_report_list_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_DOMAIN, "domain", "DOMAIN", "only reports on this "
	    "policy-domain, or TLSA ones on its MX hosts" },
	{ CLI_F_UNCLAIMED, "unclaimed", NULL, "only reports no domain "
	    "claims (by policy-domain or MX host)" },
	{ CLI_F_CONFLICTS, "conflicts", NULL, "only different reports "
	    "sharing an organization-name and report-id, by that pair, the "
	    "one that counts first" },
	{ CLI_F_LIMIT, "limit", "N", "at most N reports (newest first)" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_report_show_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_RAW, "raw", NULL, "print the report's bytes as received" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_report_import_flags[] = {
	{ CLI_F_STDIN, "stdin", NULL, "read one report or message from "
	    "stdin (MTA pipe; exit 0 stored or quarantined, 75 retry "
	    "later, 65 too large)" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_quarantine_list_flags[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ CLI_F_ALL, "all", NULL, "resolved entries too" },
	{ CLI_F_LIMIT, "limit", "N", "at most N entries (newest first)" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_quarantine_retry_flags[] = {
	{ CLI_F_ALL, "all", NULL, "every pending entry, oldest first" },
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_report_cmds[] = {
	{ "report parse", "FILE|-", "parse a TLS-RPT report (JSON or gzip) "
	    "and print it; store nothing", cli_report_json_flags, false,
	    cli_report_parse, 1, 1 },
	{ "report import", "FILE|MAILDIR...|--stdin", "store reports "
	    "(.json, .json.gz, .eml, maildirs, stdin); invalid input is "
	    "quarantined", cli_report_import_flags, true, cli_report_import,
	    0, (size_t)-1 },
	{ "report list", "[--domain D | --unclaimed | --conflicts] "
	    "[--limit N]", "list stored reports, newest first", cli_report_list_flags, true,
	    cli_report_list, 0, 0 },
	{ "report show", "ID", "show one stored report",
	    cli_report_show_flags, true, cli_report_show, 1, 1 },
	{ "report quarantine list", "[--all] [--limit N]", "list input kept "
	    "in quarantine, newest first", cli_quarantine_list_flags, true,
	    cli_quarantine_list, 0, 0 },
	{ "report quarantine show", "ID", "show a quarantined input (--raw: "
	    "its bytes)", cli_report_show_flags, true, cli_quarantine_show,
	    1, 1 },
	{ "report quarantine retry", "ID|--all", "parse quarantined input "
	    "again; store what now parses", cli_quarantine_retry_flags, true,
	    cli_quarantine_retry, 0, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
