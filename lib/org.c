#include <string.h>

#include "audit.h"
#include "org.h"
#include "validate.h"

/* settings as jsonb: create_organization() returns it as text. */
#define ORG_FIELDS \
	"id, name, slug, settings::jsonb AS settings, " \
	HB_SQL_TS("created_at") " AS created_at"

/* A user's organizations cross tenants: a SECURITY DEFINER function. */
static const char SQL_MINE[] =
    "SELECT id, name, slug, role, " HB_SQL_TS("created_at") " AS created_at"
    " FROM homebot.user_organizations($1, $2, $3, $4)";
static const char SQL_CREATE[] =
    "SELECT status AS _status, " ORG_FIELDS
    " FROM homebot.create_organization($1, $2, $3)";
/* organizations_pkey under RLS: only the credential's organization. */
static const char SQL_CURRENT[] =
    "SELECT " ORG_FIELDS " FROM homebot.organizations"
    " WHERE id = NULLIF(current_setting('app.org_id', true), '')::uuid";
static const char SQL_UPDATE[] =
    "UPDATE homebot.organizations SET name = COALESCE($1, name),"
    " settings = COALESCE($2::jsonb, settings), updated_at = now()"
    " WHERE id = NULLIF(current_setting('app.org_id', true), '')::uuid"
    " RETURNING " ORG_FIELDS;

int
org_list_mine(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[4] = { ctx->user_id };

	return page_query(db, ctx, p, SQL_MINE, params, 1, "created_at", "id",
	    rows, err);
}

int
org_create(struct hb_db *db, const struct hb_db_ctx *ctx, const char *name,
    const char *slug, struct json_object **org, struct hb_error *err)
{
	const char *params[3] = { ctx->user_id, name, slug }, *status;
	PGresult *res;
	int rc = 0;

	*org = NULL;
	res = db_tenant_query(db, ctx, false, SQL_CREATE, 3, params, err);
	if (res == NULL)
		return -1;
	status = db_value(res, 0, "_status");
	if (status != NULL && strcmp(status, "ok") == 0) {
		*org = db_row_json(res, 0);
		json_object_object_add(*org, "role",
		    json_object_new_string("owner"));
	} else
		rc = validate_slug_status(status != NULL ? status : "", err);
	PQclear(res);
	return rc;
}

/* The one organization row of res, or 404. */
static int
one_org(const PGresult *res, struct json_object **org, struct hb_error *err)
{
	*org = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	if (*org == NULL)
		return hb_fail(err, 404, "not_found", "No such organization.");
	return 0;
}

int
org_current(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct json_object **org, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, false, SQL_CURRENT, 0, NULL,
	    err);
	int rc;

	*org = NULL;
	if (res == NULL)
		return -1;
	rc = one_org(res, org, err);
	PQclear(res);
	return rc;
}

int
org_update(struct hb_db *db, const struct hb_db_ctx *ctx, const char *name,
    const char *settings_json, struct json_object **org,
    struct hb_error *err)
{
	const char *params[2] = { name, settings_json };
	struct hb_audit_event ev = { .action = "organization.updated",
	    .target_type = "organization", .target_id = ctx->org_id };
	PGresult *res;
	int rc;

	*org = NULL;
	res = db_tenant_query(db, ctx, true, SQL_UPDATE, 2, params, err);
	if (res == NULL)
		return -1;
	rc = one_org(res, org, err);
	PQclear(res);
	return audit_commit(db, ctx, &ev, rc, org, err);
}
