/*
 * Members and invitations (api.md §3): list, add or invite, change a
 * role, remove. Every check is a permission; owners are guarded by
 * members:owners and the database refuses to lose the last owner.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "auth_token.h"
#include "crypto.h"
#include "json.h"
#include "page.h"
#include "program.h"
#include "validate.h"

#define INVITE_TTL	"604800"	/* 7 days */

#define MEMBER_COLUMNS \
	"m.user_id, u.email, u.full_name, m.role, m.status, " \
	HB_SQL_TS("m.created_at")

/* memberships_pkey (organization_id, ...) under RLS, newest first. */
static const char SQL_LIST[] =
    "SELECT " MEMBER_COLUMNS " FROM homebot.memberships m"
    " JOIN homebot.users u ON u.id = m.user_id"
    " WHERE ($1::timestamptz IS NULL OR (m.created_at, m.user_id) < ($1, $2::uuid))"
    " ORDER BY m.created_at DESC, m.user_id DESC LIMIT $3";
/* Locked: the role judged here is the role changed by the same transaction. */
static const char SQL_ROLE_OF[] =
    "SELECT role FROM homebot.memberships WHERE user_id = $1 FOR UPDATE";
static const char SQL_INVITE[] =
    "SELECT status, user_id, email, full_name, role, member_status, "
    HB_SQL_TS("joined_at")
    " FROM homebot.invite_member($1, $2, decode($3, 'hex'), " INVITE_TTL ")";
static const char SQL_CHANGE_ROLE[] =
    "SELECT status, user_id, email, full_name, role, member_status, "
    HB_SQL_TS("joined_at") " FROM homebot.change_member_role($1, $2)";
static const char SQL_REMOVE[] =
    "SELECT status, role FROM homebot.remove_member($1)";

static const char *const ROLES[] = { "owner", "admin", "member", "viewer" };

/* A member from columns first..first+5: user_id ... joined_at. */
static struct json_object *
member_json(PGresult *res, int i, int first)
{
	static const char *const names[] = { "user_id", "email", "full_name",
	    "role", "status", "joined_at" };
	return json_row_strings(res, i, first, names, 6);
}

static const char *
read_role(struct hb_json_check *c)
{
	const char *role = json_get_string(c, "role", true, 1, 16);

	for (size_t i = 0; role != NULL && i < sizeof(ROLES) / sizeof(*ROLES);
	    i++)
		if (strcmp(role, ROLES[i]) == 0)
			return role;
	if (role != NULL)
		json_check_fail(c, "role",
		    "must be one of owner, admin, member, viewer");
	return NULL;
}

static struct json_object *
member_row(PGresult *res, int i)
{
	return member_json(res, i, 0);
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_db_ctx ctx;
	const char *params[3];

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "members:read", &r->err) == -1 ||
	    page_parse(r, "members", who.org_id, &page, &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(&who, r);
	return page_run(r, app->db, &ctx, &page, "members", who.org_id,
	    SQL_LIST, params, 0, 5, member_row);
}

static int
handle_add(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	char token[HB_REFRESH_TOKEN_MAX], hex[2 * HB_SHA256_LEN + 1];
	unsigned char hash[HB_SHA256_LEN];
	const char *email, *role, *params[3], *status;
	struct json_object *m;
	PGresult *res;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "members:write", &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	email = validate_email(&c, r->arena, "email", true);
	role = read_role(&c);
	if (json_check_done(&c, &r->err) == -1 || (strcmp(role, "owner") == 0 &&
	    auth_require(&who, "members:owners", &r->err) == -1))
		return http_error(r, &r->err);
	/* The invite token: 256 bits, only its hash is stored. */
	if (auth_refresh_new(token, hash) == -1)
		return http_fail(r, 503, "service_unavailable",
		    "No randomness available.");
	crypto_hex(hash, sizeof(hash), hex);
	params[0] = email;
	params[1] = role;
	params[2] = hex;
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_INVITE, 3, params,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (strcmp(status, "added") != 0 && strcmp(status, "invited") != 0) {
		PQclear(res);
		return http_fail(r, 409, "already_member",
		    "This user is already a member.");
	}
	m = member_json(res, 0, 1);
	if (strcmp(status, "invited") == 0)
		json_object_object_add(m, "invite_token",
		    json_object_new_string(token));
	PQclear(res);
	explicit_bzero(token, sizeof(token));
	return http_json(r, 201, m);
}

/*
 * The target's current role, inside the open transaction; NULL (after a
 * 404 answer is prepared in err) when the user is not a member here.
 */
static const char *
target_role(struct hb_request *r, struct hb_app *app, const char *user_id)
{
	PGresult *res = db_exec(app->db, SQL_ROLE_OF, 1, &user_id, &r->err);
	const char *role = NULL;

	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 1)
		role = arena_strdup(r->arena, PQgetvalue(res, 0, 0));
	else
		hb_fail(&r->err, 404, "not_found", "No such member.");
	PQclear(res);
	return role;
}

/*
 * Authenticates with the transaction kept open, checks members:write and
 * reads the target's role: NULL with r->err set when anything fails.
 */
static const char *
begin_member_change(struct hb_request *r, struct hb_app *app,
    struct hb_principal *who, const char *user_id)
{
	const char *role;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_KEEP_TX, who,
	    &r->err) == -1)
		return NULL;
	if (auth_require(who, "members:write", &r->err) == -1 ||
	    !auth_is_uuid(user_id)) {
		if (r->err.status == 0)
			hb_fail(&r->err, 404, "not_found", "No such member.");
		db_tx_rollback(app->db);
		return NULL;
	}
	role = target_role(r, app, user_id);
	if (role == NULL)
		db_tx_rollback(app->db);
	return role;
}

static int
finish_status(struct hb_request *r, struct hb_app *app, const char *status)
{
	db_tx_rollback(app->db);
	if (strcmp(status, "last_owner") == 0)
		return http_fail(r, 409, "last_owner",
		    "The organization must keep at least one owner.");
	return http_fail(r, 404, "not_found", "No such member.");
}

static int
handle_change(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	const char *user_id = http_route_param(r, "user_id"), *current;
	const char *role, *params[2];
	struct json_object *m;
	PGresult *res;

	current = begin_member_change(r, app, &who, user_id);
	if (current == NULL)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	role = read_role(&c);
	if (json_check_done(&c, &r->err) == -1) {
		db_tx_rollback(app->db);
		return http_error(r, &r->err);
	}
	if ((strcmp(current, "owner") == 0 || strcmp(role, "owner") == 0) &&
	    auth_require(&who, "members:owners", &r->err) == -1) {
		db_tx_rollback(app->db);
		return http_error(r, &r->err);
	}
	params[0] = user_id;
	params[1] = role;
	res = db_exec(app->db, SQL_CHANGE_ROLE, 2, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		const char *status = PQntuples(res) == 1 ?
		    arena_strdup(r->arena, PQgetvalue(res, 0, 0)) : "not_found";

		PQclear(res);
		return finish_status(r, app, status);
	}
	m = member_json(res, 0, 1);
	PQclear(res);
	if (db_tx_commit(app->db, &r->err) == -1) {
		json_object_put(m);
		return http_error(r, &r->err);
	}
	return http_json(r, 200, m);
}

static int
handle_remove(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	const char *user_id = http_route_param(r, "user_id"), *current;
	const char *status;
	PGresult *res;

	current = begin_member_change(r, app, &who, user_id);
	if (current == NULL)
		return http_error(r, &r->err);
	if (strcmp(current, "owner") == 0 &&
	    auth_require(&who, "members:owners", &r->err) == -1) {
		db_tx_rollback(app->db);
		return http_error(r, &r->err);
	}
	res = db_exec(app->db, SQL_REMOVE, 1, &user_id, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	status = PQntuples(res) == 1 ?
	    arena_strdup(r->arena, PQgetvalue(res, 0, 0)) : "not_found";
	PQclear(res);
	if (strcmp(status, "ok") != 0)
		return finish_status(r, app, status);
	if (db_tx_commit(app->db, &r->err) == -1)
		return http_error(r, &r->err);
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/members", handle_list, 0 },
	{ "POST", "/api/v1/members", handle_add, 0 },
	{ "PATCH", "/api/v1/members/{user_id}", handle_change, 0 },
	{ "DELETE", "/api/v1/members/{user_id}", handle_remove, 0 },
};

PROGRAM("homebot-members", routes)
