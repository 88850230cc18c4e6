#include <stdio.h>
#include <string.h>

#include "auth_token.h"
#include "job.h"
#include "member.h"

#define MEMBER_FIELDS \
	"user_id, email, full_name, role, member_status AS status, " \
	HB_SQL_TS("joined_at") " AS joined_at"

/*
 * By memberships(organization_id, created_at DESC, user_id DESC) under
 * RLS, newest first. The organization is named in the statement as well as
 * by the policy, whose value the planner cannot see.
 */
static const char SQL_LIST[] =
    "SELECT m.user_id,"
    " CASE WHEN m.status = 'invited' THEN coalesce(m.invited_email, u.email)"
    "  ELSE u.email END AS email,"
    " CASE WHEN m.status = 'invited' THEN '' ELSE u.full_name END AS full_name,"
    " m.role, m.status, "
    HB_SQL_TS("m.created_at") " AS joined_at FROM homebot.memberships m"
    " JOIN homebot.users u ON u.id = m.user_id"
    " WHERE m.organization_id = $1"
    "   AND ($2::timestamptz IS NULL OR (m.created_at, m.user_id) < ($2, $3::uuid))"
    " ORDER BY m.created_at DESC, m.user_id DESC LIMIT $4";
static const char SQL_INVITE[] =
    "SELECT status AS _status, " MEMBER_FIELDS ", _mail, _org_name, _inviter"
    " FROM homebot.invite_member($1, $2, decode($3, 'hex'), $4, $5)";
static const char SQL_RESEND[] =
    "SELECT status AS _status, email, org_name, inviter"
    " FROM homebot.resend_invite($1, decode($2, 'hex'), $3, $4)";
/* Locked: the role judged here is the role changed by the same transaction. */
/*
 * The organization's owner rows are locked first, in user_id order, as
 * change_member_role and remove_member lock them (schema/R__orgs.sql):
 * two changes of two owners at once then take turns instead of each
 * holding its own target while waiting for the other's.
 */
static const char SQL_ROLE_OF[] =
    "SELECT role FROM homebot.memberships WHERE user_id = $1"
    " AND (SELECT count(*) FROM (SELECT FROM homebot.memberships o"
    "  WHERE o.role = 'owner' ORDER BY o.user_id FOR UPDATE) owners) >= 0"
    " FOR UPDATE";
static const char SQL_CHANGE_ROLE[] =
    "SELECT status AS _status, " MEMBER_FIELDS
    " FROM homebot.change_member_role($1, $2)";
static const char SQL_REMOVE[] =
    "SELECT status AS _status FROM homebot.remove_member($1)";

bool
member_role_valid(const char *role)
{
	static const char *const roles[] = { "owner", "admin", "member",
	    "viewer" };

	for (size_t i = 0; role != NULL && i < sizeof(roles) / sizeof(*roles);
	    i++)
		if (strcmp(role, roles[i]) == 0)
			return true;
	return false;
}

int
member_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[4] = { ctx->org_id };

	return page_query(db, ctx, p, SQL_LIST, params, 1, "joined_at",
	    "user_id", rows, err);
}

/* Whether the one row's _status is one of the two given. */
static bool
status_is(const PGresult *res, const char *a, const char *b)
{
	const char *s = db_value(res, 0, "_status");

	return s != NULL && (strcmp(s, a) == 0 || (b != NULL &&
	    strcmp(s, b) == 0));
}

int
member_mail_invitation(struct hb_db *db, const struct hb_config *cfg,
    const char *to, const char *organization, const char *inviter,
    const char *token, struct hb_error *err)
{
	struct hb_job_mail m = { .to = to, .template = "invite",
	    .page = "/account/invite", .token = token,
	    .vars = { "organization", organization, "inviter",
	    inviter != NULL ? inviter : "An administrator" } };

	return job_enqueue_mail(db, cfg, &m, err);
}

/* The invitation mail of res's row, whose columns the caller names. */
static int
invite_mail(struct hb_db *db, const struct hb_config *cfg, const PGresult *res,
    const char *to_col, const char *org_col, const char *inviter_col,
    const char *token, struct hb_error *err)
{
	return member_mail_invitation(db, cfg, db_value(res, 0, to_col),
	    db_value(res, 0, org_col), db_value(res, 0, inviter_col), token,
	    err);
}

int
member_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_arena *a, const char *email,
    const char *role, struct json_object **member, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16], *token;
	const char *params[5] = { email, role, hex, ttl, max };
	PGresult *res;
	int rc = 0;

	*member = NULL;
	/* The invite token: 256 bits, only its hash is stored, only mailed. */
	if ((token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	snprintf(ttl, sizeof(ttl), "%d", cfg->invite_token_ttl);
	snprintf(max, sizeof(max), "%d", cfg->mail_per_hour);
	res = db_tenant_query(db, ctx, true, SQL_INVITE, 5, params, err);
	if (res == NULL)
		return -1;
	if (!status_is(res, "invited", NULL))
		rc = hb_fail(err, 409, "already_member",
		    "This user is already a member.");
	else if (db_bool(res, 0, "_mail"))
		rc = invite_mail(db, cfg, res, "email", "_org_name", "_inviter",
		    token, err);
	if (rc == 0)
		*member = db_row_json(res, 0);
	PQclear(res);
	if (rc == 0 && db_tx_commit(db, err) == 0)
		return 0;
	db_tx_rollback(db);
	json_object_put(*member);
	*member = NULL;
	return -1;
}

int
member_resend_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_arena *a, const char *user_id,
    struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16], *token;
	const char *params[4] = { user_id, hex, ttl, max };
	PGresult *res;
	int rc = 0;

	if ((token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	snprintf(ttl, sizeof(ttl), "%d", cfg->invite_token_ttl);
	snprintf(max, sizeof(max), "%d", cfg->mail_per_hour);
	res = db_tenant_query(db, ctx, true, SQL_RESEND, 4, params, err);
	if (res == NULL)
		return -1;
	if (status_is(res, "not_found", NULL))
		rc = hb_fail(err, 404, "not_found", "No such member.");
	else if (status_is(res, "already_member", NULL))
		rc = hb_fail(err, 409, "already_member",
		    "This member has already accepted.");
	else if (status_is(res, "sent", NULL))
		rc = invite_mail(db, cfg, res, "email", "org_name", "inviter",
		    token, err);
	PQclear(res);
	if (rc == 0 && db_tx_commit(db, err) == 0)
		return 0;
	db_tx_rollback(db);
	return -1;
}

/*
 * Opens the change of in->user_id: locks the membership and checks that
 * the caller may touch its role (and the new one). Returns 0 with the
 * transaction open, or -1 with err set and nothing open.
 */
static int
begin_change(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_member_change *in, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, true, SQL_ROLE_OF, 1,
	    &in->user_id, err);
	const char *current;
	bool owners;

	if (res == NULL)
		return -1;
	current = db_value(res, 0, "role");
	owners = current != NULL && (strcmp(current, "owner") == 0 ||
	    (in->role != NULL && strcmp(in->role, "owner") == 0));
	PQclear(res);
	if (current != NULL && (!owners || in->may_touch_owners))
		return 0;
	db_tx_rollback(db);
	if (current == NULL)
		return hb_fail(err, 404, "not_found", "No such member.");
	return hb_fail(err, 403, "forbidden",
	    "This needs the permission members:owners.");
}

/* Ends a change the function refused: 409 last_owner or 404. */
static int
change_refused(struct hb_db *db, const PGresult *res, struct hb_error *err)
{
	db_tx_rollback(db);
	if (status_is(res, "last_owner", NULL))
		return hb_fail(err, 409, "last_owner",
		    "The organization must keep at least one owner.");
	return hb_fail(err, 404, "not_found", "No such member.");
}

/*
 * Runs the change sql (of params) on the locked membership and commits;
 * the changed member goes to *member unless member is NULL.
 */
static int
change_run(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_member_change *in, const char *sql, int n,
    const char *const *params, struct json_object **member,
    struct hb_error *err)
{
	PGresult *res;
	int rc;

	if (begin_change(db, ctx, in, err) == -1)
		return -1;
	res = db_exec(db, sql, n, params, err);
	if (res == NULL)
		return -1;
	if (!status_is(res, "ok", NULL)) {
		rc = change_refused(db, res, err);
		PQclear(res);
		return rc;
	}
	if (member != NULL)
		*member = db_row_json(res, 0);
	PQclear(res);
	if (db_tx_commit(db, err) == 0)
		return 0;
	if (member != NULL) {
		json_object_put(*member);
		*member = NULL;
	}
	return -1;
}

int
member_change_role(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_member_change *in, struct json_object **member,
    struct hb_error *err)
{
	const char *params[2] = { in->user_id, in->role };

	*member = NULL;
	return change_run(db, ctx, in, SQL_CHANGE_ROLE, 2, params, member,
	    err);
}

int
member_remove(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_member_change *in, struct hb_error *err)
{
	return change_run(db, ctx, in, SQL_REMOVE, 1, &in->user_id, NULL, err);
}
