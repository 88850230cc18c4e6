/*
 * API keys for service accounts (api.md §3): list, create (the key is
 * shown once), read and revoke. Keys are stored as SHA-256 only.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "auth_token.h"
#include "crypto.h"
#include "json.h"
#include "page.h"
#include "program.h"

/* The order key_json() reads: KEY_FIELDS, then the scopes. */
#define KEY_COLUMNS \
	"id, name, prefix, " HB_SQL_TS("created_at") ", " \
	HB_SQL_TS("expires_at") ", " HB_SQL_TS("last_used_at") ", " \
	"created_by, array_to_json(scopes)::text"

/* By api_keys(organization_id, created_at DESC, id DESC) under RLS. */
static const char SQL_LIST[] =
    "SELECT " KEY_COLUMNS " FROM homebot.api_keys"
    " WHERE revoked_at IS NULL"
    "   AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))"
    " ORDER BY created_at DESC, id DESC LIMIT $3";
static const char SQL_GET[] =
    "SELECT " KEY_COLUMNS " FROM homebot.api_keys"
    " WHERE id = $1 AND revoked_at IS NULL";

/* The audit event is written by the same statement as the change. */
static const char SQL_CREATE[] =
    "WITH k AS (INSERT INTO homebot.api_keys (organization_id, prefix,"
    "  key_hash, name, scopes, created_by, expires_at)"
    " VALUES (NULLIF(current_setting('app.org_id', true), '')::uuid, $5,"
    "  decode($6, 'hex'), $7, string_to_array($8, ','), $9::uuid,"
    "  now() + make_interval(days => $10::int))"
    " RETURNING *),"
    " a AS (INSERT INTO homebot.audit_log (organization_id, actor_type,"
    "  actor_id, action, target_type, target_id, ip, user_agent, request_id,"
    "  changes)"
    " SELECT k.organization_id, $1, $2::uuid, 'api_key.created', 'api_key',"
    "  k.id::text, $3, $4, current_setting('app.request_id', true),"
    "  jsonb_build_object('name', k.name, 'scopes', k.scopes) FROM k)"
    " SELECT " KEY_COLUMNS " FROM k";
static const char SQL_REVOKE[] =
    "WITH k AS (UPDATE homebot.api_keys SET revoked_at = now()"
    " WHERE id = $5 AND revoked_at IS NULL RETURNING *),"
    " a AS (INSERT INTO homebot.audit_log (organization_id, actor_type,"
    "  actor_id, action, target_type, target_id, ip, user_agent, request_id,"
    "  changes)"
    " SELECT k.organization_id, $1, $2::uuid, 'api_key.revoked', 'api_key',"
    "  k.id::text, $3, $4, current_setting('app.request_id', true),"
    "  jsonb_build_object('name', k.name) FROM k)"
    " SELECT id FROM k";

static struct json_object *
key_json(PGresult *res, int i)
{
	static const char *const names[] = { "id", "name", "prefix",
	    "created_at", "expires_at", "last_used_at", "created_by" };
	struct json_object *k = json_row_strings(res, i, 0, names, 7);

	json_object_object_add(k, "scopes",
	    json_tokener_parse(PQgetvalue(res, i, 7)));
	return k;
}

/* The four audit parameters every write starts with: $1..$4. */
static void
actor_params(const struct hb_request *r, const struct hb_principal *who,
    const char **params)
{
	params[0] = who->method == HB_AUTH_API_KEY ? "api_key" : "user";
	params[1] = who->method == HB_AUTH_API_KEY ? who->key_id : who->user_id;
	params[2] = r->remote_addr;
	params[3] = audit_user_agent(r);
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_db_ctx ctx;
	const char *params[3];

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "api_keys:read", &r->err) == -1 ||
	    page_parse(r, "api_keys", who.org_id, &page, &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(&who, r);
	return page_run(r, app->db, &ctx, &page, "api_keys", who.org_id,
	    SQL_LIST, params, 0, 3, key_json);
}

/*
 * Scopes: permission names the caller holds (a key's creator can never
 * hand out more than he has), joined with ',' in the arena.
 */
static const char *
read_scopes(struct hb_request *r, struct hb_json_check *c,
    const struct hb_principal *who)
{
	struct json_object *v = NULL;
	char *joined, msg[160];
	size_t n, used = 0;

	if (c->body == NULL || !json_object_object_get_ex(c->body, "scopes", &v)) {
		json_check_fail(c, "scopes", "is required");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0 || n > HB_MAX_PERMISSIONS) {
		json_check_fail(c, "scopes", "must be a list of 1 to 32 "
		    "permission names");
		return NULL;
	}
	joined = arena_alloc(r->arena, n * 40);
	for (size_t i = 0; joined != NULL && i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string) ||
		    strlen(s) >= 38 || strchr(s, ',') != NULL ||
		    !auth_has(who, s)) {
			snprintf(msg, sizeof(msg), "\"%.37s\" is not a permission "
			    "you hold", json_object_is_type(e, json_type_string) ?
			    s : "(not a string)");
			json_check_fail(c, "scopes", msg);
			return NULL;
		}
		used += (size_t)sprintf(joined + used, "%s%s",
		    i > 0 ? "," : "", s);
	}
	return joined;
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	char key[HB_API_KEY_LEN + 1], prefix[HB_API_KEY_PREFIX_LEN + 1];
	char hex[2 * HB_SHA256_LEN + 1], days[16];
	unsigned char hash[HB_SHA256_LEN];
	const char *name, *scopes, *params[10];
	struct json_object *body;
	int64_t expires;
	PGresult *res;

	/*
	 * Only a person creates keys: a key that could mint keys would let a
	 * short-lived or revoked key leave a lasting successor behind.
	 */
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    auth_require(&who, "api_keys:write", &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	name = json_get_string(&c, "name", true, 1, 100);
	scopes = read_scopes(r, &c, &who);
	expires = json_get_int(&c, "expires_in_days", false, 1, 3650, 0);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	if (auth_api_key_new(key, prefix, hash) == -1)
		return http_fail(r, 503, "service_unavailable",
		    "No randomness available.");
	crypto_hex(hash, sizeof(hash), hex);
	snprintf(days, sizeof(days), "%lld", (long long)expires);
	actor_params(r, &who, params);
	params[4] = prefix;
	params[5] = hex;
	params[6] = name;
	params[7] = scopes;
	params[8] = who.user_id;
	params[9] = expires > 0 ? days : NULL;
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_CREATE, 10, params,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return http_fail(r, 503, "service_unavailable",
		    "The key could not be stored; try again.");
	}
	body = key_json(res, 0);
	PQclear(res);
	json_object_object_add(body, "key", json_object_new_string(key));
	explicit_bzero(key, sizeof(key));
	return http_json(r, 201, body);
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *id = http_route_param(r, "id");
	PGresult *res;
	int rc;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "api_keys:read", &r->err) == -1)
		return http_error(r, &r->err);
	if (!auth_is_uuid(id))
		return http_fail(r, 404, "not_found", "No such API key.");
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_GET, 1, &id, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	rc = PQntuples(res) == 1 ? http_json(r, 200, key_json(res, 0)) :
	    http_fail(r, 404, "not_found", "No such API key.");
	PQclear(res);
	return rc;
}

static int
handle_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *params[5];
	PGresult *res;
	bool found;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "api_keys:write", &r->err) == -1)
		return http_error(r, &r->err);
	params[4] = http_route_param(r, "id");
	if (!auth_is_uuid(params[4]))
		return http_fail(r, 404, "not_found", "No such API key.");
	actor_params(r, &who, params);
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_REVOKE, 5, params,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found)
		return http_fail(r, 404, "not_found", "No such API key.");
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/api-keys", handle_list, 0 },
	{ "POST", "/api/v1/api-keys", handle_create, 0 },
	{ "GET", "/api/v1/api-keys/{id}", handle_get, 0 },
	{ "DELETE", "/api/v1/api-keys/{id}", handle_delete, 0 },
};

PROGRAM("homebot-api-keys", routes)
