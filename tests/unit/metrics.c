/*
 * lib/metrics: a process takes the first free slot of its program, the
 * next process takes a dead one's slot over and adds to its counters (so
 * nothing is lost or counted twice, and the files stay few), files that
 * are not valid slots are skipped or begun afresh, labels stay bounded,
 * and the text format of a known state is exactly what Prometheus reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "job.h"
#include "metrics.h"
#include "metrics_slot.h"
#include "tap.h"

static char base[] = "/tmp/hb-metrics-XXXXXX";
static const struct hb_metrics_jobs no_jobs = { .ok = true };

/* A new empty directory under base, mode 0700. */
static const char *
new_dir(const char *name)
{
	static char path[8][128];
	static int n;
	char *p = path[n++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", base, name);
	if (mkdir(p, 0700) == -1) {
		printf("Bail out! mkdir %s: %s\n", p, strerror(errno));
		exit(1);
	}
	return p;
}

static void
rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

/* The text metrics_render() writes for dir and read_dirs; caller frees. */
static char *
render_with(const char *dir, const char *read_dirs,
    const struct hb_metrics_jobs *jobs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int rc;

	if (out == NULL)
		abort();
	rc = metrics_render(out, dir, read_dirs, jobs);
	fclose(out);
	if (rc == -1)
		printf("# metrics_render failed\n");
	return text;
}

/* The text metrics_render() writes for dir; the caller frees it. */
static char *
render(const char *dir, const struct hb_metrics_jobs *jobs)
{
	return render_with(dir, NULL, jobs);
}

/* The value of the sample whose line starts with series + " ", or -1. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static const char *const routes[] = { "/items/{id}", "/health",
    "/items/{id}" };
static const char *const kinds[] = { "mail", "noop" };

static const struct hb_metrics_names names = { .program = "homebot-test",
    .routes = routes, .nroutes = 3, .kinds = kinds, .nkinds = 2 };

/* A child that records what body records; the pipe tells it to exit. */
struct child {
	pid_t	pid;
	int	slot;
	int	go;	/* closed: the child exits */
};

typedef void (*recorder)(void);

static struct child
child_start(const char *dir, const struct hb_metrics_names *n, recorder body)
{
	int ready[2], go[2];
	struct child c = { .slot = -1 };
	char slot = -1;

	if (pipe(ready) == -1 || pipe(go) == -1)
		abort();
	c.pid = fork();
	if (c.pid == 0) {
		struct hb_error err = {0};
		char byte;

		/*
		 * Only its own pipes: a sibling's end kept open here would
		 * keep that sibling waiting for its end of file.
		 */
		for (int fd = 3; fd < 256; fd++)
			if (fd != ready[1] && fd != go[0])
				close(fd);
		metrics_close();
		if (metrics_open(dir, n, &err) == 0 && body != NULL)
			body();
		slot = (char)metrics_slot();
		if (write(ready[1], &slot, 1) != 1)
			_exit(2);
		while (read(go[0], &byte, 1) > 0)
			;
		metrics_close();
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &slot, 1) == 1)
		c.slot = slot;
	close(ready[0]);
	c.go = go[1];
	return c;
}

/* Lets the child exit, and waits for it. */
static void
child_stop(struct child *c)
{
	close(c->go);
	waitpid(c->pid, NULL, 0);
}

/* Runs body in a child holding a slot, until it is done; its slot. */
static int
child_run(const char *dir, const struct hb_metrics_names *n, recorder body)
{
	struct child c = child_start(dir, n, body);

	child_stop(&c);
	return c.slot;
}

static struct timespec
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static void
three_gets(void)
{
	struct timespec t = now();

	for (int i = 0; i < 3; i++)
		metrics_request(1, "GET", 200, &t);
}

static void
two_gets(void)
{
	struct timespec t = now();

	metrics_request(1, "GET", 200, &t);
	metrics_request(1, "GET", 200, &t);
}

static void
killed_mid_run(void)
{
	struct timespec t = now();

	for (int i = 0; i < 5; i++)
		metrics_request(1, "GET", 200, &t);
	raise(SIGKILL);
}

#define HEALTH_200 \
	"http_requests_total{program=\"homebot-test\",route=\"/health\"," \
	"method=\"GET\",status=\"200\"}"

static void
test_claim(void)
{
	const char *dir = new_dir("claim");
	struct hb_error err = {0};
	char path[256];
	struct stat st;
	struct child a, b;

	is_int(metrics_open(dir, &names, &err), 0, "a process takes a slot");
	is_int(metrics_slot(), 0, "the first one: slot 0");
	snprintf(path, sizeof(path), "%s/homebot-test.0", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640 &&
	    st.st_size == (off_t)sizeof(struct mx_slot),
	    "its file is <program>.0, mode 0640, of the slot's size");
	is_int(metrics_open(dir, &names, &err), -1,
	    "a process holds one slot only");
	a = child_start(dir, &names, NULL);
	is_int(a.slot, 1, "another process of the program takes slot 1");
	b = child_start(dir, &names, NULL);
	is_int(b.slot, 2, "and a third slot 2");
	child_stop(&a);
	b.slot = child_run(dir, &names, NULL);
	is_int(b.slot, 1, "a slot freed by its process is the next one taken");
	child_stop(&b);
	metrics_close();
	is_int(metrics_slot(), -1, "closed: no slot");
	is_int(child_run(dir, &names, NULL), 0,
	    "slot 0 is free once its process let go");
	is_int(count_files(dir), 3, "three files for three processes at once");
}

static void
test_reuse(void)
{
	const char *dir = new_dir("reuse");
	struct child live;
	char *text;

	is_int(child_run(dir, &names, three_gets), 0,
	    "a process counts 3 requests in slot 0 and ends");
	text = render(dir, &no_jobs);
	is_int((long)sample(text, HEALTH_200), 3,
	    "its 3 requests still count after it ended");
	lacks_str(text, "process_resident_memory_bytes{",
	    "a dead slot has no process gauges");
	free(text);
	is_int(child_run(dir, &names, two_gets), 0,
	    "the next process takes the dead one's slot over");
	text = render(dir, &no_jobs);
	is_int((long)sample(text, HEALTH_200), 5,
	    "and adds to its counters: 3 + 2, nothing lost or doubled");
	free(text);
	is_int(child_run(dir, &names, killed_mid_run), -1,
	    "a process killed with SIGKILL after 5 requests");
	text = render(dir, &no_jobs);
	is_int((long)sample(text, HEALTH_200), 10,
	    "its 5 requests count all the same");
	free(text);
	live = child_start(dir, &names, three_gets);
	text = render(dir, &no_jobs);
	is_int((long)sample(text, HEALTH_200), 13,
	    "a live process's counts are summed with the dead ones'");
	ok(sample(text, "process_resident_memory_bytes{program=\"homebot-test\","
	    "slot=\"0\"}") > 0, "a live slot has its resident memory");
	ok(sample(text, "process_open_fds{program=\"homebot-test\","
	    "slot=\"0\"}") > 0, "its open descriptors");
	ok(sample(text, "process_start_time_seconds{program=\"homebot-test\","
	    "slot=\"0\"}") > 1.7e9, "its start time");
	ok(sample(text, "process_cpu_seconds_total{program=\"homebot-test\","
	    "slot=\"0\"}") >= 0, "and its CPU time");
	free(text);
	child_stop(&live);
	is_int(count_files(dir), 1,
	    "four processes one after the other used one file");
}

static void
route_traffic(void)
{
	struct timespec t = now();

	metrics_request(0, "GET", 200, &t);
	metrics_request(2, "PATCH", 200, &t);
	metrics_request(-1, "GET", 404, &t);
	metrics_request(3, "GET", 404, &t);
	metrics_request(99, "DELETE", 405, &t);
	metrics_request(1, "BREW", 400, &t);
	metrics_request(1, "", 700, &t);
}

static void
test_labels(void)
{
	const char *dir = new_dir("labels");
	char *text;

	child_run(dir, &names, route_traffic);
	text = render(dir, &no_jobs);
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/items/{id}\",method=\"GET\",status=\"200\"}"), 1,
	    "a request is labelled with its route's pattern");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/items/{id}\",method=\"PATCH\",status=\"200\"}"), 1,
	    "two routes of one pattern share its label");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"other\",method=\"GET\",status=\"404\"}"), 2,
	    "no route, or a number past the table: route=\"other\"");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"other\",method=\"DELETE\",status=\"405\"}"), 1,
	    "...whatever the method");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/health\",method=\"other\",status=\"400\"}"), 1,
	    "an unknown method: method=\"other\"");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/health\",method=\"other\",status=\"0\"}"), 1,
	    "a status out of 100-599: status=\"0\"");
	is_int((long)sample(text, "http_request_duration_seconds_count{program="
	    "\"homebot-test\",route=\"other\"}"), 3,
	    "the histogram has the same routes");
	lacks_str(text, "BREW", "the method a client sent is never a label");
	free(text);
}

static const char *many[MX_ROUTES + 8];
static char many_text[MX_ROUTES + 8][16];

static void
last_route(void)
{
	struct timespec t = now();

	metrics_request(MX_ROUTES + 7, "GET", 200, &t);
	metrics_request(0, "GET", 200, &t);
}

static void
test_bounds(void)
{
	const char *dir = new_dir("bounds");
	struct hb_metrics_names n = { .program = "homebot-many",
	    .routes = many, .nroutes = MX_ROUTES + 8 };
	char *text;

	for (int i = 0; i < MX_ROUTES + 8; i++) {
		snprintf(many_text[i], sizeof(many_text[i]), "/r%d", i);
		many[i] = many_text[i];
	}
	child_run(dir, &n, last_route);
	text = render(dir, &no_jobs);
	is_int((long)sample(text, "http_requests_total{program=\"homebot-many\","
	    "route=\"other\",method=\"GET\",status=\"200\"}"), 1,
	    "routes past the slot's room for names count as \"other\"");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-many\","
	    "route=\"/r0\",method=\"GET\",status=\"200\"}"), 1,
	    "the first ones keep their names");
	free(text);
}

static void
db_and_jobs(void)
{
	struct timespec t = now();

	metrics_db_connection(1, false);
	metrics_db_connection(-1, false);
	metrics_db_connection(1, true);
	metrics_db_connect_failure();
	metrics_db_prepared();
	metrics_db_prepared();
	metrics_db_name_missing();
	metrics_db_error("23505");
	metrics_db_error("23503");
	metrics_db_error("40P01");
	metrics_db_error("");
	metrics_db_error("2");
	metrics_db_error("a1000");
	metrics_job(0, HB_METRICS_SUCCEEDED, &t);
	metrics_job(0, HB_METRICS_SUCCEEDED, &t);
	metrics_job(1, HB_METRICS_FAILED, &t);
	metrics_job(-1, HB_METRICS_DEAD, &t);
	metrics_job(7, HB_METRICS_DEAD, &t);
}

static void
test_db_and_jobs(void)
{
	const char *dir = new_dir("db");
	struct hb_job_count counts[] = {
		{ .kind = "mail", .queued = 4, .running = 1, .oldest_queued = 2.5 },
		{ .kind = "report.weekly", .dead = 2 },
	};
	struct hb_metrics_jobs jobs = { .counts = counts, .n = 2, .ok = true };
	struct hb_metrics_jobs down = { .ok = false };
	struct child c;
	char *text;

	c = child_start(dir, &names, db_and_jobs);
	text = render(dir, &jobs);
	is_int((long)sample(text, "homebot_db_connections{program="
	    "\"homebot-test\"}"), 1,
	    "a live process's open connection counts");
	is_int((long)sample(text, "homebot_db_reconnects_total{program="
	    "\"homebot-test\"}"), 1, "a connection opened again counts");
	is_int((long)sample(text, "homebot_db_connect_failures_total{program="
	    "\"homebot-test\"}"), 1, "a failed connection attempt counts");
	is_int((long)sample(text, "homebot_db_statement_prepares_total{"
	    "program=\"homebot-test\"}"), 2, "a statement prepared counts");
	is_int((long)sample(text, "homebot_db_statement_name_misses_total{"
	    "program=\"homebot-test\"}"), 1, "a name found missing counts");
	is_int((long)sample(text, "homebot_db_statement_errors_total{program="
	    "\"homebot-test\",class=\"23\"}"), 2,
	    "statement errors count by SQLSTATE class");
	is_int((long)sample(text, "homebot_db_statement_errors_total{program="
	    "\"homebot-test\",class=\"40\"}"), 1, "...each class apart");
	lacks_str(text, "class=\"a1\"", "a malformed SQLSTATE is not a class");
	is_int((long)sample(text, "homebot_jobs_processed_total{kind=\"mail\","
	    "outcome=\"succeeded\"}"), 2, "jobs done count by kind and outcome");
	is_int((long)sample(text, "homebot_jobs_processed_total{kind=\"noop\","
	    "outcome=\"failed\"}"), 1, "a failed attempt to be retried");
	is_int((long)sample(text, "homebot_jobs_processed_total{kind=\"other\","
	    "outcome=\"dead\"}"), 2, "a kind the worker does not know: other");
	is_int((long)sample(text, "homebot_jobs_duration_seconds_count{kind="
	    "\"mail\",outcome=\"succeeded\"}"), 2,
	    "the duration histogram counts the same attempts");
	is_int((long)sample(text, "homebot_jobs{kind=\"mail\",state="
	    "\"queued\"}"), 4, "queued jobs from the database");
	is_int((long)sample(text, "homebot_jobs{kind=\"report.weekly\",state="
	    "\"dead\"}"), 2, "dead ones");
	is_int((long)sample(text, "homebot_jobs{kind=\"noop\",state="
	    "\"queued\"}"), 0, "a kind a worker knows shows with 0");
	is_str(sample(text, "homebot_jobs_oldest_queued_seconds{kind="
	    "\"mail\"}") == 2.5 ? "2.5" : "no", "2.5",
	    "the oldest queued job's wait");
	is_int((long)sample(text, "homebot_jobs_query_ok"), 1,
	    "the database answered");
	free(text);
	text = render(dir, &down);
	is_int((long)sample(text, "homebot_jobs_query_ok"), 0,
	    "a database that did not answer says so");
	lacks_str(text, "homebot_jobs{", "and no queue figures are made up");
	free(text);
	child_stop(&c);
	text = render(dir, &jobs);
	is_int((long)sample(text, "homebot_db_connections{program="
	    "\"homebot-test\"}"), 0,
	    "a dead process's connection does not count");
	is_int((long)sample(text, "homebot_db_statement_errors_total{program="
	    "\"homebot-test\",class=\"23\"}"), 2, "its errors still do");
	free(text);
}

static void
write_file(const char *dir, const char *name, const void *data, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* A zeroed slot of program, with a valid header. */
static struct mx_slot *
slot_new(const char *program)
{
	struct mx_slot *s = calloc(1, sizeof(*s));

	if (s == NULL)
		abort();
	s->magic = MX_MAGIC;
	s->version = MX_VERSION;
	s->size = sizeof(*s);
	snprintf(s->program, sizeof(s->program), "%s", program);
	return s;
}

static void
test_corrupt(void)
{
	const char *dir = new_dir("corrupt");
	struct mx_slot *s = slot_new("homebot-test");
	struct child held[6];
	char path[256], *text;

	/* What a reader must skip and the next owner begin afresh. */
	write_file(dir, "homebot-test.0", "short", 5);
	s->nroutes = 1;
	memcpy(s->route[0], "/ok", 4);
	s->requests[0].key = mx_request_key(0, 0, 200);
	s->requests[0].count = 1000;
	s->version = MX_VERSION + 1;
	write_file(dir, "homebot-test.1", s, sizeof(*s));
	s->version = MX_VERSION;
	s->nroutes = MX_ROUTES + 1;
	write_file(dir, "homebot-test.2", s, sizeof(*s));
	s->nroutes = 1;
	memset(s->route[0], 'x', MX_NAME);
	write_file(dir, "homebot-test.3", s, sizeof(*s));
	memcpy(s->route[0], "/ok", 4);
	snprintf(s->program, sizeof(s->program), "homebot-else");
	write_file(dir, "homebot-test.4", s, sizeof(*s));
	snprintf(s->program, sizeof(s->program), "homebot-test");
	/* Names that are not slots of this layout at all. */
	write_file(dir, "homebot-else.4", s, sizeof(*s));
	write_file(dir, "homebot-test.x", s, sizeof(*s));
	write_file(dir, "homebot-test.64", s, sizeof(*s));
	write_file(dir, "homebot-test.07", s, sizeof(*s));
	write_file(dir, "Homebot-test.5", s, sizeof(*s));
	snprintf(path, sizeof(path), "%s/homebot-test.5", dir);
	if (symlink("homebot-test.9", path) == -1)
		abort();
	/* A valid slot, with a key no request can have. */
	s->requests[0].count = 3;
	s->requests[1].key = 0xffffffffu;
	s->requests[1].count = 7;
	write_file(dir, "homebot-test.6", s, sizeof(*s));
	free(s);
	text = render(dir, &no_jobs);
	ok(text != NULL, "a directory of bad files renders");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/ok\",method=\"GET\",status=\"200\"}"), 3,
	    "only the valid slot counts: short files, other versions, too "
	    "many or unterminated names, another program's header, names "
	    "that are not <program>.<0-63>, links and bad keys are skipped");
	lacks_str(text, "homebot-else", "a file of another program's name "
	    "is not read as this one's");
	free(text);
	for (int i = 0; i < 6; i++)
		held[i] = child_start(dir, &names, i == 0 ? two_gets : NULL);
	is_int(held[0].slot, 0,
	    "processes at once take the short file's slot, begun afresh,");
	is_int(held[1].slot, 1, "the other version's");
	is_int(held[2].slot, 2, "the one with too many names");
	is_int(held[3].slot, 3, "the one with a bad name");
	is_int(held[4].slot, 4, "the one whose header names another program");
	is_int(held[5].slot, 6,
	    "and pass a symbolic link over: it is never followed");
	for (int i = 0; i < 6; i++)
		child_stop(&held[i]);
	text = render(dir, &no_jobs);
	is_int((long)sample(text, HEALTH_200), 2,
	    "a slot begun afresh counts from 0");
	is_int((long)sample(text, "http_requests_total{program=\"homebot-test\","
	    "route=\"/ok\",method=\"GET\",status=\"200\"}"), 3,
	    "a valid slot taken over keeps its counts");
	free(text);
}

static void
test_refusals(void)
{
	const char *dir = new_dir("refuse");
	struct hb_metrics_names bad = names;
	struct hb_error err = {0};
	char path[256];
	int fds[HB_METRICS_SLOTS];
	struct stat st;

	is_int(metrics_open("relative/dir", &names, &err), -1,
	    "a relative METRICS_DIR is refused");
	chmod(dir, 0770);
	is_int(metrics_open(dir, &names, &err), -1,
	    "a directory others may write to is refused");
	has_str(err.message, "writable by nobody else", "and says why");
	chmod(dir, 0700);
	bad.program = "../etc";
	is_int(metrics_open(dir, &bad, &err), -1,
	    "a program name that is not [a-z0-9_-] is refused");
	snprintf(path, sizeof(path), "%s/new", dir);
	is_int(child_run(path, &names, NULL), 0,
	    "a missing directory is created");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700,
	    "mode 0700");
	for (int i = 0; i < HB_METRICS_SLOTS; i++) {
		snprintf(path, sizeof(path), "%s/homebot-test.%d", dir, i);
		fds[i] = open(path, O_RDWR | O_CREAT, 0600);
		if (fds[i] == -1 || flock(fds[i], LOCK_EX) == -1)
			abort();
	}
	is_int(metrics_open(dir, &names, &err), -1,
	    "every slot held: nothing is recorded");
	has_str(err.message, "all 64 slots", "and it says so");
	metrics_request(0, "GET", 200, &(struct timespec){0});
	metrics_db_error("23505");
	metrics_job(0, HB_METRICS_DEAD, &(struct timespec){0});
	ok(1, "recording without a slot does nothing");
	for (int i = 0; i < HB_METRICS_SLOTS; i++)
		close(fds[i]);
	is_int(count_files(dir), HB_METRICS_SLOTS + 1,
	    "and no file beyond the 64 was made");
}

static void
hist_set(struct mx_hist *h, int b, uint64_t n, uint64_t sum_ns)
{
	h->bucket[b] = n;
	h->sum_ns += sum_ns;
}

static const char exact[] =
"# HELP http_requests_total Requests answered, by program, route pattern (other: none matched), method and status.\n"
"# TYPE http_requests_total counter\n"
"http_requests_total{program=\"homebot-a\",route=\"/health\",method=\"GET\",status=\"200\"} 7\n"
"http_requests_total{program=\"homebot-a\",route=\"/items/{id}\",method=\"POST\",status=\"201\"} 2\n"
"http_requests_total{program=\"homebot-a\",route=\"other\",method=\"GET\",status=\"404\"} 1\n"
"http_requests_total{program=\"homebot-b\",route=\"/q\\\"\\\\\",method=\"HEAD\",status=\"200\"} 1\n"
"# HELP http_request_duration_seconds Time from reading a request to having answered it, by program and route pattern.\n"
"# TYPE http_request_duration_seconds histogram\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.0005\"} 6\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.001\"} 6\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.0025\"} 6\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.005\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.01\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.025\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.05\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.1\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.25\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"0.5\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"1\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"2.5\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"5\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"10\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/health\",le=\"+Inf\"} 7\n"
"http_request_duration_seconds_sum{program=\"homebot-a\",route=\"/health\"} 0.004600000\n"
"http_request_duration_seconds_count{program=\"homebot-a\",route=\"/health\"} 7\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.0005\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.001\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.0025\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.005\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.01\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.025\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.05\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.1\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.25\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"0.5\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"1\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"2.5\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"5\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"10\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"/items/{id}\",le=\"+Inf\"} 2\n"
"http_request_duration_seconds_sum{program=\"homebot-a\",route=\"/items/{id}\"} 25.000000001\n"
"http_request_duration_seconds_count{program=\"homebot-a\",route=\"/items/{id}\"} 2\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.0005\"} 0\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.001\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.0025\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.005\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.01\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.025\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.05\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.1\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.25\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"0.5\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"1\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"2.5\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"5\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"10\"} 1\n"
"http_request_duration_seconds_bucket{program=\"homebot-a\",route=\"other\",le=\"+Inf\"} 1\n"
"http_request_duration_seconds_sum{program=\"homebot-a\",route=\"other\"} 0.000900000\n"
"http_request_duration_seconds_count{program=\"homebot-a\",route=\"other\"} 1\n"
"# HELP process_resident_memory_bytes Resident memory of each live process, by program and slot.\n"
"# TYPE process_resident_memory_bytes gauge\n"
"# HELP process_cpu_seconds_total User and system CPU time of each live process.\n"
"# TYPE process_cpu_seconds_total counter\n"
"# HELP process_open_fds Open file descriptors of each live process.\n"
"# TYPE process_open_fds gauge\n"
"# HELP process_start_time_seconds Start of each live process, in seconds since the Unix epoch.\n"
"# TYPE process_start_time_seconds gauge\n"
"# HELP homebot_db_connections Database connections the live processes hold open.\n"
"# TYPE homebot_db_connections gauge\n"
"homebot_db_connections{program=\"homebot-a\"} 0\n"
"homebot_db_connections{program=\"homebot-b\"} 0\n"
"# HELP homebot_db_reconnects_total Database connections opened again after the first.\n"
"# TYPE homebot_db_reconnects_total counter\n"
"homebot_db_reconnects_total{program=\"homebot-a\"} 1\n"
"homebot_db_reconnects_total{program=\"homebot-b\"} 0\n"
"# HELP homebot_db_connect_failures_total Attempts to connect to the database that failed.\n"
"# TYPE homebot_db_connect_failures_total counter\n"
"homebot_db_connect_failures_total{program=\"homebot-a\"} 2\n"
"homebot_db_connect_failures_total{program=\"homebot-b\"} 0\n"
"# HELP homebot_db_statement_errors_total Statements the database failed, by SQLSTATE class.\n"
"# TYPE homebot_db_statement_errors_total counter\n"
"homebot_db_statement_errors_total{program=\"homebot-a\",class=\"23\"} 3\n"
"# HELP homebot_db_statement_prepares_total Statements of the hot path prepared under their name, on a connection or a pooler's server connection.\n"
"# TYPE homebot_db_statement_prepares_total counter\n"
"homebot_db_statement_prepares_total{program=\"homebot-a\"} 4\n"
"homebot_db_statement_prepares_total{program=\"homebot-b\"} 0\n"
"# HELP homebot_db_statement_name_misses_total Named statements their server connection lacked (a transaction pooler's), prepared again.\n"
"# TYPE homebot_db_statement_name_misses_total counter\n"
"homebot_db_statement_name_misses_total{program=\"homebot-a\"} 3\n"
"homebot_db_statement_name_misses_total{program=\"homebot-b\"} 0\n"
"# HELP homebot_metrics_dropped_total Requests not counted: their program's slot had no room for another label set.\n"
"# TYPE homebot_metrics_dropped_total counter\n"
"homebot_metrics_dropped_total{program=\"homebot-a\"} 0\n"
"homebot_metrics_dropped_total{program=\"homebot-b\"} 0\n"
"# HELP homebot_jobs Jobs in the queue by kind and state: queued (retries waiting included), running, dead.\n"
"# TYPE homebot_jobs gauge\n"
"homebot_jobs{kind=\"mail\",state=\"dead\"} 0\n"
"homebot_jobs{kind=\"mail\",state=\"queued\"} 2\n"
"homebot_jobs{kind=\"mail\",state=\"running\"} 1\n"
"homebot_jobs{kind=\"noop\",state=\"dead\"} 3\n"
"homebot_jobs{kind=\"noop\",state=\"queued\"} 0\n"
"homebot_jobs{kind=\"noop\",state=\"running\"} 0\n"
"# HELP homebot_jobs_oldest_queued_seconds How long the oldest job that may run has waited past its time.\n"
"# TYPE homebot_jobs_oldest_queued_seconds gauge\n"
"homebot_jobs_oldest_queued_seconds{kind=\"mail\"} 12.500\n"
"homebot_jobs_oldest_queued_seconds{kind=\"noop\"} 0.000\n"
"# HELP homebot_jobs_query_ok Whether the database answered for the queue's figures above.\n"
"# TYPE homebot_jobs_query_ok gauge\n"
"homebot_jobs_query_ok 1\n"
"# HELP homebot_jobs_processed_total Job attempts the workers finished, by kind and outcome.\n"
"# TYPE homebot_jobs_processed_total counter\n"
"homebot_jobs_processed_total{kind=\"mail\",outcome=\"succeeded\"} 1\n"
"# HELP homebot_jobs_duration_seconds Time a job attempt took, by kind and outcome.\n"
"# TYPE homebot_jobs_duration_seconds histogram\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.0005\"} 0\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.001\"} 0\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.0025\"} 0\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.005\"} 0\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.01\"} 0\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.025\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.05\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.1\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.25\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"0.5\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"1\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"2.5\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"5\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"10\"} 1\n"
"homebot_jobs_duration_seconds_bucket{kind=\"mail\",outcome=\"succeeded\",le=\"+Inf\"} 1\n"
"homebot_jobs_duration_seconds_sum{kind=\"mail\",outcome=\"succeeded\"} 0.020000000\n"
"homebot_jobs_duration_seconds_count{kind=\"mail\",outcome=\"succeeded\"} 1\n";

/*
 * Two dead slots of homebot-a whose route tables list the same patterns
 * in another order, and one of homebot-b with a route that needs
 * escaping: summed by label, sorted, every family in the order above.
 */
static void
test_exact(void)
{
	const char *dir = new_dir("exact");
	struct hb_job_count counts[] = {
		{ .kind = "mail", .queued = 2, .running = 1,
		  .oldest_queued = 12.5 },
		{ .kind = "noop", .dead = 3 },
	};
	struct hb_metrics_jobs jobs = { .counts = counts, .n = 2, .ok = true };
	struct mx_slot *s = slot_new("homebot-a");
	char *text;

	s->nroutes = 2;
	strcpy(s->route[0], "/health");
	strcpy(s->route[1], "/items/{id}");
	s->nkinds = 1;
	strcpy(s->kind[0], "mail");
	s->requests[3].key = mx_request_key(0, 0, 200);
	s->requests[3].count = 5;
	s->requests[9].key = mx_request_key(1, 2, 201);
	s->requests[9].count = 2;
	s->requests[500].key = mx_request_key(MX_ROUTES, 0, 404);
	s->requests[500].count = 1;
	hist_set(&s->duration[0], 0, 4, 1600000);
	hist_set(&s->duration[0], 3, 1, 3000000);
	hist_set(&s->duration[1], MX_BUCKETS, 2, 25000000001);
	hist_set(&s->duration[MX_ROUTES], 1, 1, 900000);
	hist_set(&s->job[0][HB_METRICS_SUCCEEDED], 5, 1, 20000000);
	s->db_reconnects = 1;
	s->db_connect_failures = 2;
	s->db_prepares = 4;
	s->db_name_misses = 3;
	s->db_connections = 1;	/* its process is gone: not counted */
	s->db_errors[7].key = '2' << 8 | '3';
	s->db_errors[7].count = 3;
	write_file(dir, "homebot-a.0", s, sizeof(*s));
	free(s);
	s = slot_new("homebot-a");
	s->nroutes = 2;
	strcpy(s->route[0], "/items/{id}");
	strcpy(s->route[1], "/health");
	s->nkinds = 2;
	strcpy(s->kind[0], "noop");
	strcpy(s->kind[1], "mail");
	s->requests[0].key = mx_request_key(1, 0, 200);
	s->requests[0].count = 2;
	hist_set(&s->duration[1], 0, 2, 0);
	write_file(dir, "homebot-a.3", s, sizeof(*s));
	free(s);
	s = slot_new("homebot-b");
	s->nroutes = 1;
	strcpy(s->route[0], "/q\"\\");
	s->requests[0].key = mx_request_key(0, 1, 200);
	s->requests[0].count = 1;
	write_file(dir, "homebot-b.0", s, sizeof(*s));
	free(s);
	text = render(dir, &jobs);
	is_str(text, exact, "the text of a known state, exactly");
	free(text);
}

/*
 * What recording costs a request, for make bench (bench/metrics.sh reads
 * the line): no assertion, since valgrind and sanitizers slow it down.
 */
static void
test_cost(void)
{
	const char *dir = new_dir("cost");
	struct hb_error err = {0};
	struct timespec t0, t1, started = now();
	const int n = 1000000;
	double ns;

	if (metrics_open(dir, &names, &err) == -1) {
		ok(0, "cost: metrics_open gives a slot to time");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		metrics_request(i % 3, i % 2 ? "GET" : "POST",
		    i % 5 ? 200 : 404, &started);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_close();
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / n;
	diag("metrics_request: %.0f ns per request (%d calls)", ns, n);
	ok(ns > 0, "a million requests recorded");
}

/*
 * METRICS_READ_DIRS: the admin program's slots, in a directory of its
 * own, count in the sum; a read directory others can write to does not.
 */
static void
test_read_dirs(void)
{
	const struct hb_metrics_names admin = { .program = "homebot-admin",
	    .routes = routes, .nroutes = 3, .kinds = kinds, .nkinds = 2 };
	const char *own = new_dir("read-own"), *other = new_dir("read-admin");
	char both[600], *text;

	is_int(child_run(own, &names, three_gets), 0, "a program's slot");
	is_int(child_run(other, &admin, two_gets), 0,
	    "the admin program's slot, in its own directory");
	snprintf(both, sizeof(both), "%s", other);
	text = render_with(own, both, &no_jobs);
	is_int(sample(text, HEALTH_200), 3, "the program's own requests");
	is_int(sample(text, "http_requests_total{program=\"homebot-admin\","
	    "route=\"/health\",method=\"GET\",status=\"200\"}"), 2,
	    "and the admin program's, read from METRICS_READ_DIRS");
	free(text);
	text = render(own, &no_jobs);
	lacks_str(text, "homebot-admin", "without it, the admin's are not read");
	free(text);
	chmod(other, 0770);
	text = render_with(own, both, &no_jobs);
	lacks_str(text, "homebot-admin",
	    "a read directory its group may write to is skipped");
	free(text);
	chmod(other, 0700);
}

/*
 * More slots across the two directories than the reader's first
 * allocation holds: the array grows across directories (ASan and valgrind
 * watch the writes).
 */
static void
test_read_dirs_many(void)
{
	const struct hb_metrics_names admin = { .program = "homebot-admin",
	    .routes = routes, .nroutes = 3, .kinds = kinds, .nkinds = 2 };
	const char *own = new_dir("many-own"), *other = new_dir("many-admin");
	struct child c[40];
	char *text;
	int taken = 0;

	is_int(child_run(own, &names, three_gets), 0, "one slot of our own");
	for (int i = 0; i < 40; i++) {
		c[i] = child_start(other, &admin, two_gets);
		taken += c[i].slot >= 0;
	}
	is_int(taken, 40, "forty live admin processes, a slot each");
	is_int(count_files(other), 40, "forty slot files");
	text = render_with(own, other, &no_jobs);
	is_int(sample(text, "http_requests_total{program=\"homebot-admin\","
	    "route=\"/health\",method=\"GET\",status=\"200\"}"), 80,
	    "every one of the 41 slots counted");
	is_int(sample(text, HEALTH_200), 3, "ours too");
	free(text);
	for (int i = 0; i < 40; i++)
		child_stop(&c[i]);
}

int
main(void)
{
	plan(88);
	if (mkdtemp(base) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_claim();
	test_read_dirs();
	test_read_dirs_many();
	test_reuse();
	test_labels();
	test_bounds();
	test_db_and_jobs();
	test_corrupt();
	test_refusals();
	test_exact();
	test_cost();
	rm_tree(base);
	return done_testing();
}
