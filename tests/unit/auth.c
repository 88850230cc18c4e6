/*
 * lib/auth.c: which credential a request carries and what each kind of
 * bad one is answered with, the permission check and the context of a
 * principal. A credential refused by its shape or its signature never
 * reaches the database (here one that cannot be reached, so a query
 * would be a 503); those that do are checked against PostgreSQL
 * (HOMEBOT_TEST_DATABASE_URL, as scripts/check.sh sets it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_token.h"
#include "fakecgi.h"
#include "tap.h"

#define ORG	"0b6f1e8e-6a51-4c1e-9d53-3f7f6f0b2a11"
#define USER	"7d1f0b9c-2f0e-4d8e-8a4b-52b1c2a9e0f3"
#define SID	"5c6a2b1e-8f3d-4e7a-9b0c-1d2e3f4a5b6c"

static struct hb_config cfg;
static struct hb_jwt_keys keys;
static struct hb_arena arena;
static struct fake_io io;
/* One that cannot be reached: a query through it is a 503. */
static struct hb_db *nodb;

/* A GET request with up to two header lines ("HTTP_X=value"). */
static void
request(struct hb_request *r, const char *h1, const char *h2)
{
	static char *envp[8];
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_error err = {0};
	int n = 0;

	envp[n++] = (char *)"REQUEST_METHOD=GET";
	envp[n++] = (char *)"REQUEST_URI=/api/v1/auth/me";
	envp[n++] = (char *)"REMOTE_ADDR=192.0.2.9";
	envp[n++] = (char *)"HTTP_USER_AGENT=unit/1";
	if (h1 != NULL)
		envp[n++] = (char *)h1;
	if (h2 != NULL)
		envp[n++] = (char *)h2;
	envp[n] = NULL;
	fake_io_free(&io);
	arena_reset(&arena);
	if (http_request_init(r, &arena, envp, &hio, &cfg, &err) != 0) {
		printf("Bail out! http_request_init: %s\n", err.message);
		exit(2);
	}
}

/* auth_request on a request with the headers h1, h2; err is its answer. */
static int
authenticate(struct hb_db *db, unsigned flags, const char *h1,
    const char *h2, struct hb_error *err)
{
	struct hb_request r;
	struct hb_principal who;
	int rc;

	hb_error_clear(err);
	request(&r, h1, h2);
	rc = auth_request(&r, db, &keys, flags, &who, err);
	http_request_done(&r);
	return rc;
}

static void
refused(struct hb_db *db, unsigned flags, const char *h1, const char *h2,
    int status, const char *code, const char *what)
{
	struct hb_error err = {0};
	int rc = authenticate(db, flags, h1, h2, &err);

	ok(rc == -1 && err.status == status && strcmp(err.code, code) == 0,
	    "%s: %d %s (got %d %d %s)", what, status, code, rc, err.status,
	    err.code);
	hb_error_clear(&err);
}

/* An access token for the claims, signed with this test's key. */
static char *
token(const char *sid, long exp)
{
	struct hb_claims c = { .iat = time(NULL), .exp = exp };
	static char header[1024];
	char *t;

	snprintf(c.sub, sizeof(c.sub), "%s", USER);
	snprintf(c.org, sizeof(c.org), "%s", ORG);
	snprintf(c.sid, sizeof(c.sid), "%s", sid);
	snprintf(c.jti, sizeof(c.jti), "%s", SID);
	snprintf(c.role, sizeof(c.role), "owner");
	t = auth_jwt_sign(&keys, cfg.issuer, &c);
	snprintf(header, sizeof(header), "HTTP_AUTHORIZATION=Bearer %s",
	    t != NULL ? t : "");
	free(t);
	return header;
}

/* A well-formed API key no one was ever given. */
static const char *
api_key(const char *prefix)
{
	static char header[256];
	char key[HB_API_KEY_LEN + 1], pfx[HB_API_KEY_PREFIX_LEN + 1];
	unsigned char hash[HB_SHA256_LEN];

	if (auth_api_key_new(key, pfx, hash, &(struct hb_error){0}) == -1)
		return "";
	snprintf(header, sizeof(header), "%s%s", prefix, key);
	return header;
}

static void
test_credentials_refused_before_the_database(void)
{
	refused(nodb, 0, NULL, NULL, 401, "not_authenticated",
	    "no credential");
	refused(nodb, 0, "HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz", NULL, 401,
	    "not_authenticated", "a Basic credential is none");
	refused(nodb, 0, "HTTP_AUTHORIZATION=Bearer    ", NULL, 401,
	    "not_authenticated", "Bearer with nothing after it");
	refused(nodb, 0, "HTTP_X_API_KEY=", NULL, 401, "not_authenticated",
	    "an empty X-API-Key");
	refused(nodb, 0, "HTTP_AUTHORIZATION=Bearer not.a.token", NULL, 401,
	    "invalid_token", "a Bearer that is no JWT");
	refused(nodb, 0, token(SID, (long)time(NULL) - 10), NULL, 401,
	    "invalid_token", "an expired access token");
	refused(nodb, 0, "HTTP_AUTHORIZATION=Bearer hb_short_x", NULL, 401,
	    "invalid_api_key", "a Bearer API key of the wrong shape");
	refused(nodb, 0, "HTTP_X_API_KEY=anything", NULL, 401,
	    "invalid_api_key", "X-API-Key carries only API keys");
	refused(nodb, HB_AUTH_TOKEN_ONLY, api_key("HTTP_AUTHORIZATION=Bearer "),
	    NULL, 403, "forbidden", "an API key where only tokens will do");
	refused(nodb, HB_AUTH_TOKEN_ONLY, api_key("HTTP_X_API_KEY="), NULL,
	    403, "forbidden", "X-API-Key where only tokens will do");
	/* Authorization is read first; X-API-Key only without it. */
	refused(nodb, 0, "HTTP_AUTHORIZATION=Bearer not.a.token",
	    api_key("HTTP_X_API_KEY="), 401, "invalid_token",
	    "Authorization wins over X-API-Key");
	refused(nodb, 0, "HTTP_AUTHORIZATION=bearer not.a.token", NULL, 401,
	    "invalid_token", "the scheme's case does not matter");
	/* The shapes that pass reach the database, unreachable here. */
	refused(nodb, 0, token(SID, (long)time(NULL) + 300), NULL, 503,
	    "service_unavailable", "a valid token needs the database");
	refused(nodb, 0, api_key("HTTP_X_API_KEY="), NULL, 503,
	    "service_unavailable", "a well-formed API key needs the database");
}

static void
test_credentials_the_database_refuses(const char *url)
{
	char conninfo[1024];
	struct hb_db *db;

	snprintf(conninfo, sizeof(conninfo), "%s user=homebot_app", url);
	db = db_new(conninfo, "unit-auth");
	refused(db, 0, token(SID, (long)time(NULL) + 300), NULL, 401,
	    "invalid_token", "a valid token of no session");
	refused(db, 0, api_key("HTTP_AUTHORIZATION=Bearer "), NULL, 401,
	    "invalid_api_key", "a well-formed API key no one holds");
	refused(db, 0, api_key("HTTP_X_API_KEY="), NULL, 401,
	    "invalid_api_key", "the same as X-API-Key");
	db_free(db);
}

static void
test_split_list(void)
{
	const char *out[4];
	int n;

	n = auth_split_list(&arena, "a,bb,,c,", out, 4);
	is_int(n, 3, "split_list: empty items are skipped");
	ok(n == 3 && strcmp(out[0], "a") == 0 && strcmp(out[1], "bb") == 0 &&
	    strcmp(out[2], "c") == 0, "split_list: the items, in order");
	is_int(auth_split_list(&arena, "a,b,c,d,e", out, 2), 2,
	    "split_list: at most max");
	is_int(auth_split_list(&arena, NULL, out, 4), 0, "split_list: NULL");
	is_int(auth_split_list(&arena, "", out, 4), 0, "split_list: empty");
}

static void
test_permissions(void)
{
	struct hb_principal who = { .npermissions = 2,
	    .permissions = { "members:read", "audit:read" } };
	struct hb_error err = {0};

	ok(auth_has(&who, "audit:read"), "has: a permission held");
	ok(!auth_has(&who, "audit"), "has: a prefix is not the permission");
	ok(!auth_has(&who, "members:write"), "has: one not held");
	is_int(auth_require(&who, "members:read", &err), 0,
	    "require: a permission held passes");
	is_int(auth_require(&who, "org:delete", &err), -1,
	    "require: one not held fails");
	ok(err.status == 403 && strcmp(err.code, "forbidden") == 0,
	    "require: 403 forbidden");
	has_str(err.message, "org:delete", "require: the message names it");
	hb_error_clear(&err);
	who.npermissions = 0;
	ok(!auth_has(&who, "audit:read"), "has: nothing without permissions");
}

static void
test_context(void)
{
	struct hb_request r;
	struct hb_principal who = { .method = HB_AUTH_JWT, .org_id = ORG,
	    .user_id = USER, .key_id = "k" };
	struct hb_db_ctx c;

	request(&r, NULL, NULL);
	c = auth_ctx(NULL, &r);
	ok(c.org_id == NULL && c.user_id == NULL && c.api_key_id == NULL,
	    "ctx: unauthenticated, no tenant and no actor");
	is_str(c.ip, "192.0.2.9", "ctx: the client's address");
	is_str(c.user_agent, "unit/1", "ctx: the user agent");
	ok(c.request_id == r.request_id && c.request_id[0] != '\0',
	    "ctx: the request ID");
	c = auth_ctx(&who, &r);
	ok(c.org_id == who.org_id && c.user_id == who.user_id,
	    "ctx: the principal's organization and user");
	ok(c.api_key_id == NULL, "ctx: a token is not a key, whatever key_id");
	who.method = HB_AUTH_API_KEY;
	c = auth_ctx(&who, &r);
	is_str(c.api_key_id, "k", "ctx: a key's requests name the key");
	ok(c.team_ids == NULL && c.teams_write == NULL,
	    "ctx: no teams, no teams:write");
	who.team_ids = "{" ORG "}";
	who.team_leads = "{}";
	who.permissions[0] = "teams:write";
	who.npermissions = 1;
	c = auth_ctx(&who, &r);
	ok(c.team_ids == who.team_ids && c.team_leads == who.team_leads,
	    "ctx: the principal's teams and the teams it leads");
	is_str(c.teams_write, "true", "ctx: teams:write is the team scope's "
	    "app.teams_write");
	http_request_done(&r);
}

static void
test_leads_team(void)
{
	struct hb_principal who = { .team_leads = "{" ORG "," USER "}" };

	ok(auth_leads_team(&who, ORG), "leads: the first team of the list");
	ok(auth_leads_team(&who, USER), "leads: the last team of the list");
	ok(!auth_leads_team(&who, SID), "leads: not a team it does not lead");
	ok(!auth_leads_team(&who, "0b6f1e8e"), "leads: a prefix is no team");
	ok(!auth_leads_team(&who, ""), "leads: the empty string is no team");
	who.team_leads = "{}";
	ok(!auth_leads_team(&who, ORG), "leads: none");
	who.team_leads = NULL;
	ok(!auth_leads_team(&who, ORG), "leads: none read");
}

int
main(void)
{
	const char *url = getenv("HOMEBOT_TEST_DATABASE_URL");
	struct hb_error err = {0};

	plan(48);
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "unit-test-secret-key-of-at-least-thirty-two-bytes");
	snprintf(cfg.issuer, sizeof(cfg.issuer), "homebot");
	cfg.max_body = 1 << 20;
	arena_init(&arena);
	if (auth_jwt_keys_load(&keys, &cfg, &err) == -1) {
		printf("Bail out! auth_jwt_keys_load: %s\n", err.message);
		return 2;
	}
	nodb = db_new("host=/nonexistent dbname=nothing", "unit");
	test_credentials_refused_before_the_database();
	test_split_list();
	test_permissions();
	test_context();
	test_leads_team();
	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url != NULL && url[0] != '\0')
		test_credentials_the_database_refuses(url);
	db_free(nodb);
	auth_jwt_keys_free(&keys);
	fake_io_free(&io);
	arena_free(&arena);
	return done_testing();
}
