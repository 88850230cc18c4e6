/*
 * Organizations (api.md §3): the caller's organizations, creating one,
 * and reading or updating the credential's own organization and one key
 * of its settings; and the public platform settings (api.md §10), which
 * need no credential. The data lives in lib/org.c and lib/setting.c.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "json.h"
#include "org.h"
#include "program.h"
#include "setting.h"

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    page_parse(r, "organizations", who.user_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (org_list_mine(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	const char *name, *slug;
	struct json_object *o;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	name = json_get_string(&c, "name", true, 1, 200);
	slug = json_get_string(&c, "slug", false, 1, 63);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (org_create(app->db, &ctx, name, slug, &o, &r->err) == -1)
		return -1;
	return http_json(r, 201, o);
}

static int
handle_current(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *o;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:read", &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (org_current(app->db, &ctx, &o, &r->err) == -1)
		return -1;
	return http_json(r, 200, o);
}

static int
handle_update(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *settings, *o;
	const char *name, *text;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:update", &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	name = json_get_string(&c, "name", false, 1, 200);
	settings = json_get_object(&c, "settings", false);
	text = settings != NULL ? json_object_to_json_string_ext(settings,
	    JSON_C_TO_STRING_PLAIN) : NULL;
	if (text != NULL && strlen(text) > 16384)
		json_check_fail(&c, "settings", "must be at most 16 KiB of JSON");
	/* PostgreSQL's jsonb cannot hold a NUL character, even escaped. */
	else if (text != NULL && strstr(text, "\\u0000") != NULL)
		json_check_fail(&c, "settings", "must not contain \\u0000");
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (org_update(app->db, &ctx, name, text, &o, &r->err) == -1)
		return -1;
	return http_json(r, 200, o);
}

/* The ETag of one organization setting: its settings' version. */
static int
send_org_setting(struct hb_request *r, struct json_object *row)
{
	char etag[32];
	struct json_object *v = json_object_object_get(row, "version");

	snprintf(etag, sizeof(etag), "\"%d\"", json_object_get_int(v));
	http_add_header(r, "ETag", etag);
	return http_json(r, 200, row);
}

static int
handle_setting_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *o;
	const char *key = http_route_param(r, "key");

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:read", &r->err) == -1)
		return -1;
	if (key == NULL || strlen(key) > HB_SETTING_KEY_MAX ||
	    !json_utf8_valid(key, strlen(key)))
		return hb_fail(&r->err, 404, "not_found", "No such setting.");
	ctx = auth_ctx(&who, r);
	if (setting_org_get(app->db, &ctx, key, &o, &r->err) == -1)
		return -1;
	return send_org_setting(r, o);
}

static int
handle_setting_put(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *o;
	const char *key = http_route_param(r, "key"), *value;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:update", &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	if (!setting_key_valid(key))
		json_check_fail(&c, "key", "must match ^[a-z][a-z0-9_.-]{0,63}$");
	value = setting_value_json(&c, HB_ORG_SETTINGS_MAX);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (setting_org_put(app->db, &ctx, key, value,
	    http_if_match(http_header(r, "If-Match")), &o, &r->err) == -1)
		return -1;
	return send_org_setting(r, o);
}

/*
 * Whether the If-None-Match header inm names etag ("<hash>") or is "*".
 * A web server that compressed the answer sent the tag as "<hash>-gzip"
 * (lighttpd and Apache both), and the client names that one.
 */
static bool
etag_listed(const char *inm, const char *etag)
{
	size_t n = strlen(etag) - 1;	/* without its closing quote */
	const char *p;

	if (strspn(inm, " \t*") == strlen(inm) && strchr(inm, '*') != NULL)
		return true;
	for (p = inm; (p = strstr(p, "\"")) != NULL; p++)
		if (strncmp(p, etag, n) == 0 && (p[n] == '"' ||
		    strncmp(p + n, "-gzip\"", 6) == 0))
			return true;
	return false;
}

/*
 * The public platform settings, for anyone: cacheable for a minute, and
 * 304 for an If-None-Match that names the current ETag (or "*").
 */
static int
handle_public_settings(struct hb_request *r, struct hb_app *app)
{
	char etag[40];
	struct json_object *o;
	const char *inm = http_header(r, "If-None-Match");

	if (setting_public(app->db, &o, etag, sizeof(etag), &r->err) == -1)
		return -1;
	r->cache_control = "public, max-age=60";
	http_add_header(r, "ETag", etag);
	if (inm != NULL && etag_listed(inm, etag)) {
		json_object_put(o);
		return http_not_modified(r);
	}
	return http_json(r, 200, o);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/organizations", handle_list, 0 },
	{ "POST", "/api/v1/organizations", handle_create, 0 },
	{ "GET", "/api/v1/organizations/current", handle_current, 0 },
	{ "PATCH", "/api/v1/organizations/current", handle_update, 0 },
	{ "GET", "/api/v1/organizations/current/settings/{key}",
	    handle_setting_get, 0 },
	{ "PUT", "/api/v1/organizations/current/settings/{key}",
	    handle_setting_put, 0 },
	{ "GET", "/api/v1/settings", handle_public_settings, 0 },
};

PROGRAM("homebot-orgs", routes)
