/*
 * API keys for service accounts (api.md §3): list, create (the key is
 * shown once), read and revoke. The data lives in lib/apikey.c.
 */
#include <stdio.h>
#include <string.h>

#include "apikey.h"
#include "auth.h"
#include "json.h"
#include "program.h"
#include "uuid.h"

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "api_keys:read", &r->err) == -1 ||
	    page_parse(r, "api_keys", who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (apikey_list(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
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
	struct hb_apikey_new in;
	struct json_object *key;

	/*
	 * Only a person creates keys: a key that could mint keys would let a
	 * short-lived or revoked key leave a lasting successor behind.
	 */
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    auth_require(&who, "api_keys:write", &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.name = json_get_string(&c, "name", true, 1, 100);
	in.scopes = read_scopes(r, &c, &who);
	in.expires_in_days = (int)json_get_int(&c, "expires_in_days", false, 1,
	    3650, 0);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (apikey_create(app->db, &ctx, &in, &key, &r->err) == -1)
		return -1;
	return http_json(r, 201, key);
}

/* The {id} of a key route, authenticated with permission: 0 or -1. */
static int
key_input(struct hb_request *r, struct hb_app *app, const char *permission,
    const char **id, struct hb_db_ctx *ctx)
{
	struct hb_principal who;

	*id = http_route_param(r, "id");
	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, permission, &r->err) == -1)
		return -1;
	if (!uuid_valid(*id))
		return hb_fail(&r->err, 404, "not_found", "No such API key.");
	*ctx = auth_ctx(&who, r);
	return 0;
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct json_object *key;
	const char *id;

	if (key_input(r, app, "api_keys:read", &id, &ctx) == -1 ||
	    apikey_get(app->db, &ctx, id, &key, &r->err) == -1)
		return -1;
	return http_json(r, 200, key);
}

static int
handle_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	const char *id;

	if (key_input(r, app, "api_keys:write", &id, &ctx) == -1 ||
	    apikey_revoke(app->db, &ctx, id, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/api-keys", handle_list, 0 },
	{ "POST", "/api/v1/api-keys", handle_create, 0 },
	{ "GET", "/api/v1/api-keys/{id}", handle_get, 0 },
	{ "DELETE", "/api/v1/api-keys/{id}", handle_delete, 0 },
};

PROGRAM("homebot-api-keys", routes)
