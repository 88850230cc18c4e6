#ifndef HB_READY_H
#define HB_READY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "db.h"
#include "error.h"

/*
 * GET /ready (api.md §6, §12): what the database says in one round trip,
 * and the checks that warn without making the service unavailable. A
 * warning-only check is a function that returns its JSON object, whose
 * "status" is "ok" or "warn"; health.c lists them.
 */

/* Each readiness statement may run this long (ms), so /ready answers
 * within a second even when the database is slow. */
#define HB_READY_STATEMENT_MS	300

/* The database's figures; read says whether each part could be read. */
struct hb_ready_db {
	bool		 reached;	/* the migration version was read */
	char		 version[16];	/* newest migration applied, or "" */
	bool		 jobs_read;	/* the queue's figures were read */
	double		 oldest_queued_seconds;
	long long	 dead;
};

/*
 * Reads the migration version and the job queue's figures in one round
 * trip, each bounded by HB_READY_STATEMENT_MS. Returns 0 when the version
 * was read (the queue's figures may still be missing: out->jobs_read), or
 * -1 with err set when the database could not be reached or answer.
 */
int	ready_db_read(struct hb_db *db, struct hb_ready_db *out,
	    struct hb_error *err);

/* One directory whose free space /ready reports, under a public name. */
struct hb_ready_dir {
	const char	*name;		/* "data", "log": never the path */
	bool		 read;		/* statvfs() answered */
	double		 free_percent;	/* of the space unprivileged users get */
};

/* Free space of path into d: 0, or -1 (d->read false) when unreadable. */
int	ready_dir_measure(struct hb_ready_dir *d, const char *name,
	    const char *path);
/* The percentage avail is of size, 0 when size is 0. */
double	ready_free_percent(unsigned long long avail, unsigned long long size);

/*
 * The disk check (a new object the caller owns): each directory's free
 * percent, "warn" for one below min_free percent or one that cannot be
 * read.
 */
struct json_object *ready_disk_json(const struct hb_ready_dir *dirs, size_t n,
	    int min_free);
/*
 * The jobs check (a new object the caller owns): "warn" when the oldest
 * runnable job has waited more than max_age seconds, when there are more
 * than max_dead dead jobs, or when the figures could not be read.
 */
struct json_object *ready_jobs_json(const struct hb_ready_db *db, int max_age,
	    int max_dead);

enum ready_mqtt {
	READY_MQTT_OK,		/* it answered */
	READY_MQTT_UNREACHABLE,	/* refused, reset or no route */
	READY_MQTT_SILENT,	/* connected or not, no answer in time */
};

/*
 * Whether the MQTT broker at host:port (an IP address) answers within
 * timeout_ms; *ms is how long it took when it did.
 */
enum ready_mqtt	ready_mqtt_probe(const char *host, int port, int timeout_ms,
	    double *ms);
/* The mqtt check (a new object the caller owns): "warn" unless it answered. */
struct json_object *ready_mqtt_json(enum ready_mqtt rc, double ms,
	    int timeout_ms);

#endif
