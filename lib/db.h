#ifndef HB_DB_H
#define HB_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "error.h"

/* RFC 3339 UTC with microseconds: exact, so it can also key a page. */
#define HB_SQL_TS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/*
 * One PostgreSQL connection per process, opened on first use and opened
 * again after a failure, so a worker outlives a database restart.
 */
struct hb_db;

/* Returns a handle the caller frees with db_free(); nothing is opened yet. */
struct hb_db	*db_new(const char *conninfo, const char *application_name);
void		 db_free(struct hb_db *db);

/* Makes sure the connection is usable: 0, or -1 with a 503 in err. */
int		 db_connect(struct hb_db *db, struct hb_error *err);
/*
 * The cause of the last failure, for the request's log line and never for
 * a client: the server's primary message (or libpq's, for a connection
 * that failed) and the SQLSTATE ("" when none). db_clear_error() forgets
 * them, at the start of each request.
 */
const char	*db_last_error(const struct hb_db *db);
const char	*db_sqlstate(const struct hb_db *db);
void		 db_clear_error(struct hb_db *db);

/*
 * Runs one parameterized statement outside any tenant context. Returns a
 * result the caller releases with PQclear(), or NULL with err set.
 */
PGresult	*db_exec(struct hb_db *db, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);

/*
 * db_exec() for the statements of the hot path, which must be cheap:
 * the statement is prepared once per connection, under a name derived
 * from its text, and runs from the server's cached plan after that. sql
 * must be a constant (it is remembered by address); inside a transaction
 * it runs unnamed. Should the name go missing (a transaction-mode pooler
 * handed over another server connection) or its plan go stale (a
 * migration changed a type it reads), it is prepared again in the round
 * trip that runs it (a stale one 7 times at most per connection). A
 * statement whose name could not serve, which did not run, runs unnamed
 * instead; a process whose names keep going missing stops naming.
 */
PGresult	*db_exec_named(struct hb_db *db, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);
/* How many statements db_exec_named() has prepared, on any connection. */
unsigned	 db_prepares(const struct hb_db *db);

/* The request's tenant context; any member may be NULL. */
struct hb_db_ctx {
	const char	*org_id;
	const char	*user_id;
	const char	*request_id;
	const char	*api_key_id;	/* the actor, when a key authenticated */
	const char	*ip;		/* for audit rows written in SQL */
	const char	*user_agent;
	const char	*trace_id;	/* for audit rows and jobs (app.trace_id) */
	/*
	 * The team scope (0009_teams.sql): the user's teams and the teams it
	 * leads as uuid[] literals ("{id,...}"), and "true" when the request
	 * holds teams:write.
	 */
	const char	*team_ids;
	const char	*team_leads;
	const char	*teams_write;
};

/*
 * Sets the context transaction-locally and runs one statement, in one
 * round trip: set_config() and the statement go out as one pipeline.
 * Without keep_open PostgreSQL runs the pipeline as one implicit
 * transaction ended by its Sync; with keep_open it starts with BEGIN and
 * the transaction stays open for db_exec() calls until db_tx_commit() or
 * db_tx_rollback(). Returns a result the caller PQclear()s, or NULL with
 * err set (and no transaction left open).
 */
PGresult	*db_tenant_query(struct hb_db *db, const struct hb_db_ctx *ctx,
		    bool keep_open, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);

/* Column column of row i, or NULL (SQL NULL, no such row or column). */
const char	*db_value(const PGresult *res, int i, const char *column);
/* Whether column of row i is true. */
bool		 db_bool(const PGresult *res, int i, const char *column);
/*
 * Row i as a JSON object the caller owns: one field per column, named
 * as the column (SQL aliases name an answer's fields) and typed by the
 * column's type: boolean, integers, json/jsonb parsed, SQL NULL as null,
 * anything else a string. Columns whose name starts with "_" (keys a
 * caller reads, such as a page's cursor) are left out.
 */
struct json_object *db_row_json(const PGresult *res, int i);
/* The first max rows as a JSON array of db_row_json() objects; owned. */
struct json_object *db_rows_json(const PGresult *res, int max);

/*
 * Runs the n (at most 8) parameterless statements sql[] in one round
 * trip, as one implicit transaction in which each statement may run
 * timeout_ms at most (statement_timeout, set transaction-locally, so it
 * ends with the transaction). res[i] is statement i's result, which the
 * caller PQclear()s, or NULL when it failed or did not run because one
 * before it failed (db_last_error() says why): a later statement's
 * failure takes nothing from an earlier one's answer. The whole answer
 * must come within n * timeout_ms + 100 ms, or the connection is dropped:
 * a server that cannot even cancel (stopped, or a pooler waiting for
 * one) holds nobody longer. Returns 0 when the server answered, or -1
 * with err set (every res[i] NULL) when it could not be reached or did
 * not answer in time.
 */
int		 db_pipeline(struct hb_db *db, int timeout_ms, int n,
		    const char *const *sql, PGresult **res,
		    struct hb_error *err);

/*
 * LISTENs on channel on this connection and on every connection it opens
 * again after a failure: 0, or -1 with err set.
 */
int		 db_listen(struct hb_db *db, const char *channel,
		    struct hb_error *err);
/*
 * Waits up to timeout_ms for a notification on the channel listened to:
 * 1 when one came (every pending one is consumed), 0 when none did, -1
 * with err set when the connection failed (the next call reconnects).
 */
int		 db_wait_notify(struct hb_db *db, int timeout_ms,
		    struct hb_error *err);

/*
 * Without waiting: calls fn with the payload of every notification
 * received on the channel listened to. Returns their number, or -1 with
 * err set when the connection failed (the next call opens a new one and
 * listens again; what was sent meanwhile is lost, which db_opened() tells).
 */
int		 db_poll_notify(struct hb_db *db,
		    void (*fn)(const char *payload, void *arg), void *arg,
		    struct hb_error *err);
/* How many connections db has opened so far. */
unsigned	 db_opened(const struct hb_db *db);
/* The open connection's socket, or -1. */
int		 db_socket(const struct hb_db *db);

/*
 * Sends one parameterized statement without waiting for its answer, for a
 * caller that must not block on it (the broker's plugin); db_sent_done()
 * reads the answer later. Nothing else may use db until it has. Returns
 * 0, or -1 with err set.
 */
int		 db_send(struct hb_db *db, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);
/*
 * Without waiting: 1 when the statement db_send() sent succeeded, 0 while
 * it runs, -1 with err set when it failed (a 503 when the connection was
 * lost or the server is shutting down or out of resources: it may or may
 * not have committed, and may succeed later). A failed statement's
 * connection is dropped, and opened again by the next call.
 */
int		 db_sent_done(struct hb_db *db, struct hb_error *err);

/* BEGIN and the context in one round trip, for several statements. */
int		 db_tx_begin(struct hb_db *db, const struct hb_db_ctx *ctx,
		    struct hb_error *err);
int		 db_tx_commit(struct hb_db *db, struct hb_error *err);
/* One statement of db_tx_finish(): its SQL and parameters. */
struct hb_db_stmt {
	const char		*sql;
	int			 nparams;
	const char *const	*params;
};
/*
 * The open transaction's last n statements and its COMMIT in one round
 * trip (one pipeline): the first statement's result, which the caller
 * PQclear()s, once every statement and the COMMIT succeeded; or NULL with
 * err set, rolled back.
 */
PGresult	*db_tx_finish(struct hb_db *db, int n,
		    const struct hb_db_stmt *stmts, struct hb_error *err);
/*
 * Rolls back an open transaction; does nothing (and costs nothing) if none.
 * A transaction whose connection was lost ends here too: until then every
 * statement fails with 503, so none of its rest runs on a new connection.
 */
void		 db_tx_rollback(struct hb_db *db);

#endif
