/*
 * Log lines are one JSON object per line; secrets never reach them,
 * whether they come as fields, inside free text, or in the request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "cidr.h"
#include "fakecgi.h"
#include "http.h"
#include "log.h"
#include "tap.h"

static FILE *out;
static char *outbuf;
static size_t outlen, outseen;

/* What was logged since the last call, owned by the caller. */
static char *
logged(void)
{
	char *s;

	fflush(out);
	s = strndup(outbuf + outseen, outlen - outseen);
	outseen = outlen;
	if (s == NULL)
		abort();
	return s;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

static const char *
get_str(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char key[64];
	const char *p = path, *dot;

	while (v != NULL && *p != '\0') {
		dot = strchr(p, '.');
		snprintf(key, sizeof(key), "%.*s",
		    (int)(dot != NULL ? dot - p : (long)strlen(p)), p);
		if (!json_object_object_get_ex(v, key, &v))
			return NULL;
		p = dot != NULL ? dot + 1 : p + strlen(p);
	}
	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static struct json_object *
parse_line(const char *line)
{
	return json_tokener_parse(line);
}

/* "2026-11-22T14:46:25.123Z", within a minute of now. */
static bool
ts_ok(const char *ts)
{
	struct tm tm;
	const char *rest;
	time_t t;

	if (ts == NULL)
		return false;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL || strlen(ts) < 20)
		return false;
	if (*rest == '.') {
		rest++;
		if (*rest < '0' || *rest > '9')
			return false;
		while (*rest >= '0' && *rest <= '9')
			rest++;
	}
	if (strcmp(rest, "Z") != 0)
		return false;
	t = timegm(&tm);
	return t > time(NULL) - 60 && t < time(NULL) + 60;
}

static void
test_fields(void)
{
	struct json_object *fields, *line, *v;
	char *s;

	log_init(out, false);
	fields = json_tokener_parse("{\"password\":\"hunter2hunter2\","
	    "\"token\":\"abc\",\"nested\":{\"api_key\":\"hb_xxx\","
	    "\"Authorization\":\"Bearer eyJ...\"},\"email\":\"a@b.c\"}");
	log_event(NULL, "info", "user signed in", fields);
	s = logged();
	is_int(count_lines(s), 1, "fields: one line");
	ok(s[0] == '{' && s[strlen(s) - 1] == '\n',
	    "fields: the line is a JSON object ended by a newline");
	lacks_str(s, "hunter2hunter2", "fields: the password is not logged");
	lacks_str(s, "\"abc\"", "fields: the token is not logged");
	lacks_str(s, "hb_xxx", "fields: the nested api_key is not logged");
	lacks_str(s, "eyJ", "fields: the nested Authorization is not logged");
	lacks_str(s, "Bearer", "fields: not even the Bearer scheme");
	has_str(s, "[REDACTED]", "fields: secrets are replaced by [REDACTED]");
	has_str(s, "a@b.c", "fields: the email is kept");
	line = parse_line(s);
	ok(line != NULL, "fields: the line parses as JSON");
	is_str(get_str(line, "level"), "info", "fields: level");
	is_str(get_str(line, "msg"), "user signed in", "fields: msg");
	ok(ts_ok(get_str(line, "ts")), "fields: ts is RFC 3339 UTC, now (%s)",
	    get_str(line, "ts"));
	ok(json_object_object_get_ex(line, "pid", &v) &&
	    json_object_get_int64(v) == (int64_t)getpid(),
	    "fields: pid is the process's");
	ok(!json_object_object_get_ex(line, "request_id", NULL),
	    "fields: no request_id without a request");
	is_str(get_str(line, "fields.password"), "[REDACTED]",
	    "fields: fields.password is [REDACTED]");
	is_str(get_str(line, "fields.token"), "[REDACTED]",
	    "fields: fields.token is [REDACTED]");
	is_str(get_str(line, "fields.nested.api_key"), "[REDACTED]",
	    "fields: fields.nested.api_key is [REDACTED]");
	is_str(get_str(line, "fields.nested.Authorization"), "[REDACTED]",
	    "fields: fields.nested.Authorization is [REDACTED]");
	is_str(get_str(line, "fields.email"), "a@b.c",
	    "fields: fields.email is kept");
	json_object_put(line);
	free(s);

	fields = json_tokener_parse("{\"refresh_token\":\"rt-secret-1\","
	    "\"new_password\":\"pw-secret-2\",\"X-API-Key\":\"hb_k_secret3\","
	    "\"Cookie\":\"sid=secret-4\",\"key\":\"secret-5\","
	    "\"key_hash\":\"secret-6\",\"client_secret\":\"secret-7\","
	    "\"sessions\":[{\"access_token\":\"secret-8\",\"id\":\"s1\"}],"
	    "\"user_id\":\"u-1\",\"org_id\":\"o-1\",\"name\":\"Ada\","
	    "\"keyboard\":\"us\",\"status\":401}");
	log_event(NULL, "warn", "more fields", fields);
	s = logged();
	lacks_str(s, "secret-", "fields: no secret of any of 8 secret keys is logged");
	line = parse_line(s);
	is_str(get_str(line, "fields.refresh_token"), "[REDACTED]",
	    "fields: refresh_token is redacted");
	is_str(get_str(line, "fields.X-API-Key"), "[REDACTED]",
	    "fields: X-API-Key is redacted");
	is_str(get_str(line, "fields.Cookie"), "[REDACTED]",
	    "fields: Cookie is redacted");
	is_str(get_str(line, "fields.key"), "[REDACTED]",
	    "fields: key is redacted");
	ok(json_object_object_get_ex(line, "fields", &v) &&
	    json_object_object_get_ex(v, "sessions", &v) &&
	    json_object_is_type(v, json_type_array) &&
	    (v = json_object_array_get_idx(v, 0)) != NULL &&
	    get_str(v, "access_token") != NULL &&
	    strcmp(get_str(v, "access_token"), "[REDACTED]") == 0 &&
	    get_str(v, "id") != NULL && strcmp(get_str(v, "id"), "s1") == 0,
	    "fields: secrets inside arrays of objects are redacted, the rest kept");
	is_str(get_str(line, "fields.user_id"), "u-1", "fields: user_id is kept");
	is_str(get_str(line, "fields.org_id"), "o-1", "fields: org_id is kept");
	is_str(get_str(line, "fields.name"), "Ada", "fields: name is kept");
	is_str(get_str(line, "fields.keyboard"), "us",
	    "fields: a key merely containing \"key\" is kept");
	is_str(get_str(line, "level"), "warn", "fields: level warn");
	json_object_put(line);
	free(s);

	log_event(NULL, "error", "no fields", NULL);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "msg"), "no fields", "fields: NULL fields is fine");
	ok(!json_object_object_get_ex(line, "fields", NULL),
	    "fields: no \"fields\" key when there are none");
	json_object_put(line);
	free(s);

	/* Defence in depth: a token pasted into an innocent-looking field. */
	fields = json_tokener_parse("{\"note\":\"retry with Bearer "
	    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\"}");
	log_event(NULL, "info", "note", fields);
	s = logged();
	lacks_str(s, "eyJhbGciOiJIUzI1NiJ9",
	    "fields: a bearer token inside a non-secret field's text is redacted");
	free(s);
}

static void
test_text(void)
{
	struct json_object *line;
	const char *msg;
	char *s, big[3000];

	log_init(out, false);
	log_event(NULL, "info",
	    "header was Bearer eyJhbGciOi.x.y and key hb_abcdefgh_secretsecret end",
	    NULL);
	s = logged();
	line = parse_line(s);
	msg = get_str(line, "msg");
	lacks_str(msg, "eyJhbGciOi", "text: the bearer token is redacted");
	lacks_str(msg, "secretsecret", "text: the API key's secret is redacted");
	lacks_str(msg, "abcdefgh", "text: the API key's prefix goes with it");
	has_str(msg, "[REDACTED]", "text: [REDACTED] marks the spot");
	has_str(msg, "header was Bearer ", "text: the words before are kept");
	has_str(msg, " and key ", "text: the words between are kept");
	has_str(msg, " end", "text: the words after are kept");
	lacks_str(s, "eyJhbGciOi", "text: nothing of the token is on the line");
	json_object_put(line);
	free(s);

	log_event(NULL, "info",
	    "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl; "
	    "auth=bearer abcdefghijklmnopqrstuvwxyz0123456789", NULL);
	s = logged();
	lacks_str(s, "eyJzdWIiOiIxIn0", "text: a bare JWT is redacted");
	lacks_str(s, "abcdefghijklmnopqrstuvwxyz", "text: 'bearer ' (lowercase) too");
	free(s);

	log_event(NULL, "info", "evil\n{\"level\":\"error\",\"msg\":\"forged\"}",
	    NULL);
	s = logged();
	is_int(count_lines(s), 1, "text: a newline in msg cannot forge a line");
	line = parse_line(s);
	is_str(get_str(line, "level"), "info", "text: the level stays info");
	json_object_put(line);
	free(s);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_event(NULL, "info", big, NULL);
	s = logged();
	is_int(count_lines(s), 1, "text: a 3000-byte msg is still one line");
	line = parse_line(s);
	ok(line != NULL && get_str(line, "msg") != NULL,
	    "text: and still valid JSON");
	json_object_put(line);
	free(s);
}

static void
test_debug(void)
{
	char *s;

	log_init(out, false);
	ok(!log_debug_enabled(), "debug: off after log_init(out, false)");
	log_event(NULL, "debug", "quiet", json_tokener_parse("{\"a\":1}"));
	s = logged();
	is_str(s, "", "debug: no debug line when debug is off");
	free(s);
	log_event(NULL, "info", "loud", NULL);
	s = logged();
	is_int(count_lines(s), 1, "debug: info lines are written when debug is off");
	free(s);

	log_init(out, true);
	ok(log_debug_enabled(), "debug: on after log_init(out, true)");
	log_event(NULL, "debug", "now visible", NULL);
	s = logged();
	is_int(count_lines(s), 1, "debug: a debug line when debug is on");
	has_str(s, "\"level\":\"debug\"", "debug: its level is debug");
	has_str(s, "now visible", "debug: with its message");
	free(s);
	log_init(out, false);

	log_init(NULL, false);
	log_event(NULL, "error", "nowhere", json_tokener_parse("{\"a\":1}"));
	s = logged();
	is_str(s, "", "no output: log_init(NULL) writes nothing");
	free(s);
	log_init(out, false);
}

/* Starts a request as app.c does, from FastCGI parameters. */
static void
start(struct hb_request *r, struct hb_arena *a, char **envp)
{
	static struct hb_config cfg;
	struct hb_io io = { fake_read, fake_write, NULL };
	struct hb_error err = { 0 };

	cfg.max_body = 65536;
	/* A failure (a bad path) still leaves a request that can be logged. */
	http_request_init(r, a, envp, &io, &cfg, &err);
	hb_error_clear(&err);
}

/*
 * Behind a trusted proxy, remote_addr is the client and peer_addr the
 * proxy; without one, there is no peer_addr (it would repeat remote_addr).
 */
static void
test_forwarded(void)
{
	static struct hb_config cfg;
	char *envp[] = {
		(char *)"REQUEST_METHOD=GET",
		(char *)"REQUEST_URI=/api/v1/things",
		(char *)"REMOTE_ADDR=127.0.0.1",
		(char *)"HTTP_X_FORWARDED_FOR=6.6.6.6, 203.0.113.9",
		NULL,
	};
	struct hb_io io = { fake_read, fake_write, NULL };
	struct hb_error err = { 0 };
	struct hb_arena a;
	struct hb_request r;
	struct json_object *line;
	char *s;

	arena_init(&a);
	log_init(out, false);
	cfg.max_body = 65536;
	if (cidr_list_parse(&cfg.trusted_proxies, "127.0.0.1/32", &err) == -1)
		abort();
	http_request_init(&r, &a, envp, &io, &cfg, &err);
	r.status = 200;
	log_request(&r);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "remote_addr"), "203.0.113.9",
	    "forwarded: remote_addr is the client X-Forwarded-For names");
	is_str(get_str(line, "peer_addr"), "127.0.0.1",
	    "forwarded: peer_addr is the proxy's address");
	lacks_str(s, "6.6.6.6", "forwarded: the spoofed part is not logged");
	json_object_put(line);
	free(s);
	http_request_done(&r);
	arena_reset(&a);

	cfg.trusted_proxies.n = 0;
	http_request_init(&r, &a, envp, &io, &cfg, &err);
	r.status = 200;
	log_request(&r);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "remote_addr"), "127.0.0.1",
	    "not forwarded: remote_addr is the peer");
	ok(!json_object_object_get_ex(line, "peer_addr", NULL),
	    "not forwarded: no peer_addr");
	json_object_put(line);
	free(s);
	http_request_done(&r);
	hb_error_clear(&err);
	arena_free(&a);
}

static void
test_request(void)
{
	static const char *const keys[] = { "ts", "level", "request_id",
	    "trace_id", "span_id", "method", "path", "status", "duration_ms",
	    "pid", "remote_addr" };
	char *envp[] = {
		(char *)"REQUEST_METHOD=GET",
		(char *)"REQUEST_URI=/api/v1/things?token=secret&x=1",
		(char *)"QUERY_STRING=token=secret&x=1",
		(char *)"REMOTE_ADDR=192.0.2.7",
		(char *)"HTTP_AUTHORIZATION=Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
		(char *)"HTTP_X_API_KEY=hb_abcdefgh_apikeysecret",
		(char *)"HTTP_COOKIE=session=cookiesecret",
		(char *)"HTTP_X_REQUEST_ID=req-abc.123",
		(char *)"HTTP_TRACEPARENT="
		    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		NULL,
	};
	struct hb_arena a;
	struct hb_request r;
	struct json_object *line, *v;
	char *s;
	double ms;

	arena_init(&a);
	log_init(out, false);
	start(&r, &a, envp);
	r.status = 200;
	log_request(&r);
	s = logged();
	is_int(count_lines(s), 1, "request: exactly one line");
	line = parse_line(s);
	ok(json_object_is_type(line, json_type_object),
	    "request: the line is a JSON object");
	ok(ts_ok(get_str(line, "ts")), "request: ts is RFC 3339 UTC, now (%s)",
	    get_str(line, "ts"));
	is_str(get_str(line, "level"), "info", "request: a 200 is level info");
	is_str(get_str(line, "request_id"), "req-abc.123",
	    "request: request_id is the request's");
	is_str(get_str(line, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736",
	    "request: trace_id is the traceparent's");
	is_str(get_str(line, "span_id"), r.trace.span_id,
	    "request: span_id is the request's own");
	ok(strcmp(r.trace.span_id, "00f067aa0ba902b7") != 0,
	    "request: ...not the caller's");
	is_str(get_str(line, "method"), "GET", "request: method");
	is_str(get_str(line, "path"), "/api/v1/things",
	    "request: path, without the query string");
	ok(json_object_object_get_ex(line, "status", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int(v) == 200, "request: status is the integer 200");
	ok(json_object_object_get_ex(line, "duration_ms", &v) &&
	    (json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)),
	    "request: duration_ms is a number");
	ms = json_object_get_double(v);
	ok(ms >= 0 && ms < 10000, "request: duration_ms is plausible (%g)", ms);
	is_str(get_str(line, "remote_addr"), "192.0.2.7", "request: remote_addr");
	ok(json_object_object_get_ex(line, "pid", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == (int64_t)getpid(),
	    "request: pid is the process's");
	is_int(strlen(get_str(line, "ts")), 27,
	    "request: ts has microseconds (%s)", get_str(line, "ts"));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ok(json_object_object_get_ex(line, keys[i], NULL),
		    "request: has \"%s\"", keys[i]);
	ok(!json_object_object_get_ex(line, "org_id", NULL) &&
	    !json_object_object_get_ex(line, "user_id", NULL),
	    "request: no org_id or user_id before authentication");
	is_int(json_object_object_length(line), 11,
	    "request: exactly the eleven fields");
	lacks_str(s, "eyJ", "request: the Authorization value is not logged");
	lacks_str(s, "Bearer", "request: not even its scheme");
	lacks_str(s, "apikeysecret", "request: the X-API-Key value is not logged");
	lacks_str(s, "cookiesecret", "request: the Cookie value is not logged");
	lacks_str(s, "secret", "request: the query's token value is not logged");
	lacks_str(s, "token=", "request: the query string is not logged");
	lacks_str(s, "?", "request: no '?' at all");
	json_object_put(line);
	free(s);

	snprintf(r.org_id, sizeof(r.org_id), "%s",
	    "0b7d4a4e-5f41-4c1e-9a3b-2b8f6c1d9e70");
	snprintf(r.user_id, sizeof(r.user_id), "%s",
	    "7c0a2f7e-1d2b-4e5f-8a9b-0c1d2e3f4a5b");
	r.status = 404;
	log_request(&r);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "org_id"), "0b7d4a4e-5f41-4c1e-9a3b-2b8f6c1d9e70",
	    "request: org_id once set");
	is_str(get_str(line, "user_id"), "7c0a2f7e-1d2b-4e5f-8a9b-0c1d2e3f4a5b",
	    "request: user_id once set");
	is_str(get_str(line, "level"), "warn", "request: a 404 is level warn");
	json_object_put(line);
	free(s);

	r.user_id[0] = '\0';
	r.status = 503;
	log_request(&r);
	s = logged();
	line = parse_line(s);
	ok(json_object_object_get_ex(line, "org_id", NULL) &&
	    !json_object_object_get_ex(line, "user_id", NULL),
	    "request: org_id without user_id (an API key has no session user)");
	is_str(get_str(line, "level"), "error", "request: a 503 is level error");
	json_object_put(line);
	free(s);

	log_event(&r, "info", "inside a request", NULL);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "request_id"), "req-abc.123",
	    "event: a line about a request carries its request_id");
	is_str(get_str(line, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736",
	    "event: ...its trace_id");
	is_str(get_str(line, "span_id"), r.trace.span_id, "event: ...its span_id");
	json_object_put(line);
	free(s);

	/* A line without a request: the trace set for it (a job's run). */
	log_trace_set(&r.trace);
	log_event(NULL, "info", "a job", NULL);
	s = logged();
	line = parse_line(s);
	is_str(get_str(line, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736",
	    "event: a line of no request carries the trace set");
	is_str(get_str(line, "span_id"), r.trace.span_id, "event: ...and its span");
	json_object_put(line);
	free(s);
	log_trace_set(NULL);
	log_event(NULL, "info", "no job", NULL);
	s = logged();
	line = parse_line(s);
	ok(!json_object_object_get_ex(line, "trace_id", NULL) &&
	    !json_object_object_get_ex(line, "span_id", NULL),
	    "event: none once the trace is cleared");
	json_object_put(line);
	free(s);
	http_request_done(&r);
	arena_reset(&a);

	/* A request that failed to start is still logged on one line. */
	{
		char *bad[] = { (char *)"REQUEST_METHOD=GET",
		    (char *)"REQUEST_URI=/api/%zz?token=secret",
		    (char *)"HTTP_X_REQUEST_ID=has space", NULL };

		start(&r, &a, bad);
		r.status = 400;
		log_request(&r);
		s = logged();
		is_int(count_lines(s), 1, "bad request: one line");
		line = parse_line(s);
		ok(line != NULL && get_str(line, "request_id") != NULL &&
		    strlen(get_str(line, "request_id")) == 36,
		    "bad request: the generated request_id is logged");
		is_str(get_str(line, "remote_addr"), "",
		    "bad request: remote_addr is \"\" when unknown");
		lacks_str(s, "secret", "bad request: the query is not logged");
		json_object_put(line);
		free(s);
		http_request_done(&r);
	}
	arena_free(&a);
}

int
main(void)
{
	plan(112);
	out = open_memstream(&outbuf, &outlen);
	if (out == NULL) {
		perror("open_memstream");
		return 2;
	}
	test_fields();
	test_text();
	test_debug();
	test_request();
	test_forwarded();
	log_init(NULL, false);
	fclose(out);
	free(outbuf);
	return done_testing();
}
