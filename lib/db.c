#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <poll.h>

#include "crypto.h"
#include "db.h"
#include "metrics.h"

/* Statements db_exec_named() may keep prepared on one connection. */
#define NAMED_MAX	8
#define NAME_LEN	20	/* "hb_" and 16 hex digits of the text's hash */
/*
 * Stale names a statement may meet on one connection, each prepared
 * again, before it runs unnamed there: behind a pooler, every server
 * connection may hold one after a migration.
 */
#define NAMED_DROPS_MAX	8
/* Tries of a call to run under its name, behind a pooler (db_exec_named). */
#define NAMED_TRIES	4
/*
 * Names found missing are judged once per NAMED_WINDOW runs under a name
 * (named_ran): more than one miss for every NAMED_MISSES_RATIO runs, in
 * NAMED_BAD_WINDOWS windows in a row, makes a process stop naming.
 */
#define NAMED_WINDOW		512
#define NAMED_MISSES_RATIO	2
#define NAMED_BAD_WINDOWS	2

struct named_stmt {
	const char	*sql;		/* the caller's constant */
	char		 name[NAME_LEN];
	bool		 prepared;	/* on this connection */
	bool		 stale;		/* to DEALLOCATE, then prepare again */
	int		 drops;		/* times its name went stale */
};

struct hb_db {
	PGconn	*conn;
	char	*conninfo;
	char	*appname;
	char	 listen[64];	/* a channel LISTENed on every connection */
	char	 last_error[512];
	char	 sqlstate[6];
	bool	 counted;	/* conn is in the metrics' open connections */
	bool	 ever;		/* a connection was opened before */
	bool	 tx_lost;	/* dropped inside a transaction, not yet ended */
	unsigned opened;	/* connections opened so far */
	/* Statements prepared on conn, forgotten with it. */
	struct named_stmt named[NAMED_MAX];
	int	 nnamed;
	bool	 unnamed_only;	/* names kept going missing: none are used */
	unsigned prepares;	/* statements prepared so far */
	unsigned window_runs;	/* runs under a name in this window */
	unsigned window_misses;	/* names found missing in it */
	int	 bad_windows;	/* windows in a row with too many misses */
};

/*
 * The context, through homebot.request_context() (R__audit.sql): ten
 * set_config(..., true), transaction-local, so the context ends with the
 * request's transaction and can never leak into the next request on this
 * connection (or through a transaction-mode PgBouncer). A function keeps
 * its plan per server connection; the ten calls as one statement were
 * planned again on every request.
 */
static const char SQL_CONTEXT[] =
    "SELECT homebot.request_context($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

struct hb_db *
db_new(const char *conninfo, const char *application_name)
{
	struct hb_db *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->conninfo = strdup(conninfo);
	db->appname = strdup(application_name);
	if (db->conninfo == NULL || db->appname == NULL) {
		db_free(db);
		return NULL;
	}
	return db;
}

void
db_free(struct hb_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	if (db->counted)
		metrics_db_connection(-1, false);
	free(db->conninfo);
	free(db->appname);
	free(db);
}

const char *
db_last_error(const struct hb_db *db)
{
	return db->last_error;
}

const char *
db_sqlstate(const struct hb_db *db)
{
	return db->sqlstate;
}

void
db_clear_error(struct hb_db *db)
{
	db->last_error[0] = '\0';
	db->sqlstate[0] = '\0';
}

/*
 * Keeps the cause of a failure for the request's log line: the SQLSTATE
 * and the server's primary message only. DETAIL and CONTEXT are left
 * out, since they may quote the statement's parameter values.
 */
static void
note_error(struct hb_db *db, const char *msg, const PGresult *res)
{
	const char *state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (primary != NULL)
		msg = primary;

	snprintf(db->last_error, sizeof(db->last_error), "%s",
	    msg != NULL ? msg : "");
	n = strlen(db->last_error);
	while (n > 0 && db->last_error[n - 1] == '\n')
		db->last_error[--n] = '\0';
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
	    state != NULL ? state : "");
}

static void
drop_connection(struct hb_db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	if (db->counted)
		metrics_db_connection(-1, false);
	db->counted = false;
}

/*
 * Queues sql in the pipeline as an unnamed statement: nothing of it
 * outlives the request on the server, so a transaction-mode pooler
 * (PgBouncer) may hand the next transaction to any server connection.
 * The statements that must be cheap call plpgsql functions, whose plans
 * each server connection caches. Returns 0, or -1.
 */
static int
send_stmt(struct hb_db *db, const char *sql, int nparams,
    const char *const *params)
{
	return PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL,
	    NULL, 0) == 1 ? 0 : -1;
}

static int
unavailable(struct hb_db *db, struct hb_error *err)
{
	return hb_fail(err, 503, "service_unavailable",
	    "The database is unavailable; try again shortly.");
	(void)db;
}

/* Maps a failure: a lost connection is 503, anything else a server fault. */
static int
fail(struct hb_db *db, const PGresult *res, struct hb_error *err)
{
	note_error(db, res != NULL ? PQresultErrorMessage(res) :
	    PQerrorMessage(db->conn), res);
	if (db->sqlstate[0] != '\0')
		metrics_db_error(db->sqlstate);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		drop_connection(db);
		return unavailable(db, err);
	}
	/*
	 * SQLSTATE class 22 (data exception) means a value the client sent
	 * could not be stored or compared: its fault, never a 500.
	 */
	if (strncmp(db->sqlstate, "22", 2) == 0)
		return hb_fail(err, 400, "malformed_request",
		    "A value in the request is not valid.");
	/*
	 * A deadlock or a serialization failure (class 40) rolled the
	 * transaction back whole: nothing was written, and the same request
	 * a moment later can succeed.
	 */
	if (strncmp(db->sqlstate, "40", 2) == 0) {
		hb_fail(err, 503, "service_unavailable",
		    "The request collided with another; try again.");
		err->retry_after = 1;
		return -1;
	}
	return hb_fail_internal(err);
}

/*
 * Reports a failure after which the connection can carry nothing more
 * (lost, or left in the middle of a pipeline), and drops it if fail()
 * has not already. Returns -1.
 */
static int
fail_unusable(struct hb_db *db, struct hb_error *err)
{
	int rc = fail(db, NULL, err);

	if (db->conn != NULL)
		drop_connection(db);
	return rc;
}

/*
 * Reads whatever an idle connection has received. A shut-down server
 * first sends its FATAL message, then closes: one PQconsumeInput() reads
 * the message and reports success, so read on while the socket stays
 * readable, until libpq sees the end of the stream.
 */
static bool
idle_connection_alive(PGconn *conn)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };

	for (int i = 0; i < 8 && PQstatus(conn) == CONNECTION_OK; i++) {
		if (poll(&pfd, 1, 0) != 1)
			return true;
		if (PQconsumeInput(conn) == 0)
			return false;
	}
	return PQstatus(conn) == CONNECTION_OK && poll(&pfd, 1, 0) == 0;
}

/* LISTEN on db->listen, a new connection's first statement. */
static int
send_listen(struct hb_db *db, struct hb_error *err)
{
	char sql[128], *ident = PQescapeIdentifier(db->conn, db->listen,
	    strlen(db->listen));
	PGresult *res;
	int rc = 0;

	if (ident == NULL)
		return fail(db, NULL, err);
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = fail(db, res, err);
	PQclear(res);
	return rc;
}

int
db_connect(struct hb_db *db, struct hb_error *err)
{
	static const char *const keys[] = { "dbname", "connect_timeout",
	    "application_name", NULL };
	const char *vals[] = { db->conninfo, "3", db->appname, NULL };

	/*
	 * A server restart closes idle connections; reading the socket
	 * notices that before the request's statement is sent, so the
	 * first request after a restart is served, not failed.
	 */
	if (db->conn != NULL) {
		bool in_tx = PQtransactionStatus(db->conn) != PQTRANS_IDLE;

		if (!idle_connection_alive(db->conn)) {
			drop_connection(db);
			db->tx_lost = in_tx;
		}
	}
	/*
	 * Not so inside a transaction: the statements it ran went with the
	 * connection, and running the rest on a new one (a COMMIT there
	 * included) would report a change as made that was made only in
	 * part. Every statement fails until db_tx_rollback() ends it.
	 */
	if (db->tx_lost) {
		note_error(db, "the connection was lost inside a transaction",
		    NULL);
		return unavailable(db, err);
	}
	if (db->conn != NULL)
		return 0;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		note_error(db, db->conn != NULL ?
		    PQerrorMessage(db->conn) : "out of memory", NULL);
		if (db->conn != NULL)
			drop_connection(db);
		metrics_db_connect_failure();
		return unavailable(db, err);
	}
	metrics_db_connection(1, db->ever);
	db->counted = db->ever = true;
	db->nnamed = 0;
	db->opened++;
	return db->listen[0] != '\0' ? send_listen(db, err) : 0;
}

static bool
exec_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Reports a statement's failure, releases res and returns NULL. */
static PGresult *
exec_failed(struct hb_db *db, PGresult *res, struct hb_error *err)
{
	fail(db, res, err);
	PQclear(res);
	/* A failed statement ends the request's transaction too. */
	db_tx_rollback(db);
	return NULL;
}

PGresult *
db_exec(struct hb_db *db, const char *sql, int nparams,
    const char *const *params, struct hb_error *err)
{
	PGresult *res;

	if (db_connect(db, err) == -1)
		return NULL;
	res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL,
	    0);
	return exec_ok(res) ? res : exec_failed(db, res, err);
}

/*
 * The name sql is prepared under on every connection of every process:
 * "hb_" and the first 8 bytes of its SHA-256 in hex. A name therefore
 * stands for one text wherever it is found, even on a server connection
 * that a pooler hands over from another process.
 */
static int
stmt_name(const char *sql, char name[NAME_LEN])
{
	unsigned char digest[HB_SHA256_LEN];

	if (crypto_sha256_join(&sql, 1, digest) == -1)
		return -1;
	memcpy(name, "hb_", 3);
	crypto_hex(digest, 8, name + 3);
	return 0;
}

/*
 * The entry of sql on this connection, made if need be; NULL when the
 * table is full or no name could be made (the statement runs unnamed).
 */
static struct named_stmt *
named_entry(struct hb_db *db, const char *sql)
{
	struct named_stmt *st;

	for (int i = 0; i < db->nnamed; i++)
		if (db->named[i].sql == sql)
			return &db->named[i];
	if (db->nnamed == NAMED_MAX)
		return NULL;
	st = &db->named[db->nnamed];
	memset(st, 0, sizeof(*st));
	if (stmt_name(sql, st->name) == -1)
		return NULL;
	st->sql = sql;
	db->nnamed++;
	return st;
}

static bool
has_state(const PGresult *res, const char *state, size_t n)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strncmp(s, state, n) == 0;
}

/*
 * Whether a failed Parse means the name is there already (42P05). That
 * can only come through a pooler, from a server connection on which
 * another process prepared the same text: the name is as good as ours.
 */
static bool
name_exists(const PGresult *res)
{
	return has_state(res, "42P05", 5);
}

/*
 * The pipeline's next result, the caller's to release; *idx counts the
 * statements whose results have ended. NULL when the connection failed.
 */
static PGresult *
pipeline_next(struct hb_db *db, int *idx)
{
	PGresult *res;

	while ((res = PQgetResult(db->conn)) == NULL) {
		if (PQstatus(db->conn) != CONNECTION_OK)
			return NULL;
		(*idx)++;
	}
	return res;
}

/*
 * Queues what prepares st and runs it: Parse, Bind, Execute, after a
 * DEALLOCATE of its stale name when st->stale. Returns 0, or -1.
 */
static int
send_prepare_exec(struct hb_db *db, const struct named_stmt *st,
    int nparams, const char *const *params)
{
	char drop[NAME_LEN + 16];

	snprintf(drop, sizeof(drop), "DEALLOCATE %s", st->name);
	if (st->stale && send_stmt(db, drop, 0, NULL) == -1)
		return -1;
	if (PQsendPrepare(db->conn, st->name, st->sql, nparams, NULL) != 1 ||
	    PQsendQueryPrepared(db->conn, st->name, nparams, params, NULL,
	    NULL, 0) != 1)
		return -1;
	return 0;
}

/*
 * Prepares st and runs it in one round trip: one pipeline with a single
 * Sync, which a transaction-mode pooler hands to one server connection
 * whole, so the statement runs where it was just prepared. Returns the
 * first failure's result (the DEALLOCATE's or the Parse's, when one
 * failed: what follows was then skipped) or else the execution's, for
 * the caller to release; NULL when the pipeline did not reach its Sync
 * (the connection failed: what ran is unknown). *parsed tells whether
 * the Parse succeeded.
 */
static PGresult *
named_prepare_exec(struct hb_db *db, const struct named_stmt *st,
    int nparams, const char *const *params, bool *parsed)
{
	PGresult *res, *out = NULL;
	/* Which statement's results come: the Parse's is parse_idx. */
	int idx = 0, parse_idx = st->stale ? 1 : 0;
	bool done = false;

	*parsed = false;
	if (PQenterPipelineMode(db->conn) != 1)
		return NULL;
	if (send_prepare_exec(db, st, nparams, params) == -1 ||
	    PQpipelineSync(db->conn) != 1)
		return NULL;	/* the caller drops the connection */
	while (!done && (res = pipeline_next(db, &idx)) != NULL) {
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			done = true;
		else if (idx == parse_idx &&
		    PQresultStatus(res) == PGRES_COMMAND_OK)
			*parsed = true;
		else if (out == NULL && !exec_ok(res) &&
		    PQresultStatus(res) != PGRES_PIPELINE_ABORTED) {
			out = res;	/* the first failure */
			continue;
		} else if (out == NULL && idx == parse_idx + 1) {
			out = res;	/* the execution's */
			continue;
		}
		PQclear(res);
	}
	if (!done || PQexitPipelineMode(db->conn) != 1) {
		PQclear(out);
		return NULL;
	}
	return out;
}

/* What a failed execution of a named statement says of its name. */
enum named_verdict {
	NAMED_FAILED,	/* the statement's own failure: report it */
	NAMED_MISSING,	/* 26000: a pooler changed server connections */
	NAMED_STALE,	/* 0A000, class 42: what it reads has changed */
};

static enum named_verdict
named_verdict(const struct hb_db *db, const PGresult *res)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		return NAMED_FAILED;
	if (has_state(res, "26000", 5))
		return NAMED_MISSING;
	/*
	 * A migration replaced what the statement reads: a changed result
	 * type (0A000), a function or column of another type (class 42).
	 * The same text planned again reads the new one.
	 */
	if (has_state(res, "0A000", 5) || has_state(res, "42", 2))
		return NAMED_STALE;
	return NAMED_FAILED;
}

/* A name found missing on the server connection: judged by named_ran. */
static void
named_missed(struct hb_db *db, struct named_stmt *st)
{
	st->prepared = false;
	db->window_misses++;
	metrics_db_name_missing();
}

/*
 * A statement ran under its name. Behind a transaction pooler each server
 * connection needs the statement once, after which none misses it: new
 * server connections (a large pool starting, or connections replaced)
 * make misses come in bursts that end. A pooler that discards its
 * statements after every transaction makes every call miss, each miss a
 * round trip more, for good. So the misses are judged per window of
 * runs, and only windows of too many in a row make the process stop
 * naming statements.
 */
static void
named_ran(struct hb_db *db)
{
	if (++db->window_runs < NAMED_WINDOW)
		return;
	if (db->window_misses * NAMED_MISSES_RATIO <= db->window_runs)
		db->bad_windows = 0;
	else if (++db->bad_windows >= NAMED_BAD_WINDOWS)
		db->unnamed_only = true;
	db->window_runs = 0;
	db->window_misses = 0;
}

/*
 * One try at running st under its name: prepared already, or prepared in
 * the same round trip. Returns the result, the caller's to release, when
 * the statement ran or failed of itself. NULL otherwise, the statement
 * not having run: with *retry set when its name was missing, stale or
 * there already, so that another try may find it right; else it is to run
 * unnamed, or the connection failed.
 */
static PGresult *
named_try(struct hb_db *db, struct named_stmt *st, int nparams,
    const char *const *params, bool *retry)
{
	bool ran_prepared = st->prepared && !st->stale, parsed = false;
	PGresult *res;

	*retry = false;
	if (ran_prepared)
		res = PQexecPrepared(db->conn, st->name, nparams, params, NULL,
		    NULL, 0);
	else {
		res = named_prepare_exec(db, st, nparams, params, &parsed);
		if (parsed || name_exists(res)) {
			st->prepared = true;
			st->stale = false;
			db->prepares++;
		}
		if (parsed)
			metrics_db_prepared();
	}
	if (res == NULL || exec_ok(res)) {
		if (res != NULL)
			named_ran(db);
		return res;
	}
	if (ran_prepared) {
		switch (named_verdict(db, res)) {
		case NAMED_MISSING:
			PQclear(res);
			named_missed(db, st);
			*retry = !db->unnamed_only;
			return NULL;
		case NAMED_STALE:
			/*
			 * Prepared again after a DEALLOCATE in the same round
			 * trip: behind a pooler, the stale name may be on the
			 * server connection the next try meets, or not.
			 */
			PQclear(res);
			st->stale = ++st->drops < NAMED_DROPS_MAX;
			*retry = st->stale;
			return NULL;
		case NAMED_FAILED:
			break;
		}
		return res;
	}
	/* Just prepared, it failed of itself: it cannot be stale. */
	if (parsed)
		return res;
	/* The Parse found the name there already: run it. */
	if (name_exists(res)) {
		PQclear(res);
		*retry = true;
		return NULL;
	}
	/* The DEALLOCATE found no name: this server connection lacks it. */
	if (st->stale && has_state(res, "26000", 5)) {
		PQclear(res);
		st->stale = false;
		named_missed(db, st);
		*retry = !db->unnamed_only;
		return NULL;
	}
	return res;	/* the text itself failed */
}

PGresult *
db_exec_named(struct hb_db *db, const char *sql, int nparams,
    const char *const *params, struct hb_error *err)
{
	struct named_stmt *st;
	PGresult *res;
	bool retry = true;

	if (db->unnamed_only)
		return db_exec(db, sql, nparams, params, err);
	if (db_connect(db, err) == -1)
		return NULL;
	st = PQtransactionStatus(db->conn) == PQTRANS_IDLE ?
	    named_entry(db, sql) : NULL;
	if (st == NULL || st->drops >= NAMED_DROPS_MAX)
		return db_exec(db, sql, nparams, params, err);
	/*
	 * Behind a pooler each try may meet another server connection, so
	 * a name missing, then there already, can take a try each.
	 */
	for (int i = 0; i < NAMED_TRIES && retry; i++) {
		res = named_try(db, st, nparams, params, &retry);
		if (res != NULL)
			return exec_ok(res) ? res : exec_failed(db, res, err);
		if (PQstatus(db->conn) != CONNECTION_OK ||
		    PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF) {
			/* Lost, or left mid-pipeline: nothing can follow. */
			fail_unusable(db, err);
			return NULL;
		}
	}
	/* The statement did not run: run it unnamed. */
	return db_exec(db, sql, nparams, params, err);
}

unsigned
db_prepares(const struct hb_db *db)
{
	return db->prepares;
}

/*
 * Reads the results of a pipeline up to its Sync and keeps the result of
 * statement number want in *out (want < 0: none). Returns 0, or -1 with
 * err set when the connection or any statement failed.
 */
static int
pipeline_collect(struct hb_db *db, int want, PGresult **out,
    struct hb_error *err)
{
	PGresult *res, *failed = NULL;
	int idx = 0;
	bool done = false;

	*out = NULL;
	while (!done && (res = pipeline_next(db, &idx)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			done = true;
			PQclear(res);
			break;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			if (idx == want && *out == NULL)
				*out = res;
			else
				PQclear(res);
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(res);
			break;
		default:
			if (failed == NULL)
				failed = res;
			else
				PQclear(res);
			break;
		}
	}
	if (done && failed == NULL && PQexitPipelineMode(db->conn) == 1)
		return 0;
	PQclear(*out);
	*out = NULL;
	fail(db, failed, err);
	PQclear(failed);
	if (db->conn != NULL && PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF &&
	    PQexitPipelineMode(db->conn) != 1)
		drop_connection(db);
	return -1;
}

/* Queues the context statement: 0, or -1. */
static int
send_context(struct hb_db *db, const struct hb_db_ctx *ctx)
{
	const char *params[10] = { ctx->org_id, ctx->user_id, ctx->request_id,
	    ctx->api_key_id, ctx->ip, ctx->user_agent, ctx->trace_id,
	    ctx->team_ids, ctx->team_leads, ctx->teams_write };

	return send_stmt(db, SQL_CONTEXT, 10, params);
}

PGresult *
db_tenant_query(struct hb_db *db, const struct hb_db_ctx *ctx,
    bool keep_open, const char *sql, int nparams, const char *const *params,
    struct hb_error *err)
{
	PGresult *res;
	/* BEGIN when kept open, the context, then the statement. */
	int want = keep_open ? 2 : 1;

	if (db_connect(db, err) == -1)
		return NULL;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    (keep_open && send_stmt(db, "BEGIN", 0, NULL) == -1) ||
	    send_context(db, ctx) == -1 ||
	    send_stmt(db, sql, nparams, params) == -1 ||
	    PQpipelineSync(db->conn) != 1) {
		fail_unusable(db, err);
		return NULL;
	}
	if (pipeline_collect(db, want, &res, err) == -1) {
		if (keep_open)
			db_tx_rollback(db);
		return NULL;
	}
	return res;
}

int
db_tx_begin(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_error *err)
{
	PGresult *res = NULL;

	if (db_connect(db, err) == -1)
		return -1;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    send_stmt(db, "BEGIN", 0, NULL) == -1 ||
	    send_context(db, ctx) == -1 ||
	    PQpipelineSync(db->conn) != 1) {
		return fail_unusable(db, err);
	}
	if (pipeline_collect(db, -1, &res, err) == -1) {
		db_tx_rollback(db);
		return -1;
	}
	return 0;
}

int
db_tx_commit(struct hb_db *db, struct hb_error *err)
{
	PGresult *res = db_exec(db, "COMMIT", 0, NULL, err);

	if (res == NULL) {
		db_tx_rollback(db);
		return -1;
	}
	PQclear(res);
	return 0;
}

PGresult *
db_tx_finish(struct hb_db *db, int n, const struct hb_db_stmt *stmts,
    struct hb_error *err)
{
	PGresult *res;
	int sent = 0;

	if (db_connect(db, err) == -1) {
		db_tx_rollback(db);
		return NULL;
	}
	if (PQenterPipelineMode(db->conn) == 1)
		while (sent < n && send_stmt(db, stmts[sent].sql,
		    stmts[sent].nparams, stmts[sent].params) == 0)
			sent++;
	if (n < 1 || sent < n ||
	    send_stmt(db, "COMMIT", 0, NULL) == -1 ||
	    PQpipelineSync(db->conn) != 1) {
		fail_unusable(db, err);
		db_tx_rollback(db);
		return NULL;
	}
	/* A failed statement skips the rest: the transaction is undone. */
	if (pipeline_collect(db, 0, &res, err) == -1) {
		db_tx_rollback(db);
		return NULL;
	}
	return res;
}

void
db_tx_rollback(struct hb_db *db)
{
	db->tx_lost = false;
	if (db->conn == NULL ||
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(db->conn, "ROLLBACK"));
	if (PQstatus(db->conn) != CONNECTION_OK)
		drop_connection(db);
}

const char *
db_value(const PGresult *res, int i, const char *column)
{
	int c = PQfnumber(res, column);

	if (c < 0 || i >= PQntuples(res) || PQgetisnull(res, i, c))
		return NULL;
	return PQgetvalue(res, i, c);
}

bool
db_bool(const PGresult *res, int i, const char *column)
{
	const char *v = db_value(res, i, column);

	return v != NULL && v[0] == 't';
}

/* PostgreSQL's type OIDs (pg_type.dat) of the columns decoded by type. */
enum {
	OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
	OID_JSON = 114, OID_JSONB = 3802,
};

static struct json_object *
value_json(const PGresult *res, int i, int c)
{
	const char *v = PQgetvalue(res, i, c);

	if (PQgetisnull(res, i, c))
		return NULL;
	switch (PQftype(res, c)) {
	case OID_BOOL:
		return json_object_new_boolean(v[0] == 't');
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return json_object_new_int64(strtoll(v, NULL, 10));
	case OID_JSON:
	case OID_JSONB:
		return json_tokener_parse(v);
	default:
		return json_object_new_string(v);
	}
}

struct json_object *
db_row_json(const PGresult *res, int i)
{
	struct json_object *o = json_object_new_object();
	int n = PQnfields(res);

	for (int c = 0; o != NULL && c < n; c++) {
		const char *name = PQfname(res, c);

		if (name[0] != '_')
			json_object_object_add(o, name, value_json(res, i, c));
	}
	return o;
}

struct json_object *
db_rows_json(const PGresult *res, int max)
{
	struct json_object *a = json_object_new_array();
	int n = PQntuples(res);

	for (int i = 0; a != NULL && i < n && i < max; i++)
		json_object_array_add(a, db_row_json(res, i));
	return a;
}

#define PIPELINE_MAX	8

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Waits until PQgetResult() can answer without blocking, or until the
 * monotonic clock reaches deadline: 0, or -1 (timed_out says which) when
 * the deadline passed or the connection failed.
 */
static int
await_result(PGconn *conn, long long deadline, bool *timed_out)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
	long long left;

	while (PQisBusy(conn)) {
		left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			*timed_out = true;
			return -1;
		}
		if (PQconsumeInput(conn) == 0)
			return -1;
	}
	return 0;
}

/*
 * Reads db_pipeline()'s results up to the Sync, each by deadline:
 * statement k's (k >= 1, after the timeout's) into res[k - 1]. Returns 0,
 * or -1 when the connection failed or the deadline passed on the way.
 */
static int
pipeline_results(struct hb_db *db, int n, PGresult **res, long long deadline,
    bool *timed_out)
{
	PGresult *r;
	int idx = 0;
	bool noted = false;

	for (;;) {
		if (await_result(db->conn, deadline, timed_out) == -1)
			return -1;
		r = PQgetResult(db->conn);
		if (r == NULL) {
			if (PQstatus(db->conn) != CONNECTION_OK)
				return -1;
			idx++;
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(r);
			return PQexitPipelineMode(db->conn) == 1 ? 0 : -1;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (idx >= 1 && idx <= n && res[idx - 1] == NULL)
				res[idx - 1] = r;
			else
				PQclear(r);
			break;
		case PGRES_PIPELINE_ABORTED:
			PQclear(r);
			break;
		default:
			/* The first failure is the cause; the rest were skipped. */
			if (!noted) {
				note_error(db, PQresultErrorMessage(r), r);
				if (db->sqlstate[0] != '\0')
					metrics_db_error(db->sqlstate);
				noted = true;
			}
			PQclear(r);
			break;
		}
	}
}

int
db_pipeline(struct hb_db *db, int timeout_ms, int n, const char *const *sql,
    PGresult **res, struct hb_error *err)
{
	char timeout[16];
	const char *params[1] = { timeout };
	/* The server's timeouts, one per statement, and a little to spare. */
	long long deadline = now_ms() + (long long)timeout_ms * n + 100;
	bool timed_out = false;

	for (int i = 0; i < n && i < PIPELINE_MAX; i++)
		res[i] = NULL;
	if (n < 1 || n > PIPELINE_MAX)
		return hb_fail_internal(err);
	if (db_connect(db, err) == -1)
		return -1;
	snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
	if (PQenterPipelineMode(db->conn) != 1 ||
	    send_stmt(db, "SELECT set_config('statement_timeout', $1, true)",
	    1, params) == -1)
		goto lost;
	for (int i = 0; i < n; i++)
		if (send_stmt(db, sql[i], 0, NULL) == -1)
			goto lost;
	if (PQpipelineSync(db->conn) != 1)
		goto lost;
	if (pipeline_results(db, n, res, deadline, &timed_out) == 0)
		return 0;
	for (int i = 0; i < n; i++) {
		PQclear(res[i]);
		res[i] = NULL;
	}
	/*
	 * A server that does not answer in time (one stopped, or a pooler
	 * waiting for one) may answer later: the connection is dropped, so
	 * that late answer can never be read as another statement's.
	 */
	if (timed_out) {
		note_error(db, "no answer in time", NULL);
		drop_connection(db);
		return unavailable(db, err);
	}
lost:
	return fail_unusable(db, err);
}

int
db_listen(struct hb_db *db, const char *channel, struct hb_error *err)
{
	if (strlen(channel) >= sizeof(db->listen))
		return hb_fail(err, 500, "internal_error", "channel too long");
	snprintf(db->listen, sizeof(db->listen), "%s", channel);
	/* A connection already open listens now; a new one on connecting. */
	if (db->conn != NULL)
		return send_listen(db, err);
	return db_connect(db, err);
}

/* Consumes every notification received: whether there was one. */
static bool
drain_notifications(PGconn *conn)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	return any;
}

int
db_wait_notify(struct hb_db *db, int timeout_ms, struct hb_error *err)
{
	struct pollfd pfd;

	if (db_connect(db, err) == -1)
		return -1;
	if (drain_notifications(db->conn))
		return 1;
	pfd = (struct pollfd){ .fd = PQsocket(db->conn), .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (PQconsumeInput(db->conn) == 0) {
		fail(db, NULL, err);
		return -1;
	}
	return drain_notifications(db->conn) ? 1 : 0;
}

int
db_poll_notify(struct hb_db *db, void (*fn)(const char *payload, void *arg),
    void *arg, struct hb_error *err)
{
	PGnotify *n;
	int count = 0;

	if (db_connect(db, err) == -1)
		return -1;
	if (PQconsumeInput(db->conn) == 0) {
		fail(db, NULL, err);
		return -1;
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		fn(n->extra, arg);
		PQfreemem(n);
		count++;
	}
	return count;
}

int
db_send(struct hb_db *db, const char *sql, int nparams,
    const char *const *params, struct hb_error *err)
{
	if (db_connect(db, err) == -1)
		return -1;
	if (send_stmt(db, sql, nparams, params) == -1)
		return fail_unusable(db, err);
	return 0;
}

int
db_sent_done(struct hb_db *db, struct hb_error *err)
{
	PGresult *res;
	ExecStatusType st;

	if (db->conn == NULL) {
		note_error(db, "the connection was lost", NULL);
		return unavailable(db, err);
	}
	if (PQconsumeInput(db->conn) == 0)
		return fail_unusable(db, err);
	/* Every result up to the end of the statement, none waited for. */
	while (!PQisBusy(db->conn)) {
		if ((res = PQgetResult(db->conn)) == NULL)
			return 1;
		st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			fail(db, res, err);
			PQclear(res);
			/*
			 * A server shutting down or out of resources (its
			 * FATAL comes before the connection closes): not the
			 * statement's fault, the same statement may succeed
			 * later.
			 */
			if (strncmp(db->sqlstate, "08", 2) == 0 ||
			    strncmp(db->sqlstate, "53", 2) == 0 ||
			    strncmp(db->sqlstate, "57", 2) == 0)
				unavailable(db, err);
			/* Simpler than reading the rest: a new connection. */
			if (db->conn != NULL)
				drop_connection(db);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

unsigned
db_opened(const struct hb_db *db)
{
	return db->opened;
}

int
db_socket(const struct hb_db *db)
{
	return db->conn != NULL ? PQsocket(db->conn) : -1;
}
