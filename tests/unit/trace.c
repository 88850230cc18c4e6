/*
 * W3C Trace Context level 1 (lib/trace.c): the specification's valid and
 * invalid traceparent and tracestate headers, and what a request makes
 * of them: a continued trace with a new span, or a new trace.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "trace.h"

#define TID	"4bf92f3577b34da6a3ce929d0e0e4736"
#define PID	"00f067aa0ba902b7"

static bool
parses(const char *s)
{
	char tid[HB_TRACE_ID_LEN + 1], pid[HB_SPAN_ID_LEN + 1];
	unsigned flags;

	return trace_parse_parent(s, tid, pid, &flags);
}

static void
test_traceparent(void)
{
	char tid[HB_TRACE_ID_LEN + 1] = "", pid[HB_SPAN_ID_LEN + 1] = "";
	unsigned flags = 99;

	ok(trace_parse_parent("00-" TID "-" PID "-01", tid, pid, &flags),
	    "the specification's example parses");
	is_str(tid, TID, "its trace ID");
	is_str(pid, PID, "its parent ID");
	is_int(flags, 1, "its flags: sampled");
	ok(trace_parse_parent("00-" TID "-" PID "-00", tid, pid, &flags),
	    "not sampled");
	is_int(flags, 0, "flags 00");
	ok(trace_parse_parent("00-" TID "-" PID "-ff", tid, pid, &flags),
	    "unknown flags are kept, not refused");
	is_int(flags, 255, "flags ff");

	/* Versions. */
	ok(parses("cc-" TID "-" PID "-01"), "a later version of 55 chars");
	ok(parses("cc-" TID "-" PID "-01-what-the-future-will-be-like"),
	    "a later version with more fields after a '-'");
	ok(!parses("cc-" TID "-" PID "-01.what-the-future-will-be-like"),
	    "a later version with no '-' after 55 chars");
	ok(!parses("00-" TID "-" PID "-01-what-the-future-will-be-like"),
	    "version 00 with more fields");
	ok(!parses("00-" TID "-" PID "-01-"), "version 00 with a '-' more");
	ok(!parses("00-" TID "-" PID "-01 "), "version 00 with a blank more");
	ok(!parses("ff-" TID "-" PID "-01"), "version ff is invalid");
	ok(!parses("0-" TID "-" PID "-01"), "a version of one digit");
	ok(!parses("0A-" TID "-" PID "-01"), "an uppercase version");
	ok(!parses("g0-" TID "-" PID "-01"), "a version that is not hex");

	/* Fields. */
	ok(!parses("00-00000000000000000000000000000000-" PID "-01"),
	    "an all-zero trace ID");
	ok(!parses("00-" TID "-0000000000000000-01"), "an all-zero parent ID");
	ok(!parses("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
	    "uppercase hex");
	ok(!parses("00-4bf92f3577b34da6a3ce929d0e0e473G-" PID "-01"),
	    "a trace ID that is not hex");
	ok(!parses("00-" TID "-00f067aa0ba902bz-01"),
	    "a parent ID that is not hex");
	ok(!parses("00-" TID "-" PID "-0A"), "uppercase flags");
	ok(!parses("00-" TID "-" PID "-0x"), "flags that are not hex");
	ok(!parses("00-4bf92f3577b34da6a3ce929d0e0e473-" PID "-01"),
	    "a trace ID one digit short");
	ok(!parses("00-" TID "-00f067aa0ba902b-01"),
	    "a parent ID one digit short");
	ok(!parses("00-" TID "-" PID "-1"), "one digit of flags");
	ok(!parses("00_" TID "_" PID "_01"), "other delimiters");
	ok(!parses("00-" TID PID "-01--"), "delimiters in the wrong places");
	ok(!parses(" 00-" TID "-" PID "-01"), "a leading blank");
	ok(!parses("00-" TID "-" PID "-01,00-" TID "-" PID "-01"),
	    "two traceparent headers joined");
	ok(!parses(""), "empty");
	ok(!parses(NULL), "absent");
	ok(!parses("00-" TID "-" PID), "no flags");
	ok(!trace_parse_parent("ff-" TID "-" PID "-01", tid, pid, &flags) &&
	    flags == 255, "an invalid header leaves its outputs alone");
}

static void
repeat(char *out, char c, size_t n)
{
	memset(out, c, n);
	out[n] = '\0';
}

static void
test_tracestate(void)
{
	char buf[2048], key[300], val[300];
	size_t u = 0;

	ok(trace_state_valid("rojo=00f067aa0ba902b7"), "one member");
	ok(trace_state_valid("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
	    "two members");
	ok(trace_state_valid("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"),
	    "a blank after a comma");
	ok(trace_state_valid("rojo=1 \t, congo=2\t"), "tabs and blanks (OWS)");
	ok(trace_state_valid("fw529a3039@dt=WaS8eJuQ"), "a multi-tenant key");
	ok(trace_state_valid("1tenant@vendor=x"),
	    "a tenant ID may start with a digit");
	ok(trace_state_valid("a_b-c*d/e=x"), "every key character");
	ok(trace_state_valid("a= !\"#$%&'()*+-./09:;<>?@AZ[\\]^_`az{|}~"),
	    "every value character (a leading blank too)");
	ok(trace_state_valid("rojo=1,,congo=2"), "an empty member");
	ok(trace_state_valid(" , "), "only empty members");
	ok(trace_state_valid(""), "an empty header");
	ok(!trace_state_valid(NULL), "absent");

	ok(!trace_state_valid("Rojo=1"), "an uppercase key");
	ok(!trace_state_valid("1rojo=1"), "a simple key starting with a digit");
	ok(!trace_state_valid("ro jo=1"), "a blank inside a key");
	ok(!trace_state_valid("rojo"), "a member without '='");
	ok(!trace_state_valid("=1"), "an empty key");
	ok(!trace_state_valid("rojo="), "an empty value");
	ok(!trace_state_valid("rojo=a=b"), "'=' in a value");
	ok(!trace_state_valid("rojo=a\tb"), "a tab in a value");
	ok(!trace_state_valid("rojo=caf\xc3\xa9"), "non-ASCII in a value");
	ok(!trace_state_valid("rojo=1,rojo=2"), "a key twice");
	ok(!trace_state_valid("a@=1"), "an empty system ID");
	ok(!trace_state_valid("@b=1"), "an empty tenant ID");
	ok(!trace_state_valid("a@1b=1"), "a system ID starting with a digit");
	ok(!trace_state_valid("a@b@c=1"), "two '@'");
	ok(!trace_state_valid("_a@b=1"), "a tenant ID starting with '_'");

	/* Lengths. */
	key[0] = 'k';
	repeat(key + 1, 'a', 255);
	snprintf(buf, sizeof(buf), "%s=1", key);
	ok(trace_state_valid(buf), "a key of 256 characters");
	repeat(key + 1, 'a', 256);
	snprintf(buf, sizeof(buf), "%s=1", key);
	ok(!trace_state_valid(buf), "a key of 257");
	repeat(val, 'v', 256);
	snprintf(buf, sizeof(buf), "k=%s", val);
	ok(trace_state_valid(buf), "a value of 256 characters");
	repeat(val, 'v', 257);
	snprintf(buf, sizeof(buf), "k=%s", val);
	ok(!trace_state_valid(buf), "a value of 257");
	repeat(key, 't', 241);
	snprintf(buf, sizeof(buf), "%s@abcdefghijklmn=1", key);
	ok(trace_state_valid(buf), "a tenant ID of 241, a system ID of 14");
	repeat(key, 't', 242);
	snprintf(buf, sizeof(buf), "%s@s=1", key);
	ok(!trace_state_valid(buf), "a tenant ID of 242");
	ok(!trace_state_valid("t@abcdefghijklmno=1"), "a system ID of 15");

	/* Members: at most 32, empty ones not counted. */
	for (int i = 0; i < 32; i++)
		u += (size_t)snprintf(buf + u, sizeof(buf) - u, "%sk%d=%d",
		    i > 0 ? ",," : "", i, i);
	ok(trace_state_valid(buf), "32 members (and empty ones between)");
	snprintf(buf + u, sizeof(buf) - u, ",k32=32");
	ok(!trace_state_valid(buf), "33 members");
}

static bool
is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return strspn(s, "0") != n;
}

static void
test_begin(void)
{
	struct hb_trace t, u;
	char out[HB_TRACEPARENT_LEN + 1], tid[HB_TRACE_ID_LEN + 1];
	char pid[HB_SPAN_ID_LEN + 1];
	unsigned flags;

	trace_begin(&t, "00-" TID "-" PID "-01", "rojo=1,congo=2");
	is_str(t.trace_id, TID, "a valid traceparent is continued");
	is_str(t.parent_id, PID, "its span is the parent");
	ok(is_hex(t.span_id, HB_SPAN_ID_LEN), "a span ID of 16 hex digits");
	ok(strcmp(t.span_id, PID) != 0, "a new span ID, not the parent's");
	is_int(t.flags, 1, "the flags are kept");
	is_str(t.tracestate, "rojo=1,congo=2", "a valid tracestate is kept");
	trace_begin(&u, "00-" TID "-" PID "-01", NULL);
	ok(strcmp(t.span_id, u.span_id) != 0, "each request its own span");
	ok(u.tracestate == NULL, "no tracestate, none kept");

	trace_begin(&t, "00-" TID "-" PID "-01", "Rojo=1");
	is_str(t.trace_id, TID, "an invalid tracestate leaves the trace");
	ok(t.tracestate == NULL, "but is dropped");

	trace_begin(&t, "00-" TID "-" PID "-01-extra", "rojo=1");
	ok(is_hex(t.trace_id, HB_TRACE_ID_LEN) && strcmp(t.trace_id, TID) != 0,
	    "an invalid traceparent starts a new trace");
	is_str(t.parent_id, "", "with no parent");
	ok(is_hex(t.span_id, HB_SPAN_ID_LEN), "and a span ID");
	ok(t.tracestate == NULL, "the tracestate of an invalid one is dropped");
	trace_begin(&u, NULL, NULL);
	ok(is_hex(u.trace_id, HB_TRACE_ID_LEN) &&
	    strcmp(t.trace_id, u.trace_id) != 0,
	    "no traceparent: a new trace each time");

	trace_begin(&t, "cc-" TID "-" PID "-01-future", NULL);
	is_str(t.trace_id, TID, "a later version is continued");
	trace_format(&t, out);
	ok(trace_parse_parent(out, tid, pid, &flags), "formatted, it parses");
	ok(strcmp(tid, TID) == 0 && strcmp(pid, t.span_id) == 0 &&
	    flags == 1 && strncmp(out, "00-", 3) == 0,
	    "as version 00 of this trace and span");

	trace_child(&u, TID);
	is_str(u.trace_id, TID, "a job's span keeps the job's trace");
	ok(is_hex(u.span_id, HB_SPAN_ID_LEN) && u.parent_id[0] == '\0',
	    "with a span of its own");
	trace_child(&u, NULL);
	ok(is_hex(u.trace_id, HB_TRACE_ID_LEN) && strcmp(u.trace_id, TID) != 0,
	    "a job of no trace gets a new one");
	trace_child(&u, "00000000000000000000000000000000");
	ok(is_hex(u.trace_id, HB_TRACE_ID_LEN), "so does one of an invalid trace");
	ok(trace_id_valid(TID) && !trace_id_valid("4BF92F3577B34DA6A3CE929D0E0E4736") &&
	    !trace_id_valid(TID "0") && !trace_id_valid(NULL),
	    "trace_id_valid");
}

int
main(void)
{
	plan(95);
	test_traceparent();
	test_tracestate();
	test_begin();
	return done_testing();
}
