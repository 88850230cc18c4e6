#ifndef HB_HTTP_H
#define HB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "arena.h"
#include "config.h"
#include "error.h"
#include "trace.h"

#define HB_REQUEST_ID_MAX	128
#define HB_MAX_QUERY_PARAMS	64
#define HB_MAX_ROUTE_PARAMS	4
#define HB_JSON_MAX_DEPTH	32
/* The most of X-Forwarded-For that is read: its last bytes and entries. */
#define HB_XFF_MAX_BYTES	2048
#define HB_XFF_MAX_HOPS		32

struct hb_app;
struct hb_request;

/* Where a request's body comes from and its response goes to. */
struct hb_io {
	/* Reads up to n bytes; returns the count, 0 at the end, -1 on error. */
	int	(*read)(void *ctx, char *buf, int n);
	/* Writes n bytes; returns n or -1. */
	int	(*write)(void *ctx, const char *buf, int n);
	void	*ctx;
};

struct hb_kv {
	const char	*name;
	const char	*value;
};

/*
 * A handler answers through one of the http_ answer functions below and
 * returns what it returned, or returns -1 with r->err set and writes
 * nothing: the dispatcher answers r->err. Nothing else writes a response.
 */
typedef int (*hb_handler)(struct hb_request *r, struct hb_app *app);

#define HB_ROUTE_FORM	0x01	/* also accepts application/x-www-form-urlencoded */
#define HB_ROUTE_QUIET	0x02	/* an answer below 400 gets no log line */

/* One line of a program's route table: "{name}" matches one path segment. */
struct hb_route {
	const char	*method;
	const char	*pattern;
	hb_handler	 handler;
	unsigned	 flags;
};

/* One request; every pointer in it is borrowed or lives in the arena. */
struct hb_request {
	struct hb_arena		*arena;
	char			**envp;
	const struct hb_config	*cfg;
	struct hb_io		 io;

	const char	*method;
	const char	*path;		/* percent-decoded */
	/*
	 * The client's address: what rate limits, sessions, audit rows and
	 * the log record. REMOTE_ADDR, unless that is a trusted proxy
	 * (TRUSTED_PROXIES): then taken from X-Forwarded-For.
	 */
	const char	*remote_addr;
	const char	*peer_addr;	/* REMOTE_ADDR itself, "" when unset */
	char		 forwarded_addr[64];	/* remote_addr, when forwarded */
	const char	*origin;
	char		 request_id[HB_REQUEST_ID_MAX + 1];
	/* traceparent continued, or a new trace (api.md §1). */
	struct hb_trace	 trace;
	struct timespec	 started;

	struct hb_kv	 query[HB_MAX_QUERY_PARAMS];
	int		 nquery;
	struct hb_kv	 route[HB_MAX_ROUTE_PARAMS];
	int		 nroute;
	const struct hb_route *matched;
	char		 allow[128];	/* methods of the path, for a 405 */

	char		*body;		/* NUL-terminated copy, or NULL */
	size_t		 body_len;
	struct json_object *json;	/* owned; the parsed JSON body or NULL */
	struct hb_kv	*form;		/* a parsed form body */
	int		 nform;

	/* Filled in once the request is authenticated, for the log line. */
	char		 org_id[37];
	char		 user_id[37];
	/* The program and, after a failure, its cause: for the log line. */
	const char	*program;
	char		 fault_state[6];	/* SQLSTATE, "" when none */
	char		 fault[256];

	/* The response. */
	int		 status;
	bool		 sent;
	const char	*csp;		/* overrides the default policy */
	const char	*cache_control;	/* overrides "no-store" */
	char		 extra[1024];	/* more header lines, CRLF-terminated */
	size_t		 extra_len;
	struct hb_error	 err;		/* scratch error for the handler */
};

/*
 * Reads method, path, query, request ID, peer and client address from
 * the FastCGI parameters. Returns 0, or -1 with err set to the error to
 * answer with: a 400, or the web server's own error when its error handler
 * sent the request (REDIRECT_STATUS 400-599; see http_server_error).
 */
int	 http_request_init(struct hb_request *r, struct hb_arena *arena,
	    char **envp, const struct hb_io *io, const struct hb_config *cfg,
	    struct hb_error *err);
/* Frees what the request owns outside its arena. */
void	 http_request_done(struct hb_request *r);

/* A request header by its HTTP name ("Authorization"), or NULL. */
const char *http_header(const struct hb_request *r, const char *name);
const char *http_query(const struct hb_request *r, const char *name);
const char *http_route_param(const struct hb_request *r, const char *name);
const char *http_form(const struct hb_request *r, const char *name);
/* The request's User-Agent, cut to what the tables keep; never NULL. */
const char *http_user_agent(const struct hb_request *r);

/*
 * Finds the route for the request: 0 and r->matched set; 1 for a CORS
 * preflight (OPTIONS) of a known path; or -1 with a 404 or 405 (with
 * Allow) in err.
 */
int	 http_route(struct hb_request *r, const struct hb_route *routes,
	    size_t n, struct hb_error *err);
/* Reads and checks the body: 413, 415 and 400 as api.md §1 says. */
int	 http_read_body(struct hb_request *r, struct hb_error *err);
/*
 * The whole life of a request after init: route, body, handler, and the
 * answer of r->err when the handler failed. Always answers; returns the
 * status sent.
 */
int	 http_dispatch(struct hb_request *r, const struct hb_route *routes,
	    size_t n, struct hb_app *app);

void	 http_add_header(struct hb_request *r, const char *name,
	    const char *value);
int	 http_send(struct hb_request *r, int status, const char *ctype,
	    const char *body, size_t len);
/*
 * The answer functions: the only code that writes a response. Each
 * returns the status sent.
 */
/* Sends obj as JSON and releases it. */
int	 http_json(struct hb_request *r, int status, struct json_object *obj);
/* Writes the error envelope; returns the status. */
int	 http_error(struct hb_request *r, const struct hb_error *err);
/*
 * The error envelope {"error": {"code", "message", "request_id"}} of err,
 * as a new object; without request_id when it is NULL (a static error
 * document, which no request ID can be written into).
 */
struct json_object *http_error_envelope(const struct hb_error *err,
	    const char *request_id);
/*
 * The error a web server's own answer carries: the code and message for
 * a status it chose itself (a request it would not pass on, a program it
 * could not reach). Sets *err; returns -1.
 */
int	 http_server_error(int status, struct hb_error *err);
/*
 * The i-th status http_server_error knows by name, or 0 past the last:
 * the statuses the web servers answer themselves, each of which gets a
 * static error document.
 */
int	 http_server_status(size_t i);
int	 http_no_content(struct hb_request *r);
/* 304: the client's copy is current (no body; the headers set so far). */
int	 http_not_modified(struct hb_request *r);
/* Sends {"data": data, "next_cursor": cursor or null}; releases data. */
int	 http_send_page(struct hb_request *r, struct json_object *data,
	    const char *next_cursor);

/* If-Match, as http_if_match() reads it. */
#define HB_IF_MATCH_NONE	(-1L)	/* no header: no condition */
#define HB_IF_MATCH_ANY		(-2L)	/* "*": the object must exist */

/*
 * The If-Match header: HB_IF_MATCH_NONE, HB_IF_MATCH_ANY, or the version
 * of its one strong entity tag "<version>"; 0 (which no version is) for
 * anything else, so that it matches nothing.
 */
long	 http_if_match(const char *header);
/*
 * if_match (http_if_match's) as the $N::integer an SQL condition
 * "($N IS NULL OR version = $N)" takes: NULL for no header or "*", the
 * version's digits, else "0" (matches no row; also a version past an
 * integer). Points into buf or is static.
 */
const char *http_if_match_param(long if_match, char buf[24]);
/*
 * The route parameter name when it is a UUID; else NULL with 404
 * not_found "No such <noun>." in r->err (a malformed id names nothing).
 */
const char *http_path_uuid(struct hb_request *r, const char *name,
	    const char *noun);
/*
 * Sends obj (an object with a "version") as JSON with ETag: "<version>",
 * and releases it.
 */
int	 http_json_versioned(struct hb_request *r, int status,
	    struct json_object *obj);

/* Percent-decodes s[0..n) into the arena; NULL on a bad escape or NUL. */
char	*http_decode(struct hb_arena *a, const char *s, size_t n, bool plus);
bool	 http_valid_request_id(const char *s);

#endif
