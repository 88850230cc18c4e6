/*
 * The FastCGI ceilings, for make bench only (never installed): a program
 * that answers every request with a fixed JSON body and does nothing
 * else. Served through the same lighttpd as Homebot's /health, it shows
 * what Homebot's own request path adds.
 *
 * With HELLO_DATABASE_URL in its environment it also sends "SELECT 1"
 * over one connection kept open (an unnamed statement, as lib/db.c
 * sends) before each answer: the most any program that makes one
 * PostgreSQL round trip per request can serve here, which is what
 * /api/v1/auth/me is measured against. A failed statement answers 500.
 */
#include <stdlib.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

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

/* One round trip on conn: 0 when it answered one row, else -1. */
static int
round_trip(PGconn *conn)
{
	PGresult *res = PQexecParams(conn, "SELECT 1", 0, NULL, NULL, NULL,
	    NULL, 0);
	int rc = PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 ? 0 : -1;

	PQclear(res);
	return rc;
}

int
main(void)
{
	const char *url = getenv("HELLO_DATABASE_URL");
	PGconn *conn = NULL;
	FCGX_Request fr;

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
		if (conn == NULL || round_trip(conn) == 0)
			FCGX_PutStr(answer, (int)sizeof(answer) - 1, fr.out);
		else
			FCGX_PutStr(failed, (int)sizeof(failed) - 1, fr.out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	PQfinish(conn);
	return 0;
}
