/*
 * The per-request arena: zeroed, aligned memory; a reset keeps one block
 * for the next request, so a worker's memory does not grow with the
 * number of requests it serves.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define HB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HB_ASAN 1
#endif
#endif

#ifdef HB_ASAN
size_t	__sanitizer_get_current_allocated_bytes(void);
#elif __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HB_VALGRIND 1
#endif

#define ALIGN	_Alignof(max_align_t)

/* Bytes the process holds on the heap now, as the allocator in use sees it. */
static size_t
heap_in_use(void)
{
#ifdef HB_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
#ifdef HB_VALGRIND
	if (RUNNING_ON_VALGRIND) {
		unsigned long leaked = 0, dubious = 0, reachable = 0,
		    suppressed = 0;

		VALGRIND_DO_QUICK_LEAK_CHECK;
		VALGRIND_COUNT_LEAKS(leaked, dubious, reachable, suppressed);
		return leaked + dubious + reachable + suppressed;
	}
#endif
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
test_zero_and_align(void)
{
	struct hb_arena a;
	unsigned char *p[64], *q;
	size_t sizes[64];
	bool aligned = true, zero = true, separate = true;

	arena_init(&a);
	ok(a.head == NULL && a.first == NULL, "init: an arena starts empty");
	for (int i = 0; i < 64; i++) {
		sizes[i] = (size_t)(i * 37 % 200) + 1;
		p[i] = arena_alloc(&a, sizes[i]);
		if (p[i] == NULL) {
			ok(0, "alloc: allocation %d failed", i);
			arena_free(&a);
			return;
		}
		if ((uintptr_t)p[i] % ALIGN != 0)
			aligned = false;
		if (!all_zero(p[i], sizes[i]))
			zero = false;
		memset(p[i], i + 1, sizes[i]);
	}
	ok(aligned, "alloc: 64 odd-sized allocations are aligned to %zu",
	    (size_t)ALIGN);
	ok(zero, "alloc: every allocation starts zeroed");
	for (int i = 0; i < 64; i++)
		for (size_t j = 0; j < sizes[i]; j++)
			if (p[i][j] != (unsigned char)(i + 1))
				separate = false;
	ok(separate, "alloc: allocations do not overlap");
	ok(a.first != NULL && a.head != NULL, "alloc: the arena now has a block");

	/* After a reset the same memory comes back, dirty, and is zeroed. */
	arena_reset(&a);
	ok(a.head == a.first, "reset: the kept block is the one being filled");
	zero = true;
	for (int i = 0; i < 64; i++) {
		q = arena_alloc(&a, sizes[i]);
		if (q == NULL || !all_zero(q, sizes[i]))
			zero = false;
		if (i == 0)
			ok(q == p[0], "reset: the first block is reused");
	}
	ok(zero, "reset: reused memory is zeroed again");

	q = arena_alloc(&a, 0);
	ok(q != NULL && (uintptr_t)q % ALIGN == 0,
	    "alloc: a zero-byte allocation gives an aligned pointer");
	arena_free(&a);
	ok(a.head == NULL && a.first == NULL, "free: the arena is empty again");
}

static void
test_large(void)
{
	struct hb_arena a;
	unsigned char *small, *big, *after, *huge;
	size_t bign = 1u << 20;

	arena_init(&a);
	small = arena_alloc(&a, 10);
	memset(small, 0x5a, 10);
	big = arena_alloc(&a, bign);
	ok(big != NULL, "large: a 1 MiB allocation works");
	if (big == NULL) {
		arena_free(&a);
		return;
	}
	ok((uintptr_t)big % ALIGN == 0, "large: it is aligned");
	ok(all_zero(big, bign), "large: it is zeroed");
	memset(big, 0xa5, bign);
	after = arena_alloc(&a, 100);
	ok(after != NULL && all_zero(after, 100),
	    "large: a small allocation after it works and is zeroed");
	ok(after != NULL && (after + 100 <= big || after >= big + bign),
	    "large: the next allocation is outside the large one");
	ok(small[0] == 0x5a && small[9] == 0x5a && big[bign - 1] == 0xa5,
	    "large: earlier allocations are intact");
	huge = arena_alloc(&a, 3u << 20);
	ok(huge != NULL && all_zero(huge, 3u << 20),
	    "large: a second, 3 MiB allocation works and is zeroed");

	/*
	 * A size whose rounding up or whose block header would wrap gives
	 * NULL; sizes this close to SIZE_MAX must never reach malloc().
	 */
	{
		bool refused = true;

		for (size_t k = 0; k < 64; k++)
			if (arena_alloc(&a, SIZE_MAX - k) != NULL) {
				diag("arena_alloc(SIZE_MAX - %zu) succeeded", k);
				refused = false;
			}
		ok(refused, "overflow: every size within 64 bytes of SIZE_MAX "
		    "gives NULL");
		ok(arena_alloc(&a, (size_t)PTRDIFF_MAX + 1) == NULL,
		    "overflow: a size over PTRDIFF_MAX gives NULL");
		ok(arena_alloc(&a, SIZE_MAX / 2 + 1000) == NULL,
		    "overflow: SIZE_MAX / 2 + 1000 gives NULL");
	}
	ok(arena_strndup(&a, "x", SIZE_MAX) == NULL,
	    "overflow: arena_strndup of SIZE_MAX bytes gives NULL");
	after = arena_alloc(&a, 32);
	ok(after != NULL && all_zero(after, 32),
	    "overflow: the arena still works after refusing");

	arena_reset(&a);
	ok(a.head == a.first, "large: reset keeps only the first block");
	small = arena_alloc(&a, 10);
	ok(small != NULL && all_zero(small, 10),
	    "large: allocating after a reset works");
	arena_free(&a);
}

static void
test_strings(void)
{
	struct hb_arena a;
	char *s;

	arena_init(&a);
	s = arena_strdup(&a, "homebot");
	is_str(s, "homebot", "strdup: copies the string");
	s = arena_strndup(&a, "homebot-extra", 7);
	is_str(s, "homebot", "strndup: copies n bytes and adds a NUL");
	s = arena_strndup(&a, "abc", 0);
	is_str(s, "", "strndup: zero bytes gives \"\"");
	s = arena_strndup(&a, "a\0b", 3);
	ok(s != NULL && s[0] == 'a' && s[1] == '\0' && s[2] == 'b' &&
	    s[3] == '\0', "strndup: copies bytes past an embedded NUL");
	arena_free(&a);

	/* Resetting or freeing an arena that never allocated is harmless. */
	arena_init(&a);
	arena_reset(&a);
	arena_free(&a);
	arena_free(&a);
	ok(a.first == NULL, "empty: reset and double free of an empty arena");
}

/* One "request": about 100 KB in small and large pieces. */
static bool
cycle(struct hb_arena *a)
{
	bool good = true;

	for (int i = 0; i < 150; i++) {
		unsigned char *p = arena_alloc(a, (size_t)(i % 7) * 64 + 200);

		if (p == NULL || p[0] != 0)
			good = false;
		else
			memset(p, 0xee, (size_t)(i % 7) * 64 + 200);
	}
	for (int i = 0; i < 2; i++) {
		unsigned char *p = arena_alloc(a, 20000);

		if (p == NULL || !all_zero(p, 20000))
			good = false;
		else
			memset(p, 0xdd, 20000);
	}
	return good;
}

static void
test_cycles(void)
{
	struct hb_arena a;
	size_t base, after10, after1000, peak = 0, now;
	void *first;
	bool good = true, same_first = true;

	base = heap_in_use();
	arena_init(&a);
	for (int i = 0; i < 10; i++) {
		good = cycle(&a) && good;
		arena_reset(&a);
	}
	first = a.first;
	after10 = heap_in_use();
	for (int i = 10; i < 1000; i++) {
		good = cycle(&a) && good;
		if (i % 100 == 0) {
			now = heap_in_use();
			if (now > peak)
				peak = now;
		}
		arena_reset(&a);
		if (a.first != first || a.head != first)
			same_first = false;
	}
	after1000 = heap_in_use();
	ok(good, "cycles: 1000 cycles of ~100 KB each got zeroed memory");
	ok(same_first, "cycles: every reset keeps the same first block");
	diag("heap in use: before %zu, after 10 cycles %zu, after 1000 %zu, "
	    "peak inside a cycle %zu", base, after10, after1000, peak);
	if (after10 == 0 && after1000 == 0) {
		skip("this allocator does not report the heap in use");
		skip("this allocator does not report the heap in use");
		skip("this allocator does not report the heap in use");
	} else {
		ok(peak > after1000 + 50000,
		    "cycles: a cycle really holds ~100 KB more than after reset");
		is_int(after1000, after10,
		    "cycles: the heap after 1000 resets is what it was after 10");
		ok(after1000 <= base + 16384 + 512,
		    "cycles: after a reset the arena holds one 16 KiB block "
		    "(%zu bytes over the start)", after1000 - base);
	}
	arena_free(&a);
	now = heap_in_use();
	if (now == 0 && base == 0)
		skip("this allocator does not report the heap in use");
	else
		ok(now <= base, "free: arena_free returns every block");
}

int
main(void)
{
	/* Let stdio allocate its buffer before heap_in_use() is first read. */
	plan(35);
	diag("arena tests");
	test_zero_and_align();
	test_large();
	test_strings();
	test_cycles();
	return done_testing();
}
