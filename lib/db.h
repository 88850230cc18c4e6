#ifndef HB_DB_H
#define HB_DB_H

#include <libpq-fe.h>

#include "error.h"

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
/* The server's last error text, for the log line; never sent to clients. */
const char	*db_last_error(const struct hb_db *db);
/* The SQLSTATE of a failed statement, "" when none. */
const char	*db_sqlstate(const struct hb_db *db);

/*
 * Runs one parameterized statement outside any tenant context. Returns a
 * result the caller releases with PQclear(), or NULL with err set.
 */
PGresult	*db_exec(struct hb_db *db, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);

/*
 * Runs one statement as its own transaction with the tenant context set
 * transaction-locally, in one round trip: set_config() and the statement
 * go out as one pipeline, which PostgreSQL runs as one implicit
 * transaction ended by the Sync. org_id may be NULL (no tenant). Returns a
 * result the caller PQclear()s, or NULL with err set.
 */
PGresult	*db_tenant_query(struct hb_db *db, const char *org_id,
		    const char *request_id, const char *sql, int nparams,
		    const char *const *params, struct hb_error *err);

/*
 * For requests of several statements: BEGIN and the transaction-local
 * tenant context in one round trip, then db_exec() calls, then commit or
 * rollback.
 */
int		 db_tx_begin(struct hb_db *db, const char *org_id,
		    const char *request_id, struct hb_error *err);
int		 db_tx_commit(struct hb_db *db, struct hb_error *err);
void		 db_tx_rollback(struct hb_db *db);

#endif
