/*
 * Organizations (api.md §3): the caller's organizations, creating one,
 * and reading or updating the credential's own organization. The data
 * lives in lib/org.c.
 */
#include <string.h>

#include "auth.h"
#include "json.h"
#include "org.h"
#include "program.h"

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

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/organizations", handle_list, 0 },
	{ "POST", "/api/v1/organizations", handle_create, 0 },
	{ "GET", "/api/v1/organizations/current", handle_current, 0 },
	{ "PATCH", "/api/v1/organizations/current", handle_update, 0 },
};

PROGRAM("homebot-orgs", routes)
