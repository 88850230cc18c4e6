/*
 * GET /api/v1/audit-log (api.md §3, §4): this organization's audit
 * events, newest first, filtered by action, actor and time. The data
 * lives in lib/audit.c.
 */
#include "audit.h"
#include "auth.h"
#include "program.h"

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_audit_filter f;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "audit:read", &r->err) == -1 ||
	    audit_filter_parse(r, &f, &r->err) == -1 ||
	    page_parse(r, "audit", who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	f.org_id = who.org_id;
	if (audit_list(app->db, &ctx, &f, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/audit-log", handle_list, 0 },
};

PROGRAM("homebot-audit", routes)
