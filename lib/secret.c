#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "secret.h"
#include "uuid.h"

#define SECRET_FIELDS \
	"s.id, s.name, s.description, s.team_id," \
	" (SELECT v.hint FROM homebot.secret_values v" \
	"   WHERE v.organization_id = s.organization_id AND v.secret_id = s.id" \
	"     AND v.version = s.value_version) AS hint," \
	" s.value_version, " \
	HB_SQL_TS("s.created_at") " AS created_at, " \
	HB_SQL_TS("s.updated_at") " AS updated_at," \
	" s.created_by, s.updated_by, s.version"

/* secrets_organization_id_created_at_idx under RLS, newest first. */
static const char SQL_LIST[] =
    "SELECT " SECRET_FIELDS " FROM homebot.secrets s"
    " WHERE s.organization_id = $1"
    "   AND ($2::uuid IS NULL OR s.team_id = $2::uuid)"
    "   AND ($3::timestamptz IS NULL OR (s.created_at, s.id) < ($3, $4::uuid))"
    " ORDER BY s.created_at DESC, s.id DESC LIMIT $5";
static const char SQL_GET[] =
    "SELECT " SECRET_FIELDS " FROM homebot.secrets s"
    " WHERE s.organization_id = $1 AND s.id = $2";
static const char SQL_KEY[] =
    "SELECT encode(k.wrapped, 'hex') AS wrapped"
    " FROM homebot.vault_data_keys k WHERE k.organization_id = $1";
/* vault_data_keys_pkey decides between two first secrets at once. */
static const char SQL_KEY_ADD[] =
    "INSERT INTO homebot.vault_data_keys (organization_id, wrapped)"
    " VALUES ($1, decode($2, 'hex')) ON CONFLICT (organization_id) DO NOTHING";
/*
 * A create's first statement: the organization's wrapped data key (NULL
 * before its first secret) and whether the team given, if any, is one the
 * caller may put rows of: one of its own, or any with teams:write.
 */
static const char SQL_CREATE_KEY[] =
    "SELECT encode(k.wrapped, 'hex') AS wrapped,"
    " ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM homebot.teams t"
    "   WHERE t.organization_id = $1 AND t.id = $2::uuid"
    "   AND (t.id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])"
    "        OR (SELECT current_setting('app.teams_write', true)) = 'true'))) AS team_ok"
    " FROM (SELECT 1) one"
    " LEFT JOIN homebot.vault_data_keys k ON k.organization_id = $1";
/*
 * homebot.secret_create (schema/R__vault.sql): the secret, its first value
 * and the answer's row; none when the name is taken (nothing written).
 * With $8, the wrapped key the value was sealed under when it came from
 * the cache: a row of NULLs (nothing written) unless it is still the
 * organization's stored one.
 */
static const char SQL_CREATE[] =
    "SELECT * FROM homebot.secret_create($1, $2, $3, $4, $5, decode($6, 'hex'), $7,"
    " decode($8, 'hex'))";
static const char SQL_VALUE_ADD[] =
    "INSERT INTO homebot.secret_values"
    " (organization_id, secret_id, version, ciphertext, hint)"
    " VALUES ($1, $2, $3, decode($4, 'hex'), NULLIF($5, ''))";
/* Locks the row: of two PUTs with one If-Match the second finds it stale. */
static const char SQL_LOCK[] =
    "SELECT s.version, s.value_version FROM homebot.secrets s"
    " WHERE s.organization_id = $1 AND s.id = $2 FOR UPDATE";
static const char SQL_BUMP[] =
    "UPDATE homebot.secrets s SET value_version = $3"
    " WHERE s.organization_id = $1 AND s.id = $2";
static const char SQL_TRIM[] =
    "DELETE FROM homebot.secret_values v"
    " WHERE v.organization_id = $1 AND v.secret_id = $2 AND v.version <= $3";
static const char SQL_DELETE[] =
    "SELECT homebot.secret_delete($1, $2::integer) AS _status";
/* Reads the value and writes its audit event (R__vault.sql). */
static const char SQL_REVEAL[] =
    "SELECT r.value_version, encode(r.ciphertext, 'hex') AS ciphertext,"
    " encode(r.wrapped, 'hex') AS wrapped"
    " FROM homebot.secret_reveal($1) r";

static int
no_secret(struct hb_error *err)
{
	return hb_fail_missing(err, "secret");
}

static int
unreadable(struct hb_error *err)
{
	return hb_fail(err, 409, "secret_unreadable", "The stored value of "
	    "this secret does not decrypt under the organization's key; "
	    "write it again with PUT.");
}

static int
internal(struct hb_error *err)
{
	return hb_fail(err, 500, "internal_error",
	    "The vault could not encrypt the value.");
}

void
secret_hint(const char *value, char out[17])
{
	size_t n = strlen(value), chars = 0, start = n;
	int seen = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)value[i] & 0xC0) != 0x80)
			chars++;
	if (chars < 16)
		return;
	/* Back to the start of the fourth character from the end. */
	while (start > 0 && seen < 4) {
		start--;
		if (((unsigned char)value[start] & 0xC0) != 0x80)
			seen++;
	}
	if (n - start > 16)
		return;
	memcpy(out, value + start, n - start);
	out[n - start] = '\0';
}

/* The hex of len bytes, malloc'ed (the caller frees it); NULL: no memory. */
static char *
to_hex(const unsigned char *p, size_t len)
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

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes hex into *out (malloc'ed, the caller frees it): 0 or -1. */
static int
from_hex(const char *s, unsigned char **out, size_t *len)
{
	size_t n = s != NULL ? strlen(s) : 1;

	*out = NULL;
	*len = 0;
	if (n % 2 != 0 || (*out = malloc(n / 2 + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(*out);
			*out = NULL;
			return -1;
		}
		(*out)[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

/*
 * The wrapped data keys of the organizations this process created secrets
 * in last, in a set of two slots an organization by its id's hash (two
 * organizations of the same hash both stay; a third evicts the one kept
 * longer): ciphertext under
 * the master keys, never a key in clear. An organization's data key never
 * changes once stored (a rotation re-wraps it, and every wrapping unwraps
 * to the same key under this process's keyring), so a wrapping read from
 * a committed row stays good; one made in a transaction that may yet roll
 * back is never kept. A create under a kept key still has the database
 * check that it is the stored one (a restore may have gone back to before
 * the organization's first secret): it saves a create the round trip
 * that reads the key, not the check.
 */
#define KEY_CACHE_SETS	32
#define KEY_CACHE_WAYS	2	/* key_keep moves the first to the second */
static struct key_slot {
	char org[HB_UUID_LEN + 1];
	char hex[2 * VAULT_WRAPPED_MAX + 1];
} key_cache[KEY_CACHE_SETS][KEY_CACHE_WAYS];

/* The set of slots org may be kept in. */
static struct key_slot *
key_set(const char *org)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *c = org; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return key_cache[h % KEY_CACHE_SETS];
}

/* The slot of org's set that keeps org, or NULL. */
static struct key_slot *
key_find(const char *org)
{
	struct key_slot *set = key_set(org);

	for (int i = 0; i < KEY_CACHE_WAYS; i++)
		if (strcmp(set[i].org, org) == 0)
			return &set[i];
	return NULL;
}

/* org's cached wrapped key (hex), or NULL. */
static const char *
key_cached(const char *org)
{
	const struct key_slot *s = key_find(org);

	return s != NULL ? s->hex : NULL;
}

/*
 * Keeps hex, org's committed wrapped key, unless it does not fit: in the
 * slot that keeps org already, else in the first one, the one there
 * moving to the second.
 */
static void
key_keep(const char *org, const char *hex)
{
	struct key_slot *set = key_set(org);
	struct key_slot *s = key_find(org);

	if (strlen(org) >= sizeof(set->org) || strlen(hex) >= sizeof(set->hex))
		return;
	if (s == NULL) {
		set[1] = set[0];
		s = &set[0];
	}
	snprintf(s->org, sizeof(s->org), "%s", org);
	snprintf(s->hex, sizeof(s->hex), "%s", hex);
}

/* Forgets org's cached wrapped key. */
static void
key_forget(const char *org)
{
	struct key_slot *s = key_find(org);

	if (s != NULL)
		s->org[0] = '\0';
}

/*
 * The data key that hex (a wrapped key as the database holds it) wraps
 * for org into *dk: 0, or -1 with err set (dk zeroed).
 */
static int
unwrap_hex(const struct vault_keyring *kr, const char *org, const char *hex,
    struct vault_data_key *dk, struct hb_error *err)
{
	unsigned char *wrapped = NULL;
	size_t wlen;
	int rc;

	memset(dk, 0, sizeof(*dk));
	rc = from_hex(hex, &wrapped, &wlen);
	if (rc == 0)
		rc = vault_unwrap(kr, org, wrapped, wlen, dk);
	free(wrapped);
	return rc == 0 ? 0 : unreadable(err);
}

/*
 * The organization's data key into *dk, in the open transaction: the
 * stored one, else a new one (the first secret's), else the one a
 * concurrent first secret stored. 0, or -1 with err set (dk zeroed).
 */
static int
data_key(struct hb_db *db, const struct vault_keyring *kr, const char *org,
    struct vault_data_key *dk, struct hb_error *err)
{
	const char *params[2] = { org, NULL };
	unsigned char *wrapped = NULL;
	size_t wlen;
	char *hex;
	PGresult *res;
	int rc;

	memset(dk, 0, sizeof(*dk));
	for (int try = 0; try < 2; try++) {
		res = db_exec(db, SQL_KEY, 1, params, err);
		if (res == NULL)
			return -1;
		if (PQntuples(res) == 1) {
			rc = unwrap_hex(kr, org, db_value(res, 0, "wrapped"),
			    dk, err);
			PQclear(res);
			return rc;
		}
		PQclear(res);
		if (try == 1)
			break;
		if (vault_data_key_generate(dk) != VAULT_OK ||
		    vault_wrap(kr, org, dk, &wrapped, &wlen) != VAULT_OK) {
			vault_data_key_wipe(dk);
			return internal(err);
		}
		vault_data_key_wipe(dk);
		hex = to_hex(wrapped, wlen);
		free(wrapped);
		wrapped = NULL;
		if (hex == NULL)
			return internal(err);
		params[1] = hex;
		res = db_exec(db, SQL_KEY_ADD, 2, params, err);
		free(hex);
		params[1] = NULL;
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	return internal(err);
}

int
secret_seal(struct hb_db *db, const struct vault_keyring *kr,
    const char *org, const char *id, uint64_t version, const char *value,
    char **hex, struct hb_error *err)
{
	struct vault_data_key dk;
	struct vault_aad aad = { org, id, version };
	unsigned char *blob = NULL;
	size_t blen;
	int rc;

	*hex = NULL;
	if (data_key(db, kr, org, &dk, err) == -1)
		return -1;
	rc = vault_encrypt(&dk, &aad, value, strlen(value), &blob, &blen);
	vault_data_key_wipe(&dk);
	if (rc != VAULT_OK)
		return internal(err);
	*hex = to_hex(blob, blen);
	free(blob);
	return *hex != NULL ? 0 : internal(err);
}

/*
 * Decrypts the blob hex of (org, id, version) with dk, which it wipes:
 * secret_open's answer.
 */
static int
open_with(struct vault_data_key *dk, const char *org, const char *id,
    uint64_t version, const char *hex, unsigned char **value, size_t *len,
    struct hb_error *err)
{
	struct vault_aad aad = { org, id, version };
	unsigned char *blob = NULL;
	size_t blen;
	int rc;

	if (from_hex(hex, &blob, &blen) == -1) {
		vault_data_key_wipe(dk);
		return unreadable(err);
	}
	rc = vault_decrypt(dk, &aad, blob, blen, value, len);
	vault_data_key_wipe(dk);
	free(blob);
	return rc == VAULT_OK ? 0 : unreadable(err);
}

int
secret_open(struct hb_db *db, const struct vault_keyring *kr,
    const char *org, const char *id, uint64_t version, const char *hex,
    unsigned char **value, size_t *len, struct hb_error *err)
{
	struct vault_data_key dk;

	*value = NULL;
	*len = 0;
	if (hex == NULL)
		return unreadable(err);
	if (data_key(db, kr, org, &dk, err) == -1)
		return -1;
	return open_with(&dk, org, id, version, hex, value, len, err);
}

/*
 * Encrypts value for (org, id, version) with org's data key and stores it
 * with its hint, in the open transaction. 0, or -1 with err set.
 */
static int
store_value(struct hb_db *db, const struct vault_keyring *kr,
    const char *org, const char *id, uint64_t version, const char *value,
    struct hb_error *err)
{
	char vbuf[24], hint[17], *hex;
	const char *params[5] = { org, id, vbuf, NULL, hint };
	PGresult *res;

	if (secret_seal(db, kr, org, id, version, value, &hex, err) == -1)
		return -1;
	snprintf(vbuf, sizeof(vbuf), "%" PRIu64, version);
	secret_hint(value, hint);
	params[3] = hex;
	res = db_exec(db, SQL_VALUE_ADD, 5, params, err);
	free(hex);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Reads the secret and commits: 0, or -1 (rolled back). */
static int
finish(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **secret, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_exec(db, SQL_GET, 2, params, err);

	if (res == NULL) {
		db_tx_rollback(db);
		return -1;
	}
	*secret = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	if (*secret == NULL) {
		db_tx_rollback(db);
		return no_secret(err);
	}
	if (db_tx_commit(db, err) == -1) {
		json_object_put(*secret);
		*secret = NULL;
		return -1;
	}
	return 0;
}

int
secret_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *team_id, const struct hb_page *p, struct hb_rows *rows,
    struct hb_error *err)
{
	const char *params[5] = { ctx->org_id, team_id };

	return page_query(db, ctx, p, SQL_LIST, params, 2, "created_at", "id",
	    rows, err);
}

/* Rolls back and answers err's -1. */
static int
undo(struct hb_db *db)
{
	db_tx_rollback(db);
	return -1;
}

/*
 * value sealed under dk for version 1 of secret id, as hex into *hex
 * (malloc'ed, the caller's to free), and its hint into hint: 0, or -1
 * with err set.
 */
static int
seal_first(const struct vault_data_key *dk, const char *org, const char *id,
    const char *value, char **hex, char hint[17], struct hb_error *err)
{
	struct vault_aad aad = { org, id, 1 };
	unsigned char *blob = NULL;
	size_t blen;
	int rc;

	rc = vault_encrypt(dk, &aad, value, strlen(value), &blob, &blen);
	*hex = rc == VAULT_OK ? to_hex(blob, blen) : NULL;
	free(blob);
	if (*hex == NULL)
		return internal(err);
	secret_hint(value, hint);
	return 0;
}

/* The answer of SQL_CREATE's res (cleared here): 0, or -1 with err. */
static int
created(PGresult *res, struct json_object **secret, struct hb_error *err)
{
	*secret = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	/* Nothing was written but, for a first secret, its data key. */
	if (*secret == NULL)
		return hb_fail(err, 409, "name_taken",
		    "Another secret of the organization has this name.");
	return 0;
}

/*
 * A create of no team, the organization's wrapped data key cached: the
 * context and SQL_CREATE in one round trip (one implicit transaction).
 * 0 or -1 with err as secret_create; 1 when the cached key does not
 * unwrap or is not the stored one any more (a rotation re-wrapped it, a
 * restore went back to before it): forgotten, nothing written, the
 * caller takes the long way.
 */
static int
create_cached(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const struct hb_secret_input *in,
    const char *id, struct json_object **secret, struct hb_error *err)
{
	const char *hex = key_cached(ctx->org_id);
	const char *params[8] = { ctx->org_id, id, NULL, in->name,
	    in->description, NULL, NULL, hex };
	struct vault_data_key dk;
	char hint[17], *sealed = NULL;
	PGresult *res;
	int rc;

	if (unwrap_hex(kr, ctx->org_id, hex, &dk, err) == -1) {
		hb_error_clear(err);
		key_forget(ctx->org_id);
		return 1;
	}
	rc = seal_first(&dk, ctx->org_id, id, in->value, &sealed, hint, err);
	vault_data_key_wipe(&dk);
	if (rc == -1)
		return -1;
	params[5] = sealed;
	params[6] = hint;
	res = db_tenant_query(db, ctx, false, SQL_CREATE, 8, params, err);
	free(sealed);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && db_value(res, 0, "id") == NULL) {
		/* Not the stored key any more: nothing was written. */
		PQclear(res);
		key_forget(ctx->org_id);
		return 1;
	}
	return created(res, secret, err);
}

/*
 * Two round trips with the authentication when the organization's wrapped
 * data key is cached and no team is given (create_cached). Else three:
 * BEGIN, the context and SQL_CREATE_KEY (the team's check and the key,
 * which is then cached); the value encrypted here (its id is made here, so
 * its associated data is known before the row exists); then SQL_CREATE
 * and COMMIT. Only an organization's first secret takes data_key()'s
 * longer way.
 */
int
secret_create(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const struct hb_secret_input *in,
    struct json_object **secret, struct hb_error *err)
{
	char id[HB_UUID_LEN + 1], hint[17], *hex = NULL;
	const char *kp[2] = { ctx->org_id, in->team_id };
	const char *params[8] = { ctx->org_id, id, in->team_id, in->name,
	    in->description, NULL, hint, NULL };
	const struct hb_db_stmt stmts[1] = { { SQL_CREATE, 8, params } };
	struct hb_json_check c = { NULL, NULL };
	struct vault_data_key dk;
	const char *wrapped;
	PGresult *res;
	int rc;

	*secret = NULL;
	uuid_new(id);
	if (in->team_id == NULL && key_cached(ctx->org_id) != NULL &&
	    (rc = create_cached(db, ctx, kr, in, id, secret, err)) != 1)
		return rc;
	res = db_tenant_query(db, ctx, true, SQL_CREATE_KEY, 2, kp, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || !db_bool(res, 0, "team_ok")) {
		PQclear(res);
		db_tx_rollback(db);
		c.details = json_object_new_array();
		json_check_fail(&c, "team_id",
		    "must be a team of the organization you belong to");
		return json_check_done(&c, err);
	}
	/* Read first in this transaction: a committed row, fit to keep. */
	wrapped = db_value(res, 0, "wrapped");
	if (wrapped == NULL)
		rc = data_key(db, kr, ctx->org_id, &dk, err);
	else if ((rc = unwrap_hex(kr, ctx->org_id, wrapped, &dk, err)) == 0)
		key_keep(ctx->org_id, wrapped);
	PQclear(res);
	if (rc == -1)
		return undo(db);
	rc = seal_first(&dk, ctx->org_id, id, in->value, &hex, hint, err);
	vault_data_key_wipe(&dk);
	if (rc == -1)
		return undo(db);
	params[5] = hex;
	res = db_tx_finish(db, 1, stmts, err);
	free(hex);
	if (res == NULL)
		return -1;
	return created(res, secret, err);
}

int
secret_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **secret, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_tenant_query(db, ctx, false, SQL_GET, 2, params,
	    err);

	*secret = NULL;
	if (res == NULL)
		return -1;
	*secret = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	return *secret != NULL ? 0 : no_secret(err);
}

int
secret_put(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const char *id, const char *if_match,
    const char *value, int history, struct json_object **secret,
    struct hb_error *err)
{
	const char *params[3] = { ctx->org_id, id, NULL };
	const char *version;
	char vbuf[24], keep[24];
	uint64_t next;
	PGresult *res;

	*secret = NULL;
	res = db_tenant_query(db, ctx, true, SQL_LOCK, 2, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_tx_rollback(db);
		return no_secret(err);
	}
	version = db_value(res, 0, "version");
	if (if_match != NULL && (version == NULL ||
	    strcmp(if_match, version) != 0)) {
		PQclear(res);
		db_tx_rollback(db);
		return hb_fail_stale(err, "secret");
	}
	next = strtoull(db_value(res, 0, "value_version"), NULL, 10) + 1;
	PQclear(res);
	if (store_value(db, kr, ctx->org_id, id, next, value, err) == -1)
		return undo(db);
	snprintf(vbuf, sizeof(vbuf), "%" PRIu64, next);
	params[2] = vbuf;
	if ((res = db_exec(db, SQL_BUMP, 3, params, err)) == NULL)
		return undo(db);
	PQclear(res);
	snprintf(keep, sizeof(keep), "%" PRId64, (int64_t)next - history);
	params[2] = keep;
	if ((res = db_exec(db, SQL_TRIM, 3, params, err)) == NULL)
		return undo(db);
	PQclear(res);
	return finish(db, ctx, id, secret, err);
}

int
secret_delete(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    const char *if_match, struct hb_error *err)
{
	const char *params[2] = { id, if_match };
	PGresult *res;
	int rc;

	res = db_tenant_query(db, ctx, false, SQL_DELETE, 2, params, err);
	if (res == NULL)
		return -1;
	rc = hb_status_result(db_value(res, 0, "_status"), "secret", err);
	PQclear(res);
	return rc;
}

/*
 * Two round trips with the authentication: the context and
 * homebot.secret_reveal, which reads the ciphertext and the wrapped data
 * key and writes the audit row, run as one implicit transaction committed
 * before the value is decrypted here. So the audit
 * row is there before any value is answered; a stored value that then
 * does not decrypt (409 secret_unreadable, a row tampered with) keeps its
 * secret.revealed row: the request did read the ciphertext.
 */
int
secret_reveal(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const char *id, unsigned char **value,
    size_t *len, struct hb_error *err)
{
	const char *params[1] = { id };
	struct vault_data_key dk;
	const char *wrapped;
	uint64_t version;
	PGresult *res;
	int rc;

	*value = NULL;
	*len = 0;
	res = db_tenant_query(db, ctx, false, SQL_REVEAL, 1, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return no_secret(err);
	}
	version = strtoull(db_value(res, 0, "value_version"), NULL, 10);
	wrapped = db_value(res, 0, "wrapped");
	if (wrapped == NULL || db_value(res, 0, "ciphertext") == NULL)
		rc = unreadable(err);
	else if ((rc = unwrap_hex(kr, ctx->org_id, wrapped, &dk, err)) == 0)
		rc = open_with(&dk, ctx->org_id, id, version,
		    db_value(res, 0, "ciphertext"), value, len, err);
	PQclear(res);
	return rc;
}
