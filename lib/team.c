#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "team.h"
#include "validate.h"

#define TEAM_FIELDS \
	"t.id, t.name, t.slug, t.description," \
	" (SELECT count(*) FROM homebot.team_members c" \
	"   WHERE c.organization_id = t.organization_id AND c.team_id = t.id)" \
	"   AS member_count, " \
	HB_SQL_TS("t.created_at") " AS created_at, " \
	HB_SQL_TS("t.updated_at") " AS updated_at," \
	" t.created_by, t.updated_by, t.version"

#define MEMBER_FIELDS \
	"tm.user_id, u.email, u.full_name, tm.team_role, " \
	HB_SQL_TS("tm.created_at") " AS added_at"

/*
 * By teams_organization_id_created_at_idx under RLS, newest first. The
 * organization is named in the statement as well as by the policy, whose
 * value the planner cannot see.
 */
static const char SQL_LIST[] =
    "SELECT " TEAM_FIELDS " FROM homebot.teams t"
    " WHERE t.organization_id = $1"
    "   AND ($2::timestamptz IS NULL OR (t.created_at, t.id) < ($2, $3::uuid))"
    " ORDER BY t.created_at DESC, t.id DESC LIMIT $4";
/* teams_pkey */
static const char SQL_GET[] =
    "SELECT " TEAM_FIELDS " FROM homebot.teams t"
    " WHERE t.organization_id = $1 AND t.id = $2";
/*
 * teams_organization_id_slug_key decides a taken slug, also against a
 * concurrent creation (which this waits for). Without a slug, the one of
 * the name (as an organization's is derived), and with $5 a random
 * suffix: the caller's second try.
 */
static const char SQL_CREATE[] =
    "INSERT INTO homebot.teams AS t (organization_id, name, slug, description)"
    " SELECT $1, $2, CASE WHEN $5 THEN left(s, 56) || '-'"
    "   || left(md5(gen_random_uuid()::text), 6) ELSE s END,"
    "  coalesce($4, '')"
    " FROM (SELECT coalesce($3, coalesce(NULLIF(btrim(left(btrim("
    "   regexp_replace(lower($2), '[^a-z0-9]+', '-', 'g'), '-'), 50), '-'),"
    "   ''), 'team')) AS s) d"
    " ON CONFLICT (organization_id, slug) WHERE deleted_at IS NULL DO NOTHING"
    " RETURNING " TEAM_FIELDS;
/*
 * Locks the row: of two changes with the same If-Match the second waits,
 * then finds the version raised and changes nothing.
 */
static const char SQL_UPDATE[] =
    "UPDATE homebot.teams t SET name = coalesce($3, t.name),"
    " description = coalesce($4, t.description)"
    " WHERE t.organization_id = $1 AND t.id = $2"
    "   AND ($5::integer IS NULL OR t.version = $5::integer)"
    " RETURNING " TEAM_FIELDS;
/* A function: the policies hide the row the soft delete writes. */
static const char SQL_DELETE[] =
    "SELECT homebot.team_delete($1, $2::integer) AS _status";
static const char SQL_EXISTS[] =
    "SELECT 1 FROM homebot.teams t WHERE t.organization_id = $1 AND t.id = $2";
/* team_members_organization_id_team_id_created_at_idx */
static const char SQL_MEMBERS[] =
    "SELECT " MEMBER_FIELDS " FROM homebot.team_members tm"
    " JOIN homebot.users u ON u.id = tm.user_id"
    " WHERE tm.organization_id = $1 AND tm.team_id = $2"
    "   AND EXISTS (SELECT FROM homebot.teams t"
    "                WHERE t.organization_id = $1 AND t.id = $2)"
    "   AND ($3::timestamptz IS NULL OR (tm.created_at, tm.user_id) < ($3, $4::uuid))"
    " ORDER BY tm.created_at DESC, tm.user_id DESC LIMIT $5";
/*
 * Only a live team and an active member of the organization: no row
 * otherwise, and the caller tells which. The policies let only holders of
 * teams:write and the team's leads write.
 */
static const char SQL_PUT[] =
    "WITH up AS (INSERT INTO homebot.team_members AS x"
    "  (organization_id, team_id, user_id, team_role)"
    " SELECT t.organization_id, t.id, m.user_id, $4 FROM homebot.teams t"
    " JOIN homebot.memberships m ON m.organization_id = t.organization_id"
    "  AND m.user_id = $3 AND m.status = 'active'"
    " WHERE t.organization_id = $1 AND t.id = $2"
    " ON CONFLICT (organization_id, team_id, user_id)"
    "  DO UPDATE SET team_role = excluded.team_role"
    " RETURNING x.*)"
    " SELECT " MEMBER_FIELDS " FROM up tm JOIN homebot.users u ON u.id = tm.user_id";
static const char SQL_REMOVE[] =
    "DELETE FROM homebot.team_members tm"
    " WHERE tm.organization_id = $1 AND tm.team_id = $2 AND tm.user_id = $3"
    "   AND EXISTS (SELECT FROM homebot.teams t"
    "                WHERE t.organization_id = $1 AND t.id = $2)";

/* A SECURITY DEFINER function: the worker has no tenant of its own. */
static const char SQL_PURGE[] =
    "SELECT homebot.purge_soft_deleted($1, $2) AS purged";

int
team_purge(struct hb_db *db, int age, int batch, struct hb_error *err)
{
	char secs[16], max[16];
	const char *params[2] = { secs, max };
	PGresult *res;
	int n;

	snprintf(secs, sizeof(secs), "%d", age);
	snprintf(max, sizeof(max), "%d", batch);
	res = db_exec(db, SQL_PURGE, 2, params, err);
	if (res == NULL)
		return -1;
	n = atoi(db_value(res, 0, "purged") != NULL ?
	    db_value(res, 0, "purged") : "0");
	PQclear(res);
	return n;
}

static int
no_team(struct hb_error *err)
{
	return hb_fail_missing(err, "team");
}

static int
stale(struct hb_error *err)
{
	return hb_fail_stale(err, "team");
}

/* The one row of res as *team, or 404. Releases res. */
static int
one_team(PGresult *res, struct json_object **team, struct hb_error *err)
{
	*team = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	PQclear(res);
	return *team != NULL ? 0 : no_team(err);
}

int
team_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[4] = { ctx->org_id };

	return page_query(db, ctx, p, SQL_LIST, params, 1, "created_at", "id",
	    rows, err);
}

int
team_create(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_team_input *in, struct json_object **team,
    struct hb_error *err)
{
	const char *params[5] = { ctx->org_id, in->name, in->slug,
	    in->description, "false" };
	PGresult *res;

	*team = NULL;
	for (int try = 0; try < 2; try++) {
		res = db_tenant_query(db, ctx, false, SQL_CREATE, 5, params,
		    err);
		if (res == NULL)
			return -1;
		if (PQntuples(res) == 1)
			return one_team(res, team, err);
		PQclear(res);
		/* A derived slug that is taken gets a suffix, once. */
		if (in->slug != NULL)
			break;
		params[4] = "true";
	}
	return hb_fail(err, 409, "slug_taken",
	    "Another team of the organization has this slug.");
}

int
team_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **team, struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_tenant_query(db, ctx, false, SQL_GET, 2, params,
	    err);

	*team = NULL;
	if (res == NULL)
		return -1;
	return one_team(res, team, err);
}

/*
 * After a write that matched no row in the open transaction: 404 when the
 * team is not there, else 412 (it is, at another version). Rolls back.
 */
static int
missed(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct hb_error *err)
{
	const char *params[2] = { ctx->org_id, id };
	PGresult *res = db_exec(db, SQL_EXISTS, 2, params, err);
	int rc;

	if (res == NULL) {
		db_tx_rollback(db);
		return -1;
	}
	rc = PQntuples(res) == 1 ? stale(err) : no_team(err);
	PQclear(res);
	db_tx_rollback(db);
	return rc;
}

int
team_update(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    const char *if_match, const struct hb_team_input *in,
    struct json_object **team, struct hb_error *err)
{
	const char *params[5] = { ctx->org_id, id, in->name, in->description,
	    if_match };
	PGresult *res;

	*team = NULL;
	res = db_tenant_query(db, ctx, true, SQL_UPDATE, 5, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return missed(db, ctx, id, err);
	}
	*team = db_row_json(res, 0);
	PQclear(res);
	if (db_tx_commit(db, err) == -1) {
		json_object_put(*team);
		*team = NULL;
		return -1;
	}
	return 0;
}

int
team_delete(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    const char *if_match, struct hb_error *err)
{
	const char *params[2] = { id, if_match };
	PGresult *res;
	int rc;

	res = db_tenant_query(db, ctx, false, SQL_DELETE, 2, params, err);
	if (res == NULL)
		return -1;
	rc = hb_status_result(db_value(res, 0, "_status"), "team", err);
	PQclear(res);
	return rc;
}

int
team_member_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *team_id, const struct hb_page *p, struct hb_rows *rows,
    struct hb_error *err)
{
	const char *params[5] = { ctx->org_id, team_id };
	struct json_object *team;

	/* A team without members and no team at all differ: 200 and 404. */
	if (team_get(db, ctx, team_id, &team, err) == -1)
		return -1;
	json_object_put(team);
	return page_query(db, ctx, p, SQL_MEMBERS, params, 2, "added_at",
	    "user_id", rows, err);
}

int
team_member_put(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *team_id, const char *user_id, const char *team_role,
    struct json_object **member, struct hb_error *err)
{
	const char *params[4] = { ctx->org_id, team_id, user_id, team_role };
	struct hb_json_check c = { NULL, NULL };
	PGresult *res;

	*member = NULL;
	res = db_tenant_query(db, ctx, true, SQL_PUT, 4, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*member = db_row_json(res, 0);
		PQclear(res);
		if (db_tx_commit(db, err) == -1) {
			json_object_put(*member);
			*member = NULL;
			return -1;
		}
		return 0;
	}
	PQclear(res);
	db_tx_rollback(db);
	/* The team is there, so the user is not an active member. */
	if (team_get(db, ctx, team_id, member, err) == -1)
		return -1;
	json_object_put(*member);
	*member = NULL;
	c.details = json_object_new_array();
	json_check_fail(&c, "user_id",
	    "must be an active member of the organization");
	return json_check_done(&c, err);
}

int
team_member_remove(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *team_id, const char *user_id, struct hb_error *err)
{
	const char *params[3] = { ctx->org_id, team_id, user_id };
	PGresult *res = db_tenant_query(db, ctx, false, SQL_REMOVE, 3, params,
	    err);
	bool hit;

	if (res == NULL)
		return -1;
	hit = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return hit ? 0 : hb_fail(err, 404, "not_found",
	    "No such member of the team.");
}
