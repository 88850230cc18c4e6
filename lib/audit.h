#ifndef HB_AUDIT_H
#define HB_AUDIT_H

#include <stdbool.h>

#include "auth.h"
#include "db.h"
#include "http.h"

/* One explicit audit event; target_id and changes_json may be NULL. */
struct hb_audit_event {
	const char	*org_id;	/* NULL: the current tenant context */
	bool		 platform;	/* no organization: a platform event */
	const char	*action;
	const char	*target_type;
	const char	*target_id;
	const char	*changes_json;
};

/*
 * Appends one event to the audit log inside the open transaction: actor,
 * IP, user agent and request ID come from the request and the principal.
 */
int	audit_write(struct hb_db *db, const struct hb_request *r,
	    const struct hb_principal *who, const struct hb_audit_event *ev,
	    struct hb_error *err);

/* The columns audit_row_json() reads, in its order. */
#define AUDIT_COLUMNS \
	"id, " HB_SQL_TS("occurred_at") ", organization_id, actor_type, " \
	"actor_id, action, target_type, target_id, ip, user_agent, " \
	"request_id, changes::text"

/* The filters of GET …/audit-log; each NULL when not given. */
struct hb_audit_filter {
	const char	*action;
	const char	*actor_id;
	const char	*since;
	const char	*until;
};

/* Reads ?action=&actor_id=&since=&until=: 0, or -1 with a 422 in err. */
int	audit_filter_parse(const struct hb_request *r,
	    struct hb_audit_filter *f, struct hb_error *err);
/* One event of api.md §4 from row i of a result of AUDIT_COLUMNS. */
struct json_object *audit_row_json(PGresult *res, int i);

/* The request's User-Agent, cut to what the tables keep; never NULL. */
const char *audit_user_agent(const struct hb_request *r);

#endif
