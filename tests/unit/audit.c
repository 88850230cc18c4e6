/*
 * lib/audit.c: the filters of GET …/audit-log and how a change's
 * transaction ends (audit_commit). The events themselves, under RLS, are
 * proven end to end (tests/phase1/test_audit*.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "fakecgi.h"
#include "tap.h"

#define UUID	"5c6a2b1e-8f3d-4e7a-9b0c-1d2e3f4a5b6c"

static struct hb_config cfg;
static struct hb_arena arena;
static struct fake_io io;

/* audit_filter_parse of GET /api/v1/audit-log?query. */
static int
parse(const char *query, struct hb_audit_filter *f, struct hb_error *err)
{
	static char uri[4096];
	char *envp[] = { (char *)"REQUEST_METHOD=GET", uri,
	    (char *)"REMOTE_ADDR=192.0.2.1", NULL };
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_request r;
	int rc;

	snprintf(uri, sizeof(uri), "REQUEST_URI=/api/v1/audit-log%s%s",
	    query != NULL ? "?" : "", query != NULL ? query : "");
	fake_io_free(&io);
	arena_reset(&arena);
	hb_error_clear(err);
	if (http_request_init(&r, &arena, envp, &hio, &cfg, err) != 0) {
		printf("Bail out! http_request_init(%s): %s\n", uri,
		    err->message);
		exit(2);
	}
	memset(f, 0x5a, sizeof(*f));
	rc = audit_filter_parse(&r, f, err);
	http_request_done(&r);
	return rc;
}

/* The fields the details of a 422 name, comma-separated. */
static const char *
fields(const struct hb_error *err)
{
	static char out[256];
	struct json_object *d, *f;

	out[0] = '\0';
	if (err->details == NULL)
		return "(no details)";
	for (size_t i = 0; i < json_object_array_length(err->details); i++) {
		d = json_object_array_get_idx(err->details, i);
		if (!json_object_object_get_ex(d, "field", &f))
			return "(a detail without a field)";
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
		    i > 0 ? "," : "", json_object_get_string(f));
	}
	return out;
}

static void
test_no_filter(void)
{
	struct hb_audit_filter f;
	struct hb_error err = {0};

	is_int(parse(NULL, &f, &err), 0, "no filter: accepted");
	ok(f.action == NULL && f.actor_id == NULL && f.since == NULL &&
	    f.until == NULL && f.org_id == NULL, "no filter: every one NULL");
}

static void
test_valid_filters(void)
{
	struct hb_audit_filter f;
	struct hb_error err = {0};
	int rc;

	rc = parse("action=member.invited&actor_id=" UUID
	    "&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00.5%2B01:00",
	    &f, &err);
	is_int(rc, 0, "every filter, valid: accepted");
	is_str(f.action, "member.invited", "action is read");
	is_str(f.actor_id, UUID, "actor_id is read");
	is_str(f.since, "2026-01-01T00:00:00Z", "since is read");
	is_str(f.until, "2026-02-01T00:00:00.5+01:00",
	    "until is read, percent-decoded");
	ok(f.org_id == NULL, "org_id is the caller's to set");
}

static void
test_invalid_filters(void)
{
	static const char *const bad[][2] = {
		{ "action=", "action" },
		{ "action=%FF%FE", "action" },
		{ "actor_id=nope", "actor_id" },
		{ "actor_id=" UUID "0", "actor_id" },
		{ "since=yesterday", "since" },
		{ "since=2026-13-01T00:00:00Z", "since" },
		{ "until=2026-01-01", "until" },
		{ "action=&actor_id=x&since=x&until=x",
		    "action,actor_id,since,until" },
	};
	struct hb_audit_filter f;
	struct hb_error err = {0};
	char longq[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(parse(bad[i][0], &f, &err), -1, "?%s: refused",
		    bad[i][0]);
		ok(err.status == 422 &&
		    strcmp(err.code, "validation_failed") == 0,
		    "?%s: 422 validation_failed (got %d %s)", bad[i][0],
		    err.status, err.code);
		is_str(fields(&err), bad[i][1], "?%s: the details name %s",
		    bad[i][0], bad[i][1]);
		hb_error_clear(&err);
	}
	snprintf(longq, sizeof(longq), "action=%0101d", 0);
	is_int(parse(longq, &f, &err), -1, "an action of 101 bytes: refused");
	is_str(fields(&err), "action", "an action of 101 bytes: on action");
	hb_error_clear(&err);
	snprintf(longq, sizeof(longq), "action=%0100d", 0);
	is_int(parse(longq, &f, &err), 0, "an action of 100 bytes: accepted");
}

/*
 * A change that failed (rc -1) is rolled back and its answer released
 * without a statement: no database is reachable here, so one would fail.
 */
static void
test_commit_of_a_failed_change(void)
{
	struct hb_db *db = db_new("host=/nonexistent dbname=nothing", "unit");
	struct hb_db_ctx ctx = { .user_id = UUID };
	struct hb_audit_event ev = { .action = "member.invited",
	    .target_type = "membership" };
	struct json_object *row = json_object_new_object();
	struct hb_error err = {0};

	hb_fail(&err, 409, "conflict", "the change's own error");
	is_int(audit_commit(db, &ctx, &ev, -1, &row, &err), -1,
	    "commit of a failed change: -1");
	ok(row == NULL, "commit of a failed change: the answer is released");
	ok(err.status == 409 && strcmp(err.code, "conflict") == 0,
	    "commit of a failed change: the change's error is kept");
	hb_error_clear(&err);

	row = json_object_new_object();
	is_int(audit_commit(db, &ctx, &ev, 0, &row, &err), -1,
	    "commit when the event cannot be written: -1");
	ok(row == NULL, "commit when the event cannot be written: the answer "
	    "is released");
	is_int(err.status, 503, "commit when the event cannot be written: "
	    "503 from the database");
	hb_error_clear(&err);
	db_free(db);
}

int
main(void)
{
	plan(41);
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "unit-test-secret-key-of-at-least-thirty-two-bytes");
	cfg.max_body = 1 << 20;
	arena_init(&arena);
	test_no_filter();
	test_valid_filters();
	test_invalid_filters();
	test_commit_of_a_failed_change();
	fake_io_free(&io);
	arena_free(&arena);
	return done_testing();
}
