#ifndef HB_METRICS_SLOT_H
#define HB_METRICS_SLOT_H

/*
 * The layout of one slot file, METRICS_DIR/<program>.<n>, shared by the
 * process that holds the slot (lib/metrics.c writes it) and by GET
 * /metrics (lib/metrics_text.c reads it). Only lib/metrics*.c include it.
 *
 * Every field a reader may read while the owner writes it is atomic. A
 * file of another size, magic or version is begun afresh by its next
 * owner and skipped by readers, so a change of layout raises MX_VERSION.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MX_MAGIC	0x584d4248u	/* "HBMX" */
#define MX_VERSION	2u
#define MX_PROGRAM	64	/* a program name, with its NUL */
#define MX_NAME		96	/* a route pattern or a job kind, with its NUL */
#define MX_ROUTES	64	/* route patterns of a program; then "other" */
#define MX_KINDS	16	/* job kinds; then "other" */
#define MX_SERIES	512	/* (route, method, status) triples; a power of 2 */
#define MX_CLASSES	64	/* SQLSTATE classes; a power of 2 */
#define MX_BUCKETS	14	/* finite histogram buckets */
#define MX_METHODS	8
#define MX_OUTCOMES	3

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "counters shared between processes must be lock-free");

/*
 * A histogram: bucket[i] counts the observations of at most
 * mx_bucket_ns[i] and above the bucket before (not cumulative), the last
 * one those above every bound; the count is their sum.
 */
struct mx_hist {
	_Atomic uint64_t	bucket[MX_BUCKETS + 1];
	_Atomic uint64_t	sum_ns;
};

/* A counter of an open-addressed table, found by its key (0: free). */
struct mx_counter {
	_Atomic uint32_t	key;
	uint32_t		pad;
	_Atomic uint64_t	count;
};

struct mx_slot {
	_Atomic uint32_t	magic;		/* stored last: the rest is set */
	uint32_t		version;
	uint64_t		size;		/* sizeof(struct mx_slot) */
	char			program[MX_PROGRAM];
	_Atomic int64_t		pid;		/* of the owner now or last */
	_Atomic uint64_t	owners;		/* processes that held it */
	_Atomic int64_t		db_connections;	/* the owner's, open now */
	_Atomic uint64_t	db_reconnects;
	_Atomic uint64_t	db_connect_failures;
	_Atomic uint64_t	db_prepares;	/* named statements prepared */
	_Atomic uint64_t	db_name_misses;	/* names a server lacked */
	_Atomic uint64_t	dropped;	/* requests the table had no room for */
	/* Names are written before the count that makes them visible. */
	_Atomic uint32_t	nroutes;
	_Atomic uint32_t	nkinds;
	char			route[MX_ROUTES][MX_NAME];
	char			kind[MX_KINDS][MX_NAME];
	struct mx_counter	requests[MX_SERIES];
	struct mx_counter	db_errors[MX_CLASSES];	/* key: the class's 2 bytes */
	struct mx_hist		duration[MX_ROUTES + 1];
	struct mx_hist		job[MX_KINDS + 1][MX_OUTCOMES];
};

/* The labels behind the indexes stored in a slot. */
extern const char *const mx_methods[MX_METHODS];	/* the last: "other" */
extern const char *const mx_outcomes[MX_OUTCOMES];
extern const uint64_t mx_bucket_ns[MX_BUCKETS];
extern const char *const mx_bucket_le[MX_BUCKETS];

/* Whether p may name a program (and so a slot file): [a-z0-9_-], 1-40. */
bool	mx_program_valid(const char *p);
/*
 * Whether a mapped slot is a complete one of this layout and of program,
 * its names printable and NUL-terminated.
 */
bool	mx_slot_valid(struct mx_slot *s, const char *program);

/*
 * A request's key: its route (MX_ROUTES: other), method and status
 * (100-599, else 0). Never 0, which marks a free counter.
 */
static inline uint32_t
mx_request_key(unsigned route, unsigned method, unsigned status)
{
	return (uint32_t)((route + 1) << 16 | method << 12 | status);
}

static inline void
mx_request_unkey(uint32_t key, unsigned *route, unsigned *method,
    unsigned *status)
{
	*route = (key >> 16) - 1;
	*method = (key >> 12) & 0xf;
	*status = key & 0xfff;
}

#endif
