#ifndef HB_RATELIMIT_H
#define HB_RATELIMIT_H

#include "config.h"
#include "db.h"
#include "error.h"

/*
 * Counts one call of the unauthenticated auth endpoints for ctx's client
 * IP in PostgreSQL, so the limit holds across all workers and hosts.
 * Returns 0, or -1 with 429 rate_limited (and Retry-After) or 503 in err.
 */
int	ratelimit_auth(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_error *err);

/*
 * The same for refresh, against REFRESH_RATE_PER_MINUTE in a counter of
 * its own: a flood of logins from an address cannot stop its clients
 * from keeping their sessions, nor a flood of refreshes stop its logins.
 */
int	ratelimit_refresh(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_error *err);

#endif
