#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "log.h"
#include "metrics.h"

/*
 * Takes this process's metrics slot, naming the program's routes. Without
 * one the program serves all the same, and says once why it records
 * nothing.
 */
static void
metrics_start(const struct hb_app *app)
{
	const char *pattern[HB_METRICS_NAMES_MAX];
	struct hb_metrics_names names = { .program = app->name,
	    .routes = pattern };
	struct hb_error err = {0};
	struct json_object *f;

	for (size_t i = 0; i < app->nroutes && i < HB_METRICS_NAMES_MAX; i++)
		pattern[names.nroutes++] = app->routes[i].pattern;
	if (metrics_open(app->cfg.metrics_dir, &names, &err) == 0)
		return;
	f = json_object_new_object();
	json_object_object_add(f, "program", json_object_new_string(app->name));
	json_object_object_add(f, "error", json_object_new_string(err.message));
	log_event(NULL, "warn", "this process records no metrics", f);
}

int
app_init(struct hb_app *app, struct hb_error *err)
{
	if (config_load(&app->cfg, err) == -1)
		return -1;
	log_init(stderr, app->cfg.debug);
	if (auth_jwt_keys_load(&app->keys, &app->cfg, err) == -1)
		return -1;
	/* Only the admin program may use the homebot_admin role. */
	if (app->admin_db && app->cfg.admin_database_url[0] == '\0')
		return hb_fail(err, 500, "config",
		    "ADMIN_DATABASE_URL is not set (the admin program needs it)");
	app->db = db_new(app->admin_db ? app->cfg.admin_database_url :
	    app->cfg.database_url, app->name);
	if (app->db == NULL)
		return hb_fail(err, 500, "config", "out of memory");
	if (app->cfg.metrics_dir[0] != '\0')
		metrics_start(app);
	return 0;
}

void
app_free(struct hb_app *app)
{
	db_free(app->db);
	app->db = NULL;
	auth_jwt_keys_free(&app->keys);
	metrics_close();
}

static int
fcgi_read(void *ctx, char *buf, int n)
{
	return FCGX_GetStr(buf, n, ((FCGX_Request *)ctx)->in);
}

static int
fcgi_write(void *ctx, const char *buf, int n)
{
	return FCGX_PutStr(buf, n, ((FCGX_Request *)ctx)->out);
}

/*
 * The cause of a failed request, for its log line: the database's, when a
 * statement or the connection failed, else that of any 5xx answer.
 */
static void
note_fault(struct hb_request *r, const struct hb_db *db)
{
	if (db_sqlstate(db)[0] != '\0' || db_last_error(db)[0] != '\0') {
		snprintf(r->fault_state, sizeof(r->fault_state), "%s",
		    db_sqlstate(db));
		snprintf(r->fault, sizeof(r->fault), "%s", db_last_error(db));
	} else if (r->status >= 500)
		snprintf(r->fault, sizeof(r->fault), "%.47s: %.200s",
		    r->err.code[0] != '\0' ? r->err.code : "internal_error",
		    r->err.message);
}

/*
 * A probe's success (GET /health, every few seconds from every monitor)
 * is counted in the metrics but not logged: its log line would cost more
 * than the answer and bury the lines that matter. Failures are logged.
 */
static bool
quiet(const struct hb_request *r)
{
	return r->matched != NULL && (r->matched->flags & HB_ROUTE_QUIET) &&
	    r->status < 400;
}

static void
serve_one(struct hb_app *app, FCGX_Request *fr, struct hb_arena *arena)
{
	struct hb_io io = { fcgi_read, fcgi_write, fr };
	struct hb_request r;
	struct hb_error err = {0};

	db_clear_error(app->db);
	if (http_request_init(&r, arena, fr->envp, &io, &app->cfg,
	    &err) == -1) {
		/* r.err is the cause the log line gives for a 5xx. */
		r.err = err;
		memset(&err, 0, sizeof(err));
		http_error(&r, &r.err);
	} else if (app->admit != NULL && app->admit(&r, app) == -1)
		http_error(&r, &r.err);
	else
		http_dispatch(&r, app->routes, app->nroutes, app);
	/* No transaction outlives its request, whatever the handler did. */
	db_tx_rollback(app->db);
	/*
	 * Counted before FCGX_Finish_r() sends the end of the answer, so a
	 * client that has its answer finds it counted. The route is the
	 * pattern of the table, never the path: the labels stay bounded.
	 */
	metrics_request(r.matched != NULL ? (int)(r.matched - app->routes) :
	    -1, r.method, r.status, &r.started);
	r.program = app->name;
	note_fault(&r, app->db);
	if (!quiet(&r))
		log_request(&r);
	hb_error_clear(&err);
	http_request_done(&r);
	arena_reset(arena);
}

/*
 * SIGTERM (the web server stopping its programs) ends the accept loop
 * after the request in hand, so the program returns from main() and frees
 * what it holds: the sanitizer run checks for leaks at that exit.
 * FCGX_ShutdownPending only sets a flag; without SA_RESTART the blocked
 * accept() returns and libfcgi sees it.
 */
static void
on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

static void
log_stopping(const struct hb_app *app, long served)
{
	struct json_object *f = json_object_new_object();

	json_object_object_add(f, "program", json_object_new_string(app->name));
	json_object_object_add(f, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(f, "requests", json_object_new_int64(served));
	log_event(NULL, "info", "stopping", f);
}

/*
 * Ends the request. libfcgi closes a connection by shutting down its side
 * and reading until the web server closes its own (for up to 2 s), so that
 * a server still sending the request is not reset: on every request, a
 * wait for the web server to read the answer and close. Once the request's
 * input has been read to its end, nothing is left to be reset for, and the
 * connection is closed at once ("detached" is libfcgi's flag for that).
 * lighttpd and mod_fcgid, as configured here, send the whole body before
 * the program runs, so reading the rest of a small body a handler left
 * unread (a 401 to a POST) waits for nobody; a larger rest is left to
 * libfcgi's own way, which gives up after 2 s.
 */
static void
finish(FCGX_Request *fr)
{
	char rest[4096];
	int budget = 16;	/* up to 64 KiB read here */

	while (budget-- > 0 && FCGX_GetStr(rest, (int)sizeof(rest), fr->in) > 0)
		continue;
	fr->detached = FCGX_HasSeenEOF(fr->in) == EOF;
	FCGX_Finish_r(fr);
}

int
app_run(struct hb_app *app)
{
	FCGX_Request fr;
	struct hb_arena arena;
	struct sigaction term = { .sa_handler = on_term };
	long served = 0;

	/* A client that goes away must not kill the worker mid-write. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&term.sa_mask);
	sigaction(SIGTERM, &term, NULL);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		return 1;
	arena_init(&arena);
	while (FCGX_Accept_r(&fr) >= 0) {
		serve_one(app, &fr, &arena);
		finish(&fr);
		served++;
	}
	log_stopping(app, served);
	arena_free(&arena);
	FCGX_Free(&fr, 1);
	return 0;
}
