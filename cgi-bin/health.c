/*
 * GET /health and GET /ready; also the web server's catch-all, so an
 * unknown path gets the error envelope like every other answer.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "program.h"
#include "json.h"
#include "ready.h"
#include "version.h"

/* /health touches nothing: answering is the whole check. */
static int
handle_health(struct hb_request *r, struct hb_app *app)
{
	static const char body[] =
	    "{\"status\":\"ok\",\"version\":\"" HB_VERSION "\"}";

	(void)app;
	return http_send(r, 200, "application/json", body, sizeof(body) - 1);
}

static struct json_object *
check_new(const char *status, const char *message)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "status", json_object_new_string(status));
	if (message != NULL)
		json_object_object_add(c, "message",
		    json_object_new_string(message));
	return c;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The disk check: the configured data and log directories, by name. */
static struct json_object *
check_disk(struct hb_app *app, const struct hb_ready_db *db)
{
	struct hb_ready_dir dirs[2];
	size_t n = 0;

	(void)db;
	if (app->cfg.ready_data_dir[0] != '\0')
		ready_dir_measure(&dirs[n++], "data", app->cfg.ready_data_dir);
	if (app->cfg.ready_log_dir[0] != '\0')
		ready_dir_measure(&dirs[n++], "log", app->cfg.ready_log_dir);
	return ready_disk_json(dirs, n, app->cfg.ready_disk_min_free);
}

/* The jobs check: figures read with the migration version. */
static struct json_object *
check_jobs(struct hb_app *app, const struct hb_ready_db *db)
{
	return ready_jobs_json(db, app->cfg.ready_job_max_age,
	    app->cfg.ready_job_max_dead);
}

/* The broker answers (MQTT_HOST set): NULL, no check, without one. */
static struct json_object *
check_mqtt(struct hb_app *app, const struct hb_ready_db *db)
{
	enum ready_mqtt rc;
	double ms;

	(void)db;
	if (app->cfg.mqtt_host[0] == '\0')
		return NULL;
	rc = ready_mqtt_probe(app->cfg.mqtt_host, app->cfg.mqtt_port,
	    app->cfg.ready_mqtt_ms, &ms);
	return ready_mqtt_json(rc, ms, app->cfg.ready_mqtt_ms);
}

/*
 * The checks that warn and never make the service unavailable (api.md
 * §12): another is one more function here; one that answers NULL is not
 * configured and is left out.
 */
static const struct {
	const char		*name;
	struct json_object	*(*check)(struct hb_app *,
				    const struct hb_ready_db *);
} warnings[] = {
	{ "disk", check_disk },
	{ "jobs", check_jobs },
	{ "mqtt", check_mqtt },
};

static int
handle_ready(struct hb_request *r, struct hb_app *app)
{
	struct json_object *body, *checks, *db, *mig;
	struct hb_ready_db figures;
	struct timespec t0;
	bool reached, ok;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	reached = ready_db_read(app->db, &figures, &r->err) == 0;
	if (reached) {
		db = check_new("ok", NULL);
		json_object_object_add(db, "latency_ms",
		    json_new_ms(ms_since(&t0)));
	} else
		db = check_new("error", "The database is unreachable.");
	ok = reached && strcmp(figures.version, HB_SCHEMA_VERSION) == 0;
	mig = check_new(ok ? "ok" : "error", ok ? NULL : !reached ?
	    "The migration version cannot be read." :
	    "Migrations are pending: run ./migrate up.");
	json_object_object_add(mig, "current",
	    reached && figures.version[0] != '\0' ?
	    json_object_new_string(figures.version) : NULL);
	json_object_object_add(mig, "expected",
	    json_object_new_string(HB_SCHEMA_VERSION));
	checks = json_object_new_object();
	json_object_object_add(checks, "database", db);
	json_object_object_add(checks, "migrations", mig);
	for (size_t i = 0; i < sizeof(warnings) / sizeof(warnings[0]); i++) {
		struct json_object *c = warnings[i].check(app, &figures);

		if (c != NULL)
			json_object_object_add(checks, warnings[i].name, c);
	}
	body = json_object_new_object();
	json_object_object_add(body, "status",
	    json_object_new_string(ok ? "ready" : "unavailable"));
	json_object_object_add(body, "checks", checks);
	if (!ok)
		http_add_header(r, "Retry-After", "5");
	return http_json(r, ok ? 200 : 503, body);
}

static const struct hb_route routes[] = {
	{ "GET", "/health", handle_health, HB_ROUTE_QUIET },
	{ "GET", "/ready", handle_ready, 0 },
};

PROGRAM("homebot-health", routes)
