/*
 * Organizations (api.md §3): the caller's organizations, creating one,
 * and reading or updating the credential's own organization.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "json.h"
#include "page.h"
#include "program.h"
#include "validate.h"

/* A user's organizations cross tenants: a SECURITY DEFINER function. */
static const char SQL_LIST[] =
    "SELECT id, name, slug, role, " HB_SQL_TS("created_at")
    " FROM homebot.user_organizations($1, $2, $3, $4)";
static const char SQL_CREATE[] =
    "SELECT status, id, name, slug, settings, " HB_SQL_TS("created_at")
    " FROM homebot.create_organization($1, $2, $3)";
/* organizations_pkey under RLS: only the credential's organization. */
static const char SQL_CURRENT[] =
    "SELECT id, name, slug, settings::text, " HB_SQL_TS("created_at")
    " FROM homebot.organizations"
    " WHERE id = NULLIF(current_setting('app.org_id', true), '')::uuid";
static const char SQL_UPDATE[] =
    "UPDATE homebot.organizations SET name = COALESCE($1, name),"
    " settings = COALESCE($2::jsonb, settings), updated_at = now()"
    " WHERE id = NULLIF(current_setting('app.org_id', true), '')::uuid"
    " RETURNING id, name, slug, settings::text, " HB_SQL_TS("created_at");

/* {id, name, slug, settings, created_at} from columns first.. of row i. */
static struct json_object *
org_json(PGresult *res, int i, int first)
{
	static const char *const names[] = { "id", "name", "slug" };
	struct json_object *o = json_row_strings(res, i, first, names, 3);

	json_object_object_add(o, "settings",
	    json_tokener_parse(PQgetvalue(res, i, first + 3)));
	json_object_object_add(o, "created_at",
	    json_object_new_string(PQgetvalue(res, i, first + 4)));
	return o;
}

/* {id, name, slug, role, created_at} of one of the caller's organizations. */
static struct json_object *
my_org_json(PGresult *res, int i)
{
	static const char *const names[] = { "id", "name", "slug", "role",
	    "created_at" };

	return json_row_strings(res, i, 0, names, 5);
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_db_ctx ctx;
	const char *params[4];

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    page_parse(r, "organizations", who.user_id, &page, &r->err) == -1)
		return http_error(r, &r->err);
	params[0] = who.user_id;
	ctx = auth_ctx(&who, r);
	return page_run(r, app->db, &ctx, &page, "organizations", who.user_id,
	    SQL_LIST, params, 1, 4, my_org_json);
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	const char *name, *slug, *params[3], *status;
	struct json_object *o;
	PGresult *res;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	name = json_get_string(&c, "name", true, 1, 200);
	slug = json_get_string(&c, "slug", false, 1, 63);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	params[0] = who.user_id;
	params[1] = name;
	params[2] = slug;
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_CREATE, 3, params,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (strcmp(status, "ok") != 0) {
		status = arena_strdup(r->arena, status);
		PQclear(res);
		return validate_answer_slug(r, status);
	}
	o = org_json(res, 0, 1);
	json_object_object_add(o, "role", json_object_new_string("owner"));
	PQclear(res);
	return http_json(r, 201, o);
}

static int
handle_current(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	PGresult *res;
	int rc;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:read", &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_CURRENT, 0, NULL,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	rc = PQntuples(res) == 1 ? http_json(r, 200, org_json(res, 0, 0)) :
	    http_fail(r, 404, "not_found", "No such organization.");
	PQclear(res);
	return rc;
}

static int
handle_update(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *settings;
	const char *params[2];
	PGresult *res;
	int rc;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "org:update", &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	params[0] = json_get_string(&c, "name", false, 1, 200);
	settings = json_get_object(&c, "settings", false);
	params[1] = settings != NULL ? json_object_to_json_string_ext(settings,
	    JSON_C_TO_STRING_PLAIN) : NULL;
	if (params[1] != NULL && strlen(params[1]) > 16384)
		json_check_fail(&c, "settings", "must be at most 16 KiB of JSON");
	/* PostgreSQL's jsonb cannot hold a NUL character, even escaped. */
	else if (params[1] != NULL && strstr(params[1], "\\u0000") != NULL)
		json_check_fail(&c, "settings", "must not contain \\u0000");
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(&who, r);
	if (db_tx_begin(app->db, &ctx, &r->err) == -1)
		return http_error(r, &r->err);
	res = db_exec(app->db, SQL_UPDATE, 2, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_tx_rollback(app->db);
		return http_fail(r, 404, "not_found", "No such organization.");
	}
	if (audit_write(app->db, r, &who, &(struct hb_audit_event){ NULL, false,
	    "organization.updated", "organization", who.org_id, NULL },
	    &r->err) == -1 ||
	    db_tx_commit(app->db, &r->err) == -1) {
		PQclear(res);
		return http_error(r, &r->err);
	}
	rc = http_json(r, 200, org_json(res, 0, 0));
	PQclear(res);
	return rc;
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/organizations", handle_list, 0 },
	{ "POST", "/api/v1/organizations", handle_create, 0 },
	{ "GET", "/api/v1/organizations/current", handle_current, 0 },
	{ "PATCH", "/api/v1/organizations/current", handle_update, 0 },
};

PROGRAM("homebot-orgs", routes)
