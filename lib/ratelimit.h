#ifndef HB_RATELIMIT_H
#define HB_RATELIMIT_H

#include "db.h"
#include "http.h"

/*
 * Counts one call of the unauthenticated auth endpoints for the client IP
 * in PostgreSQL, so the limit holds across all workers and hosts.
 * Returns 0, or -1 with 429 rate_limited (and Retry-After) or 503 in err.
 */
int	ratelimit_auth(struct hb_request *r, struct hb_db *db,
	    struct hb_error *err);

#endif
