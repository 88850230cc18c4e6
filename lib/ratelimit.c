#include <stdio.h>
#include <stdlib.h>

#include "ratelimit.h"

/* One statement: the upsert on auth_rate_limits_pkey returns the count. */
static const char SQL_RATE_HIT[] = "SELECT homebot.auth_rate_hit($1, $2)";

int
ratelimit_auth(struct hb_request *r, struct hb_db *db, struct hb_error *err)
{
	char limit[16];
	const char *params[2] = { r->remote_addr, limit };
	PGresult *res;
	int wait;

	snprintf(limit, sizeof(limit), "%d", r->cfg->auth_rate_per_minute);
	res = db_exec(db, SQL_RATE_HIT, 2, params, err);
	if (res == NULL)
		return -1;
	wait = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	if (wait <= 0)
		return 0;
	hb_fail(err, 429, "rate_limited",
	    "Too many requests from this address; try again later.");
	err->retry_after = wait;
	return -1;
}
