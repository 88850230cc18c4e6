/*
 * The email and password rules of api.md §2: emails are trimmed, at most
 * 254 bytes, one "@" before a dotted domain, no spaces, and compared
 * case-insensitively; new passwords are PASSWORD_MIN_LENGTH..72 bytes and
 * not the email.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "json.h"
#include "tap.h"
#include "validate.h"

static struct hb_arena arena;

struct outcome {
	const char	*got;		/* what validate_email returned */
	char		 copy[1100];	/* a copy of it, or "(null)" */
	size_t		 ndetails;
	char		 field[32];	/* the first detail's field, or "" */
};

/* validate_email on {"email": value} (value is raw JSON, or NULL). */
static void
email_run(struct outcome *o, const char *value, bool required)
{
	struct hb_json_check c;
	struct json_object *body = json_object_new_object(), *d, *f;

	if (value != NULL) {
		struct json_object *v = json_tokener_parse(value);

		if (v == NULL && strcmp(value, "null") != 0) {
			printf("Bail out! test JSON does not parse: %s\n", value);
			exit(2);
		}
		json_object_object_add(body, "email", v);
	}
	memset(o, 0, sizeof(*o));
	json_check_begin(&c, body);
	o->got = validate_email(&c, &arena, "email", required);
	snprintf(o->copy, sizeof(o->copy), "%s", o->got != NULL ? o->got :
	    "(null)");
	o->ndetails = json_object_array_length(c.details);
	if (o->ndetails > 0) {
		d = json_object_array_get_idx(c.details, 0);
		if (json_object_object_get_ex(d, "field", &f))
			snprintf(o->field, sizeof(o->field), "%s",
			    json_object_get_string(f));
	}
	json_object_put(c.details);
	json_object_put(body);
}

/* A JSON string literal of s (ASCII without quotes or backslashes). */
static const char *
jstr(const char *s)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "\"%s\"", s);
	return buf;
}

static void
accepted(const char *json, const char *want, const char *what)
{
	struct outcome o;

	email_run(&o, json, true);
	is_str(o.copy, want, "validate_email takes %s", what);
	is_int(o.ndetails, 0, "...with no detail (%s)", what);
}

static void
refused(const char *json, const char *what)
{
	struct outcome o;

	email_run(&o, json, true);
	ok(o.got == NULL, "validate_email refuses %s (got %s)", what, o.copy);
	ok(o.ndetails == 1 && strcmp(o.field, "email") == 0,
	    "...with one detail on field \"email\" (%s)", what);
}

static void
test_email(void)
{
	char local[260], text[300];
	struct outcome o;

	accepted(jstr("a@b.co"), "a@b.co", "a@b.co");
	accepted(jstr("  a@b.co\t"), "a@b.co", "surrounding blanks, trimmed");
	accepted("\"\\n a@b.co \\r\\n\"", "a@b.co", "surrounding newlines, "
	    "trimmed");
	accepted(jstr("First.Last+tag@Sub.Example.COM"),
	    "First.Last+tag@Sub.Example.COM", "case kept as given");
	accepted(jstr("x@y.z"), "x@y.z", "a 1-letter TLD");

	refused(jstr("ab.co"), "no @");
	refused(jstr("a@@b.co"), "two @ together");
	refused(jstr("a@b@c.co"), "two @ apart");
	refused(jstr("@b.co"), "nothing before @");
	refused(jstr("a@"), "nothing after @");
	refused(jstr("a@bco"), "no dot in the domain");
	refused(jstr("a.b@co"), "a dot only in the local part");
	refused(jstr("a@b.co."), "a trailing dot");
	refused(jstr("a@.co"), "a dot just after @");
	refused(jstr("a b@c.co"), "a space in the local part");
	refused(jstr("a@b c.co"), "a space in the domain");
	refused("\"a\\t@b.co\"", "a tab inside");
	refused("\"a@b.c\\u0001o\"", "a control character inside");
	refused("\"a\\u007f@b.co\"", "DEL inside");
	refused(jstr(""), "the empty string");
	refused(jstr("   "), "only spaces");
	refused("42", "a number");
	refused("null", "null");
	refused("[\"a@b.co\"]", "an array");

	/* 254 bytes is the most, counted after trimming. */
	memset(local, 'a', sizeof(local));
	local[249] = '\0';	/* 249 + "@b.com" = 255 */
	snprintf(text, sizeof(text), "%s@b.com", local + 1);
	is_int(strlen(text), 254, "(the test email is 254 bytes)");
	accepted(jstr(text), text, "254 bytes");
	snprintf(text, sizeof(text), "  %s@b.com  ", local + 1);
	email_run(&o, jstr(text), true);
	is_int(strlen(o.copy), 254, "validate_email takes 254 bytes with "
	    "blanks around them");
	snprintf(text, sizeof(text), "%s@b.com", local);
	is_int(strlen(text), 255, "(the test email is 255 bytes)");
	refused(jstr(text), "255 bytes");

	/* Absent: a detail only when required. */
	email_run(&o, NULL, true);
	ok(o.got == NULL && o.ndetails == 1 && strcmp(o.field, "email") == 0,
	    "an absent required email: NULL and one detail");
	email_run(&o, NULL, false);
	ok(o.got == NULL && o.ndetails == 0,
	    "an absent optional email: NULL and no detail");
	email_run(&o, jstr("nope"), false);
	ok(o.got == NULL && o.ndetails == 1,
	    "a present optional email is still checked");
}

static void
test_email_key(void)
{
	static const char *const v[][2] = {
		{ "Alice@Example.COM", "alice@example.com" },
		{ "  Alice@Example.COM \t\r\n", "alice@example.com" },
		{ "alice@example.com", "alice@example.com" },
		{ "", "" },
		{ "   ", "" },
		{ "A B@C.D", "a b@c.d" },
		/* Only ASCII letters fold; other bytes are kept. */
		{ "\xc3\x84" "B@X.DE", "\xc3\x84" "b@x.de" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = validate_email_key(&arena, v[i][0]);

		is_str(got, v[i][1], "validate_email_key case %zu gives \"%s\"",
		    i, v[i][1]);
	}
	{
		const char *in = "Bob@X.Org";
		const char *got = validate_email_key(&arena, in);

		ok(got != in, "validate_email_key returns a copy...");
		is_str(in, "Bob@X.Org", "...and leaves its input alone");
	}
}

/* The number of details validate_new_password adds; the message of one. */
static size_t
pw_run(const struct hb_config *cfg, const char *pw, const char *email,
    char *msg, size_t msgsz)
{
	struct hb_json_check c;
	struct json_object *body = json_object_new_object(), *d, *v;
	size_t n;

	json_check_begin(&c, body);
	validate_new_password(&c, cfg, "new_password", pw, email);
	n = json_object_array_length(c.details);
	if (msg != NULL)
		msg[0] = '\0';
	if (n > 0) {
		d = json_object_array_get_idx(c.details, 0);
		if (json_object_object_get_ex(d, "field", &v) &&
		    strcmp(json_object_get_string(v), "new_password") != 0)
			n = 99;	/* the wrong field: never what a test expects */
		if (msg != NULL && json_object_object_get_ex(d, "message", &v))
			snprintf(msg, msgsz, "%s", json_object_get_string(v));
	}
	json_object_put(c.details);
	json_object_put(body);
	return n;
}

/* 99 bytes cracklib finds nothing to say about, at any length from 6. */
static const char VARIED[] = "kUkq6-xzGfVmb!Pj.YvA7go77pAsolrVRRU8rEKD0QV4"
    "GwSfQYI3K-loWXFcynqve5Upp8gz1S-UrEynXSj0Ds_Qt-f_Vqt8Pni";

/* cracklib's dictionary and rules (Debian's cracklib-runtime). */
static void
test_guessable(void)
{
	struct hb_config cfg;
	char msg[128];

	memset(&cfg, 0, sizeof(cfg));
	cfg.password_min_length = 10;
	is_int(pw_run(&cfg, "password123", "a@b.co", msg, sizeof(msg)), 1,
	    "a dictionary word with digits refused");
	has_str(msg, "too easy to guess", "...the message says so (%s)", msg);
	has_str(msg, "dictionary word", "...and cracklib's reason");
	is_int(pw_run(&cfg, "qwertyuiop", "a@b.co", NULL, 0), 1,
	    "a keyboard row refused");
	is_int(pw_run(&cfg, "aaaaaaaaaaaa", "a@b.co", msg, sizeof(msg)), 1,
	    "one character repeated refused");
	has_str(msg, "DIFFERENT characters", "...because of that (%s)", msg);
	is_int(pw_run(&cfg, "abcdefghijklmn", "a@b.co", NULL, 0), 1,
	    "a run of the alphabet refused");
	is_int(pw_run(&cfg, "correct horse battery", "a@b.co", NULL, 0), 0,
	    "three words with spaces pass");
	ok(validate_password_guessable("password123") != NULL &&
	    validate_password_guessable("kUkq6-xzGfVmb!Pj") == NULL,
	    "validate_password_guessable answers alone");
}

static void
test_new_password(void)
{
	struct hb_config cfg;
	char pw[100], msg[128];

	memset(&cfg, 0, sizeof(cfg));
	cfg.password_min_length = 10;

	snprintf(pw, sizeof(pw), "%.9s", VARIED);
	is_int(pw_run(&cfg, pw, "a@b.co", msg, sizeof(msg)), 1,
	    "min 10: 9 bytes refused");
	has_str(msg, "10", "...the message gives the least (%s)", msg);
	has_str(msg, "72", "...and the most");
	snprintf(pw, sizeof(pw), "%.10s", VARIED);
	is_int(pw_run(&cfg, pw, "a@b.co", NULL, 0), 0, "min 10: 10 bytes ok");
	snprintf(pw, sizeof(pw), "%.72s", VARIED);
	is_int(pw_run(&cfg, pw, "a@b.co", NULL, 0), 0, "72 bytes ok");
	snprintf(pw, sizeof(pw), "%.73s", VARIED);
	is_int(pw_run(&cfg, pw, "a@b.co", NULL, 0), 1, "73 bytes refused, "
	    "never cut to 72");
	snprintf(pw, sizeof(pw), "%.99s", VARIED);
	is_int(pw_run(&cfg, pw, "a@b.co", NULL, 0), 1, "99 bytes refused");
	is_int(pw_run(&cfg, "", "a@b.co", NULL, 0), 1, "the empty password "
	    "refused");
	/* Bytes, not characters: five 2-byte letters are 10 bytes. */
	is_int(pw_run(&cfg, "\xc3\xa9\xc3\xa8\xc3\xa7\xc3\xa0\xc3\xbc",
	    "a@b.co", NULL, 0), 0, "lengths are in bytes (5 letters of 2 bytes "
	    "= 10)");

	cfg.password_min_length = 12;
	is_int(pw_run(&cfg, "elevenchars", "a@b.co", msg, sizeof(msg)), 1,
	    "min 12: 11 bytes refused");
	has_str(msg, "12", "...the message follows PASSWORD_MIN_LENGTH (%s)",
	    msg);
	is_int(pw_run(&cfg, "twelve chars", "a@b.co", NULL, 0), 0,
	    "min 12: 12 bytes ok");

	cfg.password_min_length = 10;
	is_int(pw_run(&cfg, "alice@example.com", "alice@example.com", msg,
	    sizeof(msg)), 1, "the email itself refused");
	has_str(msg, "email", "...the message says why (%s)", msg);
	is_int(pw_run(&cfg, "Alice@Example.COM", "alice@example.com", NULL, 0),
	    1, "the email in other case refused");
	is_int(pw_run(&cfg, "alice@example.com", "ALICE@EXAMPLE.COM", NULL, 0),
	    1, "...whichever side has the capitals");
	is_int(pw_run(&cfg, "alice@example.co", "alice@example.com", NULL, 0),
	    0, "a password that only resembles the email is fine");
	is_int(pw_run(&cfg, "alice@example.com", NULL, NULL, 0), 0,
	    "no email given: nothing to compare");
	is_int(pw_run(&cfg, NULL, "alice@example.com", NULL, 0), 0,
	    "no password given: nothing to add (json_get_string said so)");
	/* A short email-password gets one detail, not two. */
	is_int(pw_run(&cfg, "a@b.co", "a@b.co", NULL, 0), 1,
	    "too short and the email: one detail");
}

int
main(void)
{
	plan(96);
	arena_init(&arena);
	test_email();
	test_email_key();
	test_new_password();
	test_guessable();
	arena_free(&arena);
	return done_testing();
}
