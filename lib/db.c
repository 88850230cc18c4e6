#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

struct hb_db {
	PGconn	*conn;
	char	*conninfo;
	char	*appname;
	char	 last_error[512];
	char	 sqlstate[6];
};

/*
 * set_config(..., true) is transaction-local: the context ends with the
 * request's transaction and can never leak into the next request on this
 * connection (or through a transaction-mode PgBouncer).
 */
static const char SQL_CONTEXT[] =
    "SELECT set_config('app.org_id', COALESCE($1, ''), true),"
    " set_config('app.request_id', COALESCE($2, ''), true)";

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

static void
note_error(struct hb_db *db, const char *msg, const PGresult *res)
{
	const char *state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	size_t n;

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
	if (PQstatus(db->conn) != CONNECTION_OK) {
		drop_connection(db);
		return unavailable(db, err);
	}
	return hb_fail(err, 500, "internal_error",
	    "The request could not be completed.");
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
	if (db->conn != NULL && (PQconsumeInput(db->conn) == 0 ||
	    PQstatus(db->conn) != CONNECTION_OK))
		drop_connection(db);
	if (db->conn != NULL)
		return 0;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		note_error(db, db->conn != NULL ?
		    PQerrorMessage(db->conn) : "out of memory", NULL);
		if (db->conn != NULL)
			drop_connection(db);
		return unavailable(db, err);
	}
	return 0;
}

PGresult *
db_exec(struct hb_db *db, const char *sql, int nparams,
    const char *const *params, struct hb_error *err)
{
	PGresult *res;
	ExecStatusType st;

	if (db_connect(db, err) == -1)
		return NULL;
	res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL,
	    0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	fail(db, res, err);
	PQclear(res);
	return NULL;
}

/*
 * Reads the results of a pipeline up to its Sync. Returns the result of
 * statement number want (or NULL when want < 0 or on failure, with err
 * set when any statement failed).
 */
static PGresult *
pipeline_collect(struct hb_db *db, int want, struct hb_error *err)
{
	PGresult *res, *kept = NULL, *failed = NULL;
	int idx = 0;
	bool done = false;

	while (!done) {
		res = PQgetResult(db->conn);
		if (res == NULL) {
			if (PQstatus(db->conn) != CONNECTION_OK)
				break;
			idx++;
			continue;
		}
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			done = true;
			PQclear(res);
			break;
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			if (idx == want && kept == NULL)
				kept = res;
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
		return want < 0 ? (PQclear(kept), NULL) : kept;
	PQclear(kept);
	if (failed != NULL || !done)
		fail(db, failed, err);
	else
		fail(db, NULL, err);
	PQclear(failed);
	if (db->conn != NULL && PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF &&
	    PQexitPipelineMode(db->conn) != 1)
		drop_connection(db);
	return NULL;
}

static int
send_context(struct hb_db *db, const char *org_id, const char *request_id)
{
	const char *params[2] = { org_id, request_id };

	return PQsendQueryParams(db->conn, SQL_CONTEXT, 2, NULL, params, NULL,
	    NULL, 0);
}

PGresult *
db_tenant_query(struct hb_db *db, const char *org_id, const char *request_id,
    const char *sql, int nparams, const char *const *params,
    struct hb_error *err)
{
	PGresult *res;

	if (db_connect(db, err) == -1)
		return NULL;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    send_context(db, org_id, request_id) != 1 ||
	    PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL,
	    NULL, 0) != 1 ||
	    PQpipelineSync(db->conn) != 1) {
		fail(db, NULL, err);
		if (db->conn != NULL)
			drop_connection(db);
		return NULL;
	}
	res = pipeline_collect(db, 1, err);
	return res;
}

int
db_tx_begin(struct hb_db *db, const char *org_id, const char *request_id,
    struct hb_error *err)
{
	if (db_connect(db, err) == -1)
		return -1;
	if (PQenterPipelineMode(db->conn) != 1 ||
	    PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL,
	    0) != 1 ||
	    send_context(db, org_id, request_id) != 1 ||
	    PQpipelineSync(db->conn) != 1) {
		fail(db, NULL, err);
		if (db->conn != NULL)
			drop_connection(db);
		return -1;
	}
	if (pipeline_collect(db, -1, err) == NULL && err->status != 0) {
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

void
db_tx_rollback(struct hb_db *db)
{
	if (db->conn == NULL ||
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(db->conn, "ROLLBACK"));
	if (PQstatus(db->conn) != CONNECTION_OK)
		drop_connection(db);
}
