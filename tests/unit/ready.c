/*
 * GET /ready's warning-only checks (lib/ready.c): free space as a
 * percentage, the disk check's verdict per directory against
 * READY_DISK_MIN_FREE, and the jobs check's against READY_JOB_MAX_AGE and
 * READY_JOB_MAX_DEAD. Neither check ever says anything but "ok" or "warn",
 * and the disk check names directories, never their paths.
 */
#include <stdio.h>
#include <string.h>

#include "ready.h"
#include "tap.h"

/* The field of check (an object, or an object's object), or NULL. */
static struct json_object *
field(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

static const char *
str(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = field(o, a, b);

	return v != NULL ? json_object_get_string(v) : "(absent)";
}

static void
test_free_percent(void)
{
	ok(ready_free_percent(0, 1000) == 0, "free: none of it");
	ok(ready_free_percent(1000, 1000) == 100, "free: all of it");
	ok(ready_free_percent(250, 1000) == 25, "free: a quarter");
	ok(ready_free_percent(5, 0) == 0, "free: a file system of no size");
	ok(ready_free_percent(2000, 1000) == 100,
	    "free: never more than the whole");
}

static void
test_measure(void)
{
	struct hb_ready_dir d;

	is_int(ready_dir_measure(&d, "data", "/tmp"), 0, "measure: /tmp");
	ok(d.read && d.free_percent >= 0 && d.free_percent <= 100,
	    "measure: a percentage (%.1f)", d.free_percent);
	is_str(d.name, "data", "measure: the name is kept");
	is_int(ready_dir_measure(&d, "log", "/nonexistent/homebot-ready"), -1,
	    "measure: a missing directory fails");
	ok(!d.read, "measure: and says it was not read");
}

static void
test_disk(void)
{
	struct hb_ready_dir dirs[2] = {
		{ .name = "data", .read = true, .free_percent = 42.25 },
		{ .name = "log", .read = true, .free_percent = 10.0 },
	};
	struct json_object *c;
	const char *text;

	c = ready_disk_json(dirs, 2, 10);
	is_str(str(c, "status", NULL), "ok", "disk: both at or above 10 %%");
	is_str(json_object_get_string(field(field(c, "directories", "data"),
	    "free_percent", NULL)), "42.2",
	    "disk: free_percent has one decimal");
	is_str(json_object_get_string(field(field(c, "directories", "log"),
	    "status", NULL)), "ok", "disk: exactly the threshold is ok");
	ok(field(c, "message", NULL) == NULL, "disk: no message when ok");
	is_int(json_object_get_int(field(c, "min_free_percent", NULL)), 10,
	    "disk: the threshold is shown");
	json_object_put(c);

	c = ready_disk_json(dirs, 2, 11);
	is_str(str(c, "status", NULL), "warn", "disk: one below 11 %% warns");
	is_str(json_object_get_string(field(field(c, "directories", "log"),
	    "status", NULL)), "warn", "disk: the low one warns");
	is_str(json_object_get_string(field(field(c, "directories", "data"),
	    "status", NULL)), "ok", "disk: the other stays ok");
	has_str(str(c, "message", NULL), "log", "disk: the message names it");
	json_object_put(c);

	dirs[0].read = false;
	c = ready_disk_json(dirs, 2, 0);
	is_str(str(c, "status", NULL), "warn",
	    "disk: a directory that cannot be read warns");
	ok(field(field(c, "directories", "data"), "free_percent", NULL) ==
	    NULL, "disk: and has no free_percent");
	is_str(json_object_get_string(field(field(c, "directories", "log"),
	    "status", NULL)), "ok", "disk: threshold 0 never warns on space");
	json_object_put(c);

	c = ready_disk_json(dirs, 0, 10);
	is_str(str(c, "status", NULL), "ok", "disk: no directory: ok");
	is_int(json_object_object_length(field(c, "directories", NULL)), 0,
	    "disk: and none listed");
	json_object_put(c);

	ready_dir_measure(&dirs[0], "data", "/tmp");
	c = ready_disk_json(dirs, 1, 10);
	text = json_object_to_json_string(c);
	lacks_str(text, "/tmp", "disk: the answer holds no path (%s)", text);
	json_object_put(c);
}

static void
test_jobs(void)
{
	struct hb_ready_db db = { .reached = true, .jobs_read = true,
	    .oldest_queued_seconds = 300, .dead = 0 };
	struct json_object *c;

	c = ready_jobs_json(&db, 300, 0);
	is_str(str(c, "status", NULL), "ok",
	    "jobs: waited exactly the limit, no dead job: ok");
	is_str(str(c, "oldest_queued_seconds", NULL), "300.0",
	    "jobs: the oldest job's wait is shown");
	is_int(json_object_get_int(field(c, "dead", NULL)), 0,
	    "jobs: the dead jobs are counted");
	ok(field(c, "message", NULL) == NULL, "jobs: no message when ok");
	json_object_put(c);

	db.oldest_queued_seconds = 300.5;
	c = ready_jobs_json(&db, 300, 0);
	is_str(str(c, "status", NULL), "warn", "jobs: waited longer warns");
	has_str(str(c, "message", NULL), "wait", "jobs: and says so");
	json_object_put(c);

	db.oldest_queued_seconds = 0;
	db.dead = 3;
	c = ready_jobs_json(&db, 300, 2);
	is_str(str(c, "status", NULL), "warn", "jobs: 3 dead over 2 warns");
	has_str(str(c, "message", NULL), "failed for good",
	    "jobs: and says so");
	is_int(json_object_get_int(field(c, "max_dead", NULL)), 2,
	    "jobs: the threshold is shown");
	json_object_put(c);
	c = ready_jobs_json(&db, 300, 3);
	is_str(str(c, "status", NULL), "ok", "jobs: 3 dead of 3 allowed: ok");
	json_object_put(c);

	db.jobs_read = false;
	c = ready_jobs_json(&db, 300, 3);
	is_str(str(c, "status", NULL), "warn",
	    "jobs: figures that cannot be read warn");
	ok(field(c, "dead", NULL) == NULL &&
	    field(c, "oldest_queued_seconds", NULL) == NULL,
	    "jobs: and show no figure");
	has_str(str(c, "message", NULL), "cannot be read", "jobs: and say so");
	json_object_put(c);
}

int
main(void)
{
	plan(38);
	test_free_percent();
	test_measure();
	test_disk();
	test_jobs();
	return done_testing();
}
