#ifndef HB_TAP_H
#define HB_TAP_H

/* A minimal TAP producer for the C unit tests, read by prove. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))

static int tap_n TAP_UNUSED, tap_failed TAP_UNUSED;
static int tap_planned TAP_UNUSED = -1;
/*
 * Between todo_start(why) and todo_end() a failure is a known gap: TAP
 * prints it as "# TODO why" and prove does not count it as a failure.
 */
static const char *tap_todo TAP_UNUSED;
#define todo_start(why) (tap_todo = (why))
#define todo_end() (tap_todo = NULL)

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, \
	__LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int((long)(got), (long)(want), \
	__FILE__, __LINE__, __VA_ARGS__)
/* has_str: needle occurs in haystack; lacks_str: it does not. */
#define has_str(hay, needle, ...) tap_has_str((hay), (needle), 1, \
	__FILE__, __LINE__, __VA_ARGS__)
#define lacks_str(hay, needle, ...) tap_has_str((hay), (needle), 0, \
	__FILE__, __LINE__, __VA_ARGS__)

static void TAP_UNUSED __attribute__((format(printf, 4, 5)))
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (tap_todo != NULL)
		printf(" # TODO %s", tap_todo);
	printf("\n");
	if (!cond) {
		if (tap_todo == NULL)
			tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
}

/* Prints s on one comment line, with control characters escaped. */
static void TAP_UNUSED
tap_quote(const char *label, const char *s)
{
	printf("#   %s: ", label);
	if (s == NULL) {
		printf("(null)\n");
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			printf("\\n");
		else if (c == '\r')
			printf("\\r");
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

static void TAP_UNUSED __attribute__((format(printf, 5, 6)))
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	char name[256];
	int cond = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_ok(cond, file, line, "%s", name);
	if (!cond) {
		tap_quote("got", got);
		tap_quote("expected", want);
	}
}

static void TAP_UNUSED __attribute__((format(printf, 5, 6)))
tap_is_int(long got, long want, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;
	char name[256];

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_ok(got == want, file, line, "%s", name);
	if (got != want)
		printf("#   got: %ld\n#   expected: %ld\n", got, want);
}

static void TAP_UNUSED __attribute__((format(printf, 6, 7)))
tap_has_str(const char *hay, const char *needle, int want, const char *file,
    int line, const char *fmt, ...)
{
	va_list ap;
	char name[256];
	int found = hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
	int cond = hay != NULL && needle != NULL && found == want;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_ok(cond, file, line, "%s", name);
	if (!cond) {
		tap_quote("in", hay);
		tap_quote(want ? "expected to find" : "expected not to find",
		    needle);
	}
}

/* Prints a comment line that prove shows with -v. */
static void TAP_UNUSED __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * A test that cannot run here, reported as a skip with its reason (TAP
 * "# SKIP"): prove counts it apart, and make check fails on a reason
 * tests/allowed-skips does not list.
 */
static void TAP_UNUSED
skip(const char *why)
{
	tap_n++;
	printf("ok %d # SKIP %s\n", tap_n, why);
}

/*
 * Prints the plan first, so a test program that stops early (a crash, an
 * early return) fails against it rather than printing a smaller count.
 */
static void TAP_UNUSED
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

/* Nonzero when a test failed or the count differs from the plan. */
static int TAP_UNUSED
done_testing(void)
{
	if (tap_planned < 0) {
		printf("not ok %d - plan() was never called\n", ++tap_n);
		return 1;
	}
	if (tap_n != tap_planned) {
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
		return 1;
	}
	return tap_failed != 0;
}

#endif
