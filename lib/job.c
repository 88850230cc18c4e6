#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "job.h"
#include "json.h"
#include "mail.h"
#include "uuid.h"

/*
 * The job is of the context's organization (NULL in a platform job or
 * without a context). The unique index on pending (kind, unique_key) makes
 * a second enqueue a no-op; pg_notify is delivered at commit, and not at
 * all after a rollback.
 */
static const char SQL_ENQUEUE[] =
    "WITH j AS (INSERT INTO homebot.jobs (organization_id, kind, payload,"
    "  unique_key, max_attempts, run_at)"
    " VALUES (CASE WHEN NOT $1::boolean THEN"
    "  NULLIF(current_setting('app.org_id', true), '')::uuid END, $2,"
    "  COALESCE($3::jsonb, '{}'), $4, COALESCE($5::int, 5),"
    "  now() + make_interval(secs => COALESCE($6::int, 0)))"
    " ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL"
    "  AND status IN ('queued', 'running', 'failed') DO NOTHING"
    " RETURNING id)"
    " SELECT j.id, pg_notify('" HB_JOB_CHANNEL "', '') FROM j";

/* A platform mail job, through schema/R__email.sql (the tenant policy). */
static const char SQL_ENQUEUE_MAIL[] =
    "SELECT homebot.mail_enqueue($1::jsonb)";

#define JOB_FIELDS \
	"id, kind, status, attempts, max_attempts, " \
	HB_SQL_TS("run_at") " AS run_at, " \
	HB_SQL_TS("created_at") " AS created_at, " \
	HB_SQL_TS("started_at") " AS started_at, " \
	HB_SQL_TS("finished_at") " AS finished_at, last_error"

/*
 * Under RLS (one organization's jobs, or every one for the admin role),
 * by jobs_organization_id_created_at_idx or jobs_created_at_idx.
 */
static const char SQL_LIST[] =
    "SELECT " JOB_FIELDS ", organization_id FROM homebot.jobs"
    " WHERE ($1::text IS NULL OR status = $1)"
    "   AND ($2::text IS NULL OR kind = $2)"
    "   AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))"
    " ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT $5";
static const char SQL_GET[] =
    "SELECT " JOB_FIELDS ", organization_id FROM homebot.jobs WHERE id = $1";
static const char SQL_RETRY_STATUS[] =
    "SELECT status FROM homebot.jobs WHERE id = $1 FOR UPDATE";
static const char SQL_RETRY[] =
    "UPDATE homebot.jobs SET status = 'queued', attempts = 0, run_at = now(),"
    " finished_at = NULL, updated_at = now() WHERE id = $1"
    " RETURNING " JOB_FIELDS ", organization_id,"
    " pg_notify('" HB_JOB_CHANNEL "', '') AS _notified";

/*
 * homebot.job_claim (schema/R__jobs.sql): the previous batch's successes
 * and the next batch, SKIP LOCKED, in one round trip.
 */
static const char SQL_CLAIM[] =
    "SELECT id, organization_id, kind, payload, attempts, max_attempts,"
    " trace_id FROM homebot.job_claim($1, $2, $3, $4)";
/* homebot.event_claim and event_release (schema/R__events.sql). */
static const char SQL_OUTBOX_CLAIM[] =
    "SELECT seq, event_id, organization_id, payload, attempts, trace_id"
    " FROM homebot.event_claim($1, $2, $3, $4, $5)";
static const char SQL_OUTBOX_RELEASE[] =
    "SELECT homebot.event_release($1, $2)";
static const char SQL_HEARTBEAT[] =
    "UPDATE homebot.jobs SET lease_expires_at = now() +"
    " make_interval(secs => $3), updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND status = 'running'"
    " RETURNING id";
static const char SQL_RELEASE[] = "SELECT homebot.job_release($1, $2)";
static const char SQL_FAIL[] =
    "UPDATE homebot.jobs SET status = CASE WHEN $5 OR attempts >= max_attempts"
    "  THEN 'dead' ELSE 'failed' END,"
    " run_at = now() + make_interval(secs => $4),"
    " finished_at = CASE WHEN $5 OR attempts >= max_attempts THEN now() END,"
    " payload = CASE WHEN $5 OR attempts >= max_attempts"
    "  THEN payload - 'secret' ELSE payload END,"
    " lease_owner = NULL, lease_expires_at = NULL, last_error = $3,"
    " updated_at = now()"
    " WHERE id = $1 AND lease_owner = $2 AND status = 'running'"
    " RETURNING status = 'dead' AS dead";
/* By jobs_lease_idx. */
static const char SQL_REAP[] =
    "UPDATE homebot.jobs SET status = CASE WHEN attempts >= max_attempts"
    "  THEN 'dead' ELSE 'failed' END, run_at = now(),"
    " finished_at = CASE WHEN attempts >= max_attempts THEN now() END,"
    " payload = CASE WHEN attempts >= max_attempts"
    "  THEN payload - 'secret' ELSE payload END,"
    " lease_owner = NULL, lease_expires_at = NULL,"
    " last_error = 'the worker running it stopped (lease expired)',"
    " updated_at = now()"
    " WHERE status = 'running' AND lease_expires_at < now()";
/* By jobs_finished_at_idx: dead jobs stay until retried or cancelled. */
static const char SQL_PURGE[] =
    "DELETE FROM homebot.jobs WHERE status IN ('succeeded', 'cancelled')"
    " AND finished_at < now() - make_interval(secs => $1)";

static const char *const STATUSES[] = { "queued", "running", "succeeded",
    "failed", "dead", "cancelled" };

int
job_enqueue(struct hb_db *db, const struct hb_job_new *in, bool *queued,
    struct hb_error *err)
{
	char max[16], delay[16];
	const char *params[6] = { in->platform ? "true" : "false", in->kind,
	    in->payload_json, in->unique_key,
	    in->max_attempts > 0 ? max : NULL, delay };
	PGresult *res;

	snprintf(max, sizeof(max), "%d", in->max_attempts);
	snprintf(delay, sizeof(delay), "%d", in->delay);
	res = db_exec(db, SQL_ENQUEUE, 6, params, err);
	if (res == NULL)
		return -1;
	if (queued != NULL)
		*queued = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}

/* The payload of m: {"to", "template", "vars", "secret": {"link"}}; owned. */
static struct json_object *
mail_payload(const struct hb_config *cfg, const struct hb_job_mail *m,
    struct hb_error *err)
{
	struct json_object *p = json_object_new_object();
	struct json_object *vars = json_object_new_object();
	char link[1024];

	json_object_object_add(p, "to", json_object_new_string(m->to));
	json_object_object_add(p, "template",
	    json_object_new_string(m->template));
	for (size_t i = 0; i + 1 < sizeof(m->vars) / sizeof(*m->vars) &&
	    m->vars[i] != NULL; i += 2)
		json_object_object_add(vars, m->vars[i],
		    json_object_new_string(m->vars[i + 1] != NULL ?
		    m->vars[i + 1] : ""));
	json_object_object_add(p, "vars", vars);
	if (m->page != NULL) {
		struct json_object *secret = json_object_new_object();

		if (mail_link(cfg, m->page, m->token, link, sizeof(link),
		    err) == -1) {
			json_object_put(secret);
			json_object_put(p);
			return NULL;
		}
		json_object_object_add(secret, "link",
		    json_object_new_string(link));
		json_object_object_add(p, "secret", secret);
	}
	return p;
}

int
job_enqueue_mail(struct hb_db *db, const struct hb_config *cfg,
    const struct hb_job_mail *m, struct hb_error *err)
{
	struct json_object *p = mail_payload(cfg, m, err);
	const char *params[1];
	PGresult *res;

	if (p == NULL)
		return -1;
	params[0] = json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN);
	res = db_exec(db, SQL_ENQUEUE_MAIL, 1, params, err);
	json_object_put(p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
job_filter_parse(const struct hb_request *r, struct hb_job_filter *f,
    struct hb_error *err)
{
	struct hb_json_check c = { NULL, json_object_new_array() };
	bool known = false;

	f->status = http_query(r, "status");
	f->kind = http_query(r, "kind");
	for (size_t i = 0; f->status != NULL &&
	    i < sizeof(STATUSES) / sizeof(*STATUSES); i++)
		known = known || strcmp(f->status, STATUSES[i]) == 0;
	if (f->status != NULL && !known)
		json_check_fail(&c, "status", "must be one of queued, running, "
		    "succeeded, failed, dead, cancelled");
	if (f->kind != NULL && (strlen(f->kind) == 0 || strlen(f->kind) > 63 ||
	    !json_utf8_valid(f->kind, strlen(f->kind))))
		json_check_fail(&c, "kind", "must be 1 to 63 bytes of text");
	return json_check_done(&c, err);
}

int
job_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_job_filter *f, const struct hb_page *p,
    struct hb_rows *rows, struct hb_error *err)
{
	const char *params[5] = { f->status, f->kind };

	return page_query(db, ctx, p, SQL_LIST, params, 2, "created_at", "id",
	    rows, err);
}

/* The one job row of res, or 404. */
static int
one_job(const PGresult *res, struct json_object **job, struct hb_error *err)
{
	*job = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	if (*job == NULL)
		return hb_fail(err, 404, "not_found", "No such job.");
	return 0;
}

int
job_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **job, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, false, SQL_GET, 1, &id, err);
	int rc;

	*job = NULL;
	if (res == NULL)
		return -1;
	rc = one_job(res, job, err);
	PQclear(res);
	return rc;
}

int
job_retry(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct json_object **job, struct hb_error *err)
{
	struct hb_audit_event ev = { .platform = true,
	    .action = "admin.job.retried", .target_type = "job",
	    .target_id = id };
	PGresult *res = db_tenant_query(db, ctx, true, SQL_RETRY_STATUS, 1,
	    &id, err);
	const char *status;
	int rc = 0;

	*job = NULL;
	if (res == NULL)
		return -1;
	status = db_value(res, 0, "status");
	if (status == NULL)
		rc = hb_fail(err, 404, "not_found", "No such job.");
	else if (strcmp(status, "dead") != 0 && strcmp(status, "failed") != 0)
		rc = hb_fail(err, 409, "job_not_dead",
		    "Only a dead or failed job can be retried.");
	PQclear(res);
	if (rc == -1) {
		db_tx_rollback(db);
		return -1;
	}
	res = db_exec(db, SQL_RETRY, 1, &id, err);
	if (res == NULL)
		return -1;
	rc = one_job(res, job, err);
	PQclear(res);
	return audit_commit(db, ctx, &ev, rc, job, err);
}

static const char *
col(struct hb_arena *a, const PGresult *res, int i, const char *column)
{
	const char *v = db_value(res, i, column);

	return v != NULL ? arena_strdup(a, v) : NULL;
}

/*
 * Runs a claim of nparams parameters (SQL_CLAIM's 4, or SQL_OUTBOX_CLAIM's
 * 5, with after): owner's done ones recorded, up to max taken under a
 * lease of lease seconds. The result is the caller's to PQclear, *n its
 * rows to read (at most max); NULL with err when the database failed.
 */
static PGresult *
claim(struct hb_db *db, const char *sql, int nparams, const char *owner,
    int lease, const char *done, int max, const char *after, int *n,
    struct hb_error *err)
{
	char secs[16], most[16];
	const char *params[5] = { owner, secs, done, most, after };
	PGresult *res;

	snprintf(secs, sizeof(secs), "%d", lease);
	snprintf(most, sizeof(most), "%d", max);
	res = db_exec(db, sql, nparams, params, err);
	if (res != NULL)
		*n = PQntuples(res) < max ? PQntuples(res) : max;
	return res;
}

/* Runs sql ($1 a list of ids, $2 their owner), answering no row: 0, or -1. */
static int
exec_ids(struct hb_db *db, const char *sql, const char *ids,
    const char *owner, struct hb_error *err)
{
	const char *params[2] = { ids, owner };
	PGresult *res = db_exec(db, sql, 2, params, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
job_claim(struct hb_db *db, struct hb_arena *a, const char *owner, int lease,
    const char *done, struct hb_job *jobs, int max, struct hb_error *err)
{
	int n;
	PGresult *res = claim(db, SQL_CLAIM, 4, owner, lease, done, max,
	    NULL, &n, err);

	if (res == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct hb_job){
			.id = col(a, res, i, "id"),
			.org_id = col(a, res, i, "organization_id"),
			.kind = col(a, res, i, "kind"),
			.payload = col(a, res, i, "payload"),
			.attempt = atoi(db_value(res, i, "attempts")),
			.max_attempts = atoi(db_value(res, i, "max_attempts")),
			.trace_id = col(a, res, i, "trace_id"),
		};
		if (jobs[i].id == NULL || jobs[i].kind == NULL ||
		    jobs[i].payload == NULL)
			n = -1;
	}
	PQclear(res);
	if (n == -1)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	return n;
}

int
job_heartbeat(struct hb_db *db, const struct hb_job *job, const char *owner,
    int lease, struct hb_error *err)
{
	char secs[16];
	const char *params[3] = { job->id, owner, secs };
	PGresult *res;
	bool held;

	snprintf(secs, sizeof(secs), "%d", lease);
	res = db_exec(db, SQL_HEARTBEAT, 3, params, err);
	if (res == NULL)
		return -1;
	held = PQntuples(res) == 1;
	PQclear(res);
	if (!held)
		return hb_fail(err, 409, "lease_lost",
		    "Another worker holds the job now.");
	return 0;
}

int
job_release(struct hb_db *db, const char *ids, const char *owner,
    struct hb_error *err)
{
	return exec_ids(db, SQL_RELEASE, ids, owner, err);
}

int
job_fail(struct hb_db *db, const struct hb_job *job, const char *owner,
    const char *error, double delay, bool permanent, bool *dead,
    struct hb_error *err)
{
	char text[HB_JOB_ERROR_MAX + 1], secs[32];
	const char *params[5] = { job->id, owner, text, secs,
	    permanent ? "true" : "false" };
	size_t n;
	PGresult *res;

	/* Cut at a character boundary, so the column stays valid UTF-8. */
	snprintf(text, sizeof(text), "%s", error != NULL ? error : "");
	n = strlen(text);
	while (n > 0 && !json_utf8_valid(text, n))
		text[--n] = '\0';
	snprintf(secs, sizeof(secs), "%.3f", delay);
	res = db_exec(db, SQL_FAIL, 5, params, err);
	if (res == NULL)
		return -1;
	*dead = db_bool(res, 0, "dead");
	PQclear(res);
	return 0;
}

/* The number of rows a statement changed, or -1 with err set. */
static int
count_rows(struct hb_db *db, const char *sql, int n,
    const char *const *params, struct hb_error *err)
{
	PGresult *res = db_exec(db, sql, n, params, err);
	int rows;

	if (res == NULL)
		return -1;
	rows = atoi(PQcmdTuples(res));
	PQclear(res);
	return rows;
}

int
job_reap(struct hb_db *db, struct hb_error *err)
{
	return count_rows(db, SQL_REAP, 0, NULL, err);
}

int
job_purge(struct hb_db *db, int age, struct hb_error *err)
{
	char secs[16];
	const char *params[1] = { secs };

	snprintf(secs, sizeof(secs), "%d", age);
	return count_rows(db, SQL_PURGE, 1, params, err);
}

/* Counts only, of every organization: schema/R__jobs.sql. */
static const char SQL_COUNTS[] =
    "SELECT kind, queued, running, dead, oldest_queued_seconds"
    " FROM homebot.job_counts()";

int
job_counts(struct hb_db *db, struct hb_arena *a, struct hb_job_count **out,
    struct hb_error *err)
{
	PGresult *res = db_exec(db, SQL_COUNTS, 0, NULL, err);
	struct hb_job_count *c;
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	c = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof(*c));
	for (int i = 0; c != NULL && i < n; i++) {
		c[i] = (struct hb_job_count){
			.kind = col(a, res, i, "kind"),
			.queued = atoll(db_value(res, i, "queued")),
			.running = atoll(db_value(res, i, "running")),
			.dead = atoll(db_value(res, i, "dead")),
			.oldest_queued = atof(db_value(res, i,
			    "oldest_queued_seconds")),
		};
		if (c[i].kind == NULL)
			c = NULL;
	}
	PQclear(res);
	if (c == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	*out = c;
	return n;
}

double
job_backoff(int attempt, int base, int cap, double unit)
{
	double d = base > 0 ? base : 1;

	for (int i = 1; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap > 0 ? cap : 1;
	if (!(unit >= 0 && unit < 1))
		unit = 0;
	/* Half fixed, half random ("equal jitter"): never less than d / 2. */
	return d / 2 + unit * d / 2;
}

int
outbox_claim(struct hb_db *db, struct hb_arena *a, const char *owner,
    int lease, const char *published, const char *after,
    struct hb_outbox_event *evs, int max, struct hb_error *err)
{
	int n;
	PGresult *res = claim(db, SQL_OUTBOX_CLAIM, 5, owner, lease,
	    published, max, after, &n, err);

	if (res == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		evs[i] = (struct hb_outbox_event){
			.seq = col(a, res, i, "seq"),
			.id = col(a, res, i, "event_id"),
			.org_id = col(a, res, i, "organization_id"),
			.payload = col(a, res, i, "payload"),
			.attempt = atoi(db_value(res, i, "attempts")),
			.trace_id = col(a, res, i, "trace_id"),
		};
		/* A copy that failed is no SQL NULL: no event is dropped for it. */
		if (evs[i].seq == NULL || evs[i].id == NULL ||
		    evs[i].org_id == NULL || (evs[i].payload == NULL &&
		    db_value(res, i, "payload") != NULL) ||
		    (evs[i].trace_id == NULL &&
		    db_value(res, i, "trace_id") != NULL))
			n = -1;
	}
	PQclear(res);
	if (n == -1)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	return n;
}

int
outbox_release(struct hb_db *db, const char *seqs, const char *owner,
    struct hb_error *err)
{
	return exec_ids(db, SQL_OUTBOX_RELEASE, seqs, owner, err);
}
