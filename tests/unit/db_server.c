/*
 * lib/db.c against a real PostgreSQL server: errors and the statuses they
 * map to, the tenant context and its end, and above all what happens
 * when the server drops a connection between requests or inside a
 * transaction. HOMEBOT_TEST_DATABASE_URL names the database, as its owner
 * (scripts/check.sh makes one); without it these tests fail.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "db.h"
#include "ready.h"
#include "tap.h"

#define ORG	"0b6f1e8e-6a51-4c1e-9d53-3f7f6f0b2a11"
#define USER	"7d1f0b9c-2f0e-4d8e-8a4b-52b1c2a9e0f3"

static const char *url;
/* The owner's own connection, beside the one under test. */
static PGconn *owner;

/* The owner runs sql with one parameter; the first value, or "". */
static const char *
owner_value(const char *sql, const char *param)
{
	static char v[256];
	PGresult *res = PQexecParams(owner, sql, param != NULL ? 1 : 0, NULL,
	    &param, NULL, NULL, 0);

	v[0] = '\0';
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		snprintf(v, sizeof(v), "%s", PQgetvalue(res, 0, 0));
	else if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		diag("owner: %s", PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

/* The first value of sql on db, copied into out; out is "" on failure. */
static int
value(struct hb_db *db, const char *sql, char *out, size_t n,
    struct hb_error *err)
{
	PGresult *res = db_exec(db, sql, 0, NULL, err);

	out[0] = '\0';
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * Ends the backend of pid as a server shutdown or an administrator
 * would, and waits until it is gone. It leaves pg_stat_activity a moment
 * before its process exits and its socket closes: the wait after it lets
 * the FATAL message and the end of the stream reach the client.
 */
static void
terminate(const char *pid)
{
	if (pid[0] == '\0') {
		diag("no backend to terminate");
		return;
	}
	owner_value("SELECT pg_terminate_backend($1::int)", pid);
	for (int i = 0; i < 100; i++) {
		if (strcmp(owner_value("SELECT count(*) FROM pg_stat_activity"
		    " WHERE pid = $1::int", pid), "0") == 0) {
			usleep(200 * 1000);
			return;
		}
		usleep(50 * 1000);
	}
	diag("backend %s did not end", pid);
}

static void
test_unreachable_server(void)
{
	struct hb_db *db = db_new("host=/nonexistent dbname=nothing",
	    "unit-test");
	struct hb_error err = {0};
	PGresult *res;

	is_int(db_connect(db, &err), -1, "unreachable: db_connect fails");
	is_int(err.status, 503, "unreachable: 503");
	is_str(err.code, "service_unavailable",
	    "unreachable: service_unavailable");
	ok(db_last_error(db)[0] != '\0', "unreachable: libpq's cause is kept");
	is_str(db_sqlstate(db), "", "unreachable: no SQLSTATE");
	hb_error_clear(&err);
	res = db_exec(db, "SELECT 1", 0, NULL, &err);
	ok(res == NULL && err.status == 503,
	    "unreachable: db_exec answers 503 too");
	hb_error_clear(&err);
	ok(db_tenant_query(db, &(struct hb_db_ctx){0}, false, "SELECT 1", 0,
	    NULL, &err) == NULL && err.status == 503,
	    "unreachable: db_tenant_query answers 503");
	hb_error_clear(&err);
	is_int(db_tx_begin(db, &(struct hb_db_ctx){0}, &err), -1,
	    "unreachable: db_tx_begin fails");
	hb_error_clear(&err);
	is_int(db_wait_notify(db, 0, &err), -1,
	    "unreachable: db_wait_notify fails");
	hb_error_clear(&err);
	/* Nothing open: rolling back does nothing, and does not crash. */
	db_tx_rollback(db);
	db_clear_error(db);
	is_str(db_last_error(db), "", "clear_error: the cause is forgotten");
	db_free(db);
	db_free(NULL);
}

static void
test_errors(struct hb_db *db)
{
	struct hb_error err = {0};
	char v[64];

	ok(db_exec(db, "SELEC 1", 0, NULL, &err) == NULL,
	    "syntax error: db_exec returns NULL");
	ok(err.status == 500 && strcmp(err.code, "internal_error") == 0,
	    "syntax error: 500 internal_error (got %d %s)", err.status,
	    err.code);
	is_str(db_sqlstate(db), "42601", "syntax error: its SQLSTATE is kept");
	has_str(db_last_error(db), "syntax error",
	    "syntax error: the server's primary message is kept");
	lacks_str(db_last_error(db), "\n",
	    "syntax error: the message is one line");
	hb_error_clear(&err);
	db_clear_error(db);

	ok(db_exec(db, "SELECT $1::int", 1, (const char *[]){ "x1" },
	    &err) == NULL && err.status == 400 &&
	    strcmp(err.code, "malformed_request") == 0,
	    "data exception (class 22): 400 malformed_request");
	is_str(db_sqlstate(db), "22P02", "data exception: 22P02 is kept");
	hb_error_clear(&err);

	ok(db_exec(db, "DO $$ BEGIN RAISE EXCEPTION 'collided'"
	    " USING ERRCODE = '40001'; END $$", 0, NULL, &err) == NULL &&
	    err.status == 503 && err.retry_after == 1,
	    "serialization failure (class 40): 503 with Retry-After: 1 "
	    "(got %d, %d)", err.status, err.retry_after);
	hb_error_clear(&err);
	db_clear_error(db);

	/* A failed statement leaves the connection usable. */
	is_int(value(db, "SELECT 41 + 1", v, sizeof(v), &err), 0,
	    "after errors: the connection still serves");
	is_str(v, "42", "after errors: the answer is right");
	is_str(db_last_error(db), "", "a success notes no error");
}

/* Elapsed milliseconds since *t0. */
static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
test_pipeline(struct hb_db *db)
{
	static const char *const two[] = { "SELECT 1 AS a", "SELECT 2 AS b" };
	static const char *const late[] = { "SELECT 'first' AS a",
	    "SELECT 1 / 0 AS b", "SELECT 3 AS c" };
	static const char *const slow[] = { "SELECT 'quick' AS a",
	    "SELECT pg_sleep(2) AS b" };
	struct hb_error err = {0};
	PGresult *res[3];
	struct timespec t0;
	char v[64];

	db_clear_error(db);
	is_int(db_pipeline(db, 500, 2, two, res, &err), 0,
	    "pipeline: two statements");
	ok(res[0] != NULL && res[1] != NULL &&
	    strcmp(db_value(res[0], 0, "a"), "1") == 0 &&
	    strcmp(db_value(res[1], 0, "b"), "2") == 0,
	    "pipeline: each statement's own result");
	PQclear(res[0]);
	PQclear(res[1]);

	is_int(db_pipeline(db, 500, 3, late, res, &err), 0,
	    "pipeline: a failing statement is not the whole pipeline's");
	ok(res[0] != NULL && strcmp(db_value(res[0], 0, "a"), "first") == 0,
	    "pipeline: the statement before it answered");
	ok(res[1] == NULL && res[2] == NULL,
	    "pipeline: the failed one and the one after it have no result");
	is_str(db_sqlstate(db), "22012", "pipeline: the failure is noted");
	PQclear(res[0]);
	db_clear_error(db);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(db_pipeline(db, 200, 2, slow, res, &err), 0,
	    "pipeline: a statement past the timeout");
	ok(ms_since(&t0) < 1000, "pipeline: is cancelled at the timeout "
	    "(%.0f ms)", ms_since(&t0));
	ok(res[0] != NULL && res[1] == NULL,
	    "pipeline: the quick one answered, the slow one did not");
	is_str(db_sqlstate(db), "57014", "pipeline: canceled by the timeout");
	PQclear(res[0]);
	db_clear_error(db);
	is_int(value(db, "SHOW statement_timeout", v, sizeof(v), &err), 0,
	    "pipeline: the connection serves after the timeout");
	is_str(v, "0", "pipeline: the timeout ended with its transaction");
}

/*
 * A server that cannot even cancel a statement (its backend stopped, as
 * by a pooler waiting for a server that does not come): db_pipeline()
 * gives up by its own deadline and drops the connection.
 */
static void
test_pipeline_stopped_server(void)
{
	static const char *const one[] = { "SELECT 1 AS a" };
	struct hb_db *db = db_new(url, "unit-test-stopped");
	struct hb_error err = {0};
	PGresult *res[1];
	struct timespec t0;
	char pid[32];
	double took;

	is_int(db_pipeline(db, 200, 1, one, res, &err), 0,
	    "stopped: the connection answers first");
	PQclear(res[0]);
	snprintf(pid, sizeof(pid), "%s", owner_value("SELECT pid FROM"
	    " pg_stat_activity WHERE application_name = 'unit-test-stopped'",
	    NULL));
	ok(pid[0] != '\0' && kill((pid_t)atoi(pid), SIGSTOP) == 0,
	    "stopped: its backend %s is stopped", pid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(db_pipeline(db, 200, 1, one, res, &err), -1,
	    "stopped: no answer is a failure");
	took = ms_since(&t0);
	if (pid[0] != '\0')
		kill((pid_t)atoi(pid), SIGCONT);
	ok(took >= 250 && took < 600, "stopped: after its deadline of 300 ms "
	    "(%.0f ms)", took);
	is_int(err.status, 503, "stopped: 503");
	ok(res[0] == NULL, "stopped: no result");
	hb_error_clear(&err);
	is_int(db_pipeline(db, 200, 1, one, res, &err), 0,
	    "stopped: the next call connects again");
	PQclear(res[0]);
	db_free(db);
}

static void
test_ready(struct hb_db *db)
{
	struct hb_error err = {0};
	struct hb_ready_db r;
	char dead[32];

	is_int(ready_db_read(db, &r, &err), 0, "ready: read");
	ok(r.reached && r.jobs_read, "ready: version and queue both read");
	is_str(r.version, owner_value("SELECT max(version) FROM"
	    " public.schema_migrations", NULL),
	    "ready: the newest migration applied");
	snprintf(dead, sizeof(dead), "%lld", r.dead);
	is_str(dead, owner_value("SELECT count(*) FROM homebot.jobs"
	    " WHERE status = 'dead'", NULL), "ready: every dead job counted");
	ok(r.oldest_queued_seconds >= 0, "ready: a wait of no less than 0");
}

static void
test_tenant_context(struct hb_db *db)
{
	static const char sql[] =
	    "SELECT current_setting('app.org_id', true) || '/' ||"
	    " current_setting('app.user_id', true) || '/' ||"
	    " current_setting('app.request_id', true) || '/' ||"
	    " current_setting('app.trace_id', true)";
	struct hb_db_ctx ctx = { .org_id = ORG, .user_id = USER,
	    .request_id = "req-1", .ip = "192.0.2.7", .user_agent = "ua",
	    .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736" };
	struct hb_error err = {0};
	PGresult *res;
	char v[256];

	res = db_tenant_query(db, &ctx, false, sql, 0, NULL, &err);
	ok(res != NULL, "tenant_query: runs");
	is_str(res != NULL ? PQgetvalue(res, 0, 0) : NULL,
	    ORG "/" USER "/req-1/4bf92f3577b34da6a3ce929d0e0e4736",
	    "tenant_query: the statement sees the context, its trace too");
	PQclear(res);
	value(db, "SELECT coalesce(current_setting('app.trace_id', true), '')",
	    v, sizeof(v), &err);
	is_str(v, "", "tenant_query: the trace ends with its statement");
	value(db, "SELECT coalesce(current_setting('app.org_id', true), '')",
	    v, sizeof(v), &err);
	is_str(v, "", "tenant_query: the context ends with its statement");

	res = db_tenant_query(db, &ctx, true,
	    "SELECT current_setting('app.org_id', true)", 0, NULL, &err);
	PQclear(res);
	value(db, "SELECT current_setting('app.user_id', true)", v, sizeof(v),
	    &err);
	is_str(v, USER, "keep_open: later statements share the context");
	is_int(db_tx_commit(db, &err), 0, "keep_open: commit");
	value(db, "SELECT coalesce(current_setting('app.user_id', true), '')",
	    v, sizeof(v), &err);
	is_str(v, "", "keep_open: the context ends with the commit");

	ok(db_tenant_query(db, &ctx, true, "SELECT 1/0", 0, NULL, &err) ==
	    NULL && err.status == 400,
	    "tenant_query: a failing statement is an error (400 for 22012)");
	is_str(db_sqlstate(db), "22012", "tenant_query: its SQLSTATE is kept");
	hb_error_clear(&err);
	value(db, "SELECT coalesce(current_setting('app.org_id', true), '')",
	    v, sizeof(v), &err);
	is_str(v, "", "tenant_query: a failure leaves no transaction open");

	is_int(db_tx_begin(db, &ctx, &err), 0, "tx_begin: begins");
	value(db, "SELECT current_setting('app.request_id', true)", v,
	    sizeof(v), &err);
	is_str(v, "req-1", "tx_begin: the context holds in the transaction");
	db_tx_rollback(db);
	value(db, "SELECT coalesce(current_setting('app.request_id', true),"
	    " '')", v, sizeof(v), &err);
	is_str(v, "", "tx_rollback: the context ends");
	/* A second rollback, with nothing open, does nothing. */
	db_tx_rollback(db);

	is_int(db_tx_begin(db, &ctx, &err), 0, "commit failure: begin");
	ok(db_exec(db, "SELECT 1/0", 0, NULL, &err) == NULL,
	    "commit failure: a statement fails inside the transaction");
	hb_error_clear(&err);
	is_int(value(db, "SELECT 7", v, sizeof(v), &err), 0,
	    "a failed statement ended its transaction: the next one runs");
	is_str(v, "7", "and answers");
}

static void
test_reconnect_between_requests(struct hb_db *db)
{
	struct hb_error err = {0};
	PGresult *res;
	char pid[32], again[32];

	value(db, "SELECT pg_backend_pid()", pid, sizeof(pid), &err);
	ok(pid[0] != '\0', "reconnect: a backend serves (pid %s)", pid);
	terminate(pid);
	db_clear_error(db);
	is_int(value(db, "SELECT pg_backend_pid()", again, sizeof(again),
	    &err), 0, "reconnect: the first statement after the server "
	    "dropped the connection is served");
	ok(again[0] != '\0' && strcmp(again, pid) != 0,
	    "reconnect: by a new backend (%s, was %s)", again, pid);
	is_str(db_last_error(db), "", "reconnect: no error is noted");

	/* The same for db_tenant_query, the hot path. */
	terminate(again);
	res = db_tenant_query(db, &(struct hb_db_ctx){ .org_id = ORG }, false,
	    "SELECT current_setting('app.org_id', true)", 0, NULL, &err);
	is_str(res != NULL ? PQgetvalue(res, 0, 0) : NULL, ORG,
	    "reconnect: db_tenant_query is served after a drop too");
	PQclear(res);
	hb_error_clear(&err);
}

/*
 * A connection lost inside a transaction must not be opened again
 * silently: the statements already run were rolled back with it, so a
 * later statement on a new connection, and a COMMIT there, would report
 * a change as made that was made only in part.
 */
static void
test_drop_inside_transaction(struct hb_db *db)
{
	struct hb_error err = {0};
	PGresult *res;
	char pid[32], v[64];

	owner_value("CREATE TABLE IF NOT EXISTS public.unit_drop (n int)",
	    NULL);
	owner_value("TRUNCATE public.unit_drop", NULL);
	is_int(db_tx_begin(db, &(struct hb_db_ctx){0}, &err), 0,
	    "drop in transaction: begin");
	value(db, "SELECT pg_backend_pid()", pid, sizeof(pid), &err);
	res = db_exec(db, "INSERT INTO public.unit_drop VALUES (1)", 0, NULL,
	    &err);
	ok(res != NULL, "drop in transaction: a first write");
	PQclear(res);
	terminate(pid);
	res = db_exec(db, "INSERT INTO public.unit_drop VALUES (2)", 0, NULL,
	    &err);
	ok(res == NULL, "drop in transaction: the next statement fails");
	PQclear(res);
	is_int(err.status, 503, "drop in transaction: 503");
	ok(db_last_error(db)[0] != '\0',
	    "drop in transaction: the cause is noted");
	hb_error_clear(&err);
	is_int(db_tx_commit(db, &err), -1,
	    "drop in transaction: the commit does not succeed");
	hb_error_clear(&err);
	is_str(owner_value("SELECT count(*) FROM public.unit_drop", NULL),
	    "0", "drop in transaction: nothing of it was written");
	is_int(value(db, "SELECT 5", v, sizeof(v), &err), 0,
	    "drop in transaction: the next request is served");
	owner_value("DROP TABLE public.unit_drop", NULL);
}

static void
test_notifications(void)
{
	struct hb_db *db = db_new(url, "unit-test-listen");
	struct hb_error err = {0};
	char pid[32], toolong[80];

	memset(toolong, 'c', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	is_int(db_listen(db, toolong, &err), -1,
	    "listen: a channel name too long is refused");
	hb_error_clear(&err);
	is_int(db_listen(db, "unit_jobs", &err), 0, "listen: connects and "
	    "listens");
	is_int(db_wait_notify(db, 0, &err), 0, "wait_notify: nothing yet");
	owner_value("SELECT pg_notify('unit_jobs', '')", NULL);
	is_int(db_wait_notify(db, 5000, &err), 1, "wait_notify: a NOTIFY "
	    "comes");
	is_int(db_wait_notify(db, 0, &err), 0,
	    "wait_notify: it was consumed");
	owner_value("SELECT pg_notify('unit_jobs', ''), pg_notify('unit_jobs',"
	    " 'x')", NULL);
	usleep(100 * 1000);
	is_int(db_wait_notify(db, 5000, &err), 1,
	    "wait_notify: two NOTIFYs at once are one wake-up");
	is_int(db_wait_notify(db, 0, &err), 0,
	    "wait_notify: both were consumed");

	value(db, "SELECT pg_backend_pid()", pid, sizeof(pid), &err);
	terminate(pid);
	/* The dropped connection is opened again, and listens again. */
	is_int(db_wait_notify(db, 0, &err), 0,
	    "wait_notify: after a drop, reconnects and waits");
	owner_value("SELECT pg_notify('unit_jobs', '')", NULL);
	is_int(db_wait_notify(db, 5000, &err), 1,
	    "wait_notify: the new connection listens on the channel");

	/* A channel named on an open connection is listened to at once. */
	is_int(db_listen(db, "unit_other", &err), 0,
	    "listen: on the open connection");
	owner_value("SELECT pg_notify('unit_other', '')", NULL);
	is_int(db_wait_notify(db, 5000, &err), 1,
	    "listen: the open connection hears the new channel");
	db_free(db);
}

/* db_sent_done() until it is no longer 0, for 10 s at most. */
static int
sent_wait(struct hb_db *db, struct hb_error *err)
{
	int rc = 0;

	for (int i = 0; i < 1000 && (rc = db_sent_done(db, err)) == 0; i++)
		usleep(10000);
	return rc;
}

/*
 * A statement sent without waiting (the broker plugin's audit rows): its
 * answer is read later; a failed one and a connection lost under it are
 * reported, and the next statement gets a new connection.
 */
static void
test_send(void)
{
	struct hb_db *db = db_new(url, "unit-send");
	struct hb_error err = { 0 };
	const char *param = "7";
	char pid[32], v[32];

	is_int(db_send(db, "SELECT pg_sleep(0.3), $1::int", 1, &param, &err),
	    0, "send: sent");
	is_int(db_sent_done(db, &err), 0, "send: not answered at once");
	is_int(sent_wait(db, &err), 1, "send: answered");
	is_int(db_send(db, "SELECT homebot_no_such_function()", 0, NULL, &err),
	    0, "send: a failing statement sent");
	err = (struct hb_error){ 0 };
	is_int(sent_wait(db, &err), -1, "send: its failure read");
	is_int(err.status, 500, "send: a server fault");
	value(db, "SELECT 41 + 1", v, sizeof(v), &err);
	is_str(v, "42", "send: the next statement runs");
	value(db, "SELECT pg_backend_pid()", pid, sizeof(pid), &err);
	is_int(db_send(db, "SELECT pg_sleep(5)", 0, NULL, &err), 0,
	    "send: a long statement sent");
	owner_value("SELECT pg_terminate_backend($1::int)", pid);
	err = (struct hb_error){ 0 };
	is_int(sent_wait(db, &err), -1, "send: the lost connection read");
	is_int(err.status, 503, "send: a lost connection is a 503");
	db_free(db);
}

/* How many statements db's own connection holds prepared. */
static int
prepared_count(struct hb_db *db)
{
	struct hb_error err = {0};
	char v[16];

	value(db, "SELECT count(*) FROM pg_prepared_statements", v, sizeof(v),
	    &err);
	hb_error_clear(&err);
	return v[0] != '\0' ? atoi(v) : -1;
}

/* The first row's column of sql on db through db_exec_named. */
static const char *
named_value(struct hb_db *db, const char *sql, const char *param,
    const char *column, struct hb_error *err)
{
	static char v[64];
	PGresult *res = db_exec_named(db, sql, param != NULL ? 1 : 0,
	    &param, err);
	const char *got = res != NULL ? db_value(res, 0, column) : NULL;

	snprintf(v, sizeof(v), "%s", got != NULL ? got : "(none)");
	PQclear(res);
	return v;
}

static const char SQL_TWICE[] = "SELECT $1::int * 2 AS twice";
static const char SQL_SHAPE[] = "SELECT * FROM unit_named_shape()";
static const char SQL_BAD[] = "SELEC 1";
static const char SQL_RAISE[] = "SELECT unit_named_raise()";
/* Each ends the server connection that runs it (the second when told). */
static const char SQL_SUICIDE[] =
    "SELECT pg_terminate_backend(pg_backend_pid()) AS alive";
static const char SQL_MAYBE[] = "SELECT CASE WHEN die THEN "
    "pg_terminate_backend(pg_backend_pid()) ELSE true END AS alive "
    "FROM unit_named_lost";

/*
 * Recreates unit_named_shape() with a result type that differs from the
 * one before, as a migration would: (a int, b int) when n is even, else
 * (a text, b int); b answers n.
 */
static void
shape_change(int n)
{
	char sql[256];

	owner_value("DROP FUNCTION unit_named_shape()", NULL);
	snprintf(sql, sizeof(sql), "CREATE FUNCTION unit_named_shape() "
	    "RETURNS TABLE (a %s, b int) LANGUAGE sql AS 'SELECT %s, %d'",
	    n % 2 == 0 ? "int" : "text", n % 2 == 0 ? "2" : "''2''", n);
	owner_value(sql, NULL);
}

/* The name SQL_SHAPE is prepared under. */
static const char *
shape_name(void)
{
	static char name[20];
	unsigned char digest[HB_SHA256_LEN];

	if (crypto_sha256(SQL_SHAPE, strlen(SQL_SHAPE), digest) == -1)
		abort();
	memcpy(name, "hb_", 3);
	crypto_hex(digest, 8, name + 3);
	return name;
}

/*
 * n calls of SQL_TWICE on db, the name dropped before call i (as a
 * pooler's other server connection would lack it) whenever lose(i);
 * how many of them answered right.
 */
static int
calls_losing_names(struct hb_db *db, int n, bool (*lose)(int))
{
	struct hb_error err = {0};
	char v[16], want[16];
	int right = 0;

	for (int i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "%d", i);
		snprintf(want, sizeof(want), "%d", 2 * i);
		if (lose(i))
			PQclear(db_exec(db, "DEALLOCATE ALL", 0, NULL, &err));
		right += strcmp(named_value(db, SQL_TWICE, v, "twice", &err),
		    want) == 0;
	}
	hb_error_clear(&err);
	return right;
}

static bool
lose_always(int i)
{
	(void)i;
	return true;
}

static bool
lose_in_bursts(int i)
{
	return i < 300 || (i >= 1024 && i < 1324);
}

static bool
lose_one_in_three(int i)
{
	return i % 3 == 2;
}

/* How many times one more call of SQL_TWICE ran under name (0 or 1). */
static int
runs_under_name(struct hb_db *db, const char *name)
{
	struct hb_error err = {0};
	char sql[128], before[32], after[32];

	snprintf(sql, sizeof(sql), "SELECT generic_plans + custom_plans FROM "
	    "pg_prepared_statements WHERE name = '%s'", name);
	value(db, sql, before, sizeof(before), &err);
	named_value(db, SQL_TWICE, "3", "twice", &err);
	value(db, sql, after, sizeof(after), &err);
	hb_error_clear(&err);
	return atoi(after) - atoi(before);
}

/* Prepared once, answered from then on; what a pooler does to it. */
static void
test_named(void)
{
	struct hb_db *db = db_new(url, "unit-test");
	struct hb_error err = {0};
	unsigned char digest[HB_SHA256_LEN];
	char name[20], sql[128], v[64];

	if (crypto_sha256(SQL_TWICE, strlen(SQL_TWICE), digest) == -1)
		abort();
	memcpy(name, "hb_", 3);
	crypto_hex(digest, 8, name + 3);
	is_str(named_value(db, SQL_TWICE, "21", "twice", &err), "42",
	    "named: the statement answers");
	snprintf(sql, sizeof(sql), "SELECT statement FROM "
	    "pg_prepared_statements WHERE name = '%s'", name);
	value(db, sql, v, sizeof(v), &err);
	is_str(v, SQL_TWICE, "named: prepared under hb_ and its text's hash");
	is_str(named_value(db, SQL_TWICE, "50", "twice", &err), "100",
	    "named: a second call answers from the same statement");
	snprintf(sql, sizeof(sql), "SELECT generic_plans + custom_plans FROM "
	    "pg_prepared_statements WHERE name = '%s'", name);
	value(db, sql, v, sizeof(v), &err);
	is_str(v, "2", "named: both calls ran the prepared statement");
	is_int(prepared_count(db), 1, "named: one statement is prepared");
	is_int(db_prepares(db), 1, "named: and it was prepared once");
	db_clear_error(db);
	ok(db_exec_named(db, SQL_TWICE, 1, (const char *[]){ "x" }, &err) ==
	    NULL && err.status == 400, "named: a bad value is still a 400 "
	    "(got %d)", err.status);
	is_str(db_sqlstate(db), "22P02", "named: and its SQLSTATE is kept");
	hb_error_clear(&err);
	db_clear_error(db);
	ok(db_exec_named(db, SQL_BAD, 0, NULL, &err) == NULL &&
	    err.status == 500, "named, cannot be prepared: a 500 (got %d)",
	    err.status);
	is_str(db_sqlstate(db), "42601",
	    "named, cannot be prepared: the server's SQLSTATE is kept");
	is_int(db_prepares(db), 1,
	    "named, cannot be prepared: nothing counts as prepared");
	hb_error_clear(&err);

	/* What a transaction pooler does: the server connection changes. */
	PQclear(db_exec(db, "DEALLOCATE ALL", 0, NULL, &err));
	db_clear_error(db);
	is_str(named_value(db, SQL_TWICE, "4", "twice", &err), "8",
	    "named, name gone: the statement still answers");
	is_str(db_last_error(db), "", "named, name gone: no error is noted");
	is_int(prepared_count(db), 1,
	    "named, name gone: it is prepared again");
	is_int(db_prepares(db), 2, "named, name gone: a second time");
	is_str(named_value(db, SQL_TWICE, "5", "twice", &err), "10",
	    "named, name gone: the next call answers");
	snprintf(sql, sizeof(sql), "SELECT generic_plans + custom_plans FROM "
	    "pg_prepared_statements WHERE name = '%s'", name);
	value(db, sql, v, sizeof(v), &err);
	is_str(v, "2", "named, name gone: both calls ran it prepared");
	is_int(db_prepares(db), 2,
	    "named, name gone: and it was not prepared a third time");
	db_free(db);

	/*
	 * A pooler that discards statements after every transaction: each
	 * call misses its name. Two windows of 512 runs with a miss in each
	 * make the process stop naming statements.
	 */
	db = db_new(url, "unit-test");
	is_int(calls_losing_names(db, 1030, lose_always), 1030,
	    "named, always missing: every call answers");
	is_int(db_prepares(db), 1024,
	    "named, always missing: prepared 1,024 times, then no more");
	is_int(prepared_count(db), 0,
	    "named, always missing: the last calls ran unnamed");
	db_free(db);

	/*
	 * Bursts of misses that end, as a large pool's new server
	 * connections make: 299 in the first 300 calls, then none, then 300
	 * more from the 1,025th call. Windows of too many that are not in a
	 * row: it keeps its name.
	 */
	db = db_new(url, "unit-test");
	is_int(calls_losing_names(db, 1600, lose_in_bursts), 1600,
	    "named, bursts of misses: every call answers");
	is_int(db_prepares(db), 600,
	    "named, bursts of misses: prepared again after each of 599");
	is_int(runs_under_name(db, name), 1,
	    "named, bursts of misses: the next call still runs under its name");
	db_free(db);

	/* One call in three missing, for good: it keeps its name. */
	db = db_new(url, "unit-test");
	is_int(calls_losing_names(db, 1100, lose_one_in_three), 1100,
	    "named, one in three missing: every call "
	    "answers");
	is_int(db_prepares(db), 367,
	    "named, one in three missing: prepared again after each of 366");
	is_int(runs_under_name(db, name), 1,
	    "named, one in three missing: the next call still runs under its "
	    "name");
	db_free(db);

	/* A server connection that holds the name already (a pooler's). */
	db = db_new(url, "unit-test");
	snprintf(sql, sizeof(sql), "PREPARE %s(int) AS %s", name, SQL_TWICE);
	PQclear(db_exec(db, sql, 0, NULL, &err));
	is_str(named_value(db, SQL_TWICE, "6", "twice", &err), "12",
	    "named, name there already: the statement answers");
	is_int(prepared_count(db), 1,
	    "named, name there already: that one is used");
	is_str(named_value(db, SQL_TWICE, "7", "twice", &err), "14",
	    "named, name there already: the next call answers");
	is_int(db_prepares(db), 1,
	    "named, name there already: counted as prepared once");
	db_free(db);

	/* A migration changes what the prepared statement returns. */
	db = db_new(url, "unit-test");
	owner_value("CREATE FUNCTION unit_named_shape() RETURNS TABLE (a int)"
	    " LANGUAGE sql AS 'SELECT 1'", NULL);
	is_str(named_value(db, SQL_SHAPE, NULL, "a", &err), "1",
	    "named, result type: the first shape answers");
	shape_change(2);
	db_clear_error(db);
	is_str(named_value(db, SQL_SHAPE, NULL, "b", &err), "2",
	    "named, result type changed: the new shape answers");
	is_str(db_last_error(db), "",
	    "named, result type changed: no error is noted");
	is_int(prepared_count(db), 1,
	    "named, result type changed: the statement is prepared again");
	is_int(db_prepares(db), 2, "named, result type changed: a second "
	    "time");
	snprintf(sql, sizeof(sql), "SELECT generic_plans + custom_plans FROM "
	    "pg_prepared_statements WHERE name = '%s'", shape_name());
	value(db, sql, v, sizeof(v), &err);
	is_str(v, "1", "named, result type changed: and ran from there");
	is_str(named_value(db, SQL_SHAPE, NULL, "a", &err), "2",
	    "named, result type changed: the next call answers");
	is_int(db_prepares(db), 2,
	    "named, result type changed: from the same statement");

	/* Each stale name met is prepared again, 7 times in all. */
	for (int i = 3, right = 0; i <= 9; i++) {
		char want[16];

		shape_change(i);
		snprintf(want, sizeof(want), "%d", i);
		right += strcmp(named_value(db, SQL_SHAPE, NULL, "b", &err),
		    want) == 0;
		if (i == 9)
			is_int(right, 7, "named, changed 8 times: each new "
			    "shape answers");
	}
	is_int(db_prepares(db), 8,
	    "named, changed 8 times: prepared again 7 times, not the 8th");
	is_str(named_value(db, SQL_SHAPE, NULL, "b", &err), "9",
	    "named, changed 8 times: the next call answers");
	is_int(db_prepares(db), 8,
	    "named, changed 8 times: and runs unnamed");

	/*
	 * A statement whose own failure looks like a name's (42P05, raised
	 * by what it calls) is reported as it is, not tried again.
	 */
	owner_value("CREATE FUNCTION unit_named_raise() RETURNS int"
	    " LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION ''no'' USING"
	    " ERRCODE = ''42P05''; END'", NULL);
	db_clear_error(db);
	ok(db_exec_named(db, SQL_RAISE, 0, NULL, &err) == NULL &&
	    err.status == 500, "named, fails like a name: a 500 (got %d)",
	    err.status);
	is_str(db_sqlstate(db), "42P05", "named, fails like a name: its "
	    "SQLSTATE is kept");
	is_int(db_prepares(db), 9, "named, fails like a name: prepared once,"
	    " not again");
	owner_value("DROP FUNCTION unit_named_raise()", NULL);
	hb_error_clear(&err);

	/* A new connection holds no statement: it prepares again. */
	value(db, "SELECT pg_backend_pid()", v, sizeof(v), &err);
	terminate(v);
	is_str(named_value(db, SQL_SHAPE, NULL, "b", &err), "9",
	    "named, new connection: the statement answers");
	is_int(prepared_count(db), 1,
	    "named, new connection: it is prepared there");

	/* Inside a transaction: unnamed, nothing prepared. */
	is_int(db_tx_begin(db, &(struct hb_db_ctx){ .org_id = ORG }, &err), 0,
	    "named, in a transaction: it begins");
	is_str(named_value(db, SQL_TWICE, "7", "twice", &err), "14",
	    "named, in a transaction: the statement answers");
	is_int(db_prepares(db), 10,
	    "named, in a transaction: and nothing was prepared");
	db_tx_rollback(db);
	owner_value("DROP FUNCTION unit_named_shape()", NULL);
	hb_error_clear(&err);
	db_free(db);
}

/*
 * The server connection ends under a named statement: while the
 * pipeline that prepares and runs it is read, then while it runs
 * prepared. Either is a 503, the connection is dropped, and the next
 * call prepares the statement on a new one.
 */
static void
test_named_lost(void)
{
	struct hb_db *db = db_new(url, "unit-test");
	struct hb_error err = {0};
	char v[64];
	PGresult *res;

	res = db_exec_named(db, SQL_SUICIDE, 0, NULL, &err);
	ok(res == NULL && err.status == 503, "named, lost while prepared and "
	    "run: a 503 (got %d)", err.status);
	PQclear(res);
	ok(db_socket(db) == -1, "named, lost while prepared and run: the "
	    "connection is dropped");
	hb_error_clear(&err);
	is_str(named_value(db, SQL_TWICE, "8", "twice", &err), "16",
	    "named, lost while prepared and run: the next call answers");

	/* Prepared on this connection first, then lost when it runs. */
	owner_value("CREATE TABLE unit_named_lost (die boolean)", NULL);
	owner_value("GRANT SELECT ON unit_named_lost TO PUBLIC", NULL);
	owner_value("INSERT INTO unit_named_lost VALUES (false)", NULL);
	is_str(named_value(db, SQL_MAYBE, NULL, "alive", &err), "t",
	    "named, lost when run prepared: it runs first");
	is_int(prepared_count(db), 2,
	    "named, lost when run prepared: both statements are prepared");
	owner_value("UPDATE unit_named_lost SET die = true", NULL);
	res = db_exec_named(db, SQL_MAYBE, 0, NULL, &err);
	ok(res == NULL && err.status == 503, "named, lost when run prepared: "
	    "a 503 (got %d)", err.status);
	PQclear(res);
	ok(db_socket(db) == -1, "named, lost when run prepared: the connection "
	    "is dropped");
	hb_error_clear(&err);
	owner_value("UPDATE unit_named_lost SET die = false", NULL);
	is_str(named_value(db, SQL_MAYBE, NULL, "alive", &err), "t",
	    "named, lost when run prepared: the next call answers");
	value(db, "SELECT count(*) FROM pg_prepared_statements", v, sizeof(v),
	    &err);
	is_str(v, "1", "named, lost when run prepared: it is prepared on the "
	    "new connection");
	owner_value("DROP TABLE unit_named_lost", NULL);
	hb_error_clear(&err);
	db_free(db);
}

int
main(void)
{
	struct hb_db *db;

	plan(158);
	url = getenv("HOMEBOT_TEST_DATABASE_URL");
	test_unreachable_server();
	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url == NULL || url[0] == '\0')
		return done_testing();
	owner = PQconnectdb(url);
	ok(PQstatus(owner) == CONNECTION_OK, "the owner connects: %s",
	    PQerrorMessage(owner));
	if (PQstatus(owner) != CONNECTION_OK) {
		PQfinish(owner);
		return done_testing();
	}
	db = db_new(url, "unit-test");
	test_errors(db);
	test_pipeline(db);
	test_ready(db);
	test_pipeline_stopped_server();
	test_tenant_context(db);
	test_reconnect_between_requests(db);
	test_drop_inside_transaction(db);
	test_notifications();
	test_send();
	test_named();
	test_named_lost();
	db_free(db);
	PQfinish(owner);
	return done_testing();
}
