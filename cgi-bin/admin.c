/*
 * Platform administration (api.md §5), for superadmins only. This is the
 * one program that connects as homebot_admin (ADMIN_DATABASE_URL), the
 * role whose policies see every organization. The data lives in
 * lib/admin.c, lib/audit.c and lib/setting.c.
 */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "audit.h"
#include "auth.h"
#include "job.h"
#include "json.h"
#include "program.h"
#include "setting.h"
#include "uuid.h"
#include "validate.h"

/* Every admin endpoint: an access token of a superadmin, else 403. */
static int
admin_auth(struct hb_request *r, struct hb_app *app, struct hb_db_ctx *ctx)
{
	struct hb_principal who;

	if (auth_request(r, app->db, &app->keys,
	    HB_AUTH_TOKEN_ONLY | HB_AUTH_SUSPENDED_OK, &who, &r->err) == -1)
		return -1;
	if (!who.is_superadmin)
		return hb_fail(&r->err, 403, "forbidden",
		    "Only a platform superadmin may do this.");
	*ctx = auth_ctx(&who, r);
	return 0;
}

/* A superadmin's change of the resource {id}: 0, or -1 (404 for a bad id). */
static int
change_input(struct hb_request *r, struct hb_app *app, struct hb_db_ctx *ctx,
    const char **id)
{
	*id = http_route_param(r, "id");
	if (admin_auth(r, app, ctx) == -1)
		return -1;
	if (!uuid_valid(*id))
		return hb_fail(&r->err, 404, "not_found", "No such resource.");
	return 0;
}

static int
handle_orgs(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_page page;
	struct hb_rows rows;

	if (admin_auth(r, app, &ctx) == -1 ||
	    page_parse(r, "admin_orgs", "platform", &page, &r->err) == -1 ||
	    admin_org_list(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_create_org(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_json_check c;
	struct hb_admin_org_new in;
	struct json_object *o;

	if (admin_auth(r, app, &ctx) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.name = json_get_string(&c, "name", true, 1, 200);
	in.slug = json_get_string(&c, "slug", false, 1, 63);
	in.owner_email = validate_email(&c, r->arena, "owner_email", true);
	if (json_check_done(&c, &r->err) == -1 ||
	    admin_org_create(app->db, &ctx, &app->cfg, r->arena, &in, &o,
	    &r->err) == -1)
		return -1;
	return http_json(r, 201, o);
}

static int
suspend(struct hb_request *r, struct hb_app *app, bool on)
{
	struct hb_db_ctx ctx;
	struct json_object *o;
	const char *id;

	if (change_input(r, app, &ctx, &id) == -1 ||
	    admin_org_suspend(app->db, &ctx, id, on, &o, &r->err) == -1)
		return -1;
	return http_json(r, 200, o);
}

static int
handle_suspend(struct hb_request *r, struct hb_app *app)
{
	return suspend(r, app, true);
}

static int
handle_unsuspend(struct hb_request *r, struct hb_app *app)
{
	return suspend(r, app, false);
}

static int
handle_users(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_page page;
	struct hb_rows rows;
	const char *email = http_query(r, "email");

	if (admin_auth(r, app, &ctx) == -1)
		return -1;
	if (email != NULL && (strlen(email) > 254 ||
	    !json_utf8_valid(email, strlen(email)))) {
		struct hb_json_check c = { NULL, json_object_new_array() };

		json_check_fail(&c, "email", "must be at most 254 bytes of text");
		return json_check_done(&c, &r->err);
	}
	if (page_parse(r, "admin_users", "platform", &page, &r->err) == -1 ||
	    admin_user_list(app->db, &ctx, email, &page, &rows,
	    &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
able(struct hb_request *r, struct hb_app *app, bool disable)
{
	struct hb_db_ctx ctx;
	struct json_object *u;
	const char *id;

	if (change_input(r, app, &ctx, &id) == -1 ||
	    admin_user_disable(app->db, &ctx, id, disable, &u, &r->err) == -1)
		return -1;
	return http_json(r, 200, u);
}

static int
handle_disable(struct hb_request *r, struct hb_app *app)
{
	return able(r, app, true);
}

static int
handle_enable(struct hb_request *r, struct hb_app *app)
{
	return able(r, app, false);
}

static int
handle_unlock(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct json_object *u;
	const char *id;

	if (change_input(r, app, &ctx, &id) == -1 ||
	    admin_user_unlock(app->db, &ctx, id, &u, &r->err) == -1)
		return -1;
	return http_json(r, 200, u);
}

static int
handle_audit(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_audit_filter f;
	struct hb_page page;
	struct hb_rows rows;

	if (admin_auth(r, app, &ctx) == -1 ||
	    audit_filter_parse(r, &f, &r->err) == -1 ||
	    page_parse(r, "admin_audit", "platform", &page, &r->err) == -1 ||
	    audit_list(app->db, &ctx, &f, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_jobs(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_job_filter f;
	struct hb_page page;
	struct hb_rows rows;

	if (admin_auth(r, app, &ctx) == -1 ||
	    job_filter_parse(r, &f, &r->err) == -1 ||
	    page_parse(r, "admin_jobs", "platform", &page, &r->err) == -1 ||
	    job_list(app->db, &ctx, &f, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_job_retry(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct json_object *job;
	const char *id;

	if (change_input(r, app, &ctx, &id) == -1 ||
	    job_retry(app->db, &ctx, id, &job, &r->err) == -1)
		return -1;
	return http_json(r, 200, job);
}

static int
handle_settings(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_page page;
	struct hb_rows rows;

	if (admin_auth(r, app, &ctx) == -1 ||
	    page_parse(r, "admin_settings", "platform", &page, &r->err) == -1 ||
	    setting_platform_list(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_setting_put(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	struct hb_json_check c;
	struct hb_setting_put in;
	struct json_object *o;
	char etag[32];
	bool created, pub;

	if (admin_auth(r, app, &ctx) == -1)
		return -1;
	in.key = http_route_param(r, "key");
	json_check_begin(&c, r->json);
	if (!setting_key_valid(in.key))
		json_check_fail(&c, "key", "must match ^[a-z][a-z0-9_.-]{0,63}$");
	in.value_json = setting_value_json(&c, HB_SETTING_VALUE_MAX);
	in.description = json_get_string(&c, "description", false, 0, 1000);
	pub = json_get_bool(&c, "is_public", false, false);
	in.is_public = json_object_object_get(r->json, "is_public") == NULL ?
	    NULL : pub ? "true" : "false";
	in.if_match = http_if_match(http_header(r, "If-Match"));
	if (json_check_done(&c, &r->err) == -1 ||
	    setting_platform_put(app->db, &ctx, &in, &o, &created,
	    &r->err) == -1)
		return -1;
	snprintf(etag, sizeof(etag), "\"%d\"",
	    json_object_get_int(json_object_object_get(o, "version")));
	http_add_header(r, "ETag", etag);
	return http_json(r, created ? 201 : 200, o);
}

static int
handle_setting_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	const char *key = http_route_param(r, "key");

	if (admin_auth(r, app, &ctx) == -1)
		return -1;
	if (!setting_key_valid(key))
		return hb_fail(&r->err, 404, "not_found", "No such setting.");
	if (setting_platform_delete(app->db, &ctx, key,
	    http_if_match(http_header(r, "If-Match")), &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/admin/organizations", handle_orgs, 0 },
	{ "POST", "/api/v1/admin/organizations", handle_create_org, 0 },
	{ "POST", "/api/v1/admin/organizations/{id}/suspend", handle_suspend, 0 },
	{ "POST", "/api/v1/admin/organizations/{id}/unsuspend",
	    handle_unsuspend, 0 },
	{ "GET", "/api/v1/admin/users", handle_users, 0 },
	{ "POST", "/api/v1/admin/users/{id}/disable", handle_disable, 0 },
	{ "POST", "/api/v1/admin/users/{id}/enable", handle_enable, 0 },
	{ "POST", "/api/v1/admin/users/{id}/unlock", handle_unlock, 0 },
	{ "GET", "/api/v1/admin/audit-log", handle_audit, 0 },
	{ "GET", "/api/v1/admin/jobs", handle_jobs, 0 },
	{ "POST", "/api/v1/admin/jobs/{id}/retry", handle_job_retry, 0 },
	{ "GET", "/api/v1/admin/settings", handle_settings, 0 },
	{ "PUT", "/api/v1/admin/settings/{key}", handle_setting_put, 0 },
	{ "DELETE", "/api/v1/admin/settings/{key}", handle_setting_delete, 0 },
};

int
main(void)
{
	struct hb_app app = { .name = "homebot-admin", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]), .admin_db = true };

	return program_main(&app);
}
