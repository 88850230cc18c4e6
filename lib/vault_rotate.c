#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "vault_rotate.h"

static const char SQL_TAKE[] =
    "SELECT t.organization_id, encode(t.wrapped, 'hex') AS wrapped"
    " FROM homebot.vault_rotate_take($1, $2) t";
static const char SQL_PUT[] =
    "SELECT homebot.vault_rotate_put($1::uuid[], $2::text[], $3::text[])"
    " AS n";
static const char SQL_PENDING[] =
    "SELECT homebot.vault_rotate_pending($1)"
    " + homebot.vault_rotate_totp_pending($1) AS n";
static const char SQL_TOTP_TAKE[] =
    "SELECT t.user_id, encode(t.wrapped_key, 'hex') AS wrapped"
    " FROM homebot.vault_rotate_totp_take($1, $2) t";
static const char SQL_TOTP_PUT[] =
    "SELECT homebot.vault_rotate_totp_put($1::uuid[], $2::text[],"
    " $3::text[]) AS n";

/*
 * What a walk goes through: the organizations' data keys (bound to the
 * organization id) or the per-user data keys of the two-factor secrets
 * (homebot.user_totp, bound to "user:<user id>", lib/mfa.c).
 */
struct target {
	const char	*take;		/* $1 after, $2 limit: id, wrapped */
	const char	*put;		/* $1 ids, $2 old, $3 new: n */
	const char	*prefix;	/* of the binding, before the id */
	const char	*what;		/* the owner, in a failure's message */
};

static const struct target ORGS = { SQL_TAKE, SQL_PUT, "", "organization" };
static const struct target USERS = { SQL_TOTP_TAKE, SQL_TOTP_PUT, "user:",
    "user" };

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* hex into buf (at most bufsz bytes): 0 with *len, or -1. */
static int
hex_decode(const char *s, unsigned char *buf, size_t bufsz, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > bufsz)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

/* len bytes as hex, malloc'ed (the caller frees it), or NULL. */
static char *
hex_encode(const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[len * 2] = '\0';
	return s;
}

int
vault_rotate_key(const struct vault_keyring *kr, const char *org_id,
    const char *hex, char **out)
{
	unsigned char wrapped[VAULT_WRAPPED_MAX], *nw = NULL;
	char kid[VAULT_KID_MAX + 1];
	size_t len = 0, nlen = 0;
	int rc;

	*out = NULL;
	if (hex == NULL || hex_decode(hex, wrapped, sizeof(wrapped),
	    &len) == -1)
		return VAULT_E_DECRYPT;
	if ((rc = vault_wrapped_kid(wrapped, len, kid)) != VAULT_OK)
		return rc;
	/*
	 * Under the current key already: nothing to do. That the key id
	 * matches does not prove the blob decrypts; a reveal will tell.
	 */
	if (strcmp(kid, vault_keyring_kid(kr)) == 0)
		return VAULT_OK;
	if ((rc = vault_rewrap(kr, org_id, wrapped, len, &nw,
	    &nlen)) != VAULT_OK)
		return rc;
	*out = hex_encode(nw, nlen);
	free(nw);
	return *out != NULL ? VAULT_OK : VAULT_E_INTERNAL;
}

/*
 * The PostgreSQL array literal "{a,b,…}" of the n strings s[] (uuids or
 * hex, which need no quoting), malloc'ed (the caller frees it), or NULL.
 */
static char *
array_literal(char *const *s, int n)
{
	size_t len = 3;
	char *a, *p;

	for (int i = 0; i < n; i++)
		len += strlen(s[i]) + 1;
	if ((a = malloc(len)) == NULL)
		return NULL;
	p = a;
	*p++ = '{';
	for (int i = 0; i < n; i++) {
		size_t k = strlen(s[i]);

		if (i > 0)
			*p++ = ',';
		memcpy(p, s[i], k);
		p += k;
	}
	*p++ = '}';
	*p = '\0';
	return a;
}

/* The rows of a batch to write back: three arrays of n strings. */
struct put {
	char	**orgs;		/* borrowed from the batch's result */
	char	**old;		/* borrowed from the batch's result */
	char	**nw;		/* owned */
	int	  n;
};

static void
put_free(struct put *p, int max)
{
	if (p->nw != NULL)
		for (int i = 0; i < p->n && i < max; i++)
			free(p->nw[i]);
	free(p->orgs);
	free(p->old);
	free(p->nw);
}

/* Writes p back in the open transaction: 0, or -1 with err set. */
static int
put_rows(struct hb_db *db, const struct target *t, const struct put *p,
    struct hb_error *err)
{
	char *orgs = array_literal(p->orgs, p->n);
	char *old = array_literal(p->old, p->n);
	char *nw = array_literal(p->nw, p->n);
	const char *params[3] = { orgs, old, nw };
	PGresult *res = NULL;
	int rc = -1;

	if (orgs == NULL || old == NULL || nw == NULL)
		hb_fail(err, 500, "internal_error", "out of memory");
	else if ((res = db_exec(db, t->put, 3, params, err)) != NULL) {
		const char *n = db_value(res, 0, "n");

		/* Every row is locked by this transaction: each is written. */
		if (n != NULL && atoi(n) == p->n)
			rc = 0;
		else
			hb_fail(err, 500, "internal_error", "%s wrote %s of %d "
			    "data keys", t->put, n != NULL ? n : "none", p->n);
	}
	PQclear(res);
	free(orgs);
	free(old);
	free(nw);
	return rc;
}

/* vault_rotate_batch over the keys of t. */
static int
batch_of(struct hb_db *db, const struct target *t,
    const struct vault_keyring *kr, int batch, char after[37],
    struct vault_rotate_counts *c, struct hb_error *err)
{
	struct vault_rotate_counts add = {0};
	struct put p = {0};
	char limit[16];
	const char *params[2] = { after[0] != '\0' ? after : NULL, limit };
	PGresult *res, *begin;
	int rows, rc = -1;

	if (batch < 1 || batch > VAULT_ROTATE_BATCH_MAX)
		return hb_fail(err, 500, "internal_error", "a batch is 1 to "
		    "%d data keys", VAULT_ROTATE_BATCH_MAX);
	snprintf(limit, sizeof(limit), "%d", batch);
	if ((begin = db_exec(db, "BEGIN", 0, NULL, err)) == NULL)
		return -1;
	PQclear(begin);
	if ((res = db_exec(db, t->take, 2, params, err)) == NULL) {
		db_tx_rollback(db);
		return -1;
	}
	rows = PQntuples(res);
	p.orgs = calloc((size_t)rows + 1, sizeof(char *));
	p.old = calloc((size_t)rows + 1, sizeof(char *));
	p.nw = calloc((size_t)rows + 1, sizeof(char *));
	if (p.orgs == NULL || p.old == NULL || p.nw == NULL) {
		hb_fail(err, 500, "internal_error", "out of memory");
		goto done;
	}
	for (int i = 0; i < rows; i++) {
		char *org = PQgetvalue(res, i, 0), *hex = PQgetvalue(res, i, 1);
		char *nw = NULL, bind[VAULT_ID_MAX + 1];
		int vrc;

		snprintf(bind, sizeof(bind), "%s%s", t->prefix, org);
		vrc = vault_rotate_key(kr, bind, hex, &nw);

		if (vrc == VAULT_E_INTERNAL) {
			hb_fail(err, 500, "internal_error", "%s",
			    vault_strerror(vrc));
			goto done;
		}
		if (vrc != VAULT_OK) {
			if (add.failed++ == 0 && c->failed == 0) {
				snprintf(c->failed_org, sizeof(c->failed_org),
				    "%s", org);
				c->failed_what = t->what;
				c->failed_rc = vrc;
			}
		} else if (nw == NULL)
			add.current++;
		else {
			p.orgs[p.n] = org;
			p.old[p.n] = hex;
			p.nw[p.n++] = nw;
		}
	}
	add.rewrapped = p.n;
	if ((p.n == 0 || put_rows(db, t, &p, err) == 0) &&
	    db_tx_commit(db, err) == 0) {
		if (rows > 0)
			snprintf(after, 37, "%s", PQgetvalue(res, rows - 1, 0));
		c->rewrapped += add.rewrapped;
		c->current += add.current;
		c->failed += add.failed;
		rc = rows;
	}
done:
	if (rc == -1) {
		db_tx_rollback(db);
		if (c->failed == 0)
			c->failed_org[0] = '\0';
	}
	put_free(&p, rows);
	PQclear(res);
	return rc;
}

int
vault_rotate_batch(struct hb_db *db, const struct vault_keyring *kr,
    int batch, char after[37], struct vault_rotate_counts *c,
    struct hb_error *err)
{
	return batch_of(db, &ORGS, kr, batch, after, c, err);
}

int
vault_rotate_totp_batch(struct hb_db *db, const struct vault_keyring *kr,
    int batch, char after[37], struct vault_rotate_counts *c,
    struct hb_error *err)
{
	return batch_of(db, &USERS, kr, batch, after, c, err);
}

long
vault_rotate_pending(struct hb_db *db, const struct vault_keyring *kr,
    struct hb_error *err)
{
	const char *params[1] = { vault_keyring_kid(kr) };
	PGresult *res = db_exec(db, SQL_PENDING, 1, params, err);
	long n;

	if (res == NULL)
		return -1;
	n = db_value(res, 0, "n") != NULL ? atol(db_value(res, 0, "n")) : -1;
	PQclear(res);
	if (n < 0)
		return hb_fail(err, 500, "internal_error",
		    "vault_rotate_pending answered nothing");
	return n;
}

/*
 * One walk from the first organization to the last, then from the first
 * user with a two-factor secret to the last, into *c: 0 or -1.
 */
static int
walk(struct hb_db *db, const struct vault_keyring *kr, int batch,
    int (*between)(void *, struct hb_error *), void *arg,
    struct vault_rotate_counts *c, struct hb_error *err)
{
	static const struct target *const targets[] = { &ORGS, &USERS };
	int n = 0;

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char after[37] = "";

		while ((n = batch_of(db, targets[i], kr, batch, after, c,
		    err)) > 0)
			if (between != NULL && between(arg, err) == -1)
				return -1;
		if (n == -1)
			return -1;
	}
	return n;
}

int
vault_rotate_run(struct hb_db *db, const struct vault_keyring *kr,
    int batch, int (*between)(void *arg, struct hb_error *err), void *arg,
    struct vault_rotate_counts *c, struct hb_error *err)
{
	long left;

	memset(c, 0, sizeof(*c));
	if (walk(db, kr, batch, between, arg, c, err) == -1)
		return -1;
	/*
	 * Keys another run held were skipped; once it is done they are
	 * current, unless it failed: then another walk takes them. The
	 * keys of this run's failures stay behind whatever it does.
	 */
	for (int pass = 1; ; pass++) {
		struct vault_rotate_counts again = {0};

		if ((left = vault_rotate_pending(db, kr, err)) == -1)
			return -1;
		if (left <= c->failed || pass == VAULT_ROTATE_PASSES)
			break;
		if (walk(db, kr, batch, between, arg, &again, err) == -1)
			return -1;
		c->rewrapped += again.rewrapped;
		c->failed = again.failed;
		if (again.failed == 0)
			c->failed_org[0] = '\0';
		else if (c->failed_org[0] == '\0') {
			memcpy(c->failed_org, again.failed_org,
			    sizeof(c->failed_org));
			c->failed_what = again.failed_what;
			c->failed_rc = again.failed_rc;
		}
	}
	c->left = left;
	return 0;
}
