#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/statvfs.h>

#include "ready.h"

/* The newest applied migration; public.schema_migrations is migrate's. */
static const char SQL_VERSION[] =
    "SELECT max(version) AS version FROM public.schema_migrations";
/*
 * The queue's two figures over every organization: job_counts() is
 * SECURITY DEFINER and answers counts per kind, never a row's content.
 */
static const char SQL_JOBS[] =
    "SELECT coalesce(max(oldest_queued_seconds), 0) AS oldest,"
    " coalesce(sum(dead), 0) AS dead FROM homebot.job_counts()";

int
ready_db_read(struct hb_db *db, struct hb_ready_db *out,
    struct hb_error *err)
{
	static const char *const sql[] = { SQL_VERSION, SQL_JOBS };
	PGresult *res[2];
	const char *v;

	memset(out, 0, sizeof(*out));
	if (db_pipeline(db, HB_READY_STATEMENT_MS, 2, sql, res, err) == -1)
		return -1;
	if (res[0] != NULL) {
		out->reached = true;
		v = db_value(res[0], 0, "version");
		snprintf(out->version, sizeof(out->version), "%s",
		    v != NULL ? v : "");
	}
	if (res[1] != NULL && db_value(res[1], 0, "oldest") != NULL &&
	    db_value(res[1], 0, "dead") != NULL) {
		out->jobs_read = true;
		out->oldest_queued_seconds =
		    strtod(db_value(res[1], 0, "oldest"), NULL);
		out->dead = strtoll(db_value(res[1], 0, "dead"), NULL, 10);
	}
	PQclear(res[0]);
	PQclear(res[1]);
	if (!out->reached)
		return hb_fail(err, 503, "service_unavailable",
		    "The database did not answer.");
	return 0;
}

double
ready_free_percent(unsigned long long avail, unsigned long long size)
{
	if (size == 0)
		return 0;
	if (avail > size)
		avail = size;
	return (double)avail * 100.0 / (double)size;
}

int
ready_dir_measure(struct hb_ready_dir *d, const char *name, const char *path)
{
	struct statvfs st;

	d->name = name;
	d->read = false;
	d->free_percent = 0;
	if (statvfs(path, &st) == -1)
		return -1;
	/* f_bavail: what the programs' user may still write, not root. */
	d->free_percent = ready_free_percent(st.f_bavail, st.f_blocks);
	d->read = true;
	return 0;
}

/* A number printed with one decimal. */
static struct json_object *
tenths_new(double p)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.1f", p);
	return json_object_new_double_s(p, buf);
}

static struct json_object *
status_new(bool warn)
{
	return json_object_new_string(warn ? "warn" : "ok");
}

struct json_object *
ready_disk_json(const struct hb_ready_dir *dirs, size_t n, int min_free)
{
	struct json_object *c = json_object_new_object();
	struct json_object *all = json_object_new_object();
	char low[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_new_object();
		bool warn = !dirs[i].read ||
		    dirs[i].free_percent < (double)min_free;

		json_object_object_add(d, "status", status_new(warn));
		json_object_object_add(d, "free_percent", dirs[i].read ?
		    tenths_new(dirs[i].free_percent) : NULL);
		if (!dirs[i].read)
			json_object_object_add(d, "message",
			    json_object_new_string(
			    "The free space cannot be read."));
		json_object_object_add(all, dirs[i].name, d);
		if (warn && used < sizeof(low))
			used += (size_t)snprintf(low + used, sizeof(low) - used,
			    "%s%s", used > 0 ? ", " : "", dirs[i].name);
	}
	json_object_object_add(c, "status", status_new(low[0] != '\0'));
	if (low[0] != '\0') {
		char msg[320];

		snprintf(msg, sizeof(msg),
		    "Free space is low or unknown on: %s.", low);
		json_object_object_add(c, "message",
		    json_object_new_string(msg));
	}
	json_object_object_add(c, "min_free_percent",
	    json_object_new_int(min_free));
	json_object_object_add(c, "directories", all);
	return c;
}

struct json_object *
ready_jobs_json(const struct hb_ready_db *db, int max_age, int max_dead)
{
	struct json_object *c = json_object_new_object();
	bool late = db->jobs_read && db->oldest_queued_seconds > max_age;
	bool dead = db->jobs_read && db->dead > max_dead;
	char msg[256];

	json_object_object_add(c, "status",
	    status_new(!db->jobs_read || late || dead));
	if (!db->jobs_read)
		snprintf(msg, sizeof(msg), "The job queue cannot be read.");
	else if (late || dead)
		snprintf(msg, sizeof(msg), "%s%s%s",
		    late ? "Jobs wait longer than they should to run." : "",
		    late && dead ? " " : "",
		    dead ? "Some jobs failed for good." : "");
	if (!db->jobs_read || late || dead)
		json_object_object_add(c, "message",
		    json_object_new_string(msg));
	json_object_object_add(c, "oldest_queued_seconds", db->jobs_read ?
	    tenths_new(db->oldest_queued_seconds) : NULL);
	json_object_object_add(c, "dead", db->jobs_read ?
	    json_object_new_int64(db->dead) : NULL);
	json_object_object_add(c, "max_queued_seconds",
	    json_object_new_int(max_age));
	json_object_object_add(c, "max_dead", json_object_new_int(max_dead));
	return c;
}
