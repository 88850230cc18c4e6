/*
 * GET /metrics: the Prometheus text format of every process of every
 * program, summed from their slots (lib/metrics.h), and the queue's
 * figures from the database. Only clients in METRICS_ALLOW get it; to
 * anyone else the path does not exist.
 */
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "cidr.h"
#include "job.h"
#include "metrics.h"
#include "program.h"

/*
 * Before routing, so that a client outside METRICS_ALLOW gets the 404 of
 * a path that does not exist whatever it sends (a POST would otherwise
 * learn from a 405 that the path is there).
 */
static int
admit(struct hb_request *r, struct hb_app *app)
{
	if (cidr_list_contains(&app->cfg.metrics_allow, r->remote_addr))
		return 0;
	return hb_fail(&r->err, 404, "not_found", "No such resource.");
}

static int
handle_metrics(struct hb_request *r, struct hb_app *app)
{
	struct hb_job_count *counts = NULL;
	struct hb_error dberr = {0};
	struct hb_metrics_jobs jobs;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int n, rc;

	/*
	 * A database that does not answer costs the queue's figures only
	 * (homebot_jobs_query_ok 0); the cause is in the request's log line.
	 */
	n = job_counts(app->db, r->arena, &counts, &dberr);
	hb_error_clear(&dberr);
	jobs = (struct hb_metrics_jobs){ .counts = counts,
	    .n = n > 0 ? (size_t)n : 0, .ok = n >= 0 };
	if ((out = open_memstream(&text, &len)) == NULL)
		return hb_fail(&r->err, 503, "service_unavailable",
		    "Out of memory.");
	rc = metrics_render(out, app->cfg.metrics_dir,
	    app->cfg.metrics_read_dirs, &jobs);
	if (fclose(out) != 0 || rc == -1) {
		free(text);
		return hb_fail(&r->err, 503, "service_unavailable",
		    "Out of memory.");
	}
	rc = http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
	free(text);
	return rc;
}

static const struct hb_route routes[] = {
	{ "GET", "/metrics", handle_metrics, 0 },
};

int
main(void)
{
	struct hb_app app = { .name = "homebot-metrics", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]), .admit = admit };

	return program_main(&app);
}
