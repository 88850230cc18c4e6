/*
 * GET /api/v1/audit-log (api.md §3, §4): this organization's audit
 * events, newest first, filtered by action, actor and time.
 */
#include "audit.h"
#include "auth.h"
#include "page.h"
#include "program.h"

/*
 * Under RLS, by audit_log(organization_id, occurred_at DESC, id DESC), or
 * the (organization_id, action, ...) and (organization_id, actor_id, ...)
 * indexes when those filters are given.
 */
static const char SQL_LIST[] =
    "SELECT " AUDIT_COLUMNS " FROM homebot.audit_log"
    " WHERE ($1::text IS NULL OR action = $1)"
    "   AND ($2::uuid IS NULL OR actor_id = $2)"
    "   AND ($3::timestamptz IS NULL OR occurred_at >= $3)"
    "   AND ($4::timestamptz IS NULL OR occurred_at < $4)"
    "   AND ($5::timestamptz IS NULL OR (occurred_at, id) < ($5, $6::uuid))"
    " ORDER BY occurred_at DESC, id DESC LIMIT $7";

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_audit_filter f;
	struct hb_page page;
	struct hb_db_ctx ctx;
	const char *params[7];

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "audit:read", &r->err) == -1 ||
	    audit_filter_parse(r, &f, &r->err) == -1 ||
	    page_parse(r, "audit", who.org_id, &page, &r->err) == -1)
		return http_error(r, &r->err);
	params[0] = f.action;
	params[1] = f.actor_id;
	params[2] = f.since;
	params[3] = f.until;
	ctx = auth_ctx(&who, r);
	return page_run(r, app->db, &ctx, &page, "audit", who.org_id,
	    SQL_LIST, params, 4, 1, audit_row_json);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/audit-log", handle_list, 0 },
};

PROGRAM("homebot-audit", routes)
