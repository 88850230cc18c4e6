/*
 * lib/ratelimit.c against PostgreSQL (HOMEBOT_TEST_DATABASE_URL, as
 * scripts/check.sh sets it; without it these tests fail), as the
 * programs' role: each scope counts its own hits per client address in a
 * minute's window, and the hit over the limit is 429 with Retry-After.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"
#include "tap.h"

/* Addresses of this run alone, so an earlier run's hits do not count. */
static char ip_a[64], ip_b[64];

static struct hb_db_ctx
from(const char *ip)
{
	return (struct hb_db_ctx){ .ip = ip, .request_id = "unit" };
}

/*
 * The window is the current minute: a test that would cross into the
 * next one waits for it, so all its hits fall in one window.
 */
static void
same_minute(void)
{
	time_t now = time(NULL);

	if (now % 60 >= 50)
		sleep((unsigned)(61 - now % 60));
}

static void
test_auth_limit(struct hb_db *db, const struct hb_config *cfg)
{
	struct hb_db_ctx a = from(ip_a), b = from(ip_b);
	struct hb_error err = {0};
	int rc = 0;

	same_minute();
	for (int i = 0; i < cfg->auth_rate_per_minute && rc == 0; i++)
		rc = ratelimit_auth(db, &a, cfg, &err);
	is_int(rc, 0, "auth: %d hits within the limit pass",
	    cfg->auth_rate_per_minute);
	is_int(ratelimit_auth(db, &a, cfg, &err), -1,
	    "auth: the hit over the limit is refused");
	ok(err.status == 429 && strcmp(err.code, "rate_limited") == 0,
	    "auth: 429 rate_limited (got %d %s)", err.status, err.code);
	ok(err.retry_after >= 1 && err.retry_after <= 60,
	    "auth: Retry-After is the rest of the window (got %d)",
	    err.retry_after);
	hb_error_clear(&err);
	is_int(ratelimit_auth(db, &a, cfg, &err), -1,
	    "auth: and so is the next one");
	hb_error_clear(&err);
	is_int(ratelimit_auth(db, &b, cfg, &err), 0,
	    "auth: another address has a counter of its own");
	is_int(ratelimit_refresh(db, &a, cfg, &err), 0,
	    "refresh: a flood of logins leaves the address's refreshes alone");
}

static void
test_refresh_limit(struct hb_db *db, const struct hb_config *cfg)
{
	struct hb_db_ctx b = from(ip_b);
	struct hb_error err = {0};
	int rc = 0;

	same_minute();
	/* ip_b has one auth hit and no refresh yet. */
	for (int i = 0; i < cfg->refresh_rate_per_minute && rc == 0; i++)
		rc = ratelimit_refresh(db, &b, cfg, &err);
	is_int(rc, 0, "refresh: %d hits within its own limit pass",
	    cfg->refresh_rate_per_minute);
	is_int(ratelimit_refresh(db, &b, cfg, &err), -1,
	    "refresh: the hit over REFRESH_RATE_PER_MINUTE is refused");
	is_int(err.status, 429, "refresh: 429");
	hb_error_clear(&err);
	is_int(ratelimit_auth(db, &b, cfg, &err), 0,
	    "auth: a flood of refreshes leaves the address's logins alone");
}

static void
test_unavailable(const struct hb_config *cfg)
{
	struct hb_db *db = db_new("host=/nonexistent dbname=nothing", "unit");
	struct hb_db_ctx a = from(ip_a);
	struct hb_error err = {0};

	is_int(ratelimit_auth(db, &a, cfg, &err), -1,
	    "no database: the hit cannot be counted, so it fails");
	is_int(err.status, 503, "no database: 503, not a pass");
	db_free(db);
}

int
main(void)
{
	const char *url = getenv("HOMEBOT_TEST_DATABASE_URL");
	struct hb_config cfg = { .auth_rate_per_minute = 3,
	    .refresh_rate_per_minute = 5 };
	char conninfo[1024];
	struct hb_db *db;

	plan(14);
	snprintf(ip_a, sizeof(ip_a), "198.51.100.%d/%ld", (int)getpid() % 250,
	    (long)time(NULL));
	snprintf(ip_b, sizeof(ip_b), "203.0.113.%d/%ld", (int)getpid() % 250,
	    (long)time(NULL));
	test_unavailable(&cfg);
	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url == NULL || url[0] == '\0')
		return done_testing();
	/* The programs' role: the function is all it may use. */
	snprintf(conninfo, sizeof(conninfo), "%s user=homebot_app", url);
	db = db_new(conninfo, "unit-ratelimit");
	test_auth_limit(db, &cfg);
	test_refresh_limit(db, &cfg);
	db_free(db);
	return done_testing();
}
