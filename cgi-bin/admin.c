/*
 * Platform administration (api.md §5), for superadmins only. This is the
 * one program that connects as homebot_admin (ADMIN_DATABASE_URL), the
 * role whose policies see every organization.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "auth_token.h"
#include "crypto.h"
#include "json.h"
#include "page.h"
#include "program.h"
#include "validate.h"

#define INVITE_TTL	"604800"	/* 7 days */

static const char SQL_ORGS[] =
    "SELECT o.id, o.name, o.slug, " HB_SQL_TS("o.created_at") ","
    " o.suspended_at IS NOT NULL,"
    " (SELECT count(*) FROM homebot.memberships m"
    "   WHERE m.organization_id = o.id AND m.status = 'active')"
    " FROM homebot.organizations o"
    " WHERE ($1::timestamptz IS NULL OR (o.created_at, o.id) < ($1, $2::uuid))"
    " ORDER BY o.created_at DESC, o.id DESC LIMIT $3";
static const char SQL_CREATE_ORG[] =
    "SELECT status, id, name, slug, owner_id, owner_status, "
    HB_SQL_TS("created_at") " FROM homebot.admin_create_organization($1, $2,"
    " $3, decode($4, 'hex'), " INVITE_TTL ", $5, $6, $7, $8)";
/* The columns 1..6 of SQL_CREATE_ORG, as the answer names them. */
static const char *const CREATED_ORG_FIELDS[] = { "id", "name", "slug",
    "owner_id", "owner_status", "created_at" };
static const char SQL_SUSPEND[] =
    "UPDATE homebot.organizations SET suspended_at = CASE WHEN $2"
    " THEN COALESCE(suspended_at, now()) END, updated_at = now()"
    " WHERE id = $1 RETURNING id, name, slug, " HB_SQL_TS("created_at") ","
    " suspended_at IS NOT NULL,"
    " (SELECT count(*) FROM homebot.memberships m"
    "   WHERE m.organization_id = id AND m.status = 'active')";
/* strpos, not LIKE: the search text is never a pattern. */
static const char SQL_USERS[] =
    "SELECT id, email, full_name, " HB_SQL_TS("created_at") ","
    " disabled_at IS NOT NULL, is_superadmin FROM homebot.users"
    " WHERE ($1::text IS NULL OR strpos(lower(email), lower($1)) > 0)"
    "   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
    " ORDER BY created_at DESC, id DESC LIMIT $4";
static const char SQL_DISABLE[] =
    "UPDATE homebot.users SET disabled_at = CASE WHEN $2"
    " THEN COALESCE(disabled_at, now()) END, updated_at = now()"
    " WHERE id = $1 RETURNING id, email, full_name, "
    HB_SQL_TS("created_at") ", disabled_at IS NOT NULL, is_superadmin";
static const char SQL_REVOKE_ALL[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE user_id = $1 AND revoked_at IS NULL";
static const char SQL_UNLOCK[] =
    "SELECT homebot.admin_unlock(email), id, email, full_name, "
    HB_SQL_TS("created_at") ", disabled_at IS NOT NULL, is_superadmin"
    " FROM homebot.users WHERE id = $1";
static const char SQL_AUDIT[] =
    "SELECT " AUDIT_COLUMNS " FROM homebot.audit_log"
    " WHERE ($1::text IS NULL OR action = $1)"
    "   AND ($2::uuid IS NULL OR actor_id = $2)"
    "   AND ($3::timestamptz IS NULL OR occurred_at >= $3)"
    "   AND ($4::timestamptz IS NULL OR occurred_at < $4)"
    "   AND ($5::timestamptz IS NULL OR (occurred_at, id) < ($5, $6::uuid))"
    " ORDER BY occurred_at DESC, id DESC LIMIT $7";

/* Every admin endpoint: an access token of a superadmin, else 403. */
static int
admin_auth(struct hb_request *r, struct hb_app *app, unsigned flags,
    struct hb_principal *who)
{
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY | flags,
	    who, &r->err) == -1)
		return -1;
	if (who->is_superadmin)
		return 0;
	if (flags & HB_AUTH_KEEP_TX)
		db_tx_rollback(app->db);
	return hb_fail(&r->err, 403, "forbidden",
	    "Only a platform superadmin may do this.");
}

/* Columns 0..5: id, name, slug, created_at, suspended, member_count. */
static struct json_object *
org_json(PGresult *res, int i)
{
	static const char *const names[] = { "id", "name", "slug",
	    "created_at" };
	struct json_object *o = json_row_strings(res, i, 0, names, 4);

	json_object_object_add(o, "suspended",
	    json_object_new_boolean(PQgetvalue(res, i, 4)[0] == 't'));
	json_object_object_add(o, "member_count",
	    json_object_new_int(atoi(PQgetvalue(res, i, 5))));
	return o;
}

/* Columns first..first+5: id, email, full_name, created_at, disabled, superadmin. */
static struct json_object *
user_json(PGresult *res, int i, int first)
{
	static const char *const names[] = { "id", "email", "full_name",
	    "created_at" };
	struct json_object *u = json_row_strings(res, i, first, names, 4);

	json_object_object_add(u, "disabled",
	    json_object_new_boolean(PQgetvalue(res, i, first + 4)[0] == 't'));
	json_object_object_add(u, "is_superadmin",
	    json_object_new_boolean(PQgetvalue(res, i, first + 5)[0] == 't'));
	return u;
}

static struct json_object *
user_row(PGresult *res, int i)
{
	return user_json(res, i, 0);
}

/* A platform collection: every organization's rows, paged. */
static int
send_page(struct hb_request *r, struct hb_app *app, struct hb_principal *who,
    const char *kind, const char *sql, const char **params, int nextra,
    int ts_col, hb_row_fn row)
{
	struct hb_page page;
	struct hb_db_ctx ctx;

	if (page_parse(r, kind, "platform", &page, &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(who, r);
	return page_run(r, app->db, &ctx, &page, kind, "platform", sql,
	    params, nextra, ts_col, row);
}

static int
handle_orgs(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	const char *params[3];

	if (admin_auth(r, app, 0, &who) == -1)
		return http_error(r, &r->err);
	return send_page(r, app, &who, "admin_orgs", SQL_ORGS, params, 0, 3,
	    org_json);
}

static int
handle_create_org(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	char token[HB_REFRESH_TOKEN_MAX], hex[2 * HB_SHA256_LEN + 1];
	unsigned char hash[HB_SHA256_LEN];
	const char *params[8], *status;
	struct json_object *o;
	PGresult *res;

	if (admin_auth(r, app, 0, &who) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	params[0] = json_get_string(&c, "name", true, 1, 200);
	params[1] = json_get_string(&c, "slug", false, 1, 63);
	params[2] = validate_email(&c, r->arena, "owner_email", true);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	if (auth_refresh_new(token, hash) == -1)
		return http_fail(r, 503, "service_unavailable",
		    "No randomness available.");
	crypto_hex(hash, sizeof(hash), hex);
	params[3] = hex;
	params[4] = who.user_id;
	params[5] = r->remote_addr;
	params[6] = audit_user_agent(r);
	params[7] = r->request_id;
	ctx = auth_ctx(&who, r);
	res = db_tenant_query(app->db, &ctx, false, SQL_CREATE_ORG, 8, params,
	    &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	status = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (strcmp(status, "ok") != 0) {
		status = arena_strdup(r->arena, status);
		PQclear(res);
		return validate_answer_slug(r, status);
	}
	o = json_row_strings(res, 0, 1, CREATED_ORG_FIELDS, 6);
	if (strcmp(PQgetvalue(res, 0, 5), "invited") == 0)
		json_object_object_add(o, "invite_token",
		    json_object_new_string(token));
	PQclear(res);
	explicit_bzero(token, sizeof(token));
	return http_json(r, 201, o);
}

/*
 * Runs one admin UPDATE inside the open transaction, audits it against
 * org_id (NULL for user actions) and commits. Returns the row or NULL
 * (404 or failure in r->err).
 */
static PGresult *
admin_change(struct hb_request *r, struct hb_app *app,
    const struct hb_principal *who, const char *sql, const char *id,
    bool flag, const struct hb_audit_event *ev)
{
	const char *params[2] = { id, flag ? "true" : "false" };
	PGresult *res = db_exec(app->db, sql, 2, params, &r->err);

	if (res == NULL)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_tx_rollback(app->db);
		hb_fail(&r->err, 404, "not_found", "No such resource.");
		return NULL;
	}
	if (audit_write(app->db, r, who, ev, &r->err) == -1) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Starts an admin change of the resource {id}: 0, or -1 answered. */
static int
begin_change(struct hb_request *r, struct hb_app *app,
    struct hb_principal *who, const char **id)
{
	*id = http_route_param(r, "id");
	if (admin_auth(r, app, HB_AUTH_KEEP_TX, who) == -1) {
		http_error(r, &r->err);
		return -1;
	}
	if (!auth_is_uuid(*id)) {
		db_tx_rollback(app->db);
		http_fail(r, 404, "not_found", "No such resource.");
		return -1;
	}
	return 0;
}

static int
commit_and_send(struct hb_request *r, struct hb_app *app, PGresult *res,
    struct json_object *(*shape)(PGresult *, int))
{
	int rc;

	if (res == NULL)
		return http_error(r, &r->err);
	if (db_tx_commit(app->db, &r->err) == -1) {
		PQclear(res);
		return http_error(r, &r->err);
	}
	rc = http_json(r, 200, shape(res, 0));
	PQclear(res);
	return rc;
}

static int
suspend(struct hb_request *r, struct hb_app *app, bool on)
{
	struct hb_principal who;
	struct hb_audit_event ev;
	const char *id;
	PGresult *res;

	if (begin_change(r, app, &who, &id) == -1)
		return r->status;
	ev = (struct hb_audit_event){ id, false, on ? "admin.organization.suspended" :
	    "admin.organization.unsuspended", "organization", id, NULL };
	res = admin_change(r, app, &who, SQL_SUSPEND, id, on, &ev);
	return commit_and_send(r, app, res, org_json);
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
	struct hb_principal who;
	const char *params[4];

	if (admin_auth(r, app, 0, &who) == -1)
		return http_error(r, &r->err);
	params[0] = http_query(r, "email");
	if (params[0] != NULL && (strlen(params[0]) > 254 ||
	    !json_utf8_valid(params[0], strlen(params[0])))) {
		struct hb_json_check c = { NULL, json_object_new_array() };

		json_check_fail(&c, "email", "must be at most 254 bytes of text");
		json_check_done(&c, &r->err);
		return http_error(r, &r->err);
	}
	return send_page(r, app, &who, "admin_users", SQL_USERS, params, 1, 3,
	    user_row);
}

/* Disabling also revokes every session of the user, in every organization. */
static int
able(struct hb_request *r, struct hb_app *app, bool disable)
{
	struct hb_principal who;
	struct hb_audit_event ev;
	const char *id;
	PGresult *res, *revoked;

	if (begin_change(r, app, &who, &id) == -1)
		return r->status;
	ev = (struct hb_audit_event){ NULL, true, disable ? "admin.user.disabled" :
	    "admin.user.enabled", "user", id, NULL };
	res = admin_change(r, app, &who, SQL_DISABLE, id, disable, &ev);
	if (res != NULL && disable) {
		revoked = db_exec(app->db, SQL_REVOKE_ALL, 1, &id, &r->err);
		if (revoked == NULL) {
			PQclear(res);
			return http_error(r, &r->err);
		}
		PQclear(revoked);
	}
	return commit_and_send(r, app, res, user_row);
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

static struct json_object *
unlocked_row(PGresult *res, int i)
{
	return user_json(res, i, 1);
}

static int
handle_unlock(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_audit_event ev;
	const char *id;
	PGresult *res;

	if (begin_change(r, app, &who, &id) == -1)
		return r->status;
	res = db_exec(app->db, SQL_UNLOCK, 1, &id, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_tx_rollback(app->db);
		return http_fail(r, 404, "not_found", "No such user.");
	}
	ev = (struct hb_audit_event){ NULL, true, "admin.user.unlocked", "user", id,
	    NULL };
	if (audit_write(app->db, r, &who, &ev, &r->err) == -1) {
		PQclear(res);
		return http_error(r, &r->err);
	}
	return commit_and_send(r, app, res, unlocked_row);
}

static int
handle_audit(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_audit_filter f;
	const char *params[7];

	if (admin_auth(r, app, 0, &who) == -1 ||
	    audit_filter_parse(r, &f, &r->err) == -1)
		return http_error(r, &r->err);
	params[0] = f.action;
	params[1] = f.actor_id;
	params[2] = f.since;
	params[3] = f.until;
	return send_page(r, app, &who, "admin_audit", SQL_AUDIT, params, 4, 1,
	    audit_row_json);
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
};

int
main(void)
{
	struct hb_app app = { .name = "homebot-admin", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]), .admin_db = true };

	return program_main(&app);
}
