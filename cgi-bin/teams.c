/*
 * Teams (api.md §9): list, create, read, change and (softly) delete
 * teams, and manage their members. teams:read reads, teams:write writes;
 * a team's leads also manage that team's members. The policies of
 * 0009_teams.sql hold the same line (a deleted team is gone, only
 * writers and leads write members); the data lives in lib/team.c.
 * Answers of one team carry ETag: "<version>", and a PATCH or DELETE
 * with a stale If-Match is 412.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "json.h"
#include "program.h"
#include "team.h"
#include "uuid.h"

/* Authenticated and holding permission: 0, or -1. */
static int
begin(struct hb_request *r, struct hb_app *app, struct hb_principal *who,
    const char *permission)
{
	if (auth_request(r, app->db, &app->keys, 0, who, &r->err) == -1 ||
	    auth_require(who, permission, &r->err) == -1)
		return -1;
	return 0;
}

static const char *
read_slug(struct hb_json_check *c)
{
	const char *slug = json_get_string(c, "slug", false, 1, 63);
	size_t n = slug != NULL ? strlen(slug) : 0;

	if (slug != NULL && (strspn(slug, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789-") != n || slug[0] == '-' || slug[n - 1] == '-')) {
		json_check_fail(c, "slug", "must be 1 to 63 of a-z, 0-9 and "
		    "'-', not starting or ending with '-'");
		return NULL;
	}
	return slug;
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (begin(r, app, &who, "teams:read") == -1 ||
	    page_parse(r, "teams", who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (team_list(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_team_input in;
	struct hb_db_ctx ctx;
	struct json_object *team;

	if (begin(r, app, &who, "teams:write") == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.name = json_get_string(&c, "name", true, 1, 200);
	in.slug = read_slug(&c);
	in.description = json_get_string(&c, "description", false, 0, 2000);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (team_create(app->db, &ctx, &in, &team, &r->err) == -1)
		return -1;
	return http_json_versioned(r, 201, team);
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *team;
	const char *id;

	if (begin(r, app, &who, "teams:read") == -1 ||
	    (id = http_path_uuid(r, "id", "team")) == NULL)
		return -1;
	ctx = auth_ctx(&who, r);
	if (team_get(app->db, &ctx, id, &team, &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, team);
}

static int
handle_update(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_team_input in = { 0 };
	struct hb_db_ctx ctx;
	struct json_object *team;
	const char *id, *version;
	char buf[24];

	if (begin(r, app, &who, "teams:write") == -1 ||
	    (id = http_path_uuid(r, "id", "team")) == NULL)
		return -1;
	json_check_begin(&c, r->json);
	in.name = json_get_string(&c, "name", false, 1, 200);
	in.description = json_get_string(&c, "description", false, 0, 2000);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (team_update(app->db, &ctx, id, version, &in, &team,
	    &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, team);
}

static int
handle_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *id, *version;
	char buf[24];

	if (begin(r, app, &who, "teams:write") == -1 ||
	    (id = http_path_uuid(r, "id", "team")) == NULL)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (team_delete(app->db, &ctx, id, version, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_members(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;
	const char *id;

	if (begin(r, app, &who, "teams:read") == -1 ||
	    (id = http_path_uuid(r, "id", "team")) == NULL ||
	    page_parse(r, "team_members", id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (team_member_list(app->db, &ctx, id, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

/*
 * Starts a change of {id}'s member {user_id}: teams:write or a lead of
 * the team (else 403), UUIDs (else 404). Fills team, user and ctx.
 */
static int
member_input(struct hb_request *r, struct hb_app *app, const char **team,
    const char **user, struct hb_db_ctx *ctx)
{
	struct hb_principal who;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    (*team = http_path_uuid(r, "id", "team")) == NULL)
		return -1;
	if (!auth_has(&who, "teams:write") && !auth_leads_team(&who, *team))
		return hb_fail(&r->err, 403, "forbidden", "This needs the "
		    "permission teams:write or the lead of this team.");
	*user = http_route_param(r, "user_id");
	if (!uuid_valid(*user))
		return hb_fail(&r->err, 404, "not_found",
		    "No such member of the team.");
	*ctx = auth_ctx(&who, r);
	return 0;
}

static int
handle_member_put(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *member;
	const char *team, *user, *role;

	if (member_input(r, app, &team, &user, &ctx) == -1)
		return -1;
	json_check_begin(&c, r->json);
	role = json_get_string(&c, "team_role", true, 1, 16);
	if (role != NULL && strcmp(role, "lead") != 0 &&
	    strcmp(role, "member") != 0)
		json_check_fail(&c, "team_role", "must be lead or member");
	if (json_check_done(&c, &r->err) == -1 ||
	    team_member_put(app->db, &ctx, team, user, role, &member,
	    &r->err) == -1)
		return -1;
	return http_json(r, 200, member);
}

static int
handle_member_remove(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx;
	const char *team, *user;

	if (member_input(r, app, &team, &user, &ctx) == -1 ||
	    team_member_remove(app->db, &ctx, team, user, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/teams", handle_list, 0 },
	{ "POST", "/api/v1/teams", handle_create, 0 },
	{ "GET", "/api/v1/teams/{id}", handle_get, 0 },
	{ "PATCH", "/api/v1/teams/{id}", handle_update, 0 },
	{ "DELETE", "/api/v1/teams/{id}", handle_delete, 0 },
	{ "GET", "/api/v1/teams/{id}/members", handle_members, 0 },
	{ "PUT", "/api/v1/teams/{id}/members/{user_id}", handle_member_put, 0 },
	{ "DELETE", "/api/v1/teams/{id}/members/{user_id}",
	    handle_member_remove, 0 },
};

PROGRAM("homebot-teams", routes)
