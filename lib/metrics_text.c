/*
 * GET /metrics: reads every slot file (lib/metrics_slot.h), sums their
 * counters per label set and writes the Prometheus text format 0.0.4.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "metrics.h"
#include "metrics_slot.h"

#define MAX_FILES	(HB_METRICS_SLOTS * 64)
#define NLABELS		4

/* A slot file that reads as valid, mapped read-only. */
struct snap {
	struct mx_slot	*s;
	char		 program[MX_PROGRAM];
	int		 number;
	bool		 live;	/* a process holds it */
	int64_t		 pid;
};

/* One sample (or one histogram) of a family, before and after summing. */
struct series {
	char		 label[NLABELS][MX_NAME];
	uint64_t	 value;
	double		 real;
	uint64_t	 bucket[MX_BUCKETS + 1];
	uint64_t	 sum_ns;
};

struct family {
	struct series	*v;
	size_t		 n, cap;
	bool		 nomem;
};

struct render {
	FILE		*out;
	struct snap	*snap;
	size_t		 nsnap;
	size_t		 cap;	/* of snap, across every directory read */
	bool		 nomem;	/* a series could not be kept */
};

static void
family_free(struct render *rd, struct family *f)
{
	rd->nomem = rd->nomem || f->nomem;
	free(f->v);
	*f = (struct family){0};
}

static uint64_t
ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* A new series with these labels (NULL: ""), or NULL when out of memory. */
static struct series *
family_add(struct family *f, const char *l0, const char *l1, const char *l2,
    const char *l3)
{
	const char *l[NLABELS] = { l0, l1, l2, l3 };
	struct series *s;

	if (f->n == f->cap) {
		size_t cap = f->cap != 0 ? f->cap * 2 : 64;
		struct series *v = realloc(f->v, cap * sizeof(*v));

		if (v == NULL) {
			f->nomem = true;
			return NULL;
		}
		f->v = v;
		f->cap = cap;
	}
	s = &f->v[f->n++];
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < NLABELS; i++)
		snprintf(s->label[i], sizeof(s->label[i]), "%s",
		    l[i] != NULL ? l[i] : "");
	return s;
}

static int
series_cmp(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c = 0;

	for (int i = 0; i < NLABELS && c == 0; i++)
		c = strcmp(x->label[i], y->label[i]);
	return c;
}

/* Sorts by labels and sums the series of equal labels into one. */
static void
family_sum(struct family *f)
{
	size_t w = 0;

	if (f->n == 0)
		return;
	qsort(f->v, f->n, sizeof(*f->v), series_cmp);
	for (size_t r = 1; r < f->n; r++) {
		struct series *a = &f->v[w], *b = &f->v[r];

		if (series_cmp(a, b) != 0) {
			f->v[++w] = *b;
			continue;
		}
		a->value += b->value;
		a->real += b->real;
		a->sum_ns += b->sum_ns;
		for (int i = 0; i <= MX_BUCKETS; i++)
			a->bucket[i] += b->bucket[i];
	}
	f->n = w + 1;
}


static void
header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants. */
static void
put_value(FILE *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* {a="x",b="y"[,le="…"]}, or nothing without labels. */
static void
put_labels(FILE *out, const char *const *names, const struct series *s,
    const char *le)
{
	bool any = false;

	for (int i = 0; i < NLABELS && names[i] != NULL; i++) {
		fprintf(out, "%s%s=\"", any ? "," : "{", names[i]);
		put_value(out, s->label[i]);
		fputc('"', out);
		any = true;
	}
	if (le != NULL) {
		fprintf(out, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any)
		fputc('}', out);
}

static void
print_values(FILE *out, const char *name, const char *const *names,
    const struct family *f)
{
	for (size_t i = 0; i < f->n; i++) {
		fputs(name, out);
		put_labels(out, names, &f->v[i], NULL);
		fprintf(out, " %" PRIu64 "\n", f->v[i].value);
	}
}

static void
print_reals(FILE *out, const char *name, const char *const *names,
    const struct family *f)
{
	for (size_t i = 0; i < f->n; i++) {
		fputs(name, out);
		put_labels(out, names, &f->v[i], NULL);
		fprintf(out, " %.3f\n", f->v[i].real);
	}
}

static void
print_histograms(FILE *out, const char *name, const char *const *names,
    const struct family *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct series *s = &f->v[i];
		uint64_t cum = 0;

		for (int b = 0; b < MX_BUCKETS; b++) {
			cum += s->bucket[b];
			fprintf(out, "%s_bucket", name);
			put_labels(out, names, s, mx_bucket_le[b]);
			fprintf(out, " %" PRIu64 "\n", cum);
		}
		cum += s->bucket[MX_BUCKETS];
		fprintf(out, "%s_bucket", name);
		put_labels(out, names, s, "+Inf");
		fprintf(out, " %" PRIu64 "\n%s_sum", cum, name);
		put_labels(out, names, s, NULL);
		fprintf(out, " %" PRIu64 ".%09" PRIu64 "\n%s_count",
		    s->sum_ns / 1000000000, s->sum_ns % 1000000000, name);
		put_labels(out, names, s, NULL);
		fprintf(out, " %" PRIu64 "\n", cum);
	}
}

static uint64_t
hist_count(const struct series *s)
{
	uint64_t n = 0;

	for (int b = 0; b <= MX_BUCKETS; b++)
		n += s->bucket[b];
	return n;
}

static void
hist_copy(struct series *s, struct mx_hist *h)
{
	for (int b = 0; b <= MX_BUCKETS; b++)
		s->bucket[b] = ld(&h->bucket[b]);
	s->sum_ns = ld(&h->sum_ns);
}

/*
 * "<program>.<n>" into its parts: n from 0 to HB_METRICS_SLOTS - 1 in
 * plain decimal, and a valid program name.
 */
static bool
file_name_parse(const char *name, char program[MX_PROGRAM], int *n)
{
	const char *dot = strrchr(name, '.');
	size_t plen;
	int v = 0;

	if (dot == NULL || dot[1] == '\0' || strlen(dot + 1) > 2 ||
	    (dot[1] == '0' && dot[2] != '\0'))
		return false;
	for (const char *p = dot + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	plen = (size_t)(dot - name);
	if (v >= HB_METRICS_SLOTS || plen >= MX_PROGRAM)
		return false;
	memcpy(program, name, plen);
	program[plen] = '\0';
	*n = v;
	return mx_program_valid(program);
}

/*
 * A private copy of the slot file name of the directory dfd when it is a
 * valid slot of owner's: 0, or -1 to skip it. A copy, not a mapping: what
 * was checked is what is rendered, whatever the file's writer does
 * meanwhile (a slot of another user's, through METRICS_READ_DIRS, is not
 * trusted further than its checks), and a file cut short cannot fault.
 * A slot whose lock can be taken has no process: its counters still
 * count, its process gauges do not.
 */
/* Reads exactly n bytes from the start of fd: 0, or -1. */
static int
read_whole(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int
snap_open(int dfd, const char *name, uid_t owner, struct snap *sn)
{
	struct stat st;
	void *copy;
	int fd;

	if (!file_name_parse(name, sn->program, &sn->number))
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != owner || st.st_size != sizeof(struct mx_slot) ||
	    (copy = malloc(sizeof(struct mx_slot))) == NULL) {
		close(fd);
		return -1;
	}
	if (read_whole(fd, copy, sizeof(struct mx_slot)) == -1 ||
	    !mx_slot_valid(copy, sn->program)) {
		free(copy);
		close(fd);
		return -1;
	}
	sn->s = copy;
	sn->live = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	sn->pid = atomic_load_explicit(&sn->s->pid, memory_order_relaxed);
	close(fd);
	return 0;
}

static int
snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	int c = strcmp(x->program, y->program);

	return c != 0 ? c : x->number - y->number;
}

/*
 * The valid slots under dir, added to rd. Own: slots of this user's; else
 * (a METRICS_READ_DIRS entry, another program's user) the directory must
 * be writable by its owner alone, and only that owner's slots count.
 */
static int
snaps_load(struct render *rd, const char *dir, bool own)
{
	struct stat st;
	uid_t owner = geteuid();
	struct dirent *e;
	DIR *d;
	int dfd;

	if (dir[0] == '\0')
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1)
		return 0;
	if (!own) {
		if (fstat(dfd, &st) == -1 ||
		    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
			close(dfd);
			return 0;
		}
		owner = st.st_uid;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((e = readdir(d)) != NULL && rd->nsnap < MAX_FILES) {
		struct snap sn;

		if (e->d_name[0] == '.' || snap_open(dirfd(d), e->d_name,
		    owner, &sn) == -1)
			continue;
		if (rd->nsnap == rd->cap) {
			size_t cap = rd->cap != 0 ? rd->cap * 2 : 32;
			struct snap *v = realloc(rd->snap, cap * sizeof(*v));

			if (v == NULL) {
				free(sn.s);
				closedir(d);
				return -1;
			}
			rd->snap = v;
			rd->cap = cap;
		}
		rd->snap[rd->nsnap++] = sn;
	}
	closedir(d);
	return 0;
}

/* dir's slots, then those of every directory in the list read_dirs. */
static int
snaps_load_all(struct render *rd, const char *dir, const char *read_dirs)
{
	const char *p = read_dirs != NULL ? read_dirs : "";

	if (snaps_load(rd, dir, true) == -1)
		return -1;
	while (*p != '\0') {
		char one[1024];
		size_t len = strcspn(p, ",");

		if (len > 0 && len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = '\0';
			if (snaps_load(rd, one, false) == -1)
				return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (rd->nsnap > 0)
		qsort(rd->snap, rd->nsnap, sizeof(*rd->snap), snap_cmp);
	return 0;
}

static void
snaps_free(struct render *rd)
{
	for (size_t i = 0; i < rd->nsnap; i++)
		free(rd->snap[i].s);
	free(rd->snap);
	rd->snap = NULL;
	rd->nsnap = 0;
	rd->cap = 0;
}

/* A route of a slot by its index: its pattern, "other", or NULL (bad). */
static const char *
route_name(struct mx_slot *s, uint32_t nroutes, unsigned i)
{
	if (i == MX_ROUTES)
		return "other";
	return i < nroutes ? s->route[i] : NULL;
}

static const char *
kind_name(struct mx_slot *s, uint32_t nkinds, unsigned i)
{
	if (i == MX_KINDS)
		return "other";
	return i < nkinds ? s->kind[i] : NULL;
}

static const char *const L_REQUESTS[] = { "program", "route", "method",
    "status" };
static const char *const L_ROUTE[] = { "program", "route", NULL };
static const char *const L_PROGRAM[] = { "program", NULL };
static const char *const L_CLASS[] = { "program", "class", NULL };
static const char *const L_SLOT[] = { "program", "slot", NULL };
static const char *const L_KIND[] = { "kind", NULL };
static const char *const L_KIND_STATE[] = { "kind", "state", NULL };
static const char *const L_KIND_OUTCOME[] = { "kind", "outcome", NULL };

static void
http_families(struct render *rd, struct family *req, struct family *dur)
{
	size_t w = 0;

	for (size_t i = 0; i < rd->nsnap; i++) {
		struct mx_slot *s = rd->snap[i].s;
		uint32_t nr = atomic_load_explicit(&s->nroutes,
		    memory_order_acquire);
		const char *p = rd->snap[i].program;

		for (size_t k = 0; k < MX_SERIES; k++) {
			uint32_t key = atomic_load_explicit(
			    &s->requests[k].key, memory_order_acquire);
			unsigned r, m, st;
			const char *route;
			struct series *v;
			char status[8];

			if (key == 0)
				continue;
			mx_request_unkey(key, &r, &m, &st);
			route = route_name(s, nr, r);
			if (route == NULL || m >= MX_METHODS ||
			    (st != 0 && (st < 100 || st > 599)))
				continue;
			snprintf(status, sizeof(status), "%u", st);
			v = family_add(req, p, route, mx_methods[m], status);
			if (v != NULL)
				v->value = ld(&s->requests[k].count);
		}
		for (unsigned r = 0; r <= MX_ROUTES; r++) {
			const char *route = route_name(s, nr, r);
			struct series *v;

			if (route == NULL)
				continue;
			v = family_add(dur, p, route, NULL, NULL);
			if (v != NULL)
				hist_copy(v, &s->duration[r]);
		}
	}
	family_sum(req);
	family_sum(dur);
	/* A route no request took has nothing to say. */
	for (size_t r = 0; r < dur->n; r++)
		if (hist_count(&dur->v[r]) > 0)
			dur->v[w++] = dur->v[r];
	dur->n = w;
}

static void
render_http(struct render *rd)
{
	struct family req = {0}, dur = {0};

	http_families(rd, &req, &dur);
	header(rd->out, "http_requests_total", "counter",
	    "Requests answered, by program, route pattern (other: none "
	    "matched), method and status.");
	print_values(rd->out, "http_requests_total", L_REQUESTS, &req);
	header(rd->out, "http_request_duration_seconds", "histogram",
	    "Time from reading a request to having answered it, by program "
	    "and route pattern.");
	print_histograms(rd->out, "http_request_duration_seconds", L_ROUTE,
	    &dur);
	family_free(rd, &req);
	family_free(rd, &dur);
}

/* What /proc says of a live process; fds -1 when it cannot be read. */
struct proc_info {
	uint64_t	 rss;
	double		 cpu;
	double		 start;
	long		 fds;
};

static int
read_file(const char *path, char *buf, size_t n)
{
	FILE *fp = fopen(path, "re");
	size_t got;

	if (fp == NULL)
		return -1;
	got = fread(buf, 1, n - 1, fp);
	fclose(fp);
	buf[got] = '\0';
	return got > 0 ? 0 : -1;
}

static double
boot_time(void)
{
	char buf[8192], *p;

	if (read_file("/proc/stat", buf, sizeof(buf)) == -1 ||
	    (p = strstr(buf, "\nbtime ")) == NULL)
		return 0;
	return strtod(p + 7, NULL);
}

static long
count_fds(int64_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%" PRId64 "/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
proc_read(int64_t pid, double boot, struct proc_info *pi)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime, pages;
	unsigned long long started;
	long tick = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%" PRId64 "/stat", pid);
	/* The name in parentheses may hold anything: fields follow the last ')'. */
	if (pid <= 0 || tick <= 0 || read_file(path, buf, sizeof(buf)) == -1 ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
	    "%lu %lu %*s %*s %*s %*s %*s %*s %llu", &utime, &stime,
	    &started) != 3)
		return -1;
	snprintf(path, sizeof(path), "/proc/%" PRId64 "/statm", pid);
	if (read_file(path, buf, sizeof(buf)) == -1 ||
	    sscanf(buf, "%*u %lu", &pages) != 1)
		return -1;
	pi->rss = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	pi->cpu = (double)(utime + stime) / (double)tick;
	pi->start = boot + (double)started / (double)tick;
	pi->fds = count_fds(pid);
	return 0;
}

static void
render_process(struct render *rd)
{
	struct family rss = {0}, cpu = {0}, fds = {0}, start = {0};
	double boot = boot_time();

	for (size_t i = 0; i < rd->nsnap; i++) {
		struct proc_info pi;
		struct series *v;
		char slot[8];

		if (!rd->snap[i].live || proc_read(rd->snap[i].pid, boot,
		    &pi) == -1)
			continue;
		snprintf(slot, sizeof(slot), "%d", rd->snap[i].number);
		if ((v = family_add(&rss, rd->snap[i].program, slot, NULL,
		    NULL)) != NULL)
			v->value = pi.rss;
		if ((v = family_add(&cpu, rd->snap[i].program, slot, NULL,
		    NULL)) != NULL)
			v->real = pi.cpu;
		if (pi.fds >= 0 && (v = family_add(&fds, rd->snap[i].program,
		    slot, NULL, NULL)) != NULL)
			v->value = (uint64_t)pi.fds;
		if ((v = family_add(&start, rd->snap[i].program, slot, NULL,
		    NULL)) != NULL)
			v->real = pi.start;
	}
	header(rd->out, "process_resident_memory_bytes", "gauge",
	    "Resident memory of each live process, by program and slot.");
	print_values(rd->out, "process_resident_memory_bytes", L_SLOT, &rss);
	header(rd->out, "process_cpu_seconds_total", "counter",
	    "User and system CPU time of each live process.");
	print_reals(rd->out, "process_cpu_seconds_total", L_SLOT, &cpu);
	header(rd->out, "process_open_fds", "gauge",
	    "Open file descriptors of each live process.");
	print_values(rd->out, "process_open_fds", L_SLOT, &fds);
	header(rd->out, "process_start_time_seconds", "gauge",
	    "Start of each live process, in seconds since the Unix epoch.");
	print_reals(rd->out, "process_start_time_seconds", L_SLOT, &start);
	family_free(rd, &rss);
	family_free(rd, &cpu);
	family_free(rd, &fds);
	family_free(rd, &start);
}

static void
render_db(struct render *rd)
{
	struct family conn = {0}, rec = {0}, fail = {0}, err = {0},
	    drop = {0}, prep = {0}, miss = {0};

	for (size_t i = 0; i < rd->nsnap; i++) {
		struct mx_slot *s = rd->snap[i].s;
		const char *p = rd->snap[i].program;
		int64_t open = atomic_load_explicit(&s->db_connections,
		    memory_order_relaxed);
		struct series *v;

		if ((v = family_add(&conn, p, NULL, NULL, NULL)) != NULL &&
		    rd->snap[i].live && open > 0)
			v->value = (uint64_t)open;
		if ((v = family_add(&rec, p, NULL, NULL, NULL)) != NULL)
			v->value = ld(&s->db_reconnects);
		if ((v = family_add(&fail, p, NULL, NULL, NULL)) != NULL)
			v->value = ld(&s->db_connect_failures);
		if ((v = family_add(&drop, p, NULL, NULL, NULL)) != NULL)
			v->value = ld(&s->dropped);
		if ((v = family_add(&prep, p, NULL, NULL, NULL)) != NULL)
			v->value = ld(&s->db_prepares);
		if ((v = family_add(&miss, p, NULL, NULL, NULL)) != NULL)
			v->value = ld(&s->db_name_misses);
		for (size_t k = 0; k < MX_CLASSES; k++) {
			uint32_t key = atomic_load_explicit(
			    &s->db_errors[k].key, memory_order_acquire);
			char cls[3] = { (char)(key >> 8), (char)key, '\0' };

			if (key == 0 || key > 0xffff ||
			    !((cls[0] >= '0' && cls[0] <= '9') ||
			    (cls[0] >= 'A' && cls[0] <= 'Z')) ||
			    !((cls[1] >= '0' && cls[1] <= '9') ||
			    (cls[1] >= 'A' && cls[1] <= 'Z')))
				continue;
			if ((v = family_add(&err, p, cls, NULL, NULL)) != NULL)
				v->value = ld(&s->db_errors[k].count);
		}
	}
	family_sum(&conn);
	family_sum(&rec);
	family_sum(&fail);
	family_sum(&err);
	family_sum(&drop);
	family_sum(&prep);
	family_sum(&miss);
	header(rd->out, "homebot_db_connections", "gauge",
	    "Database connections the live processes hold open.");
	print_values(rd->out, "homebot_db_connections", L_PROGRAM, &conn);
	header(rd->out, "homebot_db_reconnects_total", "counter",
	    "Database connections opened again after the first.");
	print_values(rd->out, "homebot_db_reconnects_total", L_PROGRAM, &rec);
	header(rd->out, "homebot_db_connect_failures_total", "counter",
	    "Attempts to connect to the database that failed.");
	print_values(rd->out, "homebot_db_connect_failures_total", L_PROGRAM,
	    &fail);
	header(rd->out, "homebot_db_statement_errors_total", "counter",
	    "Statements the database failed, by SQLSTATE class.");
	print_values(rd->out, "homebot_db_statement_errors_total", L_CLASS,
	    &err);
	header(rd->out, "homebot_db_statement_prepares_total", "counter",
	    "Statements of the hot path prepared under their name, on a "
	    "connection or a pooler's server connection.");
	print_values(rd->out, "homebot_db_statement_prepares_total",
	    L_PROGRAM, &prep);
	header(rd->out, "homebot_db_statement_name_misses_total", "counter",
	    "Named statements their server connection lacked (a transaction "
	    "pooler's), prepared again.");
	print_values(rd->out, "homebot_db_statement_name_misses_total",
	    L_PROGRAM, &miss);
	header(rd->out, "homebot_metrics_dropped_total", "counter",
	    "Requests not counted: their program's slot had no room for "
	    "another label set.");
	print_values(rd->out, "homebot_metrics_dropped_total", L_PROGRAM,
	    &drop);
	family_free(rd, &conn);
	family_free(rd, &rec);
	family_free(rd, &fail);
	family_free(rd, &err);
	family_free(rd, &drop);
	family_free(rd, &prep);
	family_free(rd, &miss);
}

static const char *const STATES[] = { "queued", "running", "dead" };

/* The queue's figures; every kind a worker knows shows, with 0 if idle. */
static void
jobs_families(struct render *rd, const struct hb_metrics_jobs *jobs,
    struct family *state, struct family *age)
{
	for (size_t i = 0; jobs->ok && i < jobs->n; i++) {
		const struct hb_job_count *c = &jobs->counts[i];
		long long v[3] = { c->queued, c->running, c->dead };
		struct series *s;

		for (int k = 0; k < 3; k++)
			if ((s = family_add(state, c->kind, STATES[k], NULL,
			    NULL)) != NULL)
				s->value = v[k] > 0 ? (uint64_t)v[k] : 0;
		if ((s = family_add(age, c->kind, NULL, NULL, NULL)) != NULL)
			s->real = c->oldest_queued;
	}
	for (size_t i = 0; jobs->ok && i < rd->nsnap; i++) {
		struct mx_slot *s = rd->snap[i].s;
		uint32_t nk = atomic_load_explicit(&s->nkinds,
		    memory_order_acquire);

		for (uint32_t k = 0; k < nk; k++) {
			for (int st = 0; st < 3; st++)
				family_add(state, s->kind[k], STATES[st],
				    NULL, NULL);
			family_add(age, s->kind[k], NULL, NULL, NULL);
		}
	}
	family_sum(state);
	family_sum(age);
}

static void
render_jobs(struct render *rd, const struct hb_metrics_jobs *jobs)
{
	struct family state = {0}, age = {0}, done = {0}, dur = {0};

	jobs_families(rd, jobs, &state, &age);
	for (size_t i = 0; i < rd->nsnap; i++) {
		struct mx_slot *s = rd->snap[i].s;
		uint32_t nk = atomic_load_explicit(&s->nkinds,
		    memory_order_acquire);

		for (unsigned k = 0; k <= MX_KINDS; k++) {
			const char *kind = kind_name(s, nk, k);

			for (int o = 0; kind != NULL && o < MX_OUTCOMES; o++) {
				struct series h = {0}, *v;

				hist_copy(&h, &s->job[k][o]);
				h.value = hist_count(&h);
				if (h.value == 0 || (v = family_add(&dur, kind,
				    mx_outcomes[o], NULL, NULL)) == NULL)
					continue;
				memcpy(v->bucket, h.bucket, sizeof(h.bucket));
				v->sum_ns = h.sum_ns;
				if ((v = family_add(&done, kind,
				    mx_outcomes[o], NULL, NULL)) != NULL)
					v->value = h.value;
			}
		}
	}
	family_sum(&done);
	family_sum(&dur);
	header(rd->out, "homebot_jobs", "gauge",
	    "Jobs in the queue by kind and state: queued (retries waiting "
	    "included), running, dead.");
	print_values(rd->out, "homebot_jobs", L_KIND_STATE, &state);
	header(rd->out, "homebot_jobs_oldest_queued_seconds", "gauge",
	    "How long the oldest job that may run has waited past its time.");
	print_reals(rd->out, "homebot_jobs_oldest_queued_seconds", L_KIND,
	    &age);
	header(rd->out, "homebot_jobs_query_ok", "gauge",
	    "Whether the database answered for the queue's figures above.");
	fprintf(rd->out, "homebot_jobs_query_ok %d\n", jobs->ok ? 1 : 0);
	header(rd->out, "homebot_jobs_processed_total", "counter",
	    "Job attempts the workers finished, by kind and outcome.");
	print_values(rd->out, "homebot_jobs_processed_total", L_KIND_OUTCOME,
	    &done);
	header(rd->out, "homebot_jobs_duration_seconds", "histogram",
	    "Time a job attempt took, by kind and outcome.");
	print_histograms(rd->out, "homebot_jobs_duration_seconds",
	    L_KIND_OUTCOME, &dur);
	family_free(rd, &state);
	family_free(rd, &age);
	family_free(rd, &done);
	family_free(rd, &dur);
}

int
metrics_render(FILE *out, const char *dir, const char *read_dirs,
    const struct hb_metrics_jobs *jobs)
{
	struct render rd = { .out = out };

	if (snaps_load_all(&rd, dir, read_dirs) == -1) {
		snaps_free(&rd);
		return -1;
	}
	render_http(&rd);
	render_process(&rd);
	render_db(&rd);
	render_jobs(&rd, jobs);
	snaps_free(&rd);
	return ferror(out) || rd.nomem ? -1 : 0;
}
