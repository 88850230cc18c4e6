/*
 * GET /api/v1/jobs and GET /api/v1/jobs/{id} (api.md §7): this
 * organization's background jobs, newest first, never with a payload.
 * The data lives in lib/job.c.
 */
#include "auth.h"
#include "job.h"
#include "program.h"
#include "uuid.h"

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_job_filter f;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "jobs:read", &r->err) == -1 ||
	    job_filter_parse(r, &f, &r->err) == -1 ||
	    page_parse(r, "jobs", who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (job_list(app->db, &ctx, &f, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *job;
	const char *id = http_route_param(r, "id");

	if (auth_request(r, app->db, &app->keys, 0, &who, &r->err) == -1 ||
	    auth_require(&who, "jobs:read", &r->err) == -1)
		return -1;
	if (!uuid_valid(id))
		return hb_fail(&r->err, 404, "not_found", "No such job.");
	ctx = auth_ctx(&who, r);
	if (job_get(app->db, &ctx, id, &job, &r->err) == -1)
		return -1;
	return http_json(r, 200, job);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/jobs", handle_list, 0 },
	{ "GET", "/api/v1/jobs/{id}", handle_get, 0 },
};

PROGRAM("homebot-jobs", routes)
