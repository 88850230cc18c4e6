/*
 * homebot-worker: runs the background jobs of api.md §7. It starts
 * WORKER_PROCS processes; each takes one job at a time from the queue in
 * PostgreSQL (lib/job.c) under a lease, runs the handler of its kind
 * from the table below, and sleeps on LISTEN homebot_jobs (with a timeout
 * as fallback) when there is nothing to do. SIGTERM or SIGINT lets the
 * running jobs finish, then every process exits. It connects with
 * DATABASE_URL, as the homebot_worker role.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "job.h"
#include "log.h"

#define IDLE_WAIT_MS	1000	/* the longest sleep between two looks */
#define REAP_EVERY	5	/* seconds between looks for lost leases */
#define RETENTION_EVERY	3600	/* seconds between two purges */

struct worker {
	struct hb_config	 cfg;
	struct hb_db		*db;	/* owned */
	struct hb_arena		 arena;	/* one job's memory */
	char			 owner[96];
	time_t			 next_reap;
};

/* A job kind: its handler returns 0, or -1 with a text safe to store. */
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

/* Deletes finished jobs past JOB_RETENTION, then queues the next purge. */
static int
run_retention(struct worker *w, const struct hb_job *job, char *error,
    size_t n)
{
	struct hb_error err = {0};
	time_t now = time(NULL);
	int purged;

	(void)job;
	purged = job_purge(w->db, w->cfg.job_retention, &err);
	if (purged == -1 || retention_enqueue(w, (int)(RETENTION_EVERY -
	    now % RETENTION_EVERY), &err) == -1) {
		snprintf(error, n, "%s", err.message);
		hb_error_clear(&err);
		return -1;
	}
	return 0;
}

static const struct job_kind kinds[] = {
	{ "noop", run_noop },
	{ "jobs.retention", run_retention },
};

static const struct job_kind *
kind_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The one log line of a job's attempt. */
static void
log_job(const struct hb_job *job, const char *outcome, double ms,
    const char *error)
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
	log_event(NULL, strcmp(outcome, "succeeded") == 0 ? "info" : "warn",
	    "job", f);
}

/* Runs one job the worker holds and records how it went. */
static void
run_job(struct worker *w, const struct hb_job *job)
{
	const struct job_kind *k = kind_find(job->kind);
	char error[HB_JOB_ERROR_MAX + 1] = "";
	struct hb_error err = {0};
	struct timespec t0;
	unsigned char r[4];
	bool dead = false;
	int rc, delay;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (k == NULL) {
		snprintf(error, sizeof(error), "no handler for the kind %s",
		    job->kind);
		rc = -1;
	} else
		rc = k->run(w, job, error, sizeof(error));
	/* Whatever the handler left open is not part of the outcome. */
	db_tx_rollback(w->db);
	if (rc == 0 && job_succeed(w->db, job, w->owner, &err) == 0) {
		log_job(job, "succeeded", ms_since(&t0), NULL);
		return;
	}
	if (rc == 0)
		snprintf(error, sizeof(error), "%s", err.message);
	if (crypto_random(r, sizeof(r)) == -1)
		memset(r, 0, sizeof(r));
	delay = job_backoff(job->attempt, w->cfg.job_backoff_base,
	    w->cfg.job_backoff_cap,
	    (double)((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3]) / 4294967296.0);
	hb_error_clear(&err);
	if (job_fail(w->db, job, w->owner, error, delay, &dead, &err) == -1)
		snprintf(error + strlen(error), sizeof(error) - strlen(error),
		    " (and its failure was not recorded: %s)", err.message);
	log_job(job, dead ? "dead" : "failed", ms_since(&t0), error);
	hb_error_clear(&err);
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
 * One look at the queue: runs a job if one is runnable, else waits for a
 * notification. A database that is down is waited for, not fatal.
 */
static void
work_once(struct worker *w)
{
	struct hb_error err = {0};
	struct hb_job job;
	int got;

	reap(w);
	got = job_claim(w->db, &w->arena, w->owner, w->cfg.job_lease, &job,
	    &err);
	if (got == 1)
		run_job(w, &job);
	else if (got == 0)
		db_wait_notify(w->db, IDLE_WAIT_MS, &err);
	else {
		log_event(NULL, "warn", "cannot take a job",
		    json_object_new_string(err.message));
		sleep(1);
	}
	hb_error_clear(&err);
	arena_reset(&w->arena);
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
	while (!stopping)
		work_once(&w);
	arena_free(&w.arena);
	db_free(w.db);
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

static pid_t
spawn(const struct hb_config *cfg, int index)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(worker_main(cfg, index));
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

	if (config_load(&cfg, &err) == -1) {
		fprintf(stderr, "homebot-worker: %s\n", err.message);
		return 1;
	}
	log_init(stderr, cfg.debug);
	catch_signals();
	return supervise(&cfg);
}
