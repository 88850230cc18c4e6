/*
 * Collections (api.md §1): ?limit= is 1..200 (default 50, else 422 on
 * "limit"); ?cursor= is opaque, signed with SECRET_KEY for one kind of
 * collection and one scope, and anything else is 400 invalid_cursor.
 * Requests go through http_request_init as a FastCGI program's would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecgi.h"
#include "http.h"
#include "page.h"
#include "tap.h"

#define ORG_A	"0b6f1e8e-6a51-4c1e-9d53-3f7f6f0b2a11"
#define ORG_B	"7d1f0b9c-2f0e-4d8e-8a4b-52b1c2a9e0f3"
#define ROW_ID	"5c6a2b1e-8f3d-4e7a-9b0c-1d2e3f4a5b6c"
#define ROW_TS	"2026-11-22T14:46:25.123456Z"

static struct hb_config cfg, other_cfg;
static struct hb_arena arena;
static struct fake_io io;

/* A request for GET /api/v1/things?query under c. */
static void
request(struct hb_request *r, const struct hb_config *c, const char *query)
{
	static char uri[2048];
	static char *envp[4];
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_error err = {0};

	snprintf(uri, sizeof(uri), "REQUEST_URI=/api/v1/things%s%s",
	    query != NULL ? "?" : "", query != NULL ? query : "");
	envp[0] = (char *)"REQUEST_METHOD=GET";
	envp[1] = uri;
	envp[2] = (char *)"REMOTE_ADDR=192.0.2.1";
	envp[3] = NULL;
	fake_io_free(&io);
	arena_reset(&arena);
	if (http_request_init(r, &arena, envp, &hio, c, &err) != 0) {
		printf("Bail out! http_request_init(%s): %s\n", uri,
		    err.message);
		exit(2);
	}
}

/* page_parse of ?query for (kind, scope) under c; returns its result. */
static int
parse(const struct hb_config *c, const char *query, const char *kind,
    const char *scope, struct hb_page *p, struct hb_error *err)
{
	struct hb_request r;
	int rc;

	request(&r, c, query);
	hb_error_clear(err);
	memset(p, 0x5a, sizeof(*p));
	rc = page_parse(&r, kind, scope, p, err);
	http_request_done(&r);
	return rc;
}

/* A cursor made by page_cursor under c, copied out of the arena. */
static char *
cursor(const struct hb_config *c, const char *kind, const char *scope,
    const char *ts, const char *id, char *out, size_t outsz)
{
	struct hb_request r;
	const char *got;

	request(&r, c, NULL);
	got = page_cursor(&r, kind, scope, ts, id);
	if (got == NULL)
		return NULL;
	snprintf(out, outsz, "%s", got);
	http_request_done(&r);
	return out;
}

/* The field of the only detail of a 422, or a description of the shape. */
static const char *
detail_field(const struct hb_error *err)
{
	struct json_object *d, *f;

	if (err->details == NULL ||
	    !json_object_is_type(err->details, json_type_array))
		return "(no details array)";
	if (json_object_array_length(err->details) != 1)
		return "(not exactly one detail)";
	d = json_object_array_get_idx(err->details, 0);
	if (!json_object_object_get_ex(d, "field", &f) ||
	    !json_object_object_get_ex(d, "message", NULL))
		return "(a detail without field and message)";
	return json_object_get_string(f);
}

static void
test_limit(void)
{
	static const char *const good[][2] = {
		{ "limit=1", "1" }, { "limit=200", "200" }, { "limit=50", "50" },
		{ "limit=7&x=1", "7" }, { "limit=199", "199" },
	};
	static const char *const bad[] = {
		"limit=0", "limit=201", "limit=-1", "limit=abc", "limit=",
		"limit=1x", "limit=2.5", "limit=1e2", "limit=0x10",
		"limit=99999999999999999999", "limit=-99999999999999999999",
		"limit=1000", "limit=%2D1", "limit=+5", "limit=%205", "limit=5%20",
		"limit=%2B5", "limit=0005",
	};
	struct hb_page p;
	struct hb_error err = {0};
	int rc;

	rc = parse(&cfg, NULL, "things", ORG_A, &p, &err);
	is_int(rc, 0, "no query: page_parse returns 0");
	is_int(p.limit, 50, "no limit: 50");
	ok(!p.after, "no cursor: after is false");
	rc = parse(&cfg, "other=5", "things", ORG_A, &p, &err);
	is_int(p.limit, HB_PAGE_DEFAULT, "another parameter only: the default");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		rc = parse(&cfg, good[i][0], "things", ORG_A, &p, &err);
		ok(rc == 0 && p.limit == atoi(good[i][1]) && !p.after,
		    "?%s: limit %s", good[i][0], good[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = parse(&cfg, bad[i], "things", ORG_A, &p, &err);
		is_int(rc, -1, "?%s: refused", bad[i]);
		ok(err.status == 422 &&
		    strcmp(err.code, "validation_failed") == 0,
		    "?%s: 422 validation_failed (got %d %s)", bad[i],
		    err.status, err.code);
		is_str(detail_field(&err), "limit", "?%s: the detail names "
		    "\"limit\"", bad[i]);
		hb_error_clear(&err);
	}
}

static void
test_cursor_roundtrip(void)
{
	char c[512], q[600];
	struct hb_page p;
	struct hb_error err = {0};
	int rc;

	ok(cursor(&cfg, "things", ORG_A, ROW_TS, ROW_ID, c, sizeof(c)) != NULL,
	    "page_cursor makes a cursor");
	diag("cursor: %s", c);
	is_int(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_."), strlen(c), "the cursor needs no escaping in a "
	    "query string");
	snprintf(q, sizeof(q), "cursor=%s", c);
	rc = parse(&cfg, q, "things", ORG_A, &p, &err);
	is_int(rc, 0, "its own cursor is taken");
	ok(p.after, "after is set");
	is_str(p.ts, ROW_TS, "the cursor gives back the row's created_at");
	is_str(p.id, ROW_ID, "the cursor gives back the row's id");
	is_int(p.limit, 50, "a cursor alone keeps the default limit");

	snprintf(q, sizeof(q), "limit=10&cursor=%s", c);
	rc = parse(&cfg, q, "things", ORG_A, &p, &err);
	ok(rc == 0 && p.limit == 10 && p.after && strcmp(p.id, ROW_ID) == 0,
	    "limit and cursor together");
	snprintf(q, sizeof(q), "limit=0&cursor=%s", c);
	rc = parse(&cfg, q, "things", ORG_A, &p, &err);
	is_int(err.status, 422, "a bad limit with a good cursor: 422");
	hb_error_clear(&err);

	/* The same row in another kind or scope gives another cursor. */
	{
		char c2[512];

		cursor(&cfg, "members", ORG_A, ROW_TS, ROW_ID, c2, sizeof(c2));
		ok(strcmp(c, c2) != 0, "another kind: another cursor");
		cursor(&cfg, "things", ORG_A, "2026-11-22T14:46:25Z", ROW_ID,
		    c2, sizeof(c2));
		snprintf(q, sizeof(q), "cursor=%s", c2);
		rc = parse(&cfg, q, "things", ORG_A, &p, &err);
		ok(rc == 0 && strcmp(p.ts, "2026-11-22T14:46:25Z") == 0,
		    "a timestamp without fractions round-trips");
	}

	rc = parse(&cfg, "cursor=", "things", ORG_A, &p, &err);
	ok(rc == 0 && !p.after, "an empty cursor is the first page");
}

/* Expects page_parse of ?cursor=c to be a 400 invalid_cursor. */
static bool
cursor_refused(const struct hb_config *c, const char *cur, const char *kind,
    const char *scope)
{
	struct hb_page p;
	struct hb_error err = {0};
	char q[2048];
	int rc;

	snprintf(q, sizeof(q), "cursor=%s", cur);
	rc = parse(c, q, kind, scope, &p, &err);
	return rc == -1 && err.status == 400 &&
	    strcmp(err.code, "invalid_cursor") == 0 && !p.after;
}

static void
test_cursor_refused(void)
{
	static const char *const junk[] = {
		"x", ".", "..", "abc", "abc.", ".abc", "a.b.c", "%2e%2e",
		"dGhpbmdzfA", "dGhpbmdz.AAAAAAAAAAAAAAAAAAAAAA",
	};
	char c[512], bent[1100], other[512], q[1200];
	size_t n;
	int taken = 0, tried = 0;
	struct hb_page p;
	struct hb_error err = {0};

	cursor(&cfg, "things", ORG_A, ROW_TS, ROW_ID, c, sizeof(c));
	n = strlen(c);

	ok(cursor_refused(&cfg, c, "members", ORG_A), "a cursor of another "
	    "kind: 400 invalid_cursor");
	ok(cursor_refused(&cfg, c, "things", ORG_B), "a cursor of another "
	    "scope: 400 invalid_cursor");
	ok(cursor_refused(&cfg, c, "thing", ORG_A), "a kind that is a prefix "
	    "of the cursor's: refused");
	ok(cursor_refused(&cfg, c, "things", "0b6f1e8e"), "a scope that is a "
	    "prefix of the cursor's: refused");
	cursor(&other_cfg, "things", ORG_A, ROW_TS, ROW_ID, other,
	    sizeof(other));
	ok(strcmp(other, c) != 0, "another SECRET_KEY makes another cursor");
	ok(cursor_refused(&cfg, other, "things", ORG_A), "a cursor signed "
	    "with another SECRET_KEY: 400 invalid_cursor");
	ok(!cursor_refused(&other_cfg, other, "things", ORG_A), "(which its "
	    "own key takes)");

	/* Every character changed, one at a time. */
	for (size_t i = 0; i < n; i++) {
		static const char subst[] = "AB.-_=+/ ";

		for (const char *s = subst; *s != '\0'; s++) {
			if (*s == c[i])
				continue;
			memcpy(bent, c, n + 1);
			bent[i] = *s;
			/* ' ', '+', '/' and '=' go escaped in the query. */
			if (*s == ' ' || *s == '+' || *s == '/' || *s == '=') {
				snprintf(q, sizeof(q), "%.*s%%%02X%s", (int)i, c,
				    (unsigned char)*s, c + i + 1);
				memcpy(bent, q, strlen(q) + 1);
			}
			tried++;
			if (!cursor_refused(&cfg, bent, "things", ORG_A)) {
				taken++;
				diag("taken: %s", bent);
			}
		}
	}
	is_int(taken, 0, "none of %d single-character changes is taken", tried);

	/* Every truncation but the empty one. */
	taken = 0;
	for (size_t len = 1; len < n; len++) {
		memcpy(bent, c, len);
		bent[len] = '\0';
		if (!cursor_refused(&cfg, bent, "things", ORG_A)) {
			taken++;
			diag("taken: %s", bent);
		}
	}
	is_int(taken, 0, "none of the %zu truncated cursors is taken", n - 1);
	snprintf(bent, sizeof(bent), "%sA", c);
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "one more character: "
	    "refused");
	snprintf(bent, sizeof(bent), "%s.%s", c, c + strlen(c) - 22);
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "a second MAC part: "
	    "refused");
	/* The MAC of one cursor on the payload of another. */
	{
		char c2[512];
		const char *dot1 = strchr(c, '.'), *dot2;

		cursor(&cfg, "things", ORG_A, ROW_TS,
		    "00000000-0000-4000-8000-000000000000", c2, sizeof(c2));
		dot2 = strchr(c2, '.');
		snprintf(bent, sizeof(bent), "%.*s%s", (int)(dot2 - c2), c2,
		    dot1);
		ok(cursor_refused(&cfg, bent, "things", ORG_A), "one cursor's "
		    "payload with another's MAC: refused");
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		ok(cursor_refused(&cfg, junk[i], "things", ORG_A),
		    "\"%s\": refused", junk[i]);
	memset(bent, 'A', 450);
	bent[200] = '.';
	bent[450] = '\0';
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "450 bytes: refused");

	/* Signed, but not a row: the id must be a UUID. */
	cursor(&cfg, "things", ORG_A, ROW_TS, "not-a-uuid", bent, sizeof(bent));
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "a signed cursor "
	    "whose id is not a UUID: refused");
	cursor(&cfg, "things", ORG_A, ROW_TS, "5C6A2B1E-8F3D-4E7A-9B0C-"
	    "1D2E3F4A5B6C", bent, sizeof(bent));
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "...nor an uppercase "
	    "UUID");
	/* struct hb_page holds 39 bytes of timestamp. */
	cursor(&cfg, "things", ORG_A, "2026-11-22T14:46:25.123456789012345678Z",
	    ROW_ID, bent, sizeof(bent));
	snprintf(q, sizeof(q), "cursor=%s", bent);
	ok(parse(&cfg, q, "things", ORG_A, &p, &err) == 0 &&
	    strlen(p.ts) == 39, "a signed 39-byte timestamp is taken");
	cursor(&cfg, "things", ORG_A, "2026-11-22T14:46:25.1234567890123456789Z",
	    ROW_ID, bent, sizeof(bent));
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "a signed 40-byte "
	    "timestamp does not fit: refused");
	cursor(&cfg, "things", ORG_A, "a|b", ROW_ID, bent, sizeof(bent));
	ok(cursor_refused(&cfg, bent, "things", ORG_A), "a timestamp with a "
	    "'|': refused");

	/* Too long a row to make a cursor of. */
	memset(other, 'x', 300);
	other[300] = '\0';
	ok(cursor(&cfg, "things", ORG_A, other, ROW_ID, bent, sizeof(bent)) ==
	    NULL, "page_cursor of a 300-byte timestamp: NULL");
}

static void
test_send(void)
{
	struct hb_request r;
	struct fake_response resp;
	struct json_object *body, *v;
	struct json_object *data;

	request(&r, &cfg, NULL);
	data = json_object_new_array();
	json_object_array_add(data, json_object_new_int(1));
	is_int(http_send_page(&r, data, "abc.def"), 200, "http_send_page: 200");
	fake_response_parse(&resp, io.out != NULL ? io.out : "", io.out_len);
	body = json_tokener_parse(resp.body);
	ok(json_object_object_length(body) == 2 &&
	    json_object_object_get_ex(body, "data", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) == 1, "http_send_page: data is the array");
	ok(json_object_object_get_ex(body, "next_cursor", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "abc.def") == 0,
	    "http_send_page: next_cursor is the cursor");
	json_object_put(body);
	fake_response_free(&resp);
	http_request_done(&r);

	request(&r, &cfg, NULL);
	http_send_page(&r, json_object_new_array(), NULL);
	fake_response_parse(&resp, io.out != NULL ? io.out : "", io.out_len);
	body = json_tokener_parse(resp.body);
	ok(json_object_object_get_ex(body, "next_cursor", &v) && v == NULL,
	    "http_send_page: the last page has \"next_cursor\": null (%s)",
	    resp.body);
	json_object_put(body);
	fake_response_free(&resp);
	http_request_done(&r);
}

/*
 * A collection read through page_query: its 2nd and 4th rows have no
 * timestamp, so no cursor can follow them.
 */
static const char SQL_ROWS[] = "SELECT g AS n, CASE WHEN g % 2 = 0 THEN "
    "NULL ELSE '" ROW_TS "' END AS created_at, '" ROW_ID "' AS id "
    "FROM generate_series(1, 5) g WHERE ($1::text IS NULL OR true) AND "
    "($2::uuid IS NULL OR true) ORDER BY g LIMIT $3::int";

/* page_query of SQL_ROWS with ?limit=; the next cursor, or NULL. */
static const char *
query_page(struct hb_db *db, const char *limit, struct hb_rows *rows,
    int *n)
{
	struct hb_request r;
	struct hb_page p;
	struct hb_error err = {0};
	const struct hb_db_ctx ctx = { .org_id = ORG_A };
	const char *params[3], *next = NULL;
	static char out[512];

	*n = -1;
	request(&r, &cfg, limit);
	if (page_parse(&r, "things", ORG_A, &p, &err) == 0 &&
	    page_query(db, &ctx, &p, SQL_ROWS, params, 0, "created_at", "id",
	    rows, &err) == 0) {
		*n = (int)json_object_array_length(rows->data);
		next = page_next_cursor(&r, &p, rows);
		json_object_put(rows->data);
		rows->data = NULL;
	} else
		diag("page_query: %d %s", err.status, err.message);
	if (next != NULL)
		snprintf(out, sizeof(out), "%s", next);
	http_request_done(&r);
	hb_error_clear(&err);
	return next != NULL ? out : NULL;
}

static void
test_query(void)
{
	const char *url = getenv("HOMEBOT_TEST_DATABASE_URL");
	struct hb_db *db;
	struct hb_rows rows;
	struct hb_page p;
	struct hb_error err = {0};
	const char *next;
	char q[600];
	int n;

	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url == NULL || url[0] == '\0')
		return;
	db = db_new(url, "unit-page");
	next = query_page(db, "limit=3", &rows, &n);
	ok(n == 3 && rows.more && next != NULL, "page_query, 3 of 5 rows: a "
	    "page with a next cursor (%d rows)", n);
	snprintf(q, sizeof(q), "cursor=%s", next != NULL ? next : "");
	ok(next != NULL && parse(&cfg, q, "things", ORG_A, &p, &err) == 0 &&
	    strcmp(p.ts, ROW_TS) == 0 && strcmp(p.id, ROW_ID) == 0,
	    "page_query: the cursor holds the last row's position");
	next = query_page(db, "limit=2", &rows, &n);
	ok(n == 2 && rows.more, "page_query, last row without a timestamp: "
	    "there is still a next page (%d rows)", n);
	ok(next == NULL, "page_query, last row without a timestamp: but no "
	    "cursor to it, which send_rows answers with a 500");
	next = query_page(db, "limit=5", &rows, &n);
	ok(n == 5 && !rows.more && next == NULL, "page_query, all 5 rows: "
	    "the last page");
	db_free(db);
}

int
main(void)
{
	plan(114);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "page-test-secret-0123456789abcdef");
	cfg.max_body = 1 << 20;
	other_cfg = cfg;
	snprintf(other_cfg.secret_key, sizeof(other_cfg.secret_key), "%s",
	    "page-test-secret-0123456789abcdeF");
	arena_init(&arena);
	test_limit();
	test_cursor_roundtrip();
	test_cursor_refused();
	test_send();
	test_query();
	fake_io_free(&io);
	arena_free(&arena);
	return done_testing();
}
