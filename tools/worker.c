/*
 * homebot-worker: runs the background jobs of api.md §7. It starts
 * WORKER_PROCS processes; each takes one job at a time from the queue in
 * PostgreSQL (lib/job.c) under a lease, runs the handler of its kind
 * from the table below, and sleeps on LISTEN homebot_jobs (with a timeout
 * as fallback) when there is nothing to do. SIGTERM or SIGINT lets the
 * running jobs finish, then every process exits. It connects with
 * DATABASE_URL, as the homebot_worker role. Each process also publishes
 * Homebot's events from the outbox (schema/R__events.sql) over one MQTT
 * connection of its own to MQTT_HOST:MQTT_PORT (lib/mqtt_pub.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "event.h"
#include "job.h"
#include "log.h"
#include "mail.h"
#include "metrics.h"
#include "mqtt_acl.h"
#include "mqtt_pub.h"
#include "team.h"
#include "trace.h"
#include "vault.h"
#include "vault_rotate.h"

#define IDLE_WAIT_MS	1000	/* the longest sleep between two looks */
/*
 * ...and while jobs came in the last BUSY_FOR_MS: an event's write does
 * not always notify (homebot.jobs_wake() sends one per connection per
 * 100 ms), so its job is found by this look instead.
 */
#define BUSY_WAIT_MS	100
#define BUSY_FOR_MS	1000
#define BATCH_MAX	100	/* JOB_BATCH's upper bound */
/* homebot.event_claim hands out at most 100 events a look. */
_Static_assert(BATCH_MAX <= 100, "a full batch of events is BATCH_MAX");
#define REAP_EVERY	5	/* seconds between looks for lost leases */
#define RETENTION_EVERY	3600	/* seconds between two purges */
#define PUBACK_WAIT_MS	10000	/* the longest wait for a broker's PUBACK */
/*
 * A look at the outbox starts after the last event this process took,
 * and from its head once in this many ms (homebot.event_claim).
 */
#define OUTBOX_HEAD_EVERY_MS	1000
/* The longest wait after failed publishing: a broker back is used soon. */
#define PUBLISH_BACKOFF_CAP	30

struct worker {
	struct hb_config	 cfg;
	struct hb_db		*db;	/* owned */
	struct hb_arena		 arena;	/* one job's memory */
	char			 owner[96];
	/* The jobs taken at once (JOB_BATCH), run one after the other. */
	struct hb_job		 batch[BATCH_MAX];
	int			 nbatch, next;
	struct timespec		 taken;		/* when the batch was taken */
	struct timespec		 busy;		/* when a batch last had jobs */
	/* Successes not yet recorded: "{id,id,…}" for the next claim. */
	char			 done[2 + BATCH_MAX * 37];
	/*
	 * The running job's context: its organization (none for a platform
	 * job) and its id as the request ID, for handlers' statements
	 * (db_tenant_query), which RLS then confines to that organization.
	 */
	struct hb_db_ctx	 ctx;
	/*
	 * The running job's span: of the trace the job was enqueued in (a
	 * new trace when it was enqueued in none), for its log lines and the
	 * jobs it enqueues in turn.
	 */
	struct hb_trace		 trace;
	time_t			 next_reap;
	/* Homebot's events: this process's connection, opened on first use. */
	struct hb_mqtt_pub	*pub;	/* owned */
	bool			 unconfigured_logged;
	/*
	 * The outbox's events taken at once: BATCH_MAX, whatever JOB_BATCH
	 * says, as publishing one takes microseconds.
	 */
	struct hb_outbox_event	 events[BATCH_MAX];
	/* Events published, not yet deleted: "{seq,…}" for the next claim. */
	char			 published[2 + BATCH_MAX * 21];
	/* Failed publishing rounds in a row, the last one's time and its wait. */
	int			 pub_failures;
	struct timespec		 pub_failed_at;	/* the last failed publish */
	double			 pub_wait_ms;	/* no event before it is this old */
	/* The last seq taken, and when a look last started at the head. */
	char			 outbox_after[24];
	struct timespec		 outbox_head;
};

/*
 * A job kind: its handler returns 0; -1 with a text safe to store when a
 * later attempt may succeed; JOB_PERMANENT when no attempt can.
 */
#define JOB_PERMANENT	-2

struct job_kind {
	const char	*kind;
	int		(*run)(struct worker *w, const struct hb_job *job,
			    char *error, size_t n);
};

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Does nothing: the queue's own cost, for make bench. */
static int
run_noop(struct worker *w, const struct hb_job *job, char *error, size_t n)
{
	(void)w;
	(void)job;
	(void)error;
	(void)n;
	return 0;
}

/* The unique key of the retention job of the hour that holds t. */
static void
retention_key(time_t t, char key[32])
{
	snprintf(key, 32, "retention:%lld", (long long)(t / RETENTION_EVERY));
}

/* Queues the purge of the hour after now + delay (a no-op if queued). */
static int
retention_enqueue(struct worker *w, int delay, struct hb_error *err)
{
	char key[32];
	struct hb_job_new in = { .kind = "jobs.retention", .unique_key = key,
	    .delay = delay, .platform = true };

	retention_key(time(NULL) + delay, key);
	return job_enqueue(w->db, &in, NULL, err);
}

/*
 * Deletes finished jobs past JOB_RETENTION and the mailed tokens and mail
 * counts that can no longer matter, then queues the next purge.
 */
static int
run_retention(struct worker *w, const struct hb_job *job, char *error,
    size_t n)
{
	struct hb_error err = {0};
	time_t now = time(NULL);
	int purged;

	(void)job;
	purged = job_purge(w->db, w->cfg.job_retention, &err);
	if (purged != -1)
		purged = account_purge(w->db, &err);
	if (purged == -1 || retention_enqueue(w, (int)(RETENTION_EVERY -
	    now % RETENTION_EVERY), &err) == -1) {
		snprintf(error, n, "%s", err.message);
		hb_error_clear(&err);
		return -1;
	}
	return 0;
}

#define MAIL_VARS_MAX	16

/* Adds the string members of obj (may be NULL) to vars; -1 if too many. */
static int
mail_vars_add(struct json_object *obj, struct hb_mail_var *vars, size_t *n)
{
	if (obj == NULL)
		return 0;
	if (!json_object_is_type(obj, json_type_object))
		return -1;
	json_object_object_foreach(obj, name, value) {
		if (*n == MAIL_VARS_MAX ||
		    !json_object_is_type(value, json_type_string))
			return -1;
		vars[(*n)++] = (struct hb_mail_var){ name,
		    json_object_get_string(value) };
	}
	return 0;
}

/*
 * Delivers one mail: {"to", "template", "vars": {…}, "secret": {…}}, where
 * secret holds the values that must not outlive the job (a token-bearing
 * link) and both fill the template's placeholders. Only the error code
 * and libcurl's text reach last_error and the log, never the mail.
 */
static int
run_mail(struct worker *w, const struct hb_job *job, char *error, size_t n)
{
	struct json_object *p = json_tokener_parse(job->payload), *v;
	struct hb_mail_var vars[MAIL_VARS_MAX];
	struct hb_mail_rendered *out = NULL;
	struct hb_error err = {0};
	const char *to = NULL, *tmpl = NULL;
	size_t nvars = 0;
	int rc = JOB_PERMANENT;

	if (json_object_object_get_ex(p, "to", &v))
		to = json_object_get_string(v);
	if (json_object_object_get_ex(p, "template", &v))
		tmpl = json_object_get_string(v);
	if (to == NULL || tmpl == NULL ||
	    mail_vars_add(json_object_object_get(p, "vars"), vars,
	    &nvars) == -1 ||
	    mail_vars_add(json_object_object_get(p, "secret"), vars,
	    &nvars) == -1)
		snprintf(error, n, "mail_invalid: the payload needs to, "
		    "template and at most %d string values", MAIL_VARS_MAX);
	else if ((out = malloc(sizeof(*out))) == NULL) {
		snprintf(error, n, "out of memory");
		rc = -1;
	} else if (mail_render(tmpl, vars, nvars, out, &err) == -1 ||
	    job_heartbeat(w->db, job, w->owner, w->cfg.job_lease,
	    &err) == -1 ||
	    mail_deliver(&w->cfg, &(struct hb_mail){ .to = to,
	    .subject = out->subject, .text = out->text }, &err) == -1) {
		snprintf(error, n, "%s: %s", err.code, err.message);
		rc = strcmp(err.code, "mail_invalid") == 0 ? JOB_PERMANENT : -1;
	} else
		rc = 0;
	if (out != NULL)
		explicit_bzero(out, sizeof(*out));
	free(out);
	hb_error_clear(&err);
	json_object_put(p);
	return rc;
}

/*
 * POST /api/v1/auth/password/forgot, queued by the request whether or not
 * an account has the address: the reset link and its mail, if one does.
 */
static int
run_password_forgot(struct worker *w, const struct hb_job *job, char *error,
    size_t n)
{
	struct json_object *p = json_tokener_parse(job->payload), *v;
	struct hb_error err = {0};
	int rc = 0;

	if (!json_object_object_get_ex(p, "email", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(error, n, "the payload needs an email");
		rc = JOB_PERMANENT;
	} else if (account_forgot(w->db, &w->cfg, &w->arena,
	    json_object_get_string(v), w->ctx.trace_id, &err) == -1) {
		snprintf(error, n, "%s: %s", err.code, err.message);
		rc = -1;
	}
	hb_error_clear(&err);
	json_object_put(p);
	return rc;
}

/* The purge of the hour that holds t: its unique key. */
static void
purge_key(time_t t, char key[32])
{
	snprintf(key, 32, "purge:%lld", (long long)(t / RETENTION_EVERY));
}

/* Queues the soft-delete purge of the hour after now + delay. */
static int
purge_enqueue(struct worker *w, int delay, struct hb_error *err)
{
	char key[32];
	struct hb_job_new in = { .kind = "purge.soft_deleted",
	    .unique_key = key, .delay = delay, .platform = true };

	purge_key(time(NULL) + delay, key);
	return job_enqueue(w->db, &in, NULL, err);
}

#define PURGE_BATCH	500

/*
 * Removes the rows soft-deleted longer than SOFT_DELETE_RETENTION ago
 * (teams: api.md §1), a batch per statement so that no one transaction
 * holds many locks, then queues the next purge, an hour on: deleted rows
 * outlive their retention by an hour at most.
 */
static int
run_purge(struct worker *w, const struct hb_job *job, char *error, size_t n)
{
	struct hb_error err = {0};
	time_t now = time(NULL);
	int purged;

	(void)job;
	do
		purged = team_purge(w->db, w->cfg.soft_delete_retention,
		    PURGE_BATCH, &err);
	while (purged == PURGE_BATCH);
	if (purged == -1 || purge_enqueue(w, (int)(RETENTION_EVERY -
	    now % RETENTION_EVERY), &err) == -1) {
		snprintf(error, n, "%s", err.message);
		hb_error_clear(&err);
		return -1;
	}
	return 0;
}

#define ROTATE_BATCH	200

/* Between two batches of a rotation: the job's lease goes on. */
struct rotate_arg {
	struct worker		*w;
	const struct hb_job	*job;
};

static int
rotate_heartbeat(void *arg, struct hb_error *err)
{
	struct rotate_arg *a = arg;

	return job_heartbeat(a->w->db, a->job, a->w->owner, a->w->cfg.job_lease,
	    err);
}

/*
 * vault.rotate: make vault-rotate as a job (lib/vault_rotate.h). The
 * master keys are read here, not at the start, so a worker without them
 * runs every other kind. A data key no loaded master key unwraps makes
 * the job dead at once: no attempt can succeed until VAULT_OLD_KEYS
 * changes, and the next run is queued then.
 */
static int
run_vault_rotate(struct worker *w, const struct hb_job *job, char *error,
    size_t n)
{
	struct vault_keyring *kr = NULL;
	struct vault_rotate_counts c;
	struct rotate_arg a = { w, job };
	struct hb_error err = {0};
	struct json_object *f;
	int rc;

	if (vault_keyring_load(&kr, w->cfg.vault_master_key,
	    w->cfg.vault_old_keys, &err) != VAULT_OK) {
		snprintf(error, n, "%s", err.message);
		hb_error_clear(&err);
		return JOB_PERMANENT;
	}
	rc = vault_rotate_run(w->db, kr, ROTATE_BATCH, rotate_heartbeat, &a,
	    &c, &err);
	if (rc == -1) {
		vault_keyring_free(kr);
		snprintf(error, n, "%s", err.message);
		hb_error_clear(&err);
		return -1;
	}
	f = json_object_new_object();
	json_object_object_add(f, "job_id", json_object_new_string(job->id));
	json_object_object_add(f, "kid",
	    json_object_new_string(vault_keyring_kid(kr)));
	json_object_object_add(f, "rewrapped", json_object_new_int64(c.rewrapped));
	json_object_object_add(f, "current", json_object_new_int64(c.current));
	json_object_object_add(f, "failed", json_object_new_int64(c.failed));
	json_object_object_add(f, "left", json_object_new_int64(c.left));
	log_event(NULL, c.failed > 0 || c.left > 0 ? "warn" : "info",
	    "vault rotation", f);
	vault_keyring_free(kr);
	if (c.failed > 0) {
		snprintf(error, n, "%ld data keys could not be unwrapped (the "
		    "first: %s %s: %s); %ld re-wrapped", c.failed,
		    c.failed_what, c.failed_org, vault_strerror(c.failed_rc),
		    c.rewrapped);
		return JOB_PERMANENT;
	}
	if (c.left > 0) {
		snprintf(error, n, "%ld data keys are still under an old "
		    "master key (another run holds them?); %ld re-wrapped",
		    c.left, c.rewrapped);
		return -1;
	}
	return 0;
}

/* This process's client id: Homebot's reserved prefix, host, pid. */
static void
publisher_id(const struct worker *w, char *id, size_t n)
{
	snprintf(id, n, "%sworker-%.80s", HB_MQTT_RESERVED, w->owner);
	/* The owner is host:pid:index; a client id allows no '/', '+', '#'. */
	for (char *p = id; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == '/' || *p == '+' || *p == '#')
			*p = '_';
}

static const struct job_kind kinds[] = {
	{ "noop", run_noop },
	{ "mail", run_mail },
	{ "jobs.retention", run_retention },
	{ "purge.soft_deleted", run_purge },
	{ "auth.password_forgot", run_password_forgot },
	{ "vault.rotate", run_vault_rotate },
	/* Not a job: the events of the outbox, counted under this kind. */
	{ "mqtt.publish", NULL },
};

#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

static const struct job_kind *
kind_find(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

/* The number of a kind in kinds[] for its metrics; -1: unknown. */
static int
kind_number(const struct job_kind *k)
{
	return k != NULL ? (int)(k - kinds) : -1;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * The one log line of a job's attempt; when the database failed, its
 * cause too (the SQLSTATE and the server's message, never parameters).
 */
static void
log_job(const struct worker *w, const struct hb_job *job,
    const char *outcome, double ms, const char *error)
{
	struct json_object *f = json_object_new_object();
	char dur[32];

	json_object_object_add(f, "job_id", json_object_new_string(job->id));
	json_object_object_add(f, "kind", json_object_new_string(job->kind));
	json_object_object_add(f, "org_id", job->org_id != NULL ?
	    json_object_new_string(job->org_id) : NULL);
	json_object_object_add(f, "attempt", json_object_new_int(job->attempt));
	json_object_object_add(f, "outcome", json_object_new_string(outcome));
	snprintf(dur, sizeof(dur), "%.3f", ms);
	json_object_object_add(f, "duration_ms",
	    json_object_new_double_s(ms, dur));
	if (error != NULL)
		json_object_object_add(f, "error",
		    json_object_new_string(error));
	if (db_sqlstate(w->db)[0] != '\0' || db_last_error(w->db)[0] != '\0') {
		json_object_object_add(f, "sqlstate",
		    json_object_new_string(db_sqlstate(w->db)));
		json_object_object_add(f, "cause",
		    json_object_new_string(db_last_error(w->db)));
	}
	log_event(NULL, strcmp(outcome, "succeeded") == 0 ? "info" : "warn",
	    "job", f);
}

/* The fields of a warning: the job (may be NULL) and what went wrong. */
static struct json_object *
error_fields(const char *job_id, const struct hb_error *err)
{
	struct json_object *f = json_object_new_object();

	if (job_id != NULL)
		json_object_object_add(f, "job_id",
		    json_object_new_string(job_id));
	json_object_object_add(f, "error", json_object_new_string(err->message));
	return f;
}

/* Adds id to list, a PostgreSQL array literal "{…}" ("" when empty). */
static void
id_list_add(char *list, size_t size, const char *id)
{
	size_t n = strlen(list);

	if (n == 0)
		snprintf(list, size, "{%s}", id);
	else if (n + strlen(id) + 2 < size)
		snprintf(list + n - 1, size - n + 1, ",%s}", id);
}

/* A random number in [0, 1) for the jitter; 0 without randomness. */
static double
random_unit(void)
{
	unsigned char r[4];

	if (crypto_random(r, sizeof(r)) == -1)
		return 0;
	return (double)((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3]) / 4294967296.0;
}

/*
 * Runs one job the worker holds and records how it went: a failure at
 * once, a success with the next claim (w->done), in the same round trip.
 */
static void
run_job(struct worker *w, const struct hb_job *job)
{
	const struct job_kind *k = kind_find(job->kind);
	char error[HB_JOB_ERROR_MAX + 1] = "";
	struct hb_error err = {0};
	struct timespec t0;
	bool dead = false;
	double delay;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	db_clear_error(w->db);
	trace_child(&w->trace, job->trace_id);
	log_trace_set(&w->trace);
	w->ctx = (struct hb_db_ctx){ .org_id = job->org_id,
	    .request_id = job->id, .trace_id = w->trace.trace_id };
	if (k == NULL || k->run == NULL) {
		snprintf(error, sizeof(error), "no handler for the kind %s",
		    job->kind);
		rc = -1;
	} else
		rc = k->run(w, job, error, sizeof(error));
	/* Whatever the handler left open is not part of the outcome. */
	db_tx_rollback(w->db);
	if (rc == 0) {
		id_list_add(w->done, sizeof(w->done), job->id);
		metrics_job(kind_number(k), HB_METRICS_SUCCEEDED, &t0);
		log_job(w, job, "succeeded", ms_since(&t0), NULL);
		log_trace_set(NULL);
		return;
	}
	delay = job_backoff(job->attempt, w->cfg.job_backoff_base,
	    w->cfg.job_backoff_cap, random_unit());
	hb_error_clear(&err);
	if (job_fail(w->db, job, w->owner, error, delay, rc == JOB_PERMANENT,
	    &dead, &err) == -1)
		snprintf(error + strlen(error), sizeof(error) - strlen(error),
		    " (and its failure was not recorded: %s)", err.message);
	metrics_job(kind_number(k), dead ? HB_METRICS_DEAD :
	    HB_METRICS_FAILED, &t0);
	log_job(w, job, dead ? "dead" : "failed", ms_since(&t0), error);
	log_trace_set(NULL);
	hb_error_clear(&err);
}

/*
 * Deletes the events published since the last claim, with a claim of no
 * event: 0 (also when there is none), or -1 (they stay listed).
 */
static int
published_flush(struct worker *w)
{
	struct hb_error err = {0};
	int rc = 0;

	if (w->published[0] == '\0')
		return 0;
	if (outbox_claim(w->db, &w->arena, w->owner, w->cfg.job_lease,
	    w->published, "0", NULL, 0, &err) >= 0)
		w->published[0] = '\0';
	else
		rc = -1;
	hb_error_clear(&err);
	return rc;
}

/*
 * Before the worker stops: gives back the jobs of the batch it did not
 * start, so another worker takes them at once, and records the last
 * successes (a database that is down is waited for a while).
 */
static void
stop_cleanly(struct worker *w)
{
	struct hb_error err = {0};
	char left[sizeof(w->done)] = "";

	for (int i = w->next; i < w->nbatch; i++)
		id_list_add(left, sizeof(left), w->batch[i].id);
	if (left[0] != '\0' && job_release(w->db, left, w->owner, &err) == -1)
		hb_error_clear(&err);
	for (int i = 0; i < 30 && published_flush(w) == -1; i++)
		sleep(1);
	for (int i = 0; i < 30 && w->done[0] != '\0'; i++) {
		/* A claim of no job: it only records the successes. */
		if (job_claim(w->db, &w->arena, w->owner, w->cfg.job_lease,
		    w->done, NULL, 0, &err) >= 0)
			w->done[0] = '\0';
		else
			sleep(1);
		hb_error_clear(&err);
	}
}

/* Gives lost leases back to the queue, every REAP_EVERY seconds. */
static void
reap(struct worker *w)
{
	struct hb_error err = {0};
	time_t now = time(NULL);

	if (now < w->next_reap)
		return;
	w->next_reap = now + REAP_EVERY;
	if (job_reap(w->db, &err) == -1)
		hb_error_clear(&err);
}

/*
 * The next job of the batch, or NULL when it is done. A job's lease runs
 * from when the batch was taken: once a third of it has passed, the lease
 * is renewed before the job starts, and a job whose lease was lost (it
 * expired and another worker took the job) is skipped.
 */
static const struct hb_job *
batch_next(struct worker *w)
{
	struct hb_error err = {0};

	while (w->next < w->nbatch) {
		const struct hb_job *job = &w->batch[w->next++];

		if (ms_since(&w->taken) < w->cfg.job_lease * 1000.0 / 3 ||
		    job_heartbeat(w->db, job, w->owner, w->cfg.job_lease,
		    &err) == 0)
			return job;
		log_event(NULL, "warn", "a job of the batch was lost",
		    error_fields(job->id, &err));
		hb_error_clear(&err);
	}
	return NULL;
}

/*
 * The one log line of an event's publishing: what became of it (published,
 * dropped, failed) and why, when it was not published.
 */
static void
log_publish(const struct hb_outbox_event *ev, const char *outcome, double ms,
    const char *error)
{
	struct json_object *f = json_object_new_object();
	char dur[32];

	json_object_object_add(f, "event_id", json_object_new_string(ev->id));
	json_object_object_add(f, "org_id", json_object_new_string(ev->org_id));
	json_object_object_add(f, "attempt", json_object_new_int(ev->attempt));
	json_object_object_add(f, "outcome", json_object_new_string(outcome));
	snprintf(dur, sizeof(dur), "%.3f", ms);
	json_object_object_add(f, "duration_ms",
	    json_object_new_double_s(ms, dur));
	if (error != NULL)
		json_object_object_add(f, "error",
		    json_object_new_string(error));
	log_event(NULL, strcmp(outcome, "failed") == 0 ? "warn" : "info",
	    "event", f);
}

/*
 * Publishes one event of the outbox on its organization's topic, QoS 1,
 * under the trace of the request that wrote it: 0 once the broker
 * acknowledged it, or once it is to be dropped (its organization is gone,
 * its envelope is not one, or MQTT_HOST is not set: nothing waits for a
 * broker that is not coming), each then recorded as done; -1 when the
 * broker failed, or anything else a later attempt may mend (the event
 * stays in the outbox).
 */
static int
publish_one(struct worker *w, const struct hb_outbox_event *ev)
{
	struct hb_error err = {0};
	char topic[HB_EVENT_TOPIC_MAX], id[HB_MQTT_NAME_MAX + 1];
	const char *dropped = NULL;
	struct timespec t0;
	bool invalid = false;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	trace_child(&w->trace, ev->trace_id);
	log_trace_set(&w->trace);
	if (ev->payload == NULL)
		dropped = "its organization is gone";
	else if (w->cfg.mqtt_host[0] == '\0') {
		if (!w->unconfigured_logged)
			log_event(NULL, "info", "MQTT_HOST is not set: events "
			    "are not published (they are dropped)", NULL);
		w->unconfigured_logged = true;
		dropped = "mqtt_unconfigured: MQTT_HOST is not set";
	} else if (event_topic(ev->org_id, topic, sizeof(topic), &err) == -1 ||
	    event_check(ev->payload, ev->org_id, &err) == -1) {
		/* 422: no attempt can publish it; else (memory) a later may. */
		invalid = err.status == 422;
		if (invalid)
			dropped = err.message;
		else
			rc = -1;
	} else {
		if (w->pub == NULL) {
			publisher_id(w, id, sizeof(id));
			w->pub = mqtt_pub_new(&w->cfg, id, &err);
		}
		if (w->pub == NULL || mqtt_pub_publish(w->pub, topic,
		    ev->payload, strlen(ev->payload), PUBACK_WAIT_MS,
		    &err) == -1)
			rc = -1;
	}
	if (rc == 0)
		id_list_add(w->published, sizeof(w->published), ev->seq);
	/* An envelope no attempt can publish counts as dead, as a job would. */
	metrics_job(kind_number(kind_find("mqtt.publish")), rc == -1 ?
	    HB_METRICS_FAILED : invalid ? HB_METRICS_DEAD :
	    HB_METRICS_SUCCEEDED, &t0);
	log_publish(ev, rc == -1 ? "failed" : dropped != NULL ? "dropped" :
	    "published", ms_since(&t0), rc == -1 ? err.message : dropped);
	log_trace_set(NULL);
	hb_error_clear(&err);
	return rc;
}

/*
 * Publishes the outbox's next events, oldest first; those published are
 * deleted with the next claim, in the same round trip. When the broker
 * fails, the batch's rest is given back and this process takes no event
 * before the queue's backoff (JOB_BACKOFF_*, at most PUBLISH_BACKOFF_CAP
 * seconds) has passed. Returns how many events it took (0: none), or -1
 * when the database failed.
 */
static int
publish_events(struct worker *w)
{
	struct hb_error err = {0};
	char left[sizeof(w->published)] = "";
	int got, i;

	if (w->pub_failures > 0 && ms_since(&w->pub_failed_at) < w->pub_wait_ms)
		return 0;
	if (w->outbox_after[0] == '\0' ||
	    ms_since(&w->outbox_head) >= OUTBOX_HEAD_EVERY_MS) {
		snprintf(w->outbox_after, sizeof(w->outbox_after), "0");
		clock_gettime(CLOCK_MONOTONIC, &w->outbox_head);
	}
	got = outbox_claim(w->db, &w->arena, w->owner, w->cfg.job_lease,
	    w->published[0] != '\0' ? w->published : NULL, w->outbox_after,
	    w->events, BATCH_MAX, &err);
	if (got < 0) {
		log_event(NULL, "warn", "cannot take an event",
		    error_fields(NULL, &err));
		hb_error_clear(&err);
		return -1;
	}
	w->published[0] = '\0';
	if (got > 0)
		snprintf(w->outbox_after, sizeof(w->outbox_after), "%s",
		    w->events[got - 1].seq);
	for (i = 0; i < got && !stopping; i++)
		if (publish_one(w, &w->events[i]) == -1)
			break;
	if (i == got) {
		w->pub_failures = 0;
		return got;
	}
	for (; i < got; i++)
		id_list_add(left, sizeof(left), w->events[i].seq);
	if (outbox_release(w->db, left, w->owner, &err) == -1)
		hb_error_clear(&err);
	/* The next look starts at the head, where these are. */
	w->outbox_after[0] = '\0';
	if (!stopping) {
		/* From now: a failed publish may have waited for its PUBACK. */
		w->pub_wait_ms = 1000.0 * job_backoff(++w->pub_failures,
		    w->cfg.job_backoff_base,
		    w->cfg.job_backoff_cap < PUBLISH_BACKOFF_CAP ?
		    w->cfg.job_backoff_cap : PUBLISH_BACKOFF_CAP,
		    random_unit());
		clock_gettime(CLOCK_MONOTONIC, &w->pub_failed_at);
	}
	return got;
}

/*
 * One step: runs the next job of the batch; else records the successes
 * and takes a new batch; else waits for a notification. A database that
 * is down is waited for, not fatal.
 */
static void
work_once(struct worker *w)
{
	struct hb_error err = {0};
	const struct hb_job *job = batch_next(w);
	int got, events;

	if (job != NULL) {
		run_job(w, job);
		return;
	}
	arena_reset(&w->arena);
	w->nbatch = w->next = 0;
	reap(w);
	events = publish_events(w);
	got = job_claim(w->db, &w->arena, w->owner, w->cfg.job_lease,
	    w->done[0] != '\0' ? w->done : NULL, w->batch, w->cfg.job_batch,
	    &err);
	clock_gettime(CLOCK_MONOTONIC, &w->taken);
	if (got >= 0)
		w->done[0] = '\0';
	if (events > 0)
		w->busy = w->taken;
	if (got > 0) {
		/*
		 * The batch may outlast the published events' leases: they are
		 * deleted now, not after it, so no other process sends them again.
		 */
		published_flush(w);
		w->nbatch = got;
		w->busy = w->taken;
	} else if (got == 0 && events == BATCH_MAX && w->pub_failures == 0) {
		/* A full batch: more events may wait, look again at once. */
	} else if (got == 0) {
		/* Keep-alive of the broker connection between jobs. */
		mqtt_pub_poll(w->pub);
		db_wait_notify(w->db, ms_since(&w->busy) < BUSY_FOR_MS ?
		    BUSY_WAIT_MS : IDLE_WAIT_MS, &err);
	}
	else {
		log_event(NULL, "warn", "cannot take a job",
		    error_fields(NULL, &err));
		sleep(1);
	}
	hb_error_clear(&err);
}

/*
 * Each worker process takes a metrics slot of its own after the fork
 * (a slot's lock would otherwise be shared with the parent), naming the
 * kinds it knows; a kind it does not know is counted as "other".
 */
static void
metrics_start(const struct hb_config *cfg)
{
	const char *names[NKINDS];
	struct hb_metrics_names mn = { .program = "homebot-worker",
	    .kinds = names, .nkinds = NKINDS };
	struct hb_error err = {0};

	if (cfg->metrics_dir[0] == '\0')
		return;
	for (size_t i = 0; i < NKINDS; i++)
		names[i] = kinds[i].kind;
	if (metrics_open(cfg->metrics_dir, &mn, &err) == -1)
		log_event(NULL, "warn", "this process records no metrics",
		    error_fields(NULL, &err));
}

static int
worker_main(const struct hb_config *cfg, int index)
{
	struct worker w = { .cfg = *cfg };
	struct hb_error err = {0};
	char host[64] = "";

	gethostname(host, sizeof(host) - 1);
	snprintf(w.owner, sizeof(w.owner), "%.63s:%d:%d", host, (int)getpid(),
	    index);
	metrics_start(cfg);
	w.db = db_new(cfg->database_url, "homebot-worker");
	if (w.db == NULL)
		return 1;
	arena_init(&w.arena);
	/* Until the database answers, keep trying: it may start after us. */
	while (!stopping && db_listen(w.db, HB_JOB_CHANNEL, &err) == -1) {
		hb_error_clear(&err);
		sleep(1);
	}
	/* The first process makes sure a purge is queued. */
	if (!stopping && index == 0 && retention_enqueue(&w, 0, &err) == -1)
		hb_error_clear(&err);
	if (!stopping && index == 0 && purge_enqueue(&w, 0, &err) == -1)
		hb_error_clear(&err);
	while (!stopping)
		work_once(&w);
	stop_cleanly(&w);
	mqtt_pub_free(w.pub);
	arena_free(&w.arena);
	db_free(w.db);
	metrics_close();
	return 0;
}

static void
catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	/* No SA_RESTART: a signal ends the wait for a notification at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

#ifdef HB_COVERAGE
void	__gcov_dump(void);
#endif

static pid_t
spawn(const struct hb_config *cfg, int index)
{
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		rc = worker_main(cfg, index);
#ifdef HB_COVERAGE
		/*
		 * _exit() leaves the parent's exit handlers to the parent, and
		 * with them the one that writes gcov's counters: make coverage
		 * would count nothing a worker process did.
		 */
		__gcov_dump();
#endif
		_exit(rc);
	}
	return pid;
}

/*
 * The parent starts the workers, starts again one that dies (a crash, a
 * SIGKILL), and on SIGTERM or SIGINT passes it on and waits for them all.
 */
static int
supervise(const struct hb_config *cfg)
{
	pid_t pids[64];
	int n = cfg->worker_procs, status;

	for (int i = 0; i < n; i++)
		pids[i] = spawn(cfg, i);
	while (!stopping) {
		pid_t pid = wait(&status);

		if (pid == -1) {
			if (errno == ECHILD)
				break;
			continue;
		}
		for (int i = 0; i < n && !stopping; i++) {
			if (pids[i] != pid)
				continue;
			log_event(NULL, "warn", "a worker process stopped; "
			    "starting another", NULL);
			sleep(1);
			pids[i] = spawn(cfg, i);
		}
	}
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(&status) > 0 || errno == EINTR)
		;
	return 0;
}

int
main(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};

	int rc;

	if (config_load(&cfg, &err) == -1 ||
	    mail_config_check(&cfg, &err) == -1 ||
	    event_config_check(&cfg, &err) == -1 ||
	    mail_global_init(&err) == -1) {
		fprintf(stderr, "homebot-worker: %s\n", err.message);
		return 1;
	}
	log_init(stderr, cfg.debug);
	catch_signals();
	rc = supervise(&cfg);
	mail_global_cleanup();
	return rc;
}
