/*
 * cli_account.c - who may use the dashboard and the API:
 *
 *	tenant add NAME			a tenant (domain add --tenant also
 *					makes one)
 *	tenant list
 *	user add EMAIL --role ROLE [--tenant NAME] [--password-file FILE]
 *					admin (no tenant), or owner or viewer
 *					of a tenant; the password from FILE's
 *					first line, else asked on the terminal
 *	user list [--tenant NAME]
 *	token create --tenant NAME [--read-only]
 *					prints the new API token once, alone
 *					on the last line
 *	token list [--tenant NAME]
 *	token revoke ID
 *
 * Passwords and tokens are hashed here (account.h) and only their
 * hashes reach the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "account/account.h"
#include "cli.h"

/* The --tenant setting when given (flag or config file), else NULL. */
static const char *
cli_tenant_given(const struct cli *c)
{
	return c->conf.from_flag[CONF_TENANT] ? conf_get(&c->conf,
	    CONF_TENANT) : NULL;
}

static int
cli_tenant_add(struct cli *c)
{
	struct store *s;
	struct err e;
	int64_t id;
	int r;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	r = store_tenant_add(s, c->args.v[0], time(NULL), &id, &e);
	if (r == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 1)
		return cli_fail(CLI_INVALID, "tenant %s exists", c->args.v[0]);
	printf("tenant %s added\n", c->args.v[0]);
	return CLI_OK;
}

static int
cli_tenant_row(void *arg, const struct store_tenant_row *t)
{
	char when[21];

	if (arg != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "domains", json_integer(t->domains));
		json_object_set_new(o, "created", cli_json_time(t->created));
		json_array_append_new(arg, o);
	} else {
		printf("%-24s %8lld  %s\n", t->name, (long long)t->domains,
		    cli_time(t->created, when));
	}
	return 0;
}

static int
cli_tenant_list(struct cli *c)
{
	json_t *a = c->json ? json_array() : NULL;
	struct store *s;
	struct err e;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (a == NULL)
		printf("%-24s %8s  %s\n", "TENANT", "DOMAINS", "CREATED");
	if (store_tenant_list(s, cli_tenant_row, a, &e) == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

/* Reads one line from f into pw (cap bytes), its line end dropped.
 * Returns 0, or -1 when there is none or it is too long. */
static int
cli_read_line(FILE *f, char *pw, size_t cap)
{
	size_t n;

	if (fgets(pw, (int)cap, f) == NULL)
		return -1;
	n = strlen(pw);
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	else if (!feof(f))
		return -1;		/* longer than cap */
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	return 0;
}

/* Asks for a password on the terminal, twice, without echo. */
static int
cli_password_prompt(char *pw, size_t cap)
{
	char again[LIMIT_PASSWORD_BYTES + 2];
	struct termios old, quiet;
	FILE *tty;
	int rc = -1;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return cli_fail(CLI_USAGE, "no terminal to ask the password "
		    "on: give --password-file FILE");
	if (tcgetattr(fileno(tty), &old) == -1) {
		fclose(tty);
		return cli_fail(CLI_USAGE, "no terminal to ask the password "
		    "on: give --password-file FILE");
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	fputs("password: ", tty);
	fflush(tty);
	if (cli_read_line(tty, pw, cap) == 0) {
		fputs("\nagain: ", tty);
		fflush(tty);
		if (cli_read_line(tty, again, sizeof(again)) == 0)
			rc = strcmp(pw, again) == 0 ? 0 : 1;
	}
	fputc('\n', tty);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fclose(tty);
	sodium_memzero(again, sizeof(again));
	if (rc == 1)
		return cli_fail(CLI_INVALID, "the two passwords differ");
	return rc == 0 ? 0 : cli_fail(CLI_USAGE, "no password read");
}

static int
cli_user_add(struct cli *c)
{
	char email[ACCOUNT_EMAIL_LEN + 1], hash[ACCOUNT_HASH_LEN];
	char pw[LIMIT_PASSWORD_BYTES + 2];
	const char *tenant = cli_tenant_given(c);
	struct store *s;
	struct err e;
	int64_t id;
	int role, r;
	FILE *f;

	if (account_email(c->args.v[0], email, &e) == -1)
		return cli_fail(CLI_INVALID, "%s", e.msg);
	if (c->role == NULL || (role = account_role_parse(c->role)) == -1)
		return cli_fail(CLI_USAGE, "user add: --role admin, owner or "
		    "viewer");
	if (role == ACCOUNT_ADMIN && tenant != NULL)
		return cli_fail(CLI_USAGE, "user add: an admin has the whole "
		    "service, no --tenant");
	if (role != ACCOUNT_ADMIN && tenant == NULL)
		tenant = conf_get(&c->conf, CONF_TENANT);	/* default */
	if (c->password_file != NULL) {
		if ((f = fopen(c->password_file, "r")) == NULL)
			return cli_fail(CLI_USAGE, "%s: %s", c->password_file,
			    strerror(errno));
		r = cli_read_line(f, pw, sizeof(pw));
		fclose(f);
		if (r == -1)
			return cli_fail(CLI_INVALID, "%s: no password line, or "
			    "one over %d bytes", c->password_file,
			    LIMIT_PASSWORD_BYTES);
	} else if ((r = cli_password_prompt(pw, sizeof(pw))) != 0) {
		return r;
	}
	r = account_password_hash(pw, hash, &e);
	sodium_memzero(pw, sizeof(pw));
	if (r == -1)
		return cli_fail(CLI_INVALID, "%s", e.msg);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	r = store_account_add(s, email, role == ACCOUNT_ADMIN ? NULL : tenant,
	    account_role_name(role), hash, time(NULL), &id, &e);
	if (r == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 1)
		return cli_fail(CLI_INVALID, "user %s exists", email);
	if (r == 2)
		return cli_fail(CLI_INVALID, "no tenant %s (stsguard tenant "
		    "add %s)", tenant, tenant);
	if (role == ACCOUNT_ADMIN)
		printf("user %s added: admin of the whole service\n", email);
	else
		printf("user %s added: %s of tenant %s\n", email,
		    account_role_name(role), tenant);
	return CLI_OK;
}

static int
cli_user_row(void *arg, const struct store_account_row *u)
{
	char when[21];

	if (arg != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "email", json_string(u->email));
		json_object_set_new(o, "tenant", cli_json_str(u->tenant));
		json_object_set_new(o, "role", json_string(u->role));
		json_object_set_new(o, "created", cli_json_time(u->created));
		json_array_append_new(arg, o);
	} else {
		printf("%-32s %-16s %-7s %s\n", u->email, u->tenant != NULL ?
		    u->tenant : "-", u->role, cli_time(u->created, when));
	}
	return 0;
}

static int
cli_user_list(struct cli *c)
{
	json_t *a = c->json ? json_array() : NULL;
	struct store *s;
	struct err e;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (a == NULL)
		printf("%-32s %-16s %-7s %s\n", "USER", "TENANT", "ROLE",
		    "CREATED");
	if (store_account_list(s, cli_tenant_given(c), cli_user_row, a,
	    &e) == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

static int
cli_token_create(struct cli *c)
{
	char token[ACCOUNT_TOKEN_LEN + 1], prefix[ACCOUNT_TOKEN_SHOWN + 1];
	const char *tenant = cli_tenant_given(c);
	unsigned char hash[32];
	struct store *s;
	struct err e;
	int64_t id;
	int r;

	if (tenant == NULL)
		return cli_fail(CLI_USAGE, "token create: --tenant NAME");
	if (account_token_new(token, hash, &e) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	memcpy(prefix, token, ACCOUNT_TOKEN_SHOWN);
	prefix[ACCOUNT_TOKEN_SHOWN] = '\0';
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	r = store_token_add(s, tenant, hash, prefix, c->read_only,
	    time(NULL), &id, &e);
	if (r == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 2)
		return cli_fail(CLI_INVALID, "no tenant %s (stsguard tenant "
		    "add %s)", tenant, tenant);
	printf("token %lld of tenant %s (%s); shown this once, keep it:\n",
	    (long long)id, tenant, c->read_only ? "read-only" : "read-write");
	printf("%s\n", token);
	sodium_memzero(token, sizeof(token));
	return CLI_OK;
}

static int
cli_token_row(void *arg, const struct store_token_row *k)
{
	char made[21], gone[21];

	if (arg != NULL) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(k->id));
		json_object_set_new(o, "tenant", json_string(k->tenant));
		json_object_set_new(o, "prefix", json_string(k->prefix));
		json_object_set_new(o, "read-only", json_boolean(k->read_only));
		json_object_set_new(o, "created", cli_json_time(k->created));
		json_object_set_new(o, "revoked", cli_json_time(k->revoked));
		json_array_append_new(arg, o);
	} else {
		printf("%6lld  %-16s %-10s %-10s %-20s %s\n", (long long)k->id,
		    k->tenant, k->prefix, k->read_only ? "read-only" :
		    "read-write", cli_time(k->created, made),
		    cli_time(k->revoked, gone));
	}
	return 0;
}

static int
cli_token_list(struct cli *c)
{
	json_t *a = c->json ? json_array() : NULL;
	struct store *s;
	struct err e;

	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if (a == NULL)
		printf("%6s  %-16s %-10s %-10s %-20s %s\n", "ID", "TENANT",
		    "TOKEN", "ACCESS", "CREATED", "REVOKED");
	if (store_token_list(s, cli_tenant_given(c), cli_token_row, a,
	    &e) == -1) {
		json_decref(a);
		return cli_fail(CLI_USAGE, "%s", e.msg);
	}
	if (a != NULL)
		cli_print_json(a);
	return CLI_OK;
}

static int
cli_token_revoke(struct cli *c)
{
	struct store *s;
	struct err e;
	long long id;
	char *end;
	int r;

	errno = 0;
	id = strtoll(c->args.v[0], &end, 10);
	if (errno != 0 || *end != '\0' || id <= 0)
		return cli_fail(CLI_USAGE, "token revoke: '%s' is not a token "
		    "id (see token list)", c->args.v[0]);
	if ((s = cli_store(c)) == NULL)
		return CLI_USAGE;
	if ((r = store_token_revoke(s, id, time(NULL), &e)) == -1)
		return cli_fail(CLI_USAGE, "%s", e.msg);
	if (r == 1)
		return cli_fail(CLI_INVALID, "no token %lld, or revoked "
		    "already", id);
	printf("token %lld revoked\n", id);
	return CLI_OK;
}

static const struct cli_flag cli_account_json[] = {
	{ CLI_F_JSON, "json", NULL, "print JSON" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_user_add_flags[] = {
	{ CLI_F_ROLE, "role", "ROLE", "admin (the whole service), owner or "
	    "viewer (of --tenant)" },
	{ CLI_F_PASSWORD_FILE, "password-file", "FILE", "the password on "
	    "the first line of FILE (else asked on the terminal)" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_token_create_flags[] = {
	{ CLI_F_READ_ONLY, "read-only", NULL, "a token that can only read" },
	{ 0, NULL, NULL, NULL },
};

static const struct cli_flag cli_no_flags[] = {
	{ 0, NULL, NULL, NULL },
};

const struct cli_cmd cli_account_cmds[] = {
	{ "tenant add", "NAME", "add a tenant", cli_no_flags, true,
	    cli_tenant_add, 1, 1 },
	{ "tenant list", "", "list tenants", cli_account_json, true,
	    cli_tenant_list, 0, 0 },
	{ "user add", "EMAIL --role ROLE [--tenant NAME] "
	    "[--password-file FILE]", "add a user of the dashboard",
	    cli_user_add_flags, true, cli_user_add, 1, 1 },
	{ "user list", "[--tenant NAME]", "list users", cli_account_json,
	    true, cli_user_list, 0, 0 },
	{ "token create", "--tenant NAME [--read-only]", "make an API token "
	    "(printed once, on the last line)", cli_token_create_flags, true,
	    cli_token_create, 0, 0 },
	{ "token list", "[--tenant NAME]", "list API tokens (never the "
	    "tokens themselves)", cli_account_json, true, cli_token_list, 0,
	    0 },
	{ "token revoke", "ID", "revoke an API token", cli_no_flags, true,
	    cli_token_revoke, 1, 1 },
	{ NULL, NULL, NULL, NULL, false, NULL, 0, 0 },
};
