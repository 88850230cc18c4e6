#include <stdio.h>
#include <stdlib.h>

#include "ratelimit.h"

/* One statement: the upsert on auth_rate_limits_pkey returns the wait. */
static const char SQL_RATE_HIT[] =
    "SELECT homebot.auth_rate_hit($1, $2, $3) AS retry_after";

/* Counts one hit of scope for ctx's client IP against limit a minute. */
static int
rate_hit(struct hb_db *db, const struct hb_db_ctx *ctx, const char *scope,
    int limit, struct hb_error *err)
{
	char max[16];
	const char *params[3] = { scope, ctx->ip, max }, *v;
	PGresult *res;
	int wait;

	snprintf(max, sizeof(max), "%d", limit);
	res = db_exec(db, SQL_RATE_HIT, 3, params, err);
	if (res == NULL)
		return -1;
	v = db_value(res, 0, "retry_after");
	wait = v != NULL ? atoi(v) : 0;
	PQclear(res);
	if (wait <= 0)
		return 0;
	hb_fail(err, 429, "rate_limited",
	    "Too many requests from this address; try again later.");
	err->retry_after = wait;
	return -1;
}

int
ratelimit_auth(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_error *err)
{
	return rate_hit(db, ctx, "auth", cfg->auth_rate_per_minute, err);
}

int
ratelimit_refresh(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_error *err)
{
	return rate_hit(db, ctx, "refresh", cfg->refresh_rate_per_minute, err);
}
