#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "member.h"
#include "audit.h"
#include "auth_token.h"
#include "validate.h"

#define ORG_FIELDS \
	"id, name, slug, " HB_SQL_TS("created_at") " AS created_at," \
	" suspended_at IS NOT NULL AS suspended," \
	" (SELECT count(*)::int FROM homebot.memberships m" \
	"   WHERE m.organization_id = o.id AND m.status = 'active')" \
	" AS member_count"
#define USER_FIELDS \
	"id, email, full_name, " HB_SQL_TS("created_at") " AS created_at," \
	" disabled_at IS NOT NULL AS disabled, is_superadmin"

static const char SQL_ORGS[] =
    "SELECT " ORG_FIELDS " FROM homebot.organizations o"
    " WHERE ($1::timestamptz IS NULL OR (o.created_at, o.id) < ($1, $2::uuid))"
    " ORDER BY o.created_at DESC, o.id DESC LIMIT $3";
static const char SQL_CREATE_ORG[] =
    "SELECT status AS _status, id, name, slug, owner_id, owner_status, "
    HB_SQL_TS("created_at") " AS created_at, _mail, _owner_email"
    " FROM homebot.admin_create_organization($1, $2, $3, decode($4, 'hex'),"
    " $5, $6, $7, $8, $9, $10)";
static const char SQL_SUSPEND[] =
    "UPDATE homebot.organizations o SET suspended_at = CASE WHEN $2"
    " THEN COALESCE(suspended_at, now()) END, updated_at = now()"
    " WHERE id = $1 RETURNING " ORG_FIELDS;
/* strpos, not LIKE: the search text is never a pattern. */
static const char SQL_USERS[] =
    "SELECT " USER_FIELDS " FROM homebot.users"
    " WHERE ($1::text IS NULL OR strpos(lower(email), lower($1)) > 0)"
    "   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
    " ORDER BY users.created_at DESC, users.id DESC LIMIT $4";
static const char SQL_DISABLE[] =
    "UPDATE homebot.users SET disabled_at = CASE WHEN $2"
    " THEN COALESCE(disabled_at, now()) END, updated_at = now()"
    " WHERE id = $1 RETURNING " USER_FIELDS;
static const char SQL_REVOKE_ALL[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE user_id = $1 AND revoked_at IS NULL";
static const char SQL_UNLOCK[] =
    "SELECT homebot.admin_unlock(email) AS _unlocked, " USER_FIELDS
    " FROM homebot.users WHERE id = $1";

int
admin_org_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[3];

	return page_query(db, ctx, p, SQL_ORGS, params, 0, "created_at", "id",
	    rows, err);
}

/* Enqueues the invitation of a new organization's owner (res's row). */
static int
owner_mail(struct hb_db *db, const struct hb_config *cfg, const PGresult *res,
    const char *token, struct hb_error *err)
{
	if (!db_bool(res, 0, "_mail"))
		return 0;
	return member_mail_invitation(db, cfg, db_value(res, 0, "_owner_email"),
	    db_value(res, 0, "name"), "The platform administrator", token, err);
}

int
admin_org_create(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_arena *a,
    const struct hb_admin_org_new *in, struct json_object **org,
    struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16], *token;
	const char *params[10] = { in->name, in->slug, in->owner_email, hex,
	    ttl, ctx->user_id, ctx->ip, ctx->user_agent, ctx->request_id, max };
	const char *status;
	PGresult *res;
	int rc;

	*org = NULL;
	if ((token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	snprintf(ttl, sizeof(ttl), "%d", cfg->invite_token_ttl);
	snprintf(max, sizeof(max), "%d", cfg->mail_per_hour);
	res = db_tenant_query(db, ctx, true, SQL_CREATE_ORG, 10, params, err);
	if (res == NULL)
		return -1;
	status = db_value(res, 0, "_status");
	if (status != NULL && strcmp(status, "ok") == 0) {
		rc = owner_mail(db, cfg, res, token, err);
		if (rc == 0)
			*org = db_row_json(res, 0);
	} else
		rc = validate_slug_status(status != NULL ? status : "", err);
	PQclear(res);
	if (rc == 0 && db_tx_commit(db, err) == 0)
		return 0;
	db_tx_rollback(db);
	json_object_put(*org);
	*org = NULL;
	return -1;
}

/*
 * Runs one admin change of the row id in a new transaction, then the
 * statement then (of id; may be NULL), audits ev and commits; *row is
 * the changed row. 404 when there is no such row.
 */
static int
admin_change(struct hb_db *db, const struct hb_db_ctx *ctx, const char *sql,
    const char *id, bool on, const char *then,
    const struct hb_audit_event *ev, struct json_object **row,
    struct hb_error *err)
{
	const char *params[2] = { id, on ? "true" : "false" };
	PGresult *res = db_tenant_query(db, ctx, true, sql, 2, params, err);
	bool failed;

	*row = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*row = db_row_json(res, 0);
	PQclear(res);
	if (*row == NULL) {
		db_tx_rollback(db);
		return hb_fail(err, 404, "not_found", "No such resource.");
	}
	res = then != NULL ? db_exec(db, then, 1, &id, err) : NULL;
	failed = then != NULL && res == NULL;
	PQclear(res);
	return audit_commit(db, ctx, ev, failed ? -1 : 0, row, err);
}

int
admin_org_suspend(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *id, bool on, struct json_object **org, struct hb_error *err)
{
	struct hb_audit_event ev = { .org_id = id,
	    .action = on ? "admin.organization.suspended" :
	    "admin.organization.unsuspended",
	    .target_type = "organization", .target_id = id };

	return admin_change(db, ctx, SQL_SUSPEND, id, on, NULL, &ev, org, err);
}

int
admin_user_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *email_part, const struct hb_page *p, struct hb_rows *rows,
    struct hb_error *err)
{
	const char *params[4] = { email_part };

	return page_query(db, ctx, p, SQL_USERS, params, 1, "created_at", "id",
	    rows, err);
}

int
admin_user_disable(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *id, bool on, struct json_object **user,
    struct hb_error *err)
{
	struct hb_audit_event ev = { .platform = true,
	    .action = on ? "admin.user.disabled" : "admin.user.enabled",
	    .target_type = "user", .target_id = id };

	/* Disabling also revokes every session of the user, everywhere. */
	return admin_change(db, ctx, SQL_DISABLE, id, on,
	    on ? SQL_REVOKE_ALL : NULL, &ev, user, err);
}

int
admin_user_unlock(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *id, struct json_object **user, struct hb_error *err)
{
	struct hb_audit_event ev = { .platform = true,
	    .action = "admin.user.unlocked", .target_type = "user",
	    .target_id = id };
	PGresult *res = db_tenant_query(db, ctx, true, SQL_UNLOCK, 1, &id, err);

	*user = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*user = db_row_json(res, 0);
	PQclear(res);
	if (*user == NULL) {
		db_tx_rollback(db);
		return hb_fail(err, 404, "not_found", "No such user.");
	}
	return audit_commit(db, ctx, &ev, 0, user, err);
}
