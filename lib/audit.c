#include <string.h>

#include "json.h"
#include "validate.h"

#include "audit.h"

#define USER_AGENT_MAX	512

static const char SQL_AUDIT[] =
    "INSERT INTO homebot.audit_log (organization_id, actor_type, actor_id,"
    " action, target_type, target_id, ip, user_agent, request_id, changes)"
    " VALUES (CASE WHEN NOT $10::boolean THEN COALESCE($9::uuid,"
    "  NULLIF(current_setting('app.org_id', true), '')::uuid) END,"
    " $1, $2::uuid, $3, $4, $5, $6, $7,"
    " current_setting('app.request_id', true), $8::jsonb)";

/*
 * The User-Agent goes into text columns: it is cut at a character
 * boundary and bytes that are not UTF-8 become '?', so a hostile header
 * can never make the request's statements fail.
 */
const char *
audit_user_agent(const struct hb_request *r)
{
	const char *ua = http_header(r, "User-Agent");
	size_t n, i = 0, len;
	char *out;

	if (ua == NULL)
		return "";
	n = strlen(ua);
	if (n <= USER_AGENT_MAX && json_utf8_valid(ua, n))
		return ua;
	out = arena_alloc(r->arena, USER_AGENT_MAX + 1);
	if (out == NULL)
		return "";
	while (i < n) {
		unsigned char c = (unsigned char)ua[i];

		len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (i + len > USER_AGENT_MAX)
			break;
		if (c >= 0x80 && (i + len > n || !json_utf8_valid(ua + i, len))) {
			out[i++] = '?';
			continue;
		}
		memcpy(out + i, ua + i, len);
		i += len;
	}
	out[i] = '\0';
	return out;
}

int
audit_write(struct hb_db *db, const struct hb_request *r,
    const struct hb_principal *who, const struct hb_audit_event *ev,
    struct hb_error *err)
{
	const char *params[10];
	PGresult *res;

	params[0] = who->method == HB_AUTH_API_KEY ? "api_key" : "user";
	params[1] = who->method == HB_AUTH_API_KEY ? who->key_id : who->user_id;
	params[2] = ev->action;
	params[3] = ev->target_type;
	params[4] = ev->target_id;
	params[5] = r->remote_addr;
	params[6] = audit_user_agent(r);
	params[7] = ev->changes_json;
	params[8] = ev->org_id;
	params[9] = ev->platform ? "true" : "false";
	res = db_exec(db, SQL_AUDIT, 10, params, err);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
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
	if (f->action != NULL && (strlen(f->action) == 0 ||
	    strlen(f->action) > 100 || !json_utf8_valid(f->action,
	    strlen(f->action))))
		json_check_fail(&c, "action", "must be 1 to 100 bytes of text");
	if (f->actor_id != NULL && !auth_is_uuid(f->actor_id))
		json_check_fail(&c, "actor_id", "must be a UUID");
	if (f->since != NULL && !validate_timestamp(f->since))
		json_check_fail(&c, "since", "must be an RFC 3339 time");
	if (f->until != NULL && !validate_timestamp(f->until))
		json_check_fail(&c, "until", "must be an RFC 3339 time");
	return json_check_done(&c, err);
}

static struct json_object *
nullable(PGresult *res, int i, int c)
{
	return PQgetisnull(res, i, c) ? NULL :
	    json_object_new_string(PQgetvalue(res, i, c));
}

struct json_object *
audit_row_json(PGresult *res, int i)
{
	struct json_object *e = json_object_new_object(), *actor;

	json_object_object_add(e, "id", nullable(res, i, 0));
	json_object_object_add(e, "occurred_at", nullable(res, i, 1));
	json_object_object_add(e, "organization_id", nullable(res, i, 2));
	actor = json_object_new_object();
	json_object_object_add(actor, "type", nullable(res, i, 3));
	json_object_object_add(actor, "id", nullable(res, i, 4));
	json_object_object_add(e, "actor", actor);
	json_object_object_add(e, "action", nullable(res, i, 5));
	json_object_object_add(e, "target_type", nullable(res, i, 6));
	json_object_object_add(e, "target_id", nullable(res, i, 7));
	json_object_object_add(e, "ip", nullable(res, i, 8));
	json_object_object_add(e, "user_agent", nullable(res, i, 9));
	json_object_object_add(e, "request_id", nullable(res, i, 10));
	json_object_object_add(e, "changes", PQgetisnull(res, i, 11) ? NULL :
	    json_tokener_parse(PQgetvalue(res, i, 11)));
	return e;
}
