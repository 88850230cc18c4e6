/*
 * The FastCGI ceilings, for make bench only (never installed): a program
 * that answers every request with a fixed JSON body and does nothing
 * else. Served through the same lighttpd as Homebot's /health, it shows
 * what Homebot's own request path adds.
 *
 * With HELLO_DATABASE_URL in its environment it also sends statements
 * over one connection kept open, in one round trip, before each answer:
 * "SELECT 1", or the text of the file HELLO_SQL_FILE names (read at the
 * first request, so that make bench can write it once the stack is
 * seeded; several statements may follow each other). That is the most any
 * program making the same round trip can serve here, with no work of its
 * own: the ceiling make bench measures /api/v1/auth/me and reveal
 * against. With HELLO_PREPARE=1 the file's one statement is prepared on
 * the connection at the first request and run from it after that, as
 * lib/db.c's db_exec_named() runs /me's. A statement that fails answers
 * 500.
 */
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#define SQL_MAX	8192

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

static const char failed[] =
    "Status: 500 Internal Server Error\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 19\r\n"
    "\r\n"
    "{\"status\":\"error\"}\n";

/* The statements to send, read from path into sql: 0, or -1. */
static int
read_sql(const char *path, char *sql, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(sql, 1, size - 1, f);
	sql[n] = '\0';
	if (ferror(f) || !feof(f))
		n = 0;
	fclose(f);
	return n > 0 ? 0 : -1;
}

/* Prepares sql on conn as "hello": 0, or -1. */
static int
prepare(PGconn *conn, const char *sql)
{
	PGresult *res = PQprepare(conn, "hello", sql, 0, NULL);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	PQclear(res);
	return rc;
}

/*
 * One round trip of sql on conn (of the statement prepared, when
 * prepared): 0 when every statement ran, else -1.
 */
static int
round_trip(PGconn *conn, const char *sql, int prepared)
{
	PGresult *res;
	int rc = 0;

	if ((prepared ? PQsendQueryPrepared(conn, "hello", 0, NULL, NULL,
	    NULL, 0) : PQsendQuery(conn, sql)) != 1)
		return -1;
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		    PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = -1;
		PQclear(res);
	}
	return rc;
}

int
main(void)
{
	static char sql[SQL_MAX] = "SELECT 1";
	const char *url = getenv("HELLO_DATABASE_URL");
	const char *file = getenv("HELLO_SQL_FILE");
	PGconn *conn = NULL;
	FCGX_Request fr;
	int ready = file == NULL ? 0 : -1;
	int prepared = getenv("HELLO_PREPARE") != NULL;

	if (url != NULL) {
		conn = PQconnectdb(url);
		if (PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			return 1;
		}
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&fr) >= 0) {
		if (ready == -1 && (ready = read_sql(file, sql,
		    sizeof(sql))) == 0 && prepared)
			ready = prepare(conn, sql);
		if (conn == NULL || (ready == 0 && round_trip(conn, sql,
		    prepared) == 0))
			FCGX_PutStr(answer, (int)sizeof(answer) - 1, fr.out);
		else
			FCGX_PutStr(failed, (int)sizeof(failed) - 1, fr.out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	PQfinish(conn);
	return 0;
}
