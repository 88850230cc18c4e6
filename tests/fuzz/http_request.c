/*
 * The request path as a FastCGI program runs it: http_request_init and
 * http_dispatch over the in-memory FastCGI fake of the unit tests, with a
 * route table whose handlers read route parameters, the query (a page
 * cursor and limit included), the form, headers and the JSON body.
 *
 * An input is FastCGI parameters, one "NAME=value" a line, then a blank
 * line, then the body:
 *
 *	REQUEST_METHOD=POST
 *	REQUEST_URI=/api/v1/things/42?limit=5
 *	CONTENT_TYPE=application/json
 *	CONTENT_LENGTH=11
 *
 *	{"a": true}
 *
 * Every response must be what the unit tests demand of every response: a
 * well-formed header block, the status http_dispatch returned, one
 * X-Request-ID, and a Content-Length that matches the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fakecgi.h"
#include "http.h"
#include "json.h"
#include "page.h"
#include "validate.h"

#define MAX_PARAMS	32

static struct hb_config cfg;
static struct hb_arena arena;

static int
h_echo(struct hb_request *r, struct hb_app *app)
{
	struct json_object *o = json_object_new_object();

	(void)app;
	json_object_object_add(o, "path", json_object_new_string(r->path));
	json_object_object_add(o, "id", json_object_new_string(
	    http_route_param(r, "id") != NULL ? http_route_param(r, "id") : ""));
	json_object_object_add(o, "ua",
	    json_object_new_string(http_user_agent(r)));
	json_object_object_add(o, "client",
	    json_object_new_string(r->remote_addr));
	json_object_object_add(o, "q", json_object_new_string(
	    http_query(r, "q") != NULL ? http_query(r, "q") : ""));
	if (http_header(r, "Cookie") != NULL)
		json_object_object_add(o, "cookie", json_object_new_string(
		    http_header(r, "Cookie")));
	if (r->json != NULL)
		json_object_object_add(o, "body", json_object_get(r->json));
	return http_json(r, 200, o);
}

static int
h_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_page p;
	const char *next;

	(void)app;
	if (page_parse(r, "things", http_route_param(r, "org"), &p,
	    &r->err) == -1)
		return -1;
	next = p.after ? page_cursor(r, p.kind, p.scope, p.ts, p.id) : NULL;
	return http_send_page(r, json_object_new_array(), next);
}

static int
h_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;
	const char *email, *pw;

	(void)app;
	json_check_begin(&c, r->json);
	email = validate_email(&c, r->arena, "email", true);
	pw = json_get_string(&c, "password", false, 1, 1024);
	validate_new_password(&c, &cfg, "password", pw, email);
	json_get_int(&c, "limit", false, 1, 200, 50);
	json_get_bool(&c, "admin", false, false);
	json_get_object(&c, "meta", false);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
h_login(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c = { NULL, json_object_new_array() };

	(void)app;
	validate_form_text(&c, "email", http_form(r, "email"), 254);
	validate_form_text(&c, "password", http_form(r, "password"), 72);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	return http_json(r, 200, json_object_new_object());
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/things", h_echo, 0 },
	{ "POST", "/api/v1/things", h_create, 0 },
	{ "GET", "/api/v1/things/{id}", h_echo, 0 },
	{ "PATCH", "/api/v1/things/{id}", h_echo, 0 },
	{ "DELETE", "/api/v1/things/{id}", h_echo, HB_ROUTE_QUIET },
	{ "GET", "/api/v1/orgs/{org}/things", h_list, 0 },
	{ "GET", "/api/v1/orgs/{org}/members/{user}", h_echo, 0 },
	{ "POST", "/api/v1/auth/login", h_login, HB_ROUTE_FORM },
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hb_error err = {0};

	(void)argc;
	(void)argv;
	cfg.max_body = 65536;
	cfg.hsts = true;
	cfg.password_min_length = 10;
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "fuzz-secret-key-0123456789abcdef0123456789");
	snprintf(cfg.cors_origins, sizeof(cfg.cors_origins), "%s",
	    "https://app.example.com, http://localhost:5173");
	if (cidr_list_parse(&cfg.trusted_proxies,
	    "127.0.0.1/32,10.0.0.0/8,::1/128", &err) == -1)
		abort();
	arena_init(&arena);
	return 0;
}

/* The response must hold what every response of Homebot holds. */
static void
check_response(const struct fake_io *io, int rc)
{
	struct fake_response resp;
	const char *cl;

	fake_response_parse(&resp, io->out != NULL ? io->out : "",
	    io->out_len);
	if (!resp.well_formed || resp.status != rc ||
	    fake_header_count(&resp, "X-Request-ID") != 1 ||
	    !http_valid_request_id(fake_header(&resp, "X-Request-ID")))
		abort();
	cl = fake_header(&resp, "Content-Length");
	if (resp.status != 204 && resp.body_len != 0 &&
	    (cl == NULL || strtoul(cl, NULL, 10) != resp.body_len))
		abort();
	fake_response_free(&resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *eol;
	char *envp[MAX_PARAMS + 1];
	struct fake_io io = {0};
	struct hb_io hio = { fake_read, fake_write, &io };
	struct hb_request r;
	struct hb_error err = {0};
	int n = 0, rc;

	while (p < end && n < MAX_PARAMS) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (eol == p) {
			p++;
			break;
		}
		envp[n++] = fake_strndup(p, (size_t)(eol - p));
		p = eol < end ? eol + 1 : end;
	}
	envp[n] = NULL;
	io.in = p;
	io.in_len = (size_t)(end - p);
	io.chunk = io.in_len % 7 == 3 ? 5 : 0;

	if (http_request_init(&r, &arena, envp, &hio, &cfg, &err) == -1)
		rc = http_error(&r, &err);
	else
		rc = http_dispatch(&r, routes, sizeof(routes) / sizeof(routes[0]),
		    NULL);
	check_response(&io, rc);
	hb_error_clear(&err);
	http_request_done(&r);
	arena_reset(&arena);
	fake_io_free(&io);
	for (int i = 0; i < n; i++)
		free(envp[i]);
	return 0;
}
