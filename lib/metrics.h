#ifndef HB_METRICS_H
#define HB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "error.h"

/*
 * Prometheus metrics (api.md §6), recorded by every process of every
 * program and summed by GET /metrics.
 *
 * A process holds one slot: the file METRICS_DIR/<program>.<n> with the
 * lowest n (below HB_METRICS_SLOTS) whose flock it can take, mapped into
 * memory for its lifetime. It adds to the slot's counters with relaxed
 * atomic adds: no system call and no lock on the request path. When the
 * process dies the kernel drops its lock; the next process of the program
 * takes the slot over and adds to the same counters, so what a dead
 * process counted neither vanishes nor counts twice, and there are never
 * more files than processes of a program at once.
 *
 * Without a slot (METRICS_DIR unset, or every slot taken) the recording
 * calls do nothing.
 */

#define HB_METRICS_SLOTS	64	/* processes of one program at once */
#define HB_METRICS_NAMES_MAX	256	/* routes (or kinds) a program names */

/* What a process records under. Names are borrowed for the call only. */
struct hb_metrics_names {
	const char		*program;	/* [a-z0-9_-], 1-40 bytes */
	const char *const	*routes;	/* route patterns, by route number */
	size_t			 nroutes;
	const char *const	*kinds;		/* job kinds, by number */
	size_t			 nkinds;
};

/*
 * Takes this process's slot under dir (created 0700 if missing), which
 * must belong to this user and be writable by nobody else. Returns 0, or
 * -1 with err->message saying why nothing will be recorded. A forked
 * child must not record into its parent's slot: it calls metrics_close()
 * and opens its own.
 */
int	metrics_open(const char *dir, const struct hb_metrics_names *names,
	    struct hb_error *err);
/* Unmaps the slot; the lock goes when the last descriptor closes. */
void	metrics_close(void);
/* The slot held ("<program>.<n>"), or -1. */
int	metrics_slot(void);

/*
 * One answered request: route is the number of its route in the
 * program's table (-1: it matched none, labelled "other"); the duration
 * runs from started (CLOCK_MONOTONIC) to now.
 */
void	metrics_request(int route, const char *method, int status,
	    const struct timespec *started);

enum hb_metrics_outcome {
	HB_METRICS_SUCCEEDED,
	HB_METRICS_FAILED,	/* to be tried again */
	HB_METRICS_DEAD,
};
/* One attempt of a job: kind is its number (-1: "other"). */
void	metrics_job(int kind, enum hb_metrics_outcome outcome,
	    const struct timespec *started);

/* The database connection: opened (+1) or closed (-1). */
void	metrics_db_connection(int delta, bool reconnect);
void	metrics_db_connect_failure(void);
/*
 * A statement prepared under its name (db_exec_named), and a name the
 * server connection lacked (a transaction pooler in between).
 */
void	metrics_db_prepared(void);
void	metrics_db_name_missing(void);
/* A statement failed with this SQLSTATE (counted by its class). */
void	metrics_db_error(const char *sqlstate);

struct hb_job_count;

/* What the database says about the queue, for metrics_render(). */
struct hb_metrics_jobs {
	const struct hb_job_count	*counts;
	size_t				 n;
	bool				 ok;	/* it answered */
};

/*
 * Writes the Prometheus text format 0.0.4 of every slot under dir and
 * under each directory of read_dirs (comma-separated; another program
 * user's, such as the admin program's: there only the directory owner's
 * slots count), none where a directory is empty or unreadable; a file that
 * is not a valid slot is skipped. Summed per label set, with the process
 * gauges of the live slots and the queue's figures. Returns 0, or -1 when
 * out of memory.
 */
int	metrics_render(FILE *out, const char *dir, const char *read_dirs,
	    const struct hb_metrics_jobs *jobs);

#endif
