#include <stdio.h>
#include <string.h>

#include "apikey.h"
#include "auth_token.h"

#define KEY_FIELDS \
	"id, name, prefix, " HB_SQL_TS("created_at") " AS created_at, " \
	HB_SQL_TS("expires_at") " AS expires_at, " \
	HB_SQL_TS("last_used_at") " AS last_used_at, created_by, " \
	"array_to_json(scopes) AS scopes"

/* By api_keys(organization_id, created_at DESC, id DESC) under RLS. */
static const char SQL_LIST[] =
    "SELECT " KEY_FIELDS " FROM homebot.api_keys"
    " WHERE revoked_at IS NULL"
    "   AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))"
    " ORDER BY api_keys.created_at DESC, api_keys.id DESC LIMIT $3";
static const char SQL_GET[] =
    "SELECT " KEY_FIELDS " FROM homebot.api_keys"
    " WHERE id = $1 AND revoked_at IS NULL";
/*
 * The audit event is written by the same statement as the change; its
 * IP, user agent and request ID come from the context (audit_fill_context).
 */
static const char SQL_CREATE[] =
    "WITH k AS (INSERT INTO homebot.api_keys (organization_id, prefix,"
    "  key_hash, name, scopes, created_by, expires_at)"
    " VALUES (NULLIF(current_setting('app.org_id', true), '')::uuid, $3,"
    "  decode($4, 'hex'), $5, string_to_array($6, ','), $7::uuid,"
    "  now() + make_interval(days => $8::int))"
    " RETURNING *),"
    " a AS (INSERT INTO homebot.audit_log (organization_id, actor_type,"
    "  actor_id, action, target_type, target_id, changes)"
    " SELECT k.organization_id, $1, $2::uuid, 'api_key.created', 'api_key',"
    "  k.id::text, jsonb_build_object('name', k.name, 'scopes', k.scopes)"
    "  FROM k)"
    " SELECT " KEY_FIELDS " FROM k";
static const char SQL_REVOKE[] =
    "WITH k AS (UPDATE homebot.api_keys SET revoked_at = now()"
    " WHERE id = $3 AND revoked_at IS NULL RETURNING *),"
    " a AS (INSERT INTO homebot.audit_log (organization_id, actor_type,"
    "  actor_id, action, target_type, target_id, changes)"
    " SELECT k.organization_id, $1, $2::uuid, 'api_key.revoked', 'api_key',"
    "  k.id::text, jsonb_build_object('name', k.name) FROM k)"
    " SELECT id FROM k";

/* The actor of an audit event, $1 and $2: ctx's key, else its user. */
static void
actor_params(const struct hb_db_ctx *ctx, const char **params)
{
	params[0] = ctx->api_key_id != NULL ? "api_key" : "user";
	params[1] = ctx->api_key_id != NULL ? ctx->api_key_id : ctx->user_id;
}

int
apikey_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[3];

	return page_query(db, ctx, p, SQL_LIST, params, 0, "created_at", "id",
	    rows, err);
}

int
apikey_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **key, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, false, SQL_GET, 1, &id, err);

	*key = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*key = db_row_json(res, 0);
	PQclear(res);
	if (*key == NULL)
		return hb_fail(err, 404, "not_found", "No such API key.");
	return 0;
}

int
apikey_create(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_apikey_new *in, struct json_object **key,
    struct hb_error *err)
{
	char plain[HB_API_KEY_LEN + 1], prefix[HB_API_KEY_PREFIX_LEN + 1];
	char hex[2 * HB_SHA256_LEN + 1], days[16];
	unsigned char hash[HB_SHA256_LEN];
	const char *params[8];
	PGresult *res;

	*key = NULL;
	if (auth_api_key_new(plain, prefix, hash, err) == -1)
		return -1;
	crypto_hex(hash, sizeof(hash), hex);
	snprintf(days, sizeof(days), "%d", in->expires_in_days);
	actor_params(ctx, params);
	params[2] = prefix;
	params[3] = hex;
	params[4] = in->name;
	params[5] = in->scopes;
	params[6] = ctx->user_id;
	params[7] = in->expires_in_days > 0 ? days : NULL;
	res = db_tenant_query(db, ctx, false, SQL_CREATE, 8, params, err);
	if (res != NULL && PQntuples(res) == 1) {
		*key = db_row_json(res, 0);
		json_object_object_add(*key, "key",
		    json_object_new_string(plain));
	}
	explicit_bzero(plain, sizeof(plain));
	if (res == NULL)
		return -1;
	PQclear(res);
	if (*key == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "The key could not be stored; try again.");
	return 0;
}

int
apikey_revoke(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct hb_error *err)
{
	const char *params[3];
	PGresult *res;
	bool found;

	actor_params(ctx, params);
	params[2] = id;
	res = db_tenant_query(db, ctx, false, SQL_REVOKE, 3, params, err);
	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found)
		return hb_fail(err, 404, "not_found", "No such API key.");
	return 0;
}
