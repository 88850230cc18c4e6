/* The retry schedule of lib/job.c: exponential, capped, equal jitter. */
#include <stdbool.h>

#include "job.h"
#include "tap.h"

static void
test_schedule(void)
{
	double lo, hi, prev_lo = 0;
	bool fine = true;

	ok(job_backoff(1, 2, 3600, 0.0) == 1.0,
	    "attempt 1, base 2 s: at least half the base (1 s)");
	ok(job_backoff(1, 2, 3600, 0.999) > 1.99 &&
	    job_backoff(1, 2, 3600, 0.999) < 2.0,
	    "attempt 1: at most the base (2 s)");
	ok(job_backoff(2, 2, 3600, 0.0) == 2.0 &&
	    job_backoff(3, 2, 3600, 0.0) == 4.0 &&
	    job_backoff(4, 2, 3600, 0.0) == 8.0,
	    "each attempt doubles the delay");
	ok(job_backoff(1, 1, 3600, 0.0) == 0.5,
	    "a base of 1 s still waits half a second: no immediate retry");
	for (int a = 1; a <= 30; a++) {
		lo = job_backoff(a, 2, 3600, 0.0);
		hi = job_backoff(a, 2, 3600, 0.99999);
		if (lo > hi || hi > 3600 || lo < prev_lo)
			fine = false;
		prev_lo = lo;
	}
	ok(fine, "30 attempts: never shrinking, never over the cap");
	ok(job_backoff(13, 2, 3600, 0.0) == 1800.0 &&
	    job_backoff(200, 2, 3600, 0.0) == 1800.0,
	    "past the cap (3600 s): between 1800 and 3600 s, however many attempts");
	ok(job_backoff(3, 2, 5, 0.0) == 2.5, "a small cap caps the doubling");
}

static void
test_jitter(void)
{
	ok(job_backoff(4, 2, 3600, 0.5) == 12.0,
	    "half the random part: 8 s + 0.5 x 8 s");
	ok(job_backoff(4, 2, 3600, 0.25) != job_backoff(4, 2, 3600, 0.75),
	    "different random draws give different delays");
	ok(job_backoff(4, 2, 3600, -1.0) == 8.0 &&
	    job_backoff(4, 2, 3600, 1.0) == 8.0 &&
	    job_backoff(4, 2, 3600, 0.0 / 0.0) == 8.0,
	    "a draw outside [0, 1) (or NaN) counts as 0");
	ok(job_backoff(0, 0, 0, 0.0) == 0.5 && job_backoff(-5, -1, -1, 0.0) == 0.5,
	    "nonsense arguments still give a positive delay");
}

int
main(void)
{
	plan(11);
	test_schedule();
	test_jitter();
	return done_testing();
}
