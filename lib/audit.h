#ifndef HB_AUDIT_H
#define HB_AUDIT_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "http.h"
#include "page.h"

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
 * Appends one event to the audit log inside the transaction open under
 * ctx: the actor is ctx's API key, else its user; IP, user agent and
 * request ID come from the transaction's context.
 */
int	audit_write(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_audit_event *ev, struct hb_error *err);

/*
 * Ends the transaction of a change whose answer is *row: when rc is 0,
 * audits ev and commits. If rc is not 0 or either step fails, rolls back
 * and releases *row (NULL then). Returns 0, or -1 with err set.
 */
int	audit_commit(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_audit_event *ev, int rc, struct json_object **row,
	    struct hb_error *err);

/* The filters of GET …/audit-log; each NULL when not given. */
struct hb_audit_filter {
	const char	*action;
	const char	*actor_id;
	const char	*since;
	const char	*until;
	/* The organization whose events are read; NULL: all (the admin's). */
	const char	*org_id;
};

/* Reads ?action=&actor_id=&since=&until=: 0, or -1 with a 422 in err. */
int	audit_filter_parse(const struct hb_request *r,
	    struct hb_audit_filter *f, struct hb_error *err);
/*
 * One page of the audit events ctx may see (RLS: one organization's, or
 * every one for the admin role), newest first, as api.md §4 shapes them.
 */
int	audit_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_audit_filter *f, const struct hb_page *p,
	    struct hb_rows *rows, struct hb_error *err);

#endif
