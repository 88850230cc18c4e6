/*
 * http_request_init and http_dispatch, driven the way app.c drives them
 * but with the FastCGI parameters, body and response in memory: api.md §1
 * (request IDs, error envelope, 404/405/413/415/400, CORS, security
 * headers) checked on the bytes a web server would receive.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fakecgi.h"
#include "http.h"
#include "json.h"
#include "tap.h"

static struct hb_config cfg;
static struct hb_arena arena;

/* What the last handler saw, copied before the request's memory goes. */
static struct {
	int	 calls;
	char	 method[16];
	char	 path[512];
	int	 nquery;
	char	 qname[80][64];
	char	 qvalue[80][64];
	int	 nroute;
	char	 rname[HB_MAX_ROUTE_PARAMS][32];
	char	 rvalue[HB_MAX_ROUTE_PARAMS][128];
	int	 nform;
	char	 fname[16][32];
	char	 fvalue[16][64];
	int	 has_json;
	char	 json[70000];
	size_t	 body_len;
} seen;

/* Checked on every response; reported at the end. */
static struct {
	int	 responses;
	int	 status_mismatch;
	int	 not_well_formed;
	int	 no_request_id;
	int	 missing_security;
	int	 acao_star;
	int	 bad_length;
} all;

static void
copy(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src != NULL ? src : "(null)");
}

static void
record(struct hb_request *r)
{
	seen.calls++;
	copy(seen.method, sizeof(seen.method), r->method);
	copy(seen.path, sizeof(seen.path), r->path);
	seen.nquery = r->nquery;
	for (int i = 0; i < r->nquery && i < HB_MAX_QUERY_PARAMS; i++) {
		copy(seen.qname[i], sizeof(seen.qname[i]), r->query[i].name);
		copy(seen.qvalue[i], sizeof(seen.qvalue[i]), r->query[i].value);
	}
	seen.nroute = r->nroute;
	for (int i = 0; i < r->nroute; i++) {
		copy(seen.rname[i], sizeof(seen.rname[i]), r->route[i].name);
		copy(seen.rvalue[i], sizeof(seen.rvalue[i]), r->route[i].value);
	}
	seen.nform = r->nform;
	for (int i = 0; i < r->nform && i < 16; i++) {
		copy(seen.fname[i], sizeof(seen.fname[i]), r->form[i].name);
		copy(seen.fvalue[i], sizeof(seen.fvalue[i]), r->form[i].value);
	}
	seen.has_json = r->json != NULL;
	if (r->json != NULL)
		copy(seen.json, sizeof(seen.json),
		    json_object_to_json_string_ext(r->json,
		    JSON_C_TO_STRING_PLAIN));
	seen.body_len = r->body_len;
}

static int
h_echo(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	return http_json(r, 200, json_tokener_parse("{\"ok\":true}"));
}

/* Fails without answering: http_dispatch answers with r->err. */
static int
h_conflict(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	return hb_fail(&r->err, 409, "already_member",
	    "That user is already a member.");
}

static int
h_validate(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;

	(void)app;
	record(r);
	json_check_begin(&c, r->json);
	json_get_string(&c, "email", true, 3, 254);
	json_get_int(&c, "limit", false, 1, 200, 50);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	return http_no_content(r);
}

static int
h_unauth(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	hb_fail(&r->err, 401, "invalid_token", "The token is not valid.");
	return http_error(r, &r->err);
}

static int
h_down(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	hb_fail(&r->err, 503, "service_unavailable", "Try again later.");
	return http_error(r, &r->err);
}

/* A client's copy is current: 304 with an ETag. */
static int
h_cached(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	http_add_header(r, "ETag", "\"7\"");
	return http_not_modified(r);
}

/* One object of a {id}: 404 for a malformed id, else 200 with its ETag. */
static int
h_versioned(struct hb_request *r, struct hb_app *app)
{
	(void)app;
	record(r);
	if (http_path_uuid(r, "id", "widget") == NULL)
		return -1;
	return http_json_versioned(r, 200,
	    json_tokener_parse("{\"version\":42}"));
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/things", h_echo, 0 },
	{ "POST", "/api/v1/things", h_echo, 0 },
	{ "GET", "/api/v1/things/{id}", h_echo, 0 },
	{ "PATCH", "/api/v1/things/{id}", h_echo, 0 },
	{ "DELETE", "/api/v1/things/{id}", h_echo, 0 },
	{ "GET", "/api/v1/orgs/{org}/members/{user}", h_echo, 0 },
	{ "POST", "/api/v1/auth/login", h_echo, HB_ROUTE_FORM },
	{ "POST", "/api/v1/conflict", h_conflict, 0 },
	{ "POST", "/api/v1/validate", h_validate, 0 },
	{ "GET", "/api/v1/unauth", h_unauth, 0 },
	{ "GET", "/api/v1/down", h_down, 0 },
	{ "GET", "/api/v1/cached", h_cached, 0 },
	{ "GET", "/api/v1/versioned/{id}", h_versioned, 0 },
};

/* One request: the FastCGI parameters and the body the client sends. */
struct call {
	const char	*method;
	const char	*uri;		/* NULL: no REQUEST_URI at all */
	const char	*ctype;
	const char	*clen;		/* NULL: the body's length */
	const char	*body;		/* NULL: no body */
	size_t		 len;		/* 0: strlen(body) */
	size_t		 short_by;	/* bytes of the body never sent */
	int		 chunk;		/* bytes per read(); 0: as asked */
	const char	*env[8];	/* more "NAME=value" parameters */
};

static const char *const security[][2] = {
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
	{ "Cache-Control", "no-store" },
};

static void
check_every_response(const struct fake_response *resp, int rc)
{
	const char *v, *cl;

	all.responses++;
	if (resp->status != rc)
		all.status_mismatch++;
	if (!resp->well_formed)
		all.not_well_formed++;
	if (!http_valid_request_id(fake_header(resp, "X-Request-ID")))
		all.no_request_id++;
	for (size_t i = 0; i < sizeof(security) / sizeof(security[0]); i++) {
		v = fake_header(resp, security[i][0]);
		if (v == NULL || strcmp(v, security[i][1]) != 0 ||
		    fake_header_count(resp, security[i][0]) != 1)
			all.missing_security++;
	}
	v = fake_header(resp, "Access-Control-Allow-Origin");
	if (v != NULL && strchr(v, '*') != NULL)
		all.acao_star++;
	cl = fake_header(resp, "Content-Length");
	if (resp->status != 204 && cl != NULL &&
	    resp->body_len != 0 && strtoul(cl, NULL, 10) != resp->body_len)
		all.bad_length++;
	if (resp->status == 204 && resp->body_len != 0)
		all.bad_length++;
}

static int
call(struct fake_response *resp, const struct call *c)
{
	char *envp[24], method[64], uri[8192], ctype[256], clen[64];
	struct fake_io io = { 0 };
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_request r;
	struct hb_error err = { 0 };
	size_t len = c->body != NULL && c->len == 0 ? strlen(c->body) : c->len;
	int n = 0, rc;

	memset(&seen, 0, sizeof(seen));
	snprintf(method, sizeof(method), "REQUEST_METHOD=%s",
	    c->method != NULL ? c->method : "GET");
	envp[n++] = method;
	if (c->uri != NULL) {
		snprintf(uri, sizeof(uri), "REQUEST_URI=%s", c->uri);
		envp[n++] = uri;
	}
	envp[n++] = (char *)"REMOTE_ADDR=192.0.2.1";
	envp[n++] = (char *)"SERVER_PROTOCOL=HTTP/1.1";
	if (c->ctype != NULL) {
		snprintf(ctype, sizeof(ctype), "CONTENT_TYPE=%s", c->ctype);
		envp[n++] = ctype;
	}
	if (c->clen != NULL || c->body != NULL) {
		if (c->clen != NULL)
			snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%s",
			    c->clen);
		else
			snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%zu", len);
		envp[n++] = clen;
	}
	for (int i = 0; i < 8 && c->env[i] != NULL; i++)
		envp[n++] = (char *)c->env[i];
	envp[n] = NULL;

	io.in = c->body;
	io.in_len = len - c->short_by;
	io.chunk = c->chunk;
	if (http_request_init(&r, &arena, envp, &hio, &cfg, &err) == -1)
		rc = http_error(&r, &err);
	else
		rc = http_dispatch(&r, routes, sizeof(routes) / sizeof(routes[0]),
		    NULL);
	hb_error_clear(&err);
	http_request_done(&r);
	arena_reset(&arena);

	fake_response_parse(resp, io.out != NULL ? io.out : "", io.out_len);
	check_every_response(resp, rc);
	fake_io_free(&io);
	return rc;
}

/* GET (or another bodiless method) of uri with extra parameters. */
static int
req(struct fake_response *resp, const char *method, const char *uri,
    const char *env0, const char *env1)
{
	struct call c = { .method = method, .uri = uri };

	c.env[0] = env0;
	c.env[1] = env0 != NULL ? env1 : NULL;
	return call(resp, &c);
}

static int
post_json(struct fake_response *resp, const char *uri, const char *body,
    size_t len)
{
	struct call c = { .method = "POST", .uri = uri,
	    .ctype = "application/json", .body = body, .len = len };

	return call(resp, &c);
}

static bool
is_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	}
	return true;
}

/*
 * The error envelope: {"error":{"code","message","request_id"}} and
 * nothing else (plus "details" on 422), request_id == X-Request-ID.
 */
static void
is_error(const struct fake_response *resp, int status, const char *code,
    const char *what)
{
	struct json_object *body, *e = NULL, *v;
	const char *rid = fake_header(resp, "X-Request-ID");
	bool shape;
	int keys = status == 422 ? 4 : 3;

	is_int(resp->status, status, "%s: status %d", what, status);
	body = json_tokener_parse(resp->body);
	shape = json_object_is_type(body, json_type_object) &&
	    json_object_object_length(body) == 1 &&
	    json_object_object_get_ex(body, "error", &e) &&
	    json_object_is_type(e, json_type_object) &&
	    json_object_object_length(e) == keys &&
	    json_object_object_get_ex(e, "code", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_object_get_ex(e, "message", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0 &&
	    json_object_object_get_ex(e, "request_id", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (status != 422 || (json_object_object_get_ex(e, "details", &v) &&
	    json_object_is_type(v, json_type_array)));
	ok(shape, "%s: the body is exactly the error envelope: %s", what,
	    resp->body);
	if (shape) {
		json_object_object_get_ex(e, "code", &v);
		is_str(json_object_get_string(v), code, "%s: error.code", what);
		json_object_object_get_ex(e, "request_id", &v);
		is_str(json_object_get_string(v), rid,
		    "%s: error.request_id is the X-Request-ID header", what);
	} else {
		ok(0, "%s: error.code (no envelope)", what);
		ok(0, "%s: error.request_id (no envelope)", what);
	}
	is_str(fake_header(resp, "Content-Type"), "application/json",
	    "%s: the error is application/json", what);
	json_object_put(body);
}

static void
test_basics(void)
{
	struct fake_response resp;
	int rc;

	rc = req(&resp, "GET", "/api/v1/things", NULL, NULL);
	is_int(rc, 200, "GET: http_dispatch returns the status sent");
	is_int(resp.status, 200, "GET: Status: 200");
	ok(resp.h[0].name != NULL && strcmp(resp.h[0].name, "Status") == 0,
	    "GET: the Status line comes first");
	is_int(seen.calls, 1, "GET: the handler ran once");
	is_str(seen.method, "GET", "GET: the handler sees the method");
	is_str(seen.path, "/api/v1/things", "GET: the handler sees the path");
	ok(!seen.has_json, "GET: no body, no r->json");
	is_str(resp.body, "{\"ok\":true}", "GET: the handler's JSON is the body");
	is_str(fake_header(&resp, "Content-Type"), "application/json",
	    "GET: Content-Type application/json");
	is_str(fake_header(&resp, "Content-Length"), "11",
	    "GET: Content-Length is the body's length");
	for (size_t i = 0; i < sizeof(security) / sizeof(security[0]); i++)
		is_str(fake_header(&resp, security[i][0]), security[i][1],
		    "GET: %s: %s", security[i][0], security[i][1]);
	ok(fake_header(&resp, "Strict-Transport-Security") == NULL,
	    "GET: no HSTS when cfg.hsts is false");
	ok(fake_header(&resp, "Access-Control-Allow-Origin") == NULL,
	    "GET: no CORS header without an Origin");
	ok(is_uuid(fake_header(&resp, "X-Request-ID")),
	    "GET: a request without X-Request-ID gets a lowercase UUID (%s)",
	    fake_header(&resp, "X-Request-ID"));
	fake_response_free(&resp);
}

static void
test_path(void)
{
	static const char *const bad[] = {
		"/api/v1/things/%zz", "/api/v1/things/%4", "/api/v1/things/%",
		"/api/v1/things/%g1", "/api/v1/things/%1g",
		"/api/v1/things/a%00b", "/api/v1/things/%00",
		"/api/v1/things/%4?x=1", "",
		"api/v1/things", "?x=1",
	};
	struct fake_response resp;

	req(&resp, "GET", "/api/v1/things/%41bc%20d%2Bx", NULL, NULL);
	is_int(resp.status, 200, "path: an escaped path is routed");
	is_str(seen.path, "/api/v1/things/Abc d+x",
	    "path: %%41, %%20 and %%2B are decoded");
	is_str(seen.rvalue[0], "Abc d+x", "path: the route parameter is decoded");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/things/a+b", NULL, NULL);
	is_str(seen.rvalue[0], "a+b", "path: '+' in a path is not a space");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/things/%e2%82%ac", NULL, NULL);
	is_str(seen.rvalue[0], "\xe2\x82\xac",
	    "path: lowercase hex escapes decode to bytes");
	fake_response_free(&resp);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];

		snprintf(what, sizeof(what), "path \"%s\"", bad[i]);
		req(&resp, "GET", bad[i], NULL, NULL);
		is_error(&resp, 400, "malformed_request", what);
		is_int(seen.calls, 0, "%s: the handler did not run", what);
		fake_response_free(&resp);
	}

	req(&resp, "GET", NULL, NULL, NULL);
	is_error(&resp, 400, "malformed_request", "no REQUEST_URI");
	fake_response_free(&resp);
}

static void
test_query(void)
{
	struct fake_response resp;
	char uri[4096];
	size_t used;

	req(&resp, "GET",
	    "/api/v1/things?q=a+b&x=%41%2B%26%3D&empty=&flag&e%20k=v&&", NULL,
	    NULL);
	is_int(resp.status, 200, "query: a query string is accepted");
	is_str(seen.path, "/api/v1/things", "query: the path excludes the query");
	is_int(seen.nquery, 5, "query: five parameters (empty pairs skipped)");
	is_str(seen.qname[0], "q", "query: first name");
	is_str(seen.qvalue[0], "a b", "query: '+' is a space");
	is_str(seen.qvalue[1], "A+&=", "query: %%41 %%2B %%26 %%3D decode");
	is_str(seen.qname[2], "empty", "query: 'empty=' has a name");
	is_str(seen.qvalue[2], "", "query: 'empty=' has an empty value");
	is_str(seen.qname[3], "flag", "query: a bare name is a parameter");
	is_str(seen.qvalue[3], "", "query: a bare name has an empty value");
	is_str(seen.qname[4], "e k", "query: names are decoded too");
	is_str(seen.qvalue[4], "v", "query: and their values");
	fake_response_free(&resp);

	static const char *const bad[] = {
		"/api/v1/things?q=%zz", "/api/v1/things?q=%00",
		"/api/v1/things?%00=1", "/api/v1/things?q=%4",
		"/api/v1/things?a=1&b=%", "/api/v1/things?limit=1&limit=2",
		"/api/v1/things?a&b=1&a=", "/api/v1/things?a%20b=1&a+b=2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];

		snprintf(what, sizeof(what), "query \"%s\"", bad[i]);
		req(&resp, "GET", bad[i], NULL, NULL);
		is_error(&resp, 400, "malformed_request", what);
		is_int(seen.calls, 0, "%s: the handler did not run", what);
		fake_response_free(&resp);
	}

	used = (size_t)snprintf(uri, sizeof(uri), "/api/v1/things?");
	for (int i = 0; i < HB_MAX_QUERY_PARAMS; i++)
		used += (size_t)snprintf(uri + used, sizeof(uri) - used,
		    "%sp%d=%d", i > 0 ? "&" : "", i, i);
	req(&resp, "GET", uri, NULL, NULL);
	is_int(resp.status, 200, "query: %d parameters are accepted",
	    HB_MAX_QUERY_PARAMS);
	is_int(seen.nquery, HB_MAX_QUERY_PARAMS, "query: all %d are parsed",
	    HB_MAX_QUERY_PARAMS);
	is_str(seen.qvalue[HB_MAX_QUERY_PARAMS - 1], "63",
	    "query: the last one has its value");
	fake_response_free(&resp);

	snprintf(uri + used, sizeof(uri) - used, "&one=more");
	req(&resp, "GET", uri, NULL, NULL);
	is_error(&resp, 400, "malformed_request", "query: 65 parameters");
	is_int(seen.calls, 0, "query: 65 parameters: the handler did not run");
	fake_response_free(&resp);
}

static void
test_request_id(void)
{
	static const struct {
		const char *env, *what;
	} bad[] = {
		{ "HTTP_X_REQUEST_ID=has space", "a space" },
		{ "HTTP_X_REQUEST_ID=", "an empty value" },
		{ "HTTP_X_REQUEST_ID=abc\r\nX-Evil: 1", "CR LF and a header" },
		{ "HTTP_X_REQUEST_ID=a/b", "a slash" },
		{ "HTTP_X_REQUEST_ID=caf\xc3\xa9", "non-ASCII" },
		{ "HTTP_X_REQUEST_ID=a\"b", "a double quote" },
		{ "HTTP_X_REQUEST_ID=a:b", "a colon" },
	};
	struct fake_response resp;
	char env[200], id128[129], first[64];

	req(&resp, "GET", "/api/v1/things", "HTTP_X_REQUEST_ID=Abc-123_x.Y",
	    NULL);
	is_str(fake_header(&resp, "X-Request-ID"), "Abc-123_x.Y",
	    "request id: a valid X-Request-ID is echoed");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/nothing", "HTTP_X_REQUEST_ID=req-404",
	    NULL);
	is_str(fake_header(&resp, "X-Request-ID"), "req-404",
	    "request id: echoed on an error too");
	is_error(&resp, 404, "not_found", "request id on a 404");
	fake_response_free(&resp);

	memset(id128, 'a', 128);
	id128[128] = '\0';
	snprintf(env, sizeof(env), "HTTP_X_REQUEST_ID=%s", id128);
	req(&resp, "GET", "/api/v1/things", env, NULL);
	is_str(fake_header(&resp, "X-Request-ID"), id128,
	    "request id: 128 characters are echoed");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/things", "HTTP_X_REQUEST_ID=1", NULL);
	is_str(fake_header(&resp, "X-Request-ID"), "1",
	    "request id: 1 character is echoed");
	fake_response_free(&resp);

	snprintf(env, sizeof(env), "HTTP_X_REQUEST_ID=%sb", id128);
	req(&resp, "GET", "/api/v1/nothing", env, NULL);
	ok(is_uuid(fake_header(&resp, "X-Request-ID")),
	    "request id: 129 characters are replaced by a UUID (%s)",
	    fake_header(&resp, "X-Request-ID"));
	is_error(&resp, 404, "not_found", "request id replaced, on a 404");
	fake_response_free(&resp);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req(&resp, "GET", "/api/v1/things", bad[i].env, NULL);
		ok(is_uuid(fake_header(&resp, "X-Request-ID")),
		    "request id: one with %s is replaced by a UUID",
		    bad[i].what);
		ok(fake_header(&resp, "X-Evil") == NULL,
		    "request id: one with %s injects no header", bad[i].what);
		fake_response_free(&resp);
	}

	req(&resp, "GET", "/api/v1/things", NULL, NULL);
	copy(first, sizeof(first), fake_header(&resp, "X-Request-ID"));
	fake_response_free(&resp);
	req(&resp, "GET", "/api/v1/things", NULL, NULL);
	ok(is_uuid(first) && is_uuid(fake_header(&resp, "X-Request-ID")) &&
	    strcmp(first, fake_header(&resp, "X-Request-ID")) != 0,
	    "request id: two requests get two different UUIDs");
	fake_response_free(&resp);
}

static void
test_errors(void)
{
	struct fake_response resp;
	struct json_object *body, *e, *d, *v;

	req(&resp, "GET", "/api/v1/nothing", NULL, NULL);
	is_error(&resp, 404, "not_found", "unknown path");
	is_int(seen.calls, 0, "unknown path: no handler ran");
	fake_response_free(&resp);

	req(&resp, "GET", "/", NULL, NULL);
	is_error(&resp, 404, "not_found", "unknown path /");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/things/", NULL, NULL);
	is_error(&resp, 404, "not_found", "an empty {id} segment");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/things/1/extra", NULL, NULL);
	is_error(&resp, 404, "not_found", "a path longer than the pattern");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/thingsx", NULL, NULL);
	is_error(&resp, 404, "not_found", "a path extending a route");
	fake_response_free(&resp);

	post_json(&resp, "/api/v1/conflict", "{}", 0);
	is_int(seen.calls, 1, "unsent error: the handler ran");
	is_error(&resp, 409, "already_member",
	    "a handler's unsent r->err is answered");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/unauth", NULL, NULL);
	is_error(&resp, 401, "invalid_token", "401");
	is_str(fake_header(&resp, "WWW-Authenticate"), "Bearer",
	    "401: WWW-Authenticate: Bearer");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/down", NULL, NULL);
	is_error(&resp, 503, "service_unavailable", "503");
	ok(fake_header(&resp, "Retry-After") != NULL &&
	    atoi(fake_header(&resp, "Retry-After")) > 0,
	    "503: Retry-After is a positive number of seconds");
	fake_response_free(&resp);

	post_json(&resp, "/api/v1/validate", "{\"email\":\"x\",\"limit\":0}", 0);
	is_error(&resp, 422, "validation_failed", "422");
	body = json_tokener_parse(resp.body);
	ok(json_object_object_get_ex(body, "error", &e) &&
	    json_object_object_get_ex(e, "details", &d) &&
	    json_object_array_length(d) == 2,
	    "422: details lists both problems");
	d = json_object_object_get_ex(body, "error", &e) &&
	    json_object_object_get_ex(e, "details", &d) ?
	    json_object_array_get_idx(d, 0) : NULL;
	ok(d != NULL && json_object_object_length(d) == 2 &&
	    json_object_object_get_ex(d, "field", &v) &&
	    strcmp(json_object_get_string(v), "email") == 0 &&
	    json_object_object_get_ex(d, "message", &v) &&
	    json_object_is_type(v, json_type_string),
	    "422: details[0] is {\"field\":\"email\",\"message\":…}");
	json_object_put(body);
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/cached", NULL, NULL);
	is_int(resp.status, 304, "304: http_not_modified");
	is_int((long)resp.body_len, 0, "304: no body");
	ok(fake_header(&resp, "Content-Type") == NULL &&
	    fake_header(&resp, "Content-Length") == NULL,
	    "304: no Content-Type or Content-Length");
	is_str(fake_header(&resp, "ETag"), "\"7\"", "304: the ETag set");
	is_str(fake_header(&resp, "X-Content-Type-Options"), "nosniff",
	    "304: the security headers");
	fake_response_free(&resp);

	post_json(&resp, "/api/v1/validate", "{\"email\":\"a@b.c\"}", 0);
	is_int(resp.status, 204, "422 route: a valid body gets 204");
	is_int((long)resp.body_len, 0, "204: no body");
	ok(fake_header(&resp, "Content-Type") == NULL &&
	    fake_header(&resp, "Content-Length") == NULL,
	    "204: no Content-Type or Content-Length");
	fake_response_free(&resp);
}

/*
 * A web server's own errors reach a program through its error handler,
 * with REDIRECT_STATUS: whatever the request, the answer is the envelope
 * of that status, and no handler runs.
 */
static void
test_server_errors(void)
{
	static const struct {
		const char *status, *code;
	} named[] = {
		{ "400", "malformed_request" }, { "411", "length_required" },
		{ "413", "payload_too_large" }, { "414", "uri_too_long" },
		{ "431", "headers_too_large" }, { "501", "not_implemented" },
		{ "503", "service_unavailable" },
		{ "505", "http_version_not_supported" },
		{ "418", "request_refused" }, { "599", "internal_error" },
	};
	static const char *const not_errors[] = {
		"REDIRECT_STATUS=200", "REDIRECT_STATUS=4000",
		"REDIRECT_STATUS=40", "REDIRECT_STATUS=abc",
		"REDIRECT_STATUS=", "REDIRECT_STATUS=399",
	};
	struct fake_response resp;
	struct hb_error err = {0};
	struct json_object *body, *e;
	char env[64], what[96];
	size_t n;

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		snprintf(env, sizeof(env), "REDIRECT_STATUS=%s", named[i].status);
		snprintf(what, sizeof(what), "server's %s", named[i].status);
		req(&resp, "GET", "/api/v1/things", env, NULL);
		is_error(&resp, atoi(named[i].status), named[i].code, what);
		is_int(seen.calls, 0, "%s: no handler ran", what);
		fake_response_free(&resp);
	}

	req(&resp, "GET", "/api/v1/things", "REDIRECT_STATUS=503", NULL);
	ok(fake_header(&resp, "Retry-After") != NULL &&
	    atoi(fake_header(&resp, "Retry-After")) > 0,
	    "server's 503: Retry-After is a positive number of seconds");
	fake_response_free(&resp);

	req(&resp, "GET", "", "REDIRECT_STATUS=400", "HTTP_X_REQUEST_ID=srv-1");
	is_error(&resp, 400, "malformed_request",
	    "server's 400 of a request without a path");
	is_str(fake_header(&resp, "X-Request-ID"), "srv-1",
	    "server's 400: the client's X-Request-ID is echoed");
	fake_response_free(&resp);

	{
		struct call c = { .method = "POST", .uri = "/api/v1/things",
		    .ctype = "text/plain", .body = "{not json" };

		c.env[0] = "REDIRECT_STATUS=413";
		call(&resp, &c);
		is_error(&resp, 413, "payload_too_large",
		    "server's 413: the body is never judged");
		is_int(seen.calls, 0, "server's 413: no handler ran");
		fake_response_free(&resp);
	}

	for (size_t i = 0; i < sizeof(not_errors) / sizeof(not_errors[0]); i++) {
		req(&resp, "GET", "/api/v1/things", not_errors[i], NULL);
		is_int(resp.status, 200, "%s: an ordinary request",
		    not_errors[i]);
		is_int(seen.calls, 1, "%s: the handler ran", not_errors[i]);
		fake_response_free(&resp);
	}

	for (n = 0; http_server_status(n) != 0; n++)
		;
	ok(n >= 15, "%zu statuses have a name and a static document", n);
	http_server_error(503, &err);
	body = http_error_envelope(&err, NULL);
	ok(json_object_object_get_ex(body, "error", &e) &&
	    json_object_object_length(body) == 1 &&
	    json_object_object_length(e) == 2 &&
	    json_object_object_get_ex(e, "code", NULL) &&
	    json_object_object_get_ex(e, "message", NULL),
	    "a static document is {\"error\": {code, message}}: %s",
	    json_object_to_json_string(body));
	json_object_put(body);
	hb_error_clear(&err);
}

/* Whether the comma-separated list has exactly the methods in want. */
static bool
allow_is(const char *allow, const char *want)
{
	char a[256], w[256], *tok, *save;
	size_t j = 0;
	int na = 0, nw = 0;

	if (allow == NULL)
		return false;
	/* ",GET,HEAD," without spaces, so ",NAME," finds one method. */
	a[j++] = ',';
	for (const char *p = allow; *p != '\0' && j < sizeof(a) - 2; p++)
		if (*p != ' ')
			a[j++] = *p;
	a[j++] = ',';
	a[j] = '\0';
	snprintf(w, sizeof(w), "%s", want);
	for (tok = strtok_r(w, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		char needle[32];

		snprintf(needle, sizeof(needle), ",%s,", tok);
		if (strstr(a, needle) == NULL)
			return false;
		nw++;
	}
	for (char *p = a + 1; *p != '\0'; p++)
		if (*p == ',')
			na++;
	return na == nw;
}

static void
test_methods(void)
{
	struct fake_response resp, get;

	req(&resp, "POST", "/api/v1/things/42", NULL, NULL);
	is_error(&resp, 405, "method_not_allowed", "POST on /things/{id}");
	ok(allow_is(fake_header(&resp, "Allow"), "GET HEAD PATCH DELETE OPTIONS"),
	    "405: Allow lists GET, HEAD, PATCH, DELETE, OPTIONS (%s)",
	    fake_header(&resp, "Allow"));
	is_int(fake_header_count(&resp, "Allow"), 1, "405: one Allow header");
	is_int(seen.calls, 0, "405: no handler ran");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/auth/login", NULL, NULL);
	is_error(&resp, 405, "method_not_allowed", "GET on a POST-only path");
	ok(allow_is(fake_header(&resp, "Allow"), "POST OPTIONS"),
	    "405: Allow is POST, OPTIONS without GET or HEAD (%s)",
	    fake_header(&resp, "Allow"));
	fake_response_free(&resp);

	req(&resp, "HEAD", "/api/v1/auth/login", NULL, NULL);
	is_int(resp.status, 405, "405: HEAD on a POST-only path");
	fake_response_free(&resp);

	req(&resp, "PUT", "/api/v1/things", NULL, NULL);
	is_error(&resp, 405, "method_not_allowed", "PUT on /things");
	ok(allow_is(fake_header(&resp, "Allow"), "GET HEAD POST OPTIONS"),
	    "405: Allow lists GET, HEAD, POST, OPTIONS (%s)",
	    fake_header(&resp, "Allow"));
	fake_response_free(&resp);

	req(&resp, "OPTIONS", "/api/v1/things", NULL, NULL);
	is_int(resp.status, 204, "OPTIONS on a known path: 204");
	is_int((long)resp.body_len, 0, "OPTIONS: no body");
	ok(allow_is(fake_header(&resp, "Allow"), "GET HEAD POST OPTIONS"),
	    "OPTIONS: Allow lists the path's methods (%s)",
	    fake_header(&resp, "Allow"));
	is_int(seen.calls, 0, "OPTIONS: no handler ran");
	fake_response_free(&resp);

	req(&resp, "OPTIONS", "/api/v1/things/7", NULL, NULL);
	is_int(resp.status, 204, "OPTIONS on a {id} path: 204");
	fake_response_free(&resp);

	req(&resp, "OPTIONS", "/api/v1/nothing", NULL, NULL);
	is_error(&resp, 404, "not_found", "OPTIONS on an unknown path");
	fake_response_free(&resp);

	req(&get, "GET", "/api/v1/things", NULL, NULL);
	req(&resp, "HEAD", "/api/v1/things", NULL, NULL);
	is_int(resp.status, 200, "HEAD: answered by the GET route");
	is_int(seen.calls, 1, "HEAD: the GET handler ran");
	is_str(seen.method, "HEAD", "HEAD: the handler sees HEAD");
	is_int((long)resp.body_len, 0, "HEAD: no body is sent");
	is_str(fake_header(&resp, "Content-Length"),
	    fake_header(&get, "Content-Length"),
	    "HEAD: Content-Length is the GET body's length");
	is_str(fake_header(&resp, "Content-Type"), "application/json",
	    "HEAD: Content-Type is sent");
	is_str(fake_header(&resp, "X-Frame-Options"), "DENY",
	    "HEAD: security headers are sent");
	fake_response_free(&resp);
	fake_response_free(&get);

	req(&resp, "HEAD", "/api/v1/nothing", NULL, NULL);
	is_int(resp.status, 404, "HEAD on an unknown path: 404");
	is_int((long)resp.body_len, 0, "HEAD 404: no body");
	ok(fake_header(&resp, "Content-Length") != NULL &&
	    atoi(fake_header(&resp, "Content-Length")) > 0,
	    "HEAD 404: Content-Length of the envelope it would send");
	fake_response_free(&resp);
}

static void
test_cors(void)
{
	struct fake_response resp;
	const char *v;

	snprintf(cfg.cors_origins, sizeof(cfg.cors_origins), "%s",
	    "https://app.example.com, https://admin.example.com");

	req(&resp, "GET", "/api/v1/things", "HTTP_ORIGIN=https://app.example.com",
	    NULL);
	is_str(fake_header(&resp, "Access-Control-Allow-Origin"),
	    "https://app.example.com", "CORS: an allowed origin is echoed");
	v = fake_header(&resp, "Vary");
	ok(v != NULL && strstr(v, "Origin") != NULL,
	    "CORS: Vary: Origin with an echoed origin");
	is_int(fake_header_count(&resp, "Access-Control-Allow-Origin"), 1,
	    "CORS: one Access-Control-Allow-Origin header");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/nothing",
	    "HTTP_ORIGIN=https://admin.example.com", NULL);
	is_str(fake_header(&resp, "Access-Control-Allow-Origin"),
	    "https://admin.example.com",
	    "CORS: errors carry the allowed origin too");
	fake_response_free(&resp);

	req(&resp, "OPTIONS", "/api/v1/things",
	    "HTTP_ORIGIN=https://app.example.com",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD=POST");
	is_int(resp.status, 204, "CORS preflight: 204");
	is_int((long)resp.body_len, 0, "CORS preflight: no body");
	is_str(fake_header(&resp, "Access-Control-Allow-Origin"),
	    "https://app.example.com", "CORS preflight: the origin is echoed");
	v = fake_header(&resp, "Vary");
	ok(v != NULL && strstr(v, "Origin") != NULL, "CORS preflight: Vary: Origin");
	v = fake_header(&resp, "Access-Control-Allow-Methods");
	ok(v != NULL && strstr(v, "POST") != NULL,
	    "CORS preflight: Access-Control-Allow-Methods has POST (%s)", v);
	v = fake_header(&resp, "Access-Control-Allow-Headers");
	ok(v != NULL && strstr(v, "Authorization") != NULL &&
	    strstr(v, "Content-Type") != NULL,
	    "CORS preflight: Authorization and Content-Type may be sent (%s)", v);
	fake_response_free(&resp);

	static const char *const refused[] = {
		"HTTP_ORIGIN=https://evil.example.com",
		"HTTP_ORIGIN=https://app.example.com.evil.com",
		"HTTP_ORIGIN=https://app.example.co",
		"HTTP_ORIGIN=http://app.example.com",
		"HTTP_ORIGIN=null", "HTTP_ORIGIN=*", "HTTP_ORIGIN=",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		req(&resp, "GET", "/api/v1/things", refused[i], NULL);
		ok(fake_header(&resp, "Access-Control-Allow-Origin") == NULL,
		    "CORS: origin \"%s\" gets no Access-Control-Allow-Origin",
		    refused[i] + 12);
		fake_response_free(&resp);
		req(&resp, "OPTIONS", "/api/v1/things", refused[i], NULL);
		ok(fake_header(&resp, "Access-Control-Allow-Origin") == NULL &&
		    fake_header(&resp, "Access-Control-Allow-Methods") == NULL,
		    "CORS preflight: origin \"%s\" gets no CORS headers",
		    refused[i] + 12);
		fake_response_free(&resp);
	}

	cfg.cors_origins[0] = '\0';
	req(&resp, "GET", "/api/v1/things", "HTTP_ORIGIN=https://app.example.com",
	    NULL);
	ok(fake_header(&resp, "Access-Control-Allow-Origin") == NULL,
	    "CORS: nothing is allowed when CORS_ORIGINS is empty");
	fake_response_free(&resp);
}

static void
test_hsts(void)
{
	struct fake_response resp;
	const char *v;

	cfg.hsts = true;
	req(&resp, "GET", "/api/v1/things", NULL, NULL);
	v = fake_header(&resp, "Strict-Transport-Security");
	ok(v != NULL && strstr(v, "max-age=") != NULL &&
	    atol(strstr(v, "max-age=") + 8) > 0,
	    "HSTS: Strict-Transport-Security with a max-age when cfg.hsts (%s)",
	    v);
	fake_response_free(&resp);
	req(&resp, "GET", "/api/v1/nothing", NULL, NULL);
	ok(fake_header(&resp, "Strict-Transport-Security") != NULL,
	    "HSTS: on error responses too");
	fake_response_free(&resp);
	cfg.hsts = false;
	req(&resp, "GET", "/api/v1/things", NULL, NULL);
	ok(fake_header(&resp, "Strict-Transport-Security") == NULL,
	    "HSTS: absent when cfg.hsts is false");
	fake_response_free(&resp);
}

static void
test_body_size_and_type(void)
{
	struct fake_response resp;
	char *big = malloc(65538);
	struct call c;

	/* {"a":"xxx…"} of exactly max_body bytes. */
	memset(big, 'x', 65537);
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + 65534, "\"}", 2);
	post_json(&resp, "/api/v1/things", big, 65536);
	is_int(resp.status, 200, "size: a body of exactly max_body is accepted");
	is_int((long)seen.body_len, 65536, "size: the handler sees all of it");
	ok(seen.has_json, "size: and it is parsed");
	fake_response_free(&resp);

	big[65534] = 'x';
	memcpy(big + 65535, "\"}", 2);
	post_json(&resp, "/api/v1/things", big, 65537);
	is_error(&resp, 413, "payload_too_large", "max_body + 1 bytes");
	is_int(seen.calls, 0, "413: the handler did not run");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/json", .clen = "1000000000", .body = "{}" };
	call(&resp, &c);
	is_error(&resp, 413, "payload_too_large",
	    "a huge Content-Length (not read)");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "text/plain", .body = "{}" };
	call(&resp, &c);
	is_error(&resp, 415, "unsupported_media_type", "Content-Type text/plain");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .body = "{}" };
	call(&resp, &c);
	is_error(&resp, 415, "unsupported_media_type", "no Content-Type");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/jsonp", .body = "{}" };
	call(&resp, &c);
	is_error(&resp, 415, "unsupported_media_type",
	    "Content-Type application/jsonp");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/x-www-form-urlencoded", .body = "a=1" };
	call(&resp, &c);
	is_error(&resp, 415, "unsupported_media_type",
	    "a form body on a JSON-only route");
	is_int(seen.calls, 0, "415: the handler did not run");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/json; charset=utf-8", .body = "{\"a\":1}" };
	call(&resp, &c);
	is_int(resp.status, 200, "type: application/json; charset=utf-8 is JSON");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "Application/JSON", .body = "{\"a\":1}" };
	call(&resp, &c);
	is_int(resp.status, 200, "type: the media type is case-insensitive");
	fake_response_free(&resp);

	static const char *const bad_len[] = { "abc", "-1", "12abc", "1e3",
	    "0x10", "2 3" };
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "Content-Length \"%s\"", bad_len[i]);
		c = (struct call){ .method = "POST", .uri = "/api/v1/things",
		    .ctype = "application/json", .clen = bad_len[i],
		    .body = "{}" };
		call(&resp, &c);
		is_error(&resp, 400, "malformed_request", what);
		is_int(seen.calls, 0, "%s: the handler did not run", what);
		fake_response_free(&resp);
	}

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .clen = "0" };
	call(&resp, &c);
	is_int(resp.status, 200, "Content-Length 0 is an empty body");
	ok(!seen.has_json, "Content-Length 0: no r->json");
	fake_response_free(&resp);
	free(big);
}

static void
test_body_json(void)
{
	static const struct {
		const char *body;
		size_t len;
		const char *what;
	} bad[] = {
		{ "{\"a\":", 0, "an unfinished object" },
		{ "{\"a\":1,}", 0, "a trailing comma" },
		{ "{a:1}", 0, "an unquoted key" },
		{ "nope", 0, "a bare word" },
		{ "{\"a\":01}", 0, "a leading zero" },
		{ "[1,2", 0, "an unfinished array" },
		{ "{\"a\":\"\xff\"}", 0, "invalid UTF-8 (0xff)" },
		{ "{\"a\":\"\xc3\x28\"}", 0, "invalid UTF-8 (bad continuation)" },
		{ "{\"a\":\"\xc0\xaf\"}", 0, "invalid UTF-8 (overlong '/')" },
		{ "{\"a\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8 (a surrogate)" },
		{ "{\"a\":\"\xf4\x90\x80\x80\"}", 0, "invalid UTF-8 (U+110000)" },
		{ "{\"\xff\":1}", 0, "invalid UTF-8 in a key" },
		{ "{\"a\":\"x\0y\"}", 12, "a NUL byte inside a string" },
		{ "{}\0", 3, "a NUL byte after the object" },
		{ "\0{}", 3, "a NUL byte before the object" },
		{ "{\"a\":1} x", 0, "trailing garbage" },
		{ "{}{}", 0, "two objects" },
		{ "{} []", 0, "an object then an array" },
		{ "[] ,", 0, "a trailing comma after the value" },
		{ " ", 0, "only whitespace" },
	};
	struct fake_response resp;
	char deep[256];
	struct call c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_json(&resp, "/api/v1/things", bad[i].body, bad[i].len);
		is_error(&resp, 400, "malformed_json", bad[i].what);
		is_int(seen.calls, 0, "%s: the handler did not run", bad[i].what);
		fake_response_free(&resp);
	}

	/*
	 * json-c 0.16 accepts these even with JSON_TOKENER_STRICT; NaN and
	 * Infinity cannot be stored in jsonb. Known gap, reported.
	 */
	static const struct {
		const char *body, *what;
	} lenient[] = {
		{ "{'a':1}", "a single-quoted key" },
		{ "{\"a\":NaN}", "NaN" },
		{ "[Infinity]", "Infinity" },
		{ "[-Infinity]", "-Infinity" },
		{ "[1.]", "a number ending in '.'" },
		{ "[\"a\tb\"]", "a raw tab inside a string" },
		{ "[\"a\nb\"]", "a raw newline inside a string" },
	};
	for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++) {
		post_json(&resp, "/api/v1/things", lenient[i].body, 0);
		is_int(resp.status, 400, "a body with %s (not JSON) gets 400",
		    lenient[i].what);
		fake_response_free(&resp);
	}

	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	post_json(&resp, "/api/v1/things", deep, 0);
	is_error(&resp, 400, "malformed_json", "100 nested arrays");
	fake_response_free(&resp);

	memset(deep, '[', 10);
	memset(deep + 10, ']', 10);
	deep[20] = '\0';
	post_json(&resp, "/api/v1/things", deep, 0);
	is_int(resp.status, 200, "10 nested arrays are fine");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/json", .body = "{\"name\":\"truncated\"}",
	    .short_by = 5 };
	call(&resp, &c);
	is_error(&resp, 400, "malformed_json",
	    "a body shorter than Content-Length");
	is_int(seen.calls, 0, "truncated: the handler did not run");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/json", .clen = "10", .body = "" };
	call(&resp, &c);
	is_error(&resp, 400, "malformed_json",
	    "Content-Length 10 and no body at all");
	fake_response_free(&resp);

	post_json(&resp, "/api/v1/things", "{\"name\":\"x\",\"n\":1}", 0);
	is_int(resp.status, 200, "valid JSON: 200");
	is_int(seen.calls, 1, "valid JSON: the handler ran");
	ok(seen.has_json, "valid JSON: r->json is set");
	is_str(seen.json, "{\"name\":\"x\",\"n\":1}",
	    "valid JSON: r->json is the body");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/things",
	    .ctype = "application/json",
	    .body = " \r\n{\"s\":\"Zo\xc3\xab \xf0\x9f\x8f\xa0\",\"u\":\"\\u00e9\"}\t\n",
	    .chunk = 3 };
	call(&resp, &c);
	is_int(resp.status, 200,
	    "valid JSON: whitespace around it, UTF-8 inside, read 3 bytes a time");
	is_str(seen.json,
	    "{\"s\":\"Zo\xc3\xab \xf0\x9f\x8f\xa0\",\"u\":\"\xc3\xa9\"}",
	    "valid JSON: multi-byte text and \\u escapes arrive intact");
	fake_response_free(&resp);

	static const char *const scalars[] = { "[1,2]", "\"text\"", "123",
	    "-1.5", "true", "null" };
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		post_json(&resp, "/api/v1/things", scalars[i], 0);
		is_int(resp.status, 200, "valid JSON %s reaches the handler",
		    scalars[i]);
		if (strcmp(scalars[i], "null") != 0)
			ok(seen.has_json, "valid JSON %s: r->json is set",
			    scalars[i]);
		fake_response_free(&resp);
	}
}

static void
test_form(void)
{
	struct fake_response resp;
	struct call c;

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "application/x-www-form-urlencoded",
	    .body = "username=alice%40example.com&password=p%40ss+w%C3%B6rd%21"
	    "&grant_type=password" };
	call(&resp, &c);
	is_int(resp.status, 200, "form: accepted on an HB_ROUTE_FORM route");
	is_int(seen.nform, 3, "form: three fields");
	is_str(seen.fname[0], "username", "form: first name");
	is_str(seen.fvalue[0], "alice@example.com", "form: %%40 decodes");
	is_str(seen.fvalue[1], "p@ss w\xc3\xb6rd!", "form: '+' and %%xx decode");
	is_str(seen.fvalue[2], "password", "form: third value");
	ok(!seen.has_json, "form: no r->json");
	fake_response_free(&resp);

	c.ctype = "application/x-www-form-urlencoded; charset=UTF-8";
	call(&resp, &c);
	is_int(resp.status, 200, "form: a charset parameter is allowed");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "application/json",
	    .body = "{\"email\":\"a@b.c\",\"password\":\"pw\"}" };
	call(&resp, &c);
	is_int(resp.status, 200, "form route: JSON is still accepted");
	ok(seen.has_json, "form route: JSON is parsed");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "text/plain", .body = "username=a" };
	call(&resp, &c);
	is_error(&resp, 415, "unsupported_media_type",
	    "form route: text/plain");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "application/x-www-form-urlencoded",
	    .body = "username=%zz&password=x" };
	call(&resp, &c);
	is_error(&resp, 400, "malformed_request", "form: a bad escape");
	is_int(seen.calls, 0, "form: a bad escape: the handler did not run");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "application/x-www-form-urlencoded",
	    .body = "username=a\0b", .len = 12 };
	call(&resp, &c);
	is_int(resp.status, 400, "form: a NUL byte is refused");
	fake_response_free(&resp);

	c = (struct call){ .method = "POST", .uri = "/api/v1/auth/login",
	    .ctype = "application/x-www-form-urlencoded",
	    .body = "username=%00" };
	call(&resp, &c);
	is_int(resp.status, 400, "form: %%00 is refused");
	fake_response_free(&resp);
}

/* The If-Match header as every endpoint with row versions reads it. */
static void
test_if_match(void)
{
	char buf[24];

	ok(http_if_match(NULL) == HB_IF_MATCH_NONE, "if-match: no header");
	ok(http_if_match("*") == HB_IF_MATCH_ANY, "if-match: *");
	ok(http_if_match(" * ") == HB_IF_MATCH_ANY, "if-match: * with blanks");
	ok(http_if_match("\"3\"") == 3, "if-match: a strong tag");
	ok(http_if_match(" \"12\"\t") == 12, "if-match: with blanks");
	ok(http_if_match("W/\"3\"") == 0, "if-match: a weak tag matches nothing");
	ok(http_if_match("3") == 0, "if-match: unquoted");
	ok(http_if_match("\"\"") == 0, "if-match: an empty tag");
	ok(http_if_match("\"3\", \"4\"") == 0, "if-match: a list");
	ok(http_if_match("\"0\"") == 0, "if-match: version 0");
	ok(http_if_match("\"-1\"") == 0, "if-match: negative");
	ok(http_if_match("\"3") == 0, "if-match: unterminated");
	ok(http_if_match("\"99999999999999999999999\"") == 0,
	    "if-match: out of range");
	ok(http_if_match("**") == 0, "if-match: two stars");
	ok(http_if_match("") == 0, "if-match: empty");

	ok(http_if_match_param(HB_IF_MATCH_NONE, buf) == NULL,
	    "if-match param: no header, no condition");
	ok(http_if_match_param(HB_IF_MATCH_ANY, buf) == NULL,
	    "if-match param: * is any version");
	is_str(http_if_match_param(7, buf), "7", "if-match param: 7");
	is_str(http_if_match_param(2147483647L, buf), "2147483647",
	    "if-match param: the largest integer");
	is_str(http_if_match_param(0, buf), "0",
	    "if-match param: a bad header matches no version");
	is_str(http_if_match_param(2147483648L, buf), "0",
	    "if-match param: past an integer matches no version");
}

/* The {id} of a path and the ETag of a versioned object. */
static void
test_path_uuid_etag(void)
{
	struct fake_response resp;
	const char *body;

	req(&resp, "GET", "/api/v1/versioned/3f2b5c3e-0d7a-4b9e-9a41-1c2d3e4f5a6b",
	    NULL, NULL);
	is_int(resp.status, 200, "path uuid: a UUID passes");
	is_str(fake_header(&resp, "ETag"), "\"42\"",
	    "versioned: ETag is the version, quoted");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/versioned/3F2B5C3E-0D7A-4B9E-9A41-1C2D3E4F5A6B",
	    NULL, NULL);
	is_int(resp.status, 404, "path uuid: upper case is not an id");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/versioned/not-a-uuid", NULL, NULL);
	is_int(resp.status, 404, "path uuid: anything else is 404");
	body = resp.body != NULL ? resp.body : "";
	ok(strstr(body, "\"not_found\"") != NULL &&
	    strstr(body, "No such widget.") != NULL,
	    "path uuid: not_found names the noun");
	ok(fake_header(&resp, "ETag") == NULL, "path uuid: no ETag on 404");
	fake_response_free(&resp);
}

/* The answer of a database function's 'ok', 'stale' or 'not_found'. */
static void
test_status_result(void)
{
	struct hb_error err = {0};

	is_int(hb_status_result("ok", "gadget", &err), 0, "status: ok is 0");
	is_int(hb_status_result("stale", "gadget", &err), -1,
	    "status: stale fails");
	is_int(err.status, 412, "status: stale is 412");
	is_str(err.code, "precondition_failed", "status: its code");
	ok(strstr(err.message, "gadget") != NULL, "status: names the noun");
	is_int(hb_status_result("not_found", "gadget", &err), -1,
	    "status: not_found fails");
	is_int(err.status, 404, "status: not_found is 404");
	is_str(err.message, "No such gadget.", "status: its message");
	is_int(hb_status_result(NULL, "gadget", &err), -1,
	    "status: no status fails");
	is_int(err.status, 404, "status: no status is 404");
	hb_error_clear(&err);
}

static void
test_route_params(void)
{
	struct fake_response resp;

	req(&resp, "GET", "/api/v1/orgs/org-1/members/user-2", NULL, NULL);
	is_int(resp.status, 200, "route: two parameters match");
	is_int(seen.nroute, 2, "route: two captured");
	is_str(seen.rname[0], "org", "route: first name");
	is_str(seen.rvalue[0], "org-1", "route: first value");
	is_str(seen.rname[1], "user", "route: second name");
	is_str(seen.rvalue[1], "user-2", "route: second value");
	fake_response_free(&resp);

	req(&resp, "DELETE", "/api/v1/things/3f2b5c3e-0d7a-4b9e-9a41-1c2d3e4f5a6b",
	    NULL, NULL);
	is_int(resp.status, 200, "route: DELETE on {id}");
	is_str(seen.method, "DELETE", "route: the DELETE handler ran");
	is_str(seen.rvalue[0], "3f2b5c3e-0d7a-4b9e-9a41-1c2d3e4f5a6b",
	    "route: {id} is the whole segment");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/orgs//members/user-2", NULL, NULL);
	is_int(resp.status, 404, "route: an empty segment does not match");
	fake_response_free(&resp);

	req(&resp, "GET", "/api/v1/orgs/a/b/members/c", NULL, NULL);
	is_int(resp.status, 404, "route: a parameter is one segment only");
	fake_response_free(&resp);
}

/*
 * The client address of a request from peer (NULL: no REMOTE_ADDR) with
 * X-Forwarded-For xff (NULL: none), behind the proxies of trusted.
 */
static struct {
	char	 client[128];
	char	 peer[128];
} addr;

static void
forwarded(const char *trusted, const char *peer, const char *xff)
{
	char *envp[6], ra[128], *xbuf = NULL;
	struct fake_io io = { 0 };
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_request r;
	struct hb_error err = { 0 };
	int n = 0;

	if (cidr_list_parse(&cfg.trusted_proxies, trusted, &err) == -1) {
		printf("Bail out! TRUSTED_PROXIES=%s: %s\n", trusted,
		    err.message);
		exit(1);
	}
	envp[n++] = (char *)"REQUEST_METHOD=GET";
	envp[n++] = (char *)"REQUEST_URI=/api/v1/things";
	if (peer != NULL) {
		snprintf(ra, sizeof(ra), "REMOTE_ADDR=%s", peer);
		envp[n++] = ra;
	}
	if (xff != NULL) {
		xbuf = malloc(strlen(xff) + 32);
		if (xbuf == NULL)
			abort();
		sprintf(xbuf, "HTTP_X_FORWARDED_FOR=%s", xff);
		envp[n++] = xbuf;
	}
	envp[n] = NULL;
	if (http_request_init(&r, &arena, envp, &hio, &cfg, &err) == -1) {
		printf("Bail out! http_request_init: %s\n", err.message);
		exit(1);
	}
	copy(addr.client, sizeof(addr.client), r.remote_addr);
	copy(addr.peer, sizeof(addr.peer), r.peer_addr);
	http_request_done(&r);
	arena_reset(&arena);
	free(xbuf);
	cfg.trusted_proxies.n = 0;
}

/* What forwarded() finds for the client. */
static const char *
client(const char *trusted, const char *peer, const char *xff)
{
	forwarded(trusted, peer, xff);
	return addr.client;
}

/* prefix, then base1, base2, … baseN joined by ", ", then suffix. */
static char *
xff_list(const char *prefix, const char *base, int n, const char *suffix)
{
	size_t cap = strlen(prefix) + strlen(suffix) + (size_t)n * 48 + 1;
	char *s = malloc(cap), one[48];

	if (s == NULL)
		abort();
	snprintf(s, cap, "%s", prefix);
	for (int i = 1; i <= n; i++) {
		snprintf(one, sizeof(one), "%s%s%d", s[0] != '\0' ? ", " : "",
		    base, i);
		strcat(s, one);
	}
	strcat(s, suffix);
	return s;
}

#define PROXIES	"127.0.0.1/32, 10.0.0.0/8"

static void
test_client_addr(void)
{
	char *x, *pad;
	size_t cut;

	/* TRUSTED_PROXIES empty (the default): the header means nothing. */
	forwarded("", "192.0.2.1", "203.0.113.9");
	is_str(addr.client, "192.0.2.1",
	    "client: without TRUSTED_PROXIES, X-Forwarded-For is ignored");
	is_str(addr.peer, "192.0.2.1", "client: peer_addr is REMOTE_ADDR");
	is_str(client("", "127.0.0.1", "203.0.113.9"), "127.0.0.1",
	    "client: ... even from what would be a proxy's address");

	/* An untrusted peer is the client, whatever it claims. */
	forwarded(PROXIES, "198.51.100.7", "203.0.113.9");
	is_str(addr.client, "198.51.100.7",
	    "client: an untrusted peer's X-Forwarded-For is ignored");
	is_str(client(PROXIES, "198.51.100.7", "127.0.0.1"), "198.51.100.7",
	    "client: ... also when it names a trusted proxy");
	is_str(client(PROXIES, "127.0.0.1", NULL), "127.0.0.1",
	    "client: a trusted peer without X-Forwarded-For is the client");
	is_str(client(PROXIES, "127.0.0.1", ""), "127.0.0.1",
	    "client: ... and with an empty one");

	/* A trusted peer: the rightmost untrusted entry. */
	forwarded(PROXIES, "127.0.0.1", "203.0.113.9");
	is_str(addr.client, "203.0.113.9",
	    "client: a trusted peer's X-Forwarded-For names the client");
	is_str(addr.peer, "127.0.0.1",
	    "client: peer_addr stays the proxy's address");
	is_str(client(PROXIES, "127.0.0.1", "6.6.6.6, 203.0.113.9"),
	    "203.0.113.9", "client: a spoofed left part is ignored");
	is_str(client(PROXIES, "127.0.0.1", "6.6.6.6, 7.7.7.7, 203.0.113.9"),
	    "203.0.113.9", "client: ... however many entries it has");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9, 10.0.0.2, 10.0.0.3"),
	    "203.0.113.9", "client: a chain of trusted proxies is walked");
	is_str(client(PROXIES, "10.9.9.9",
	    "6.6.6.6, 203.0.113.9, 10.1.1.1, 127.0.0.1"), "203.0.113.9",
	    "client: a spoofed left part before a chain of proxies");
	is_str(client(PROXIES, "127.0.0.1", "6.6.6.6, 10.0.0.9, 203.0.113.9"),
	    "203.0.113.9",
	    "client: a trusted address the client wrote is never reached");
	is_str(client(PROXIES, "127.0.0.1", "10.0.0.5, 10.0.0.2"), "10.0.0.5",
	    "client: every entry trusted: the leftmost");
	is_str(client(PROXIES, "127.0.0.1", "127.0.0.1"), "127.0.0.1",
	    "client: one trusted entry: that one");

	/* What two header lines become, blanks, empty entries. */
	is_str(client(PROXIES, "127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2"),
	    "203.0.113.9", "client: two header lines, as FastCGI joins them");
	is_str(client(PROXIES, "127.0.0.1", " \t203.0.113.9\t ,, 10.0.0.2 , "),
	    "203.0.113.9",
	    "client: blanks around entries and empty entries are skipped");

	/* Garbage stops the walk: the last address walked is the client. */
	is_str(client(PROXIES, "127.0.0.1", "unknown"), "127.0.0.1",
	    "client: an entry that is not an address: the peer");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9, garbage"),
	    "127.0.0.1",
	    "client: garbage written by the proxy stops the walk at the peer");
	is_str(client(PROXIES, "127.0.0.1", "garbage, 10.0.0.2"), "10.0.0.2",
	    "client: garbage after trusted hops: the farthest trusted hop");
	is_str(client(PROXIES, "127.0.0.1", "garbage, 203.0.113.9"),
	    "203.0.113.9", "client: garbage in the spoofed left part is ignored");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9:4711"), "127.0.0.1",
	    "client: host:port is not an address");
	is_str(client(PROXIES, "127.0.0.1", "[2001:db8::1]"), "127.0.0.1",
	    "client: a bracketed IPv6 address is not one either");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9 10.0.0.2"),
	    "127.0.0.1", "client: two addresses without a comma are garbage");
	is_str(client(PROXIES, "127.0.0.1",
	    "203.0.113.9, 1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb"),
	    "127.0.0.1", "client: an overlong entry is garbage");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9\x01"), "127.0.0.1",
	    "client: a control character makes an entry garbage");
	is_str(client(PROXIES, NULL, "203.0.113.9"), "",
	    "client: no REMOTE_ADDR: \"\", whatever the header says");

	/* IPv6 and IPv4-mapped addresses. */
	is_str(client("::1/128, fd00::/8", "::1", "2001:db8::7, fd00::2"),
	    "2001:db8::7", "client: IPv6 proxies and client");
	is_str(client("::1/128, fd00::/8", "::1", "2001:db8::7, fd00::2, ::1"),
	    "2001:db8::7", "client: IPv6 chain ending in the loopback");
	is_str(client(PROXIES, "::ffff:127.0.0.1", "203.0.113.9"), "203.0.113.9",
	    "client: an IPv4-mapped peer in an IPv4 network is trusted");
	is_str(client(PROXIES, "127.0.0.1", "203.0.113.9, ::ffff:10.0.0.2"),
	    "203.0.113.9", "client: an IPv4-mapped entry is trusted as IPv4");
	is_str(client(PROXIES, "127.0.0.1", "2001:db8::7, ::ffff:10.0.0.2"),
	    "2001:db8::7", "client: an IPv6 client behind an IPv4 proxy");
	is_str(client(PROXIES, "::1", "203.0.113.9"), "::1",
	    "client: ::1 is not 127.0.0.1");

	/* Overlong headers: the end is read, the padding before it is not. */
	x = xff_list("", "6.6.6.", 255, ", 203.0.113.9, 10.0.0.2");
	ok(strlen(x) > HB_XFF_MAX_BYTES, "overlong: the header is %zu bytes",
	    strlen(x));
	is_str(client(PROXIES, "127.0.0.1", x), "203.0.113.9",
	    "overlong: padding on the left does not hide the client");
	free(x);
	x = xff_list("203.0.113.9", "10.0.0.", 40, "");
	is_str(client(PROXIES, "127.0.0.1", x), "10.0.0.9",
	    "overlong: the walk stops after %d hops, at the farthest one",
	    HB_XFF_MAX_HOPS);
	free(x);
	x = xff_list("203.0.113.9", "10.0.0.", HB_XFF_MAX_HOPS - 1, "");
	is_str(client(PROXIES, "127.0.0.1", x), "203.0.113.9",
	    "overlong: the client %d hops away is found",
	    HB_XFF_MAX_HOPS);
	free(x);
	/*
	 * Blank padding right of the client pushes the cut into the client's
	 * entry: "203.0.113.77" cut to "3.0.113.77" would read as an address.
	 */
	pad = malloc(HB_XFF_MAX_BYTES + 1);
	if (pad == NULL)
		abort();
	memset(pad, ' ', HB_XFF_MAX_BYTES);
	pad[HB_XFF_MAX_BYTES] = '\0';
	x = malloc(3 * HB_XFF_MAX_BYTES);
	if (x == NULL)
		abort();
	cut = strlen("198.51.100.1, 20");
	snprintf(x, 3 * HB_XFF_MAX_BYTES, "198.51.100.1, 203.0.113.77,%.*s, 10.0.0.2",
	    (int)(HB_XFF_MAX_BYTES - strlen("3.0.113.77,, 10.0.0.2")), pad);
	is_int(strlen(x) - HB_XFF_MAX_BYTES, cut,
	    "overlong: the cut falls inside \"203.0.113.77\"");
	is_str(client(PROXIES, "127.0.0.1", x), "10.0.0.2",
	    "overlong: the entry the cut splits is dropped, not read");
	free(x);
	x = malloc(3 * HB_XFF_MAX_BYTES);
	if (x == NULL)
		abort();
	snprintf(x, 3 * HB_XFF_MAX_BYTES, "203.0.113.9%s", pad);
	is_str(client(PROXIES, "127.0.0.1", x), "127.0.0.1",
	    "overlong: no comma in the last %d bytes: the peer",
	    HB_XFF_MAX_BYTES);
	free(x);
	free(pad);
}

static void
test_every_response(void)
{
	ok(all.responses > 100, "all: %d responses were checked", all.responses);
	is_int(all.status_mismatch, 0,
	    "all: http_dispatch returned the status it sent");
	is_int(all.not_well_formed, 0,
	    "all: every response has a header block ended by a blank line");
	is_int(all.no_request_id, 0, "all: every response has an X-Request-ID");
	is_int(all.missing_security, 0,
	    "all: every response has each security header exactly once");
	is_int(all.acao_star, 0, "all: Access-Control-Allow-Origin is never '*'");
	is_int(all.bad_length, 0,
	    "all: Content-Length matches every body; 204s have none");
}

int
main(void)
{
	plan(763);
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_body = 65536;
	cfg.hsts = false;
	arena_init(&arena);

	test_basics();
	test_path();
	test_query();
	test_request_id();
	test_errors();
	test_server_errors();
	test_methods();
	test_cors();
	test_hsts();
	test_body_size_and_type();
	test_body_json();
	test_form();
	test_route_params();
	test_if_match();
	test_path_uuid_etag();
	test_status_result();
	test_client_addr();
	test_every_response();

	arena_free(&arena);
	return done_testing();
}
