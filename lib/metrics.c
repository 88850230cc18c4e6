#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_slot.h"

const char *const mx_methods[MX_METHODS] = { "GET", "HEAD", "POST", "PUT",
    "PATCH", "DELETE", "OPTIONS", "other" };
const char *const mx_outcomes[MX_OUTCOMES] = { "succeeded", "failed",
    "dead" };
/* From half a millisecond (a cached answer) to 10 s (a slow mail server). */
const uint64_t mx_bucket_ns[MX_BUCKETS] = { 500000, 1000000, 2500000,
    5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
    1000000000, 2500000000, 5000000000, 10000000000 };
const char *const mx_bucket_le[MX_BUCKETS] = { "0.0005", "0.001", "0.0025",
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10" };

/* This process's slot: one per process, so it is the process's state. */
static struct {
	struct mx_slot	*slot;
	int		 fd;
	int		 number;
	/* Route and kind numbers of the program to their index in the slot. */
	uint8_t		 route[HB_METRICS_NAMES_MAX];
	size_t		 nroute;
	uint8_t		 kind[HB_METRICS_NAMES_MAX];
	size_t		 nkind;
} mx = { .fd = -1, .number = -1 };

bool
mx_program_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 40)
		return false;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_'))
			return false;
	return true;
}

/*
 * The directory, opened: created 0700 when missing; refused unless it is
 * this user's and nobody else may write to it, since whoever can replace
 * a slot file can make /metrics say anything.
 */
static int
dir_open(const char *dir, struct hb_error *err)
{
	struct stat st;
	int fd;

	if (dir[0] != '/')
		return hb_fail(err, 500, "metrics",
		    "METRICS_DIR must be an absolute path");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && mkdir(dir, 0700) == 0)
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return hb_fail(err, 500, "metrics", "METRICS_DIR %s: %s", dir,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		return hb_fail(err, 500, "metrics",
		    "METRICS_DIR %s must belong to uid %d and be writable by "
		    "nobody else", dir, (int)geteuid());
	}
	return fd;
}

static bool
name_valid(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n == max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool
mx_slot_valid(struct mx_slot *s, const char *program)
{
	uint32_t nr = atomic_load_explicit(&s->nroutes, memory_order_acquire);
	uint32_t nk = atomic_load_explicit(&s->nkinds, memory_order_acquire);

	if (atomic_load_explicit(&s->magic, memory_order_acquire) !=
	    MX_MAGIC || s->version != MX_VERSION ||
	    s->size != sizeof(*s) || strncmp(s->program, program,
	    sizeof(s->program)) != 0 || nr > MX_ROUTES || nk > MX_KINDS)
		return false;
	for (uint32_t i = 0; i < nr; i++)
		if (!name_valid(s->route[i], MX_NAME))
			return false;
	for (uint32_t i = 0; i < nk; i++)
		if (!name_valid(s->kind[i], MX_NAME))
			return false;
	return true;
}

/*
 * The index of name in a slot's table of names, added when missing; the
 * last index ("other") when it does not fit.
 */
static uint8_t
name_index(char (*table)[MX_NAME], _Atomic uint32_t *count, unsigned max,
    const char *name)
{
	uint32_t n = atomic_load_explicit(count, memory_order_relaxed);

	for (uint32_t i = 0; i < n; i++)
		if (strcmp(table[i], name) == 0)
			return (uint8_t)i;
	if (n == max || strlen(name) >= MX_NAME || !name_valid(name, MX_NAME))
		return (uint8_t)max;
	memcpy(table[n], name, strlen(name) + 1);
	/* A reader that sees the count sees the name. */
	atomic_store_explicit(count, n + 1, memory_order_release);
	return (uint8_t)n;
}

/*
 * Makes the slot this process's: a file that is not a valid slot of this
 * program (new, short, of an older layout, damaged) is begun afresh;
 * otherwise its counters stay and this process adds to them.
 */
static int
slot_take(int fd, const struct stat *st, const struct hb_metrics_names *names,
    struct hb_error *err)
{
	struct mx_slot *s;

	if ((st->st_size != (off_t)sizeof(*s) && (ftruncate(fd, 0) == -1 ||
	    ftruncate(fd, sizeof(*s)) == -1)) ||
	    (s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0)) == MAP_FAILED)
		return hb_fail(err, 500, "metrics", "cannot map a slot: %s",
		    strerror(errno));
	if (!mx_slot_valid(s, names->program)) {
		atomic_store_explicit(&s->magic, 0, memory_order_relaxed);
		memset((char *)s + sizeof(s->magic), 0,
		    sizeof(*s) - sizeof(s->magic));
		s->version = MX_VERSION;
		s->size = sizeof(*s);
		snprintf(s->program, sizeof(s->program), "%s", names->program);
		atomic_store_explicit(&s->magic, MX_MAGIC,
		    memory_order_release);
	}
	atomic_store_explicit(&s->pid, (int64_t)getpid(),
	    memory_order_relaxed);
	/* A dead owner's connections closed with it. */
	atomic_store_explicit(&s->db_connections, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->owners, 1, memory_order_relaxed);
	mx.nroute = names->nroutes < HB_METRICS_NAMES_MAX ? names->nroutes :
	    HB_METRICS_NAMES_MAX;
	for (size_t i = 0; i < mx.nroute; i++)
		mx.route[i] = name_index(s->route, &s->nroutes, MX_ROUTES,
		    names->routes[i]);
	mx.nkind = names->nkinds < HB_METRICS_NAMES_MAX ? names->nkinds :
	    HB_METRICS_NAMES_MAX;
	for (size_t i = 0; i < mx.nkind; i++)
		mx.kind[i] = name_index(s->kind, &s->nkinds, MX_KINDS,
		    names->kinds[i]);
	mx.slot = s;
	return 0;
}

/*
 * Slot n of the program, opened and locked: the descriptor, -2 when
 * another process holds it (or it is not a file of this user's, which is
 * left alone), -1 with err set on a failure that every slot would have.
 */
static int
slot_try(int dfd, const struct hb_metrics_names *names, int n,
    struct hb_error *err)
{
	char file[64];
	struct stat st;
	int fd;

	snprintf(file, sizeof(file), "%s.%d", names->program, n);
	fd = openat(dfd, file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return errno == ELOOP ? -2 : hb_fail(err, 500, "metrics",
		    "cannot open a slot: %s", strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1 ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return -2;
	}
	/*
	 * 0640: /metrics may run as another user of the group (it reads the
	 * admin program's slots through METRICS_READ_DIRS); counts only.
	 */
	if ((st.st_mode & 0777) != 0640)
		fchmod(fd, 0640);
	if (slot_take(fd, &st, names, err) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
metrics_open(const char *dir, const struct hb_metrics_names *names,
    struct hb_error *err)
{
	int dfd, fd = -2;

	if (mx.slot != NULL)
		return hb_fail(err, 500, "metrics", "a slot is already held");
	if (!mx_program_valid(names->program))
		return hb_fail(err, 500, "metrics", "invalid program name");
	if ((dfd = dir_open(dir, err)) == -1)
		return -1;
	for (int n = 0; n < HB_METRICS_SLOTS && fd == -2; n++) {
		fd = slot_try(dfd, names, n, err);
		if (fd >= 0) {
			mx.fd = fd;
			mx.number = n;
		}
	}
	close(dfd);
	if (fd == -2)
		return hb_fail(err, 500, "metrics",
		    "all %d slots of %s are taken", HB_METRICS_SLOTS,
		    names->program);
	return fd >= 0 ? 0 : -1;
}

void
metrics_close(void)
{
	if (mx.slot != NULL)
		munmap(mx.slot, sizeof(*mx.slot));
	if (mx.fd != -1)
		close(mx.fd);
	mx.slot = NULL;
	mx.fd = -1;
	mx.number = -1;
}

int
metrics_slot(void)
{
	return mx.number;
}

static unsigned
method_index(const char *method)
{
	for (unsigned i = 0; i + 1 < MX_METHODS; i++)
		if (strcmp(method, mx_methods[i]) == 0)
			return i;
	return MX_METHODS - 1;
}

/* The counter of key in table t of n (a power of 2), added when missing. */
static _Atomic uint64_t *
counter_of(struct mx_counter *t, size_t n, uint32_t key)
{
	size_t i = (size_t)((uint32_t)(key * 2654435761u) >> 16) & (n - 1);

	for (size_t probe = 0; probe < n; probe++, i = (i + 1) & (n - 1)) {
		uint32_t k = atomic_load_explicit(&t[i].key,
		    memory_order_relaxed);

		if (k == 0 && atomic_compare_exchange_strong_explicit(
		    &t[i].key, &k, key, memory_order_release,
		    memory_order_relaxed))
			return &t[i].count;
		if (k == key)
			return &t[i].count;
	}
	return NULL;
}

static uint64_t
ns_since(const struct timespec *t0)
{
	struct timespec t1;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000000 +
	    (t1.tv_nsec - t0->tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

static void
hist_add(struct mx_hist *h, uint64_t ns)
{
	unsigned b = 0;

	while (b < MX_BUCKETS && ns > mx_bucket_ns[b])
		b++;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void
metrics_request(int route, const char *method, int status,
    const struct timespec *started)
{
	struct mx_slot *s = mx.slot;
	_Atomic uint64_t *c;
	unsigned ri;

	if (s == NULL)
		return;
	ri = route >= 0 && (size_t)route < mx.nroute ? mx.route[route] :
	    MX_ROUTES;
	c = counter_of(s->requests, MX_SERIES, mx_request_key(ri,
	    method_index(method), status >= 100 && status <= 599 ?
	    (unsigned)status : 0));
	atomic_fetch_add_explicit(c != NULL ? c : &s->dropped, 1,
	    memory_order_relaxed);
	hist_add(&s->duration[ri], ns_since(started));
}

void
metrics_job(int kind, enum hb_metrics_outcome outcome,
    const struct timespec *started)
{
	unsigned ki;

	if (mx.slot == NULL || (unsigned)outcome >= MX_OUTCOMES)
		return;
	ki = kind >= 0 && (size_t)kind < mx.nkind ? mx.kind[kind] : MX_KINDS;
	hist_add(&mx.slot->job[ki][outcome], ns_since(started));
}

void
metrics_db_connection(int delta, bool reconnect)
{
	if (mx.slot == NULL)
		return;
	atomic_fetch_add_explicit(&mx.slot->db_connections, delta,
	    memory_order_relaxed);
	if (reconnect)
		atomic_fetch_add_explicit(&mx.slot->db_reconnects, 1,
		    memory_order_relaxed);
}

void
metrics_db_connect_failure(void)
{
	if (mx.slot != NULL)
		atomic_fetch_add_explicit(&mx.slot->db_connect_failures, 1,
		    memory_order_relaxed);
}

void
metrics_db_prepared(void)
{
	if (mx.slot != NULL)
		atomic_fetch_add_explicit(&mx.slot->db_prepares, 1,
		    memory_order_relaxed);
}

void
metrics_db_name_missing(void)
{
	if (mx.slot != NULL)
		atomic_fetch_add_explicit(&mx.slot->db_name_misses, 1,
		    memory_order_relaxed);
}

static bool
sqlstate_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

void
metrics_db_error(const char *sqlstate)
{
	_Atomic uint64_t *c;

	if (mx.slot == NULL || sqlstate == NULL ||
	    !sqlstate_char(sqlstate[0]) || !sqlstate_char(sqlstate[1]))
		return;
	c = counter_of(mx.slot->db_errors, MX_CLASSES,
	    (uint32_t)((unsigned char)sqlstate[0] << 8 |
	    (unsigned char)sqlstate[1]));
	if (c != NULL)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
