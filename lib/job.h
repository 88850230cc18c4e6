#ifndef HB_JOB_H
#define HB_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "http.h"
#include "page.h"

/*
 * Background jobs (api.md §7): a queue in PostgreSQL. The request path
 * enqueues in its own transaction, so a request that rolls back enqueues
 * nothing; homebot-worker takes jobs with FOR UPDATE SKIP LOCKED under a
 * lease. A payload's "secret" object (a mail's token-bearing link) is
 * erased when the job succeeds or is dead, and no answer shows a
 * payload. Every call returns 0 (or a count) or -1 with err set.
 */

#define HB_JOB_CHANNEL		"homebot_jobs"	/* LISTEN/NOTIFY */
#define HB_JOB_ERROR_MAX	1000		/* last_error, in bytes */

struct hb_job_new {
	const char	*kind;
	const char	*payload_json;	/* a JSON object; NULL: {} */
	const char	*unique_key;	/* NULL: none */
	int		 max_attempts;	/* 0: the default, 5 */
	int		 delay;		/* seconds before it may run */
	bool		 platform;	/* of no organization */
};

/*
 * Enqueues a job inside the transaction open on db (of the organization
 * of its context, unless in->platform) and notifies the workers, which
 * hear it when that transaction commits. A pending job of the same kind
 * and unique key makes this a no-op. *queued says whether a row was added.
 */
int	job_enqueue(struct hb_db *db, const struct hb_job_new *in, bool *queued,
	    struct hb_error *err);

/*
 * A mail to enqueue: the template (lib/mail_templates.c) with vars, and
 * the link of an account page (PUBLIC_URL + page + "#token=" + token),
 * which the job keeps only until it is sent. page NULL: no token link.
 */
struct hb_job_mail {
	const char	*to;
	const char	*template;
	const char	*page;		/* e.g. "/account/verify", or NULL */
	const char	*token;		/* base64url, with page */
	const char	*vars[8];	/* name, value, name, value…; NULL ends */
};
/*
 * Enqueues m as a platform "mail" job inside the transaction open on db
 * (no organization's job list shows it); the workers hear of it at commit.
 */
int	job_enqueue_mail(struct hb_db *db, const struct hb_config *cfg,
	    const struct hb_job_mail *m, struct hb_error *err);
/* The filters of GET …/jobs; each NULL when not given. */
struct hb_job_filter {
	const char	*status;
	const char	*kind;
};

/* Reads ?status=&kind=: 0, or -1 with a 422 in err. */
int	job_filter_parse(const struct hb_request *r, struct hb_job_filter *f,
	    struct hb_error *err);
/* One page of the jobs ctx may see, newest first, without payloads. */
int	job_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_job_filter *f, const struct hb_page *p,
	    struct hb_rows *rows, struct hb_error *err);
/* One job ctx may see: 404 not_found. */
int	job_get(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
	    struct json_object **job, struct hb_error *err);
/* A dead (or failed) job back to the queue, audited: 404, 409 job_not_dead. */
int	job_retry(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
	    struct json_object **job, struct hb_error *err);

/* A job a worker holds; strings live in the arena it was taken into. */
struct hb_job {
	const char	*id;
	const char	*org_id;	/* NULL: a platform job */
	const char	*kind;
	const char	*payload;	/* JSON text */
	int		 attempt;	/* this one, from 1 */
	int		 max_attempts;
	const char	*trace_id;	/* of its enqueuer; NULL: none */
};

/*
 * Records the jobs done (a PostgreSQL array of their ids, "{…}"; NULL:
 * none) as succeeded (their payloads lose "secret"), and takes up to max runnable
 * jobs for owner under a lease of lease seconds, in the order they are to
 * run, in one round trip. Returns how many it put in jobs[0..max) (0: none
 * is runnable), or -1 on failure (done not recorded either).
 */
int	job_claim(struct hb_db *db, struct hb_arena *a, const char *owner,
	    int lease, const char *done, struct hb_job *jobs, int max,
	    struct hb_error *err);
/* Extends the lease of a job owner still holds: 0, or -1 (lease lost). */
int	job_heartbeat(struct hb_db *db, const struct hb_job *job,
	    const char *owner, int lease, struct hb_error *err);
/*
 * Gives back jobs owner took but did not start (ids: a PostgreSQL array,
 * "{…}"): queued again at once, the attempt not counted.
 */
int	job_release(struct hb_db *db, const char *ids, const char *owner,
	    struct hb_error *err);
/*
 * Records a failed attempt: the job runs again after delay seconds, or
 * is dead after its last attempt or when permanent (a retry cannot help)
 * (*dead). error is stored, cut to HB_JOB_ERROR_MAX bytes: it must never
 * hold a secret.
 */
int	job_fail(struct hb_db *db, const struct hb_job *job, const char *owner,
	    const char *error, double delay, bool permanent, bool *dead,
	    struct hb_error *err);
/* Running jobs whose lease ran out go back to the queue (or die): the count. */
int	job_reap(struct hb_db *db, struct hb_error *err);
/* Deletes finished jobs older than age seconds: the count. */
int	job_purge(struct hb_db *db, int age, struct hb_error *err);

/* One kind's line of the queue's figures (GET /metrics). */
struct hb_job_count {
	const char	*kind;
	long long	 queued;	/* waiting to run, retries included */
	long long	 running;
	long long	 dead;
	double		 oldest_queued;	/* seconds the oldest runnable one waited */
};
/*
 * The queue's figures per kind, in one statement, into an array in the
 * arena: the count, or -1 with err set.
 */
int	job_counts(struct hb_db *db, struct hb_arena *a,
	    struct hb_job_count **out, struct hb_error *err);

/*
 * Seconds before attempt number attempt + 1, after attempt failed:
 * base * 2^(attempt - 1), at most cap, of which a random part (unit in
 * [0, 1)) is jitter, so failed jobs do not come back all at once.
 */
double	job_backoff(int attempt, int base, int cap, double unit);

/*
 * An event of the outbox (R__events.sql) taken for publishing. Its
 * strings live in the arena of the claim.
 */
struct hb_outbox_event {
	const char	*seq;		/* its place in the outbox */
	const char	*id;		/* the event's (its audit row's) id */
	const char	*org_id;
	const char	*payload;	/* the envelope; NULL: drop it unpublished */
	int		 attempt;	/* this one, from 1 */
	const char	*trace_id;	/* of the audited request; NULL: none */
};

/*
 * Deletes the events published (a PostgreSQL array of their seqs, "{…}";
 * NULL: none), and takes up to max events no lease holds after seq after
 * ("0": from the first) for owner under a lease of lease seconds, oldest
 * first, in one round trip. Returns how many it put in evs[0..max) (0:
 * none waits), or -1 on failure (published not recorded either).
 */
int	outbox_claim(struct hb_db *db, struct hb_arena *a, const char *owner,
	    int lease, const char *published, const char *after,
	    struct hb_outbox_event *evs, int max, struct hb_error *err);
/*
 * Gives back events owner took but did not publish (seqs: "{…}"): any
 * worker may take them again at once.
 */
int	outbox_release(struct hb_db *db, const char *seqs, const char *owner,
	    struct hb_error *err);

#endif
