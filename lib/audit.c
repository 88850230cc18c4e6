#include <string.h>

#include "audit.h"
#include "json.h"
#include "uuid.h"
#include "validate.h"

/* The audit_fill_context trigger adds IP, user agent and request ID. */
static const char SQL_AUDIT[] =
    "INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id,"
    " action, target_type, target_id, changes)"
    " VALUES (CASE WHEN NOT $7::boolean THEN COALESCE($6::uuid,"
    "  NULLIF(current_setting('app.org_id', true), '')::uuid) END,"
    " $1, $2::uuid, $3, $4, $5, $8::jsonb)";

/*
 * Under RLS, by audit_log(organization_id, occurred_at DESC, id DESC), or
 * the (organization_id, action, ...) and (organization_id, actor_id, ...)
 * indexes when those filters are given. The admin role's policy sees
 * every organization's events with the same statement ($5 NULL). The
 * organization is named in the statement as well as by the policy: the
 * policy's value is known only when the statement runs, so the planner
 * would size every organization alike and sort a large one's events
 * whole. The statement is unnamed, so it is planned with its values: a
 * filter not given costs nothing. ORDER BY names the table's column: the
 * bare name would be the formatted text of the same name, which no index
 * orders.
 */
static const char SQL_LIST[] =
    "SELECT id, " HB_SQL_TS("occurred_at") " AS occurred_at,"
    " organization_id,"
    " json_build_object('type', actor_type, 'id', actor_id) AS actor,"
    " action, target_type, target_id, ip, user_agent, request_id, changes"
    " FROM homebot.audit_log"
    " WHERE ($1::text IS NULL OR action = $1)"
    "   AND ($2::uuid IS NULL OR actor_id = $2)"
    "   AND ($3::timestamptz IS NULL OR occurred_at >= $3)"
    "   AND ($4::timestamptz IS NULL OR occurred_at < $4)"
    "   AND ($5::uuid IS NULL OR organization_id = $5)"
    "   AND ($6::timestamptz IS NULL OR (occurred_at, id) < ($6, $7::uuid))"
    " ORDER BY audit_log.occurred_at DESC, audit_log.id DESC LIMIT $8";

int
audit_write(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_audit_event *ev, struct hb_error *err)
{
	bool by_key = ctx->api_key_id != NULL;
	const char *params[8] = {
		by_key ? "api_key" : "user",
		by_key ? ctx->api_key_id : ctx->user_id,
		ev->action, ev->target_type, ev->target_id, ev->org_id,
		ev->platform ? "true" : "false", ev->changes_json,
	};
	PGresult *res = db_exec(db, SQL_AUDIT, 8, params, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
audit_commit(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_audit_event *ev, int rc, struct json_object **row,
    struct hb_error *err)
{
	if (rc == 0 && audit_write(db, ctx, ev, err) == 0 &&
	    db_tx_commit(db, err) == 0)
		return 0;
	db_tx_rollback(db);
	json_object_put(*row);
	*row = NULL;
	return -1;
}

int
audit_filter_parse(const struct hb_request *r, struct hb_audit_filter *f,
    struct hb_error *err)
{
	struct hb_json_check c = { NULL, json_object_new_array() };

	f->action = http_query(r, "action");
	f->actor_id = http_query(r, "actor_id");
	f->since = http_query(r, "since");
	f->until = http_query(r, "until");
	f->org_id = NULL;
	if (f->action != NULL && (strlen(f->action) == 0 ||
	    strlen(f->action) > 100 || !json_utf8_valid(f->action,
	    strlen(f->action))))
		json_check_fail(&c, "action", "must be 1 to 100 bytes of text");
	if (f->actor_id != NULL && !uuid_valid(f->actor_id))
		json_check_fail(&c, "actor_id", "must be a UUID");
	if (f->since != NULL && !validate_timestamp(f->since))
		json_check_fail(&c, "since", "must be an RFC 3339 time");
	if (f->until != NULL && !validate_timestamp(f->until))
		json_check_fail(&c, "until", "must be an RFC 3339 time");
	return json_check_done(&c, err);
}

int
audit_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_audit_filter *f, const struct hb_page *p,
    struct hb_rows *rows, struct hb_error *err)
{
	const char *params[8] = { f->action, f->actor_id, f->since, f->until,
	    f->org_id };

	return page_query(db, ctx, p, SQL_LIST, params, 5, "occurred_at", "id",
	    rows, err);
}
