/*
 * Members and invitations (api.md §3): list, invite (always by mail),
 * send an invitation again, change a role, remove. Every check is a
 * permission; owners are guarded by members:owners and the database
 * refuses to lose the last owner. The data lives in lib/member.c.
 */
#include <string.h>

#include "auth.h"
#include "member.h"
#include "program.h"
#include "ratelimit.h"
#include "uuid.h"
#include "validate.h"

static const char *
read_role(struct hb_json_check *c)
{
	const char *role = json_get_string(c, "role", true, 1, 16);

	if (role != NULL && !member_role_valid(role)) {
		json_check_fail(c, "role",
		    "must be one of owner, admin, member, viewer");
		return NULL;
	}
	return role;
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "members:read", &r->err) == -1 ||
	    page_parse(r, "members", who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (member_list(app->db, &ctx, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_add(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *member;
	const char *email, *role;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "members:write", &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	email = validate_email(&c, r->arena, "email", true);
	role = read_role(&c);
	if (json_check_done(&c, &r->err) == -1 || (strcmp(role, "owner") == 0 &&
	    auth_require(&who, "members:owners", &r->err) == -1))
		return -1;
	ctx = auth_ctx(&who, r);
	if (member_invite(app->db, &ctx, &app->cfg, r->arena, email, role,
	    &member, &r->err) == -1)
		return -1;
	return http_json(r, 201, member);
}

/*
 * Starts a change of the member {user_id}: authenticated, members:write
 * and a UUID (else 404). Fills in and ctx; 0 or -1.
 */
static int
change_input(struct hb_request *r, struct hb_app *app,
    struct hb_member_change *in, struct hb_db_ctx *ctx)
{
	struct hb_principal who;

	in->user_id = http_route_param(r, "user_id");
	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "members:write", &r->err) == -1)
		return -1;
	if (!uuid_valid(in->user_id))
		return hb_fail(&r->err, 404, "not_found", "No such member.");
	in->may_touch_owners = auth_has(&who, "members:owners");
	*ctx = auth_ctx(&who, r);
	return 0;
}

static int
handle_change(struct hb_request *r, struct hb_app *app)
{
	struct hb_member_change in = { 0 };
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *m;

	if (change_input(r, app, &in, &ctx) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.role = read_role(&c);
	if (json_check_done(&c, &r->err) == -1 ||
	    member_change_role(app->db, &ctx, &in, &m, &r->err) == -1)
		return -1;
	return http_json(r, 200, m);
}

static int
handle_resend(struct hb_request *r, struct hb_app *app)
{
	struct hb_member_change in = { 0 };
	struct hb_db_ctx ctx;

	/* Resending mails: it counts against the IP's limit (api.md §2). */
	if (change_input(r, app, &in, &ctx) == -1 ||
	    ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    member_resend_invite(app->db, &ctx, &app->cfg, r->arena,
	    in.user_id, &r->err) == -1)
		return -1;
	return send_message(r, 202, "A new invitation is on its way.");
}

static int
handle_remove(struct hb_request *r, struct hb_app *app)
{
	struct hb_member_change in = { 0 };
	struct hb_db_ctx ctx;

	if (change_input(r, app, &in, &ctx) == -1 ||
	    member_remove(app->db, &ctx, &in, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/members", handle_list, 0 },
	{ "POST", "/api/v1/members", handle_add, 0 },
	{ "PATCH", "/api/v1/members/{user_id}", handle_change, 0 },
	{ "POST", "/api/v1/members/{user_id}/resend-invite", handle_resend, 0 },
	{ "DELETE", "/api/v1/members/{user_id}", handle_remove, 0 },
};

PROGRAM("homebot-members", routes)
