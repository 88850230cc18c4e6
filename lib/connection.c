#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "connection.h"
#include "json.h"
#include "secret.h"
#include "uuid.h"

/* The secret fields masked: {name: {"hint": …}}, never a value. */
#define CONNECTION_FIELDS \
	"c.id, c.name, c.type, c.team_id, c.config, c.is_active," \
	" c.is_default," \
	" (SELECT coalesce(jsonb_object_agg(s.name," \
	"     jsonb_build_object('hint', s.hint) ORDER BY s.name), '{}')" \
	"    FROM homebot.connection_secrets s" \
	"   WHERE s.organization_id = c.organization_id" \
	"     AND s.connection_id = c.id) AS secret_fields, " \
	HB_SQL_TS("c.created_at") " AS created_at, " \
	HB_SQL_TS("c.updated_at") " AS updated_at," \
	" c.created_by, c.updated_by, c.version"

/* connections_organization_id_created_at_idx under RLS, newest first. */
static const char SQL_LIST[] =
    "SELECT " CONNECTION_FIELDS " FROM homebot.connections c"
    " WHERE c.organization_id = $1"
    "   AND ($2::uuid IS NULL OR c.team_id = $2::uuid)"
    "   AND ($3::text IS NULL OR c.type = $3::text)"
    "   AND ($4::timestamptz IS NULL OR (c.created_at, c.id) < ($4, $5::uuid))"
    " ORDER BY c.created_at DESC, c.id DESC LIMIT $6";
static const char SQL_GET[] =
    "SELECT " CONNECTION_FIELDS " FROM homebot.connections c"
    " WHERE c.organization_id = $1 AND c.id = $2";
/* A team the caller may put rows of: one of its own, or any with teams:write. */
static const char SQL_TEAM[] =
    "SELECT 1 FROM homebot.teams t WHERE t.organization_id = $1 AND t.id = $2"
    "   AND (t.id = ANY ((SELECT NULLIF(current_setting('app.team_ids', true), ''))::uuid[])"
    "        OR (SELECT current_setting('app.teams_write', true)) = 'true')";
/* connections_default_key decides between two defaults of a type. */
static const char SQL_CREATE[] =
    "INSERT INTO homebot.connections"
    " (organization_id, id, team_id, name, type, config, is_active, is_default)"
    " VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}'),"
    " coalesce($7::boolean, true), coalesce($8::boolean, false))"
    " ON CONFLICT (organization_id, team_id, type)"
    " WHERE is_default AND deleted_at IS NULL DO NOTHING RETURNING id";
/* Locks the row: of two PATCHes with one If-Match the second finds it stale. */
static const char SQL_LOCK[] =
    "SELECT c.version FROM homebot.connections c"
    " WHERE c.organization_id = $1 AND c.id = $2 FOR UPDATE";
/* Always written, so that version (the ETag) moves with the secret fields. */
static const char SQL_UPDATE[] =
    "UPDATE homebot.connections c SET name = coalesce($3, c.name),"
    " type = coalesce($4, c.type), config = coalesce($5::jsonb, c.config),"
    " is_active = coalesce($6::boolean, c.is_active),"
    " is_default = coalesce($7::boolean, c.is_default)"
    " WHERE c.organization_id = $1 AND c.id = $2";
static const char SQL_FIELD[] =
    "SELECT s.id, s.value_version FROM homebot.connection_secrets s"
    " WHERE s.organization_id = $1 AND s.connection_id = $2 AND s.name = $3"
    " FOR UPDATE";
static const char SQL_FIELD_ADD[] =
    "INSERT INTO homebot.connection_secrets (organization_id, connection_id,"
    " id, name, value_version, ciphertext, hint)"
    " VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), NULLIF($7, ''))";
static const char SQL_FIELD_SET[] =
    "UPDATE homebot.connection_secrets s SET value_version = $5,"
    " ciphertext = decode($6, 'hex'), hint = NULLIF($7, '')"
    " WHERE s.organization_id = $1 AND s.connection_id = $2 AND s.id = $3"
    "   AND s.name = $4";
static const char SQL_FIELD_REMOVE[] =
    "DELETE FROM homebot.connection_secrets s"
    " WHERE s.organization_id = $1 AND s.connection_id = $2 AND s.name = $3";
static const char SQL_FIELD_COUNT[] =
    "SELECT count(*) AS n FROM homebot.connection_secrets s"
    " WHERE s.organization_id = $1 AND s.connection_id = $2";
static const char SQL_DELETE[] =
    "SELECT homebot.connection_delete($1, $2::integer) AS _status";
/* The connection's row first, so that one without fields is no 404. */
static const char SQL_REVEAL[] =
    "SELECT s.id, s.name, s.value_version,"
    " encode(s.ciphertext, 'hex') AS ciphertext"
    " FROM homebot.connections c LEFT JOIN homebot.connection_secrets s"
    "   ON s.organization_id = c.organization_id AND s.connection_id = c.id"
    " WHERE c.organization_id = $1 AND c.id = $2 ORDER BY s.name";

static int
no_connection(struct hb_error *err)
{
	return hb_fail_missing(err, "connection");
}

static int
default_taken(struct hb_error *err)
{
	return hb_fail(err, 409, "default_taken", "Another connection of "
	    "this type is the default (of the organization, or of the team).");
}

/* Rolls back and answers err's -1. */
static int
undo(struct hb_db *db)
{
	db_tx_rollback(db);
	return -1;
}

bool
connection_type_valid(const char *type)
{
	size_t n;

	if (type == NULL || !islower((unsigned char)type[0]))
		return false;
	n = strlen(type);
	return n <= CONNECTION_TYPE_MAX &&
	    strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

bool
connection_field_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || !(isalpha((unsigned char)name[0]) ||
	    name[0] == '_') || ((unsigned char)name[0] & 0x80) != 0)
		return false;
	n = strlen(name);
	return n <= CONNECTION_FIELD_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

const char *
connection_fields_check(struct json_object *fields, bool allow_null)
{
	if (!json_object_is_type(fields, json_type_object))
		return "must be a JSON object";
	if (json_object_object_length(fields) > CONNECTION_FIELDS_MAX)
		return "must have at most 32 fields";
	json_object_object_foreach(fields, key, v) {
		const char *s;
		int n;

		if (!connection_field_name_valid(key))
			return "names must be 1 to 64 of A-Z, a-z, 0-9, '_', "
			    "'.' and '-', starting with a letter or '_'";
		if (json_object_is_type(v, json_type_null)) {
			if (!allow_null)
				return "values must be strings";
			continue;
		}
		if (!json_object_is_type(v, json_type_string))
			return allow_null ? "values must be strings or null" :
			    "values must be strings";
		s = json_object_get_string(v);
		n = json_object_get_string_len(v);
		if (n < 1 || n > CONNECTION_VALUE_MAX)
			return "values must be 1 byte to 16 KiB";
		if (memchr(s, '\0', (size_t)n) != NULL ||
		    !json_utf8_valid(s, (size_t)n))
			return "values must be UTF-8 text without NUL";
	}
	return NULL;
}

/*
 * Writes the secret fields of connection id in the open transaction:
 * a string value is sealed under the field's id and its next version, a
 * null removes the field. 0, or -1 with err set.
 */
static int
write_fields(struct hb_db *db, const struct vault_keyring *kr,
    const char *org, const char *id, struct json_object *fields,
    struct hb_error *err)
{
	json_object_object_foreach(fields, key, v) {
		const char *params[7] = { org, id, key };
		char fid[HB_UUID_LEN + 1], vbuf[24], hint[17], *hex;
		uint64_t version = 1;
		PGresult *res;
		bool found;

		if (json_object_is_type(v, json_type_null)) {
			res = db_exec(db, SQL_FIELD_REMOVE, 3, params, err);
			if (res == NULL)
				return -1;
			PQclear(res);
			continue;
		}
		if ((res = db_exec(db, SQL_FIELD, 3, params, err)) == NULL)
			return -1;
		found = PQntuples(res) == 1;
		if (found) {
			snprintf(fid, sizeof(fid), "%s", db_value(res, 0, "id"));
			version = strtoull(db_value(res, 0, "value_version"),
			    NULL, 10) + 1;
		} else
			uuid_new(fid);
		PQclear(res);
		if (secret_seal(db, kr, org, fid, version,
		    json_object_get_string(v), &hex, err) == -1)
			return -1;
		snprintf(vbuf, sizeof(vbuf), "%" PRIu64, version);
		secret_hint(json_object_get_string(v), hint);
		params[2] = fid;
		params[3] = key;
		params[4] = vbuf;
		params[5] = hex;
		params[6] = hint;
		res = db_exec(db, found ? SQL_FIELD_SET : SQL_FIELD_ADD, 7,
		    params, err);
		free(hex);
		if (res == NULL)
			return -1;
		PQclear(res);
	}
	return 0;
}

/* Reads the connection and commits: 0, or -1 (rolled back). */
static int
finish(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **conn, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_exec(db, SQL_GET, 2, params, err);

	if (res == NULL)
		return undo(db);
	*conn = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	if (*conn == NULL) {
		db_tx_rollback(db);
		return no_connection(err);
	}
	if (db_tx_commit(db, err) == -1) {
		json_object_put(*conn);
		*conn = NULL;
		return -1;
	}
	return 0;
}

int
connection_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *team_id, const char *type, const struct hb_page *p,
    struct hb_rows *rows, struct hb_error *err)
{
	const char *params[6] = { ctx->org_id, team_id, type };

	return page_query(db, ctx, p, SQL_LIST, params, 3, "created_at", "id",
	    rows, err);
}

static const char *
flag(int v)
{
	return v < 0 ? NULL : v > 0 ? "true" : "false";
}

int
connection_create(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const struct hb_connection_input *in,
    struct json_object **conn, struct hb_error *err)
{
	char id[HB_UUID_LEN + 1];
	const char *params[8] = { ctx->org_id, id, in->team_id, in->name,
	    in->type, in->config, flag(in->is_active), flag(in->is_default) };
	struct hb_json_check c = { NULL, NULL };
	PGresult *res;
	int n;

	*conn = NULL;
	uuid_new(id);
	if (db_tx_begin(db, ctx, err) == -1)
		return -1;
	if (in->team_id != NULL) {
		const char *tp[2] = { ctx->org_id, in->team_id };

		if ((res = db_exec(db, SQL_TEAM, 2, tp, err)) == NULL)
			return undo(db);
		n = PQntuples(res);
		PQclear(res);
		if (n != 1) {
			db_tx_rollback(db);
			c.details = json_object_new_array();
			json_check_fail(&c, "team_id",
			    "must be a team of the organization you belong to");
			return json_check_done(&c, err);
		}
	}
	if ((res = db_exec(db, SQL_CREATE, 8, params, err)) == NULL)
		return undo(db);
	n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		db_tx_rollback(db);
		return default_taken(err);
	}
	if (in->secret_fields != NULL && write_fields(db, kr, ctx->org_id, id,
	    in->secret_fields, err) == -1)
		return undo(db);
	return finish(db, ctx, id, conn, err);
}

int
connection_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **conn, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_tenant_query(db, ctx, false, SQL_GET, 2, params,
	    err);

	*conn = NULL;
	if (res == NULL)
		return -1;
	*conn = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	return *conn != NULL ? 0 : no_connection(err);
}

int
connection_update(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const char *id, const char *if_match,
    const struct hb_connection_input *in, struct json_object **conn,
    struct hb_error *err)
{
	const char *params[7] = { ctx->org_id, id, in->name, in->type,
	    in->config, flag(in->is_active), flag(in->is_default) };
	const char *version;
	PGresult *res;
	long n;

	*conn = NULL;
	res = db_tenant_query(db, ctx, true, SQL_LOCK, 2, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_tx_rollback(db);
		return no_connection(err);
	}
	version = db_value(res, 0, "version");
	if (if_match != NULL && (version == NULL ||
	    strcmp(if_match, version) != 0)) {
		PQclear(res);
		db_tx_rollback(db);
		return hb_fail_stale(err, "connection");
	}
	PQclear(res);
	if (in->secret_fields != NULL) {
		if (write_fields(db, kr, ctx->org_id, id, in->secret_fields,
		    err) == -1)
			return undo(db);
		if ((res = db_exec(db, SQL_FIELD_COUNT, 2, params,
		    err)) == NULL)
			return undo(db);
		n = atol(db_value(res, 0, "n") != NULL ?
		    db_value(res, 0, "n") : "0");
		PQclear(res);
		if (n > CONNECTION_FIELDS_MAX) {
			struct hb_json_check c = { NULL, NULL };

			db_tx_rollback(db);
			c.details = json_object_new_array();
			json_check_fail(&c, "secret_fields",
			    "a connection has at most 32 secret fields");
			return json_check_done(&c, err);
		}
	}
	res = db_exec(db, SQL_UPDATE, 7, params, err);
	if (res == NULL) {
		/*
		 * connections_default_key, the one unique index a change of
		 * these columns can break, decides (also between two changes
		 * at once); the violation is a client's conflict, not a fault.
		 */
		bool taken = strcmp(db_sqlstate(db), "23505") == 0;

		db_tx_rollback(db);
		if (!taken)
			return -1;
		db_clear_error(db);
		return default_taken(err);
	}
	PQclear(res);
	return finish(db, ctx, id, conn, err);
}

int
connection_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *id, const char *if_match, struct hb_error *err)
{
	const char *params[2] = { id, if_match };
	PGresult *res;
	int rc;

	res = db_tenant_query(db, ctx, false, SQL_DELETE, 2, params, err);
	if (res == NULL)
		return -1;
	rc = hb_status_result(db_value(res, 0, "_status"), "connection", err);
	PQclear(res);
	return rc;
}

int
connection_reveal(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const char *id,
    struct json_object **fields, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	struct hb_audit_event ev = { .action = "connection.revealed",
	    .target_type = "connection", .target_id = id };
	struct json_object *names, *changes;
	PGresult *res;
	int n;

	*fields = NULL;
	res = db_tenant_query(db, ctx, true, SQL_REVEAL, 2, params, err);
	if (res == NULL)
		return -1;
	if ((n = PQntuples(res)) == 0) {
		PQclear(res);
		db_tx_rollback(db);
		return no_connection(err);
	}
	*fields = json_object_new_object();
	names = json_object_new_array();
	for (int i = 0; i < n; i++) {
		const char *name = db_value(res, i, "name");
		unsigned char *value;
		size_t len;

		if (name == NULL)	/* no fields: the LEFT JOIN's one row */
			continue;
		if (secret_open(db, kr, ctx->org_id, db_value(res, i, "id"),
		    strtoull(db_value(res, i, "value_version"), NULL, 10),
		    db_value(res, i, "ciphertext"), &value, &len, err) == -1) {
			if (strcmp(err->code, "secret_unreadable") == 0)
				hb_fail(err, 409, "secret_unreadable", "The "
				    "stored value of the secret field %s does "
				    "not decrypt under the organization's key; "
				    "write it again with PATCH.", name);
			goto fail;
		}
		json_object_object_add(*fields, name,
		    json_object_new_string_len((const char *)value, (int)len));
		vault_plaintext_free(value, len);
		json_object_array_add(names, json_object_new_string(name));
	}
	PQclear(res);
	res = NULL;
	changes = json_object_new_object();
	json_object_object_add(changes, "secret_fields", names);
	names = NULL;
	ev.changes_json = json_object_to_json_string_ext(changes,
	    JSON_C_TO_STRING_PLAIN);
	n = audit_write(db, ctx, &ev, err) == -1 ||
	    db_tx_commit(db, err) == -1;
	json_object_put(changes);
	if (n) {
		db_tx_rollback(db);
		json_object_put(*fields);
		*fields = NULL;
		return -1;
	}
	return 0;
fail:
	PQclear(res);
	json_object_put(names);
	json_object_put(*fields);
	*fields = NULL;
	return undo(db);
}
