#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "uuid.h"

#define USER_AGENT_MAX	512

static const char *
env_get(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (char **e = envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

const char *
http_header(const struct hb_request *r, const char *name)
{
	char key[128];
	size_t i = 0, j;

	if (strcasecmp(name, "Content-Type") == 0)
		return env_get(r->envp, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return env_get(r->envp, "CONTENT_LENGTH");
	memcpy(key, "HTTP_", 5);
	i = 5;
	for (j = 0; name[j] != '\0' && i < sizeof(key) - 1; j++, i++)
		key[i] = name[j] == '-' ? '_' :
		    (char)toupper((unsigned char)name[j]);
	key[i] = '\0';
	return env_get(r->envp, key);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
http_decode(struct hb_arena *a, const char *s, size_t n, bool plus)
{
	char *out, *o;
	size_t i;
	int hi, lo;

	out = arena_alloc(a, n + 1);
	if (out == NULL)
		return NULL;
	for (i = 0, o = out; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				return NULL;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0') {
			return NULL;
		} else
			*o++ = plus && s[i] == '+' ? ' ' : s[i];
	}
	*o = '\0';
	return out;
}

static bool
kv_has(const struct hb_kv *kv, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return true;
	return false;
}

/*
 * Splits "a=1&b=2" into decoded pairs; returns the count, or -1 for a bad
 * encoding, too many pairs, or a name given twice (which of the two a
 * proxy in front read is anyone's guess).
 */
static int
parse_pairs(struct hb_arena *a, const char *s, struct hb_kv *out, int max)
{
	int n = 0;

	while (*s != '\0') {
		const char *amp = strchr(s, '&'), *eq;
		size_t len = amp != NULL ? (size_t)(amp - s) : strlen(s);

		if (len > 0) {
			if (n == max)
				return -1;
			eq = memchr(s, '=', len);
			if (eq == NULL) {
				out[n].name = http_decode(a, s, len, true);
				out[n].value = "";
			} else {
				out[n].name = http_decode(a, s,
				    (size_t)(eq - s), true);
				out[n].value = http_decode(a, eq + 1,
				    len - (size_t)(eq - s) - 1, true);
			}
			if (out[n].name == NULL || out[n].value == NULL ||
			    kv_has(out, n, out[n].name))
				return -1;
			n++;
		}
		s += len;
		if (*s == '&')
			s++;
	}
	return n;
}

static const char *
kv_get(const struct hb_kv *kv, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

const char *
http_query(const struct hb_request *r, const char *name)
{
	return kv_get(r->query, r->nquery, name);
}

const char *
http_route_param(const struct hb_request *r, const char *name)
{
	return kv_get(r->route, r->nroute, name);
}

const char *
http_form(const struct hb_request *r, const char *name)
{
	return kv_get(r->form, r->nform, name);
}

bool
http_valid_request_id(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= HB_REQUEST_ID_MAX ||
		    !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

/*
 * The User-Agent goes into text columns: it is cut at a character
 * boundary and bytes that are not UTF-8 become '?', so a hostile header
 * can never make the request's statements fail.
 */
const char *
http_user_agent(const struct hb_request *r)
{
	const char *ua = http_header(r, "User-Agent");
	size_t n, i = 0, len;
	char *out;

	if (ua == NULL)
		return "";
	n = strlen(ua);
	if (n <= USER_AGENT_MAX && json_utf8_valid(ua, n))
		return ua;
	out = arena_alloc(r->arena, USER_AGENT_MAX + 1);
	if (out == NULL)
		return "";
	while (i < n) {
		unsigned char c = (unsigned char)ua[i];

		len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (i + len > USER_AGENT_MAX)
			break;
		if (c >= 0x80 && (i + len > n || !json_utf8_valid(ua + i, len))) {
			out[i++] = '?';
			continue;
		}
		memcpy(out + i, ua + i, len);
		i += len;
	}
	out[i] = '\0';
	return out;
}

/*
 * The client's address behind reverse proxies, from REMOTE_ADDR and
 * X-Forwarded-For (every occurrence of the header, joined with commas in
 * order, as the web server hands them over). The rule:
 *
 * 1. If REMOTE_ADDR is not in TRUSTED_PROXIES, it is the client and
 *    X-Forwarded-For is ignored: anyone can send one.
 * 2. Else the entries are walked from the right, blank ones skipped. The
 *    first that is not in TRUSTED_PROXIES is the client.
 * 3. The walk stops at an entry that is not an IP address ("unknown",
 *    "host:port", "[::1]"), after HB_XFF_MAX_HOPS entries, and where the
 *    last HB_XFF_MAX_BYTES bytes of the header begin. When it stops, or
 *    runs out of entries with every one trusted, the last address walked
 *    is the client: the farthest hop that can be believed, or REMOTE_ADDR.
 *
 * Why from the right: each proxy appends the peer it saw to what the
 * request already carried, so the header reads right to left from what
 * our proxies wrote to what the client made up. The first trusted proxy
 * the client reached appended the client's own, untrusted address, and
 * the walk ends there, before anything the client wrote: a forged
 * address, garbage, or padding meant to push the real entries out. That
 * is also why an overlong header is cut at its start, never its end, and
 * why the entry the cut splits is dropped rather than read
 * ("203.0.113.77" cut to "3.0.113.77" would read as an address). Ignoring an overlong header
 * instead would give a client an easy way to share the proxy's address,
 * and with it every other client's rate limit.
 */
static const char *
client_addr(struct hb_request *r, const char *peer, const char *xff)
{
	const struct hb_cidr_list *trusted = &r->cfg->trusted_proxies;
	const char *start, *end, *p, *b, *e;
	char entry[sizeof(r->forwarded_addr)];
	size_t len;
	int hops = 0;

	if (xff == NULL || !cidr_list_contains(trusted, peer))
		return peer;
	len = strlen(xff);
	start = xff;
	if (len > HB_XFF_MAX_BYTES) {
		start = memchr(xff + len - HB_XFF_MAX_BYTES, ',',
		    HB_XFF_MAX_BYTES);
		if (start == NULL)
			return peer;
		start++;
	}
	r->forwarded_addr[0] = '\0';
	for (end = xff + len; end > start && hops < HB_XFF_MAX_HOPS;
	    end = p > start ? p - 1 : start) {
		for (p = end; p > start && p[-1] != ','; p--)
			;
		for (b = p; b < end && (*b == ' ' || *b == '\t'); b++)
			;
		for (e = end; e > b && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e == b)
			continue;
		hops++;
		if ((size_t)(e - b) >= sizeof(entry))
			break;
		memcpy(entry, b, (size_t)(e - b));
		entry[e - b] = '\0';
		if (!cidr_addr_valid(entry))
			break;
		memcpy(r->forwarded_addr, entry, (size_t)(e - b) + 1);
		if (!cidr_list_contains(trusted, entry))
			break;
	}
	return r->forwarded_addr[0] != '\0' ? r->forwarded_addr : peer;
}

static int
parse_uri(struct hb_request *r, const char *uri, struct hb_error *err)
{
	const char *q = strchr(uri, '?'), *path;
	size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);

	if (plen == 0 || uri[0] != '/')
		return hb_fail(err, 400, "malformed_request",
		    "The request path is not valid.");
	path = http_decode(r->arena, uri, plen, false);
	if (path == NULL)
		return hb_fail(err, 400, "malformed_request",
		    "The request path has an invalid escape.");
	r->path = path;
	if (q == NULL)
		return 0;
	r->nquery = parse_pairs(r->arena, q + 1, r->query,
	    HB_MAX_QUERY_PARAMS);
	if (r->nquery < 0) {
		r->nquery = 0;
		return hb_fail(err, 400, "malformed_request",
		    "The query string is not valid.");
	}
	return 0;
}

/*
 * What a web server answers itself, before or instead of a program: the
 * code and message of its envelope, by status.
 */
static const struct {
	int		 status;
	const char	*code;
	const char	*message;
} server_errors[] = {
	{ 400, "malformed_request", "The request is malformed." },
	{ 403, "forbidden", "Access to this resource is forbidden." },
	{ 404, "not_found", "No such resource." },
	{ 405, "method_not_allowed", "This method is not allowed here." },
	{ 408, "request_timeout", "The request did not arrive in time." },
	{ 411, "length_required",
	    "A request with a body must send Content-Length." },
	{ 413, "payload_too_large",
	    "The body is larger than the server accepts." },
	{ 414, "uri_too_long", "The request URI is too long." },
	{ 416, "range_not_satisfiable",
	    "The requested range cannot be served." },
	{ 417, "expectation_failed", "The Expect header cannot be met." },
	{ 431, "headers_too_large", "The request headers are too large." },
	{ 500, "internal_error", "The request could not be completed." },
	{ 501, "not_implemented",
	    "This method or transfer coding is not supported." },
	{ 502, "bad_gateway", "The service behind the web server failed." },
	{ 503, "service_unavailable",
	    "The service is unavailable; try again shortly." },
	{ 504, "gateway_timeout", "The service did not answer in time." },
	{ 505, "http_version_not_supported",
	    "This HTTP version is not supported." },
};

#define NSERVER_ERRORS	(sizeof(server_errors) / sizeof(server_errors[0]))

int
http_server_status(size_t i)
{
	return i < NSERVER_ERRORS ? server_errors[i].status : 0;
}

int
http_server_error(int status, struct hb_error *err)
{
	for (size_t i = 0; i < NSERVER_ERRORS; i++)
		if (server_errors[i].status == status)
			return hb_fail(err, status, server_errors[i].code, "%s",
			    server_errors[i].message);
	if (status >= 400 && status < 500)
		return hb_fail(err, status, "request_refused",
		    "The web server refused the request.");
	return hb_fail(err, status >= 500 && status <= 599 ? status : 500,
	    "internal_error", "The request could not be completed.");
}

/* REDIRECT_STATUS as an error status, or 0 when it is none. */
static int
redirect_status(const char *s)
{
	if (s == NULL || strlen(s) != 3 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
		return 0;
	return atoi(s) >= 400 && atoi(s) <= 599 ? atoi(s) : 0;
}

int
http_request_init(struct hb_request *r, struct hb_arena *arena, char **envp,
    const struct hb_io *io, const struct hb_config *cfg,
    struct hb_error *err)
{
	const char *rid, *uri;
	struct hb_error ignored = {0};
	int refused;

	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	r->arena = arena;
	r->envp = envp;
	r->cfg = cfg;
	r->io = *io;
	r->status = 0;
	r->method = env_get(envp, "REQUEST_METHOD");
	if (r->method == NULL)
		r->method = "";
	r->peer_addr = env_get(envp, "REMOTE_ADDR");
	if (r->peer_addr == NULL)
		r->peer_addr = "";
	r->remote_addr = client_addr(r, r->peer_addr,
	    http_header(r, "X-Forwarded-For"));
	r->origin = http_header(r, "Origin");
	r->path = "/";
	rid = http_header(r, "X-Request-ID");
	if (http_valid_request_id(rid))
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	else
		uuid_new(r->request_id);
	trace_begin(&r->trace, http_header(r, "traceparent"),
	    http_header(r, "tracestate"));
	uri = env_get(envp, "REQUEST_URI");
	if (uri == NULL)
		uri = env_get(envp, "SCRIPT_NAME");
	/*
	 * A request the web server refused itself, or could not hand to its
	 * program, comes here through the server's error handler (lighttpd's
	 * server.error-handler) with the status in REDIRECT_STATUS: it gets
	 * the envelope of that status, whatever the request was. Its path,
	 * when it has one, is for the log line.
	 */
	refused = redirect_status(env_get(envp, "REDIRECT_STATUS"));
	if (refused != 0) {
		if (uri != NULL && parse_uri(r, uri, &ignored) == -1)
			r->path = "/";
		hb_error_clear(&ignored);
		return http_server_error(refused, err);
	}
	if (uri == NULL)
		return hb_fail(err, 400, "malformed_request",
		    "The request has no path.");
	return parse_uri(r, uri, err);
}

void
http_request_done(struct hb_request *r)
{
	json_object_put(r->json);
	r->json = NULL;
	hb_error_clear(&r->err);
}

/* Matches "/a/{id}" against path, capturing into r->route. */
static bool
pattern_match(struct hb_request *r, const char *pat, const char *path)
{
	r->nroute = 0;
	while (*pat != '\0' && *path != '\0') {
		if (*pat == '{') {
			const char *pe = strchr(pat, '}');
			const char *se = strchr(path, '/');
			size_t slen = se != NULL ? (size_t)(se - path) :
			    strlen(path);

			if (pe == NULL || slen == 0 ||
			    r->nroute == HB_MAX_ROUTE_PARAMS)
				return false;
			r->route[r->nroute].name = arena_strndup(r->arena,
			    pat + 1, (size_t)(pe - pat - 1));
			r->route[r->nroute].value = arena_strndup(r->arena,
			    path, slen);
			if (r->route[r->nroute].name == NULL ||
			    r->route[r->nroute].value == NULL)
				return false;
			r->nroute++;
			pat = pe + 1;
			path += slen;
		} else if (*pat++ != *path++)
			return false;
	}
	return *pat == '\0' && *path == '\0';
}

static bool
method_is(const char *want, const char *got)
{
	return strcmp(want, got) == 0 ||
	    (strcmp(want, "GET") == 0 && strcmp(got, "HEAD") == 0);
}

/* Builds the Allow header of every route matching the path. */
static void
allow_list(struct hb_request *r, const struct hb_route *routes, size_t n,
    char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!pattern_match(r, routes[i].pattern, r->path) ||
		    strstr(out, routes[i].method) != NULL)
			continue;
		used += (size_t)snprintf(out + used, outsz - used, "%s%s",
		    used > 0 ? ", " : "", routes[i].method);
		if (used >= outsz)
			break;
		if (strcmp(routes[i].method, "GET") == 0)
			used += (size_t)snprintf(out + used, outsz - used,
			    ", HEAD");
		if (used >= outsz)
			break;
	}
	if (out[0] != '\0' && used + 10 < outsz)
		snprintf(out + used, outsz - used, ", OPTIONS");
}

int
http_route(struct hb_request *r, const struct hb_route *routes, size_t n,
    struct hb_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (method_is(routes[i].method, r->method) &&
		    pattern_match(r, routes[i].pattern, r->path)) {
			r->matched = &routes[i];
			return 0;
		}
	}
	allow_list(r, routes, n, r->allow, sizeof(r->allow));
	r->nroute = 0;
	if (r->allow[0] == '\0')
		return hb_fail(err, 404, "not_found",
		    "No such resource.");
	if (strcmp(r->method, "OPTIONS") == 0)
		return 1;
	return hb_fail(err, 405, "method_not_allowed",
	    "This method is not allowed here.");
}

static bool
media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	if (ctype == NULL || strncasecmp(ctype, want, n) != 0)
		return false;
	return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ';
}

static int
read_exact(struct hb_request *r, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		int chunk = len - got > 65536 ? 65536 : (int)(len - got);
		int n = r->io.read(r->io.ctx, buf + got, chunk);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int
parse_json_body(struct hb_request *r, struct hb_error *err)
{
	struct json_tokener *tok;
	size_t end;
	bool parsed;

	/*
	 * json-c lets encoded surrogates, NaN and raw control characters
	 * through; the body must be RFC 8259 JSON in UTF-8 first.
	 */
	if (memchr(r->body, '\0', r->body_len) != NULL ||
	    !json_utf8_valid(r->body, r->body_len) ||
	    !json_text_valid(r->body, r->body_len, HB_JSON_MAX_DEPTH))
		return hb_fail(err, 400, "malformed_json",
		    "The body is not valid JSON.");
	tok = json_tokener_new_ex(HB_JSON_MAX_DEPTH);
	if (tok == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/*
	 * The NUL after the body ends the text, or a top-level number or
	 * literal would wait for more input; "null" parses to NULL, so
	 * success is the tokener's state, not the pointer.
	 */
	r->json = json_tokener_parse_ex(tok, r->body, (int)r->body_len + 1);
	end = json_tokener_get_parse_end(tok);
	parsed = json_tokener_get_error(tok) == json_tokener_success;
	if (parsed) {
		while (end < r->body_len &&
		    strchr(" \t\r\n", r->body[end]) != NULL)
			end++;
	}
	json_tokener_free(tok);
	if (!parsed || end != r->body_len) {
		json_object_put(r->json);
		r->json = NULL;
		return hb_fail(err, 400, "malformed_json",
		    "The body is not valid JSON.");
	}
	/* json-c keeps the last of two equal keys; a proxy may read the first. */
	if (!json_keys_unique(r->body, r->body_len, r->json)) {
		json_object_put(r->json);
		r->json = NULL;
		return hb_fail(err, 400, "malformed_json",
		    "The body gives a key more than once.");
	}
	return 0;
}

int
http_read_body(struct hb_request *r, struct hb_error *err)
{
	const char *cl = http_header(r, "Content-Length");
	const char *ctype = http_header(r, "Content-Type");
	bool form;
	char *end;
	long long len;

	if (cl == NULL || *cl == '\0')
		return 0;
	errno = 0;
	len = strtoll(cl, &end, 10);
	if (!isdigit((unsigned char)cl[0]) || errno != 0 || *end != '\0')
		return hb_fail(err, 400, "malformed_request",
		    "Content-Length is not valid.");
	if (len == 0)
		return 0;
	if (len > r->cfg->max_body)
		return hb_fail(err, 413, "payload_too_large",
		    "The body is larger than %ld bytes.", r->cfg->max_body);
	form = r->matched != NULL && (r->matched->flags & HB_ROUTE_FORM) &&
	    media_type_is(ctype, "application/x-www-form-urlencoded");
	if (!form && !media_type_is(ctype, "application/json"))
		return hb_fail(err, 415, "unsupported_media_type",
		    "The body must be sent as application/json.");
	r->body = arena_alloc(r->arena, (size_t)len + 1);
	if (r->body == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	if (read_exact(r, r->body, (size_t)len) == -1)
		return hb_fail(err, 400, form ? "malformed_request" :
		    "malformed_json", "The body is shorter than Content-Length.");
	r->body_len = (size_t)len;
	if (!form)
		return parse_json_body(r, err);
	if (memchr(r->body, '\0', r->body_len) != NULL)
		return hb_fail(err, 400, "malformed_request",
		    "The form body is not valid.");
	r->form = arena_alloc(r->arena, sizeof(*r->form) * 16);
	if (r->form == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "Out of memory.");
	r->nform = parse_pairs(r->arena, r->body, r->form, 16);
	if (r->nform < 0) {
		r->nform = 0;
		return hb_fail(err, 400, "malformed_request",
		    "The form body is not valid.");
	}
	return 0;
}

void
http_add_header(struct hb_request *r, const char *name, const char *value)
{
	size_t room = sizeof(r->extra) - r->extra_len;
	int n;

	n = snprintf(r->extra + r->extra_len, room, "%s: %s\r\n", name, value);
	if (n > 0 && (size_t)n < room)
		r->extra_len += (size_t)n;
	else
		r->extra[r->extra_len] = '\0';
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Client Error" : "Internal Server Error";
	}
}

static void
cors_headers(struct hb_request *r)
{
	if (!config_origin_allowed(r->cfg, r->origin))
		return;
	http_add_header(r, "Access-Control-Allow-Origin", r->origin);
	http_add_header(r, "Vary", "Origin");
	http_add_header(r, "Access-Control-Expose-Headers",
	    "X-Request-ID, Retry-After, ETag");
	if (strcmp(r->method, "OPTIONS") == 0) {
		http_add_header(r, "Access-Control-Allow-Methods",
		    "GET, POST, PUT, PATCH, DELETE, OPTIONS");
		http_add_header(r, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, X-API-Key, X-Request-ID,"
		    " If-Match, If-None-Match");
		http_add_header(r, "Access-Control-Max-Age", "600");
	}
}

int
http_send(struct hb_request *r, int status, const char *ctype,
    const char *body, size_t len)
{
	char head[4096];
	int n;
	bool head_only = strcmp(r->method, "HEAD") == 0 || status == 204 ||
	    status == 304;

	if (r->sent)
		return r->status;
	cors_headers(r);
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "X-Request-ID: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: %s\r\n"
	    "Cache-Control: %s\r\n"
	    "%s"
	    "%s",
	    status, status_text(status), r->request_id,
	    r->csp != NULL ? r->csp :
	    "default-src 'none'; frame-ancestors 'none'",
	    r->cache_control != NULL ? r->cache_control : "no-store",
	    r->cfg->hsts ?
	    "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
	    : "",
	    r->extra);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (status != 204 && status != 304)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
		    "Content-Type: %s\r\nContent-Length: %zu\r\n",
		    ctype, len);
	if ((size_t)n + 2 >= sizeof(head))
		return -1;
	memcpy(head + n, "\r\n", 3);
	n += 2;
	r->sent = true;
	r->status = status;
	if (r->io.write(r->io.ctx, head, n) != n)
		return status;
	if (!head_only && len > 0)
		r->io.write(r->io.ctx, body, (int)len);
	return status;
}

int
http_json(struct hb_request *r, int status, struct json_object *obj)
{
	const char *s;
	int rc;

	if (obj == NULL) {
		struct hb_error e = {0};

		hb_fail(&e, 503, "service_unavailable", "Out of memory.");
		return http_error(r, &e);
	}
	s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = http_send(r, status, "application/json", s, strlen(s));
	json_object_put(obj);
	return rc;
}

struct json_object *
http_error_envelope(const struct hb_error *err, const char *request_id)
{
	struct json_object *body, *e;

	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(
	    err->code[0] != '\0' ? err->code : "internal_error"));
	json_object_object_add(e, "message", json_object_new_string(
	    err->message[0] != '\0' ? err->message : "Something went wrong."));
	if (request_id != NULL)
		json_object_object_add(e, "request_id",
		    json_object_new_string(request_id));
	if (err->status == 422 && err->details != NULL)
		json_object_object_add(e, "details",
		    json_object_get(err->details));
	body = json_object_new_object();
	json_object_object_add(body, "error", e);
	return body;
}

int
http_error(struct hb_request *r, const struct hb_error *err)
{
	char num[16];
	int status = err->status >= 400 && err->status <= 599 ?
	    err->status : 500;

	if (err->retry_after > 0) {
		snprintf(num, sizeof(num), "%d", err->retry_after);
		http_add_header(r, "Retry-After", num);
	}
	if (status == 401)
		http_add_header(r, "WWW-Authenticate", "Bearer");
	if (status == 405 && r->allow[0] != '\0')
		http_add_header(r, "Allow", r->allow);
	return http_json(r, status, http_error_envelope(err, r->request_id));
}

int
http_send_page(struct hb_request *r, struct json_object *data,
    const char *next_cursor)
{
	struct json_object *body = json_object_new_object();

	json_object_object_add(body, "data", data);
	json_object_object_add(body, "next_cursor", next_cursor != NULL ?
	    json_object_new_string(next_cursor) : NULL);
	return http_json(r, 200, body);
}

long
http_if_match(const char *header)
{
	const char *s = header;
	char *end;
	long v;

	if (s == NULL)
		return HB_IF_MATCH_NONE;
	while (*s == ' ' || *s == '\t')
		s++;
	if (s[0] == '*' && s[strspn(s + 1, " \t") + 1] == '\0')
		return HB_IF_MATCH_ANY;
	if (*s != '"' || !isdigit((unsigned char)s[1]))
		return 0;
	errno = 0;
	v = strtol(s + 1, &end, 10);
	if (errno != 0 || v < 1 || *end != '"' ||
	    end[1 + strspn(end + 1, " \t")] != '\0')
		return 0;
	return v;
}

const char *
http_if_match_param(long if_match, char buf[24])
{
	if (if_match == HB_IF_MATCH_NONE || if_match == HB_IF_MATCH_ANY)
		return NULL;
	/* The versions are integer columns. */
	if (if_match < 1 || if_match > INT_MAX)
		return "0";
	snprintf(buf, 24, "%ld", if_match);
	return buf;
}

const char *
http_path_uuid(struct hb_request *r, const char *name, const char *noun)
{
	const char *id = http_route_param(r, name);

	if (!uuid_valid(id)) {
		hb_fail(&r->err, 404, "not_found", "No such %s.", noun);
		return NULL;
	}
	return id;
}

int
http_json_versioned(struct hb_request *r, int status, struct json_object *obj)
{
	char etag[24];
	struct json_object *v;

	if (json_object_object_get_ex(obj, "version", &v)) {
		snprintf(etag, sizeof(etag), "\"%lld\"",
		    (long long)json_object_get_int64(v));
		http_add_header(r, "ETag", etag);
	}
	return http_json(r, status, obj);
}

int
http_no_content(struct hb_request *r)
{
	return http_send(r, 204, "", "", 0);
}

int
http_not_modified(struct hb_request *r)
{
	return http_send(r, 304, "", "", 0);
}

int
http_dispatch(struct hb_request *r, const struct hb_route *routes, size_t n,
    struct hb_app *app)
{
	struct hb_error err = {0};
	int rc;

	/*
	 * An unknown path is 404 whatever the body; a known path reads and
	 * checks the body (413, 415, 400) before the method is judged, so a
	 * bad body gets the same answer on every endpoint.
	 */
	rc = http_route(r, routes, n, &err);
	if (rc == 1) {
		http_add_header(r, "Allow", r->allow);
		return http_no_content(r);
	}
	if ((rc == -1 && err.status == 405 && http_read_body(r, &err) == -1) ||
	    rc == -1 || http_read_body(r, &err) == -1) {
		rc = http_error(r, &err);
		hb_error_clear(&err);
		return rc;
	}
	(void)r->matched->handler(r, app);
	if (!r->sent)
		http_error(r, &r->err);
	return r->status;
}
