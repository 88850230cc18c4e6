#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "log.h"

#define REDACTED	"[REDACTED]"

static FILE	*log_out;
static bool	 log_debug_on;
/* Read once: the programs never fork after log_init(). */
static long	 log_pid;
static const struct hb_trace *log_trace;

void
log_init(FILE *out, bool debug)
{
	log_out = out;
	log_debug_on = debug;
	log_pid = (long)getpid();
}

void
log_trace_set(const struct hb_trace *t)
{
	log_trace = t;
}

bool
log_debug_enabled(void)
{
	return log_debug_on;
}

bool
log_key_is_secret(const char *key)
{
	static const char *const words[] = {
		"password", "passwd", "secret", "token", "authorization",
		"api_key", "apikey", "api-key", "cookie", "key_hash", "hash",
		"credential", "private",
	};
	char low[64];
	size_t i;

	if (strcasecmp(key, "key") == 0)
		return true;
	for (i = 0; i < sizeof(low) - 1 && key[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[i] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]) != NULL)
			return true;
	return false;
}

/* A token pasted into an ordinary text field is redacted too. */
static void
redact_string_field(struct json_object *obj, const char *key,
    struct json_object *val)
{
	char *copy = strdup(json_object_get_string(val));

	if (copy == NULL)
		return;
	log_redact_text(copy);
	if (strcmp(copy, json_object_get_string(val)) != 0)
		json_object_object_add(obj, key, json_object_new_string(copy));
	free(copy);
}

void
log_redact(struct json_object *obj)
{
	size_t n;

	if (json_object_is_type(obj, json_type_array)) {
		n = json_object_array_length(obj);
		for (size_t i = 0; i < n; i++)
			log_redact(json_object_array_get_idx(obj, i));
		return;
	}
	if (!json_object_is_type(obj, json_type_object))
		return;
	json_object_object_foreach(obj, key, val) {
		if (log_key_is_secret(key))
			json_object_object_add(obj, key,
			    json_object_new_string(REDACTED));
		else if (json_object_is_type(val, json_type_string))
			redact_string_field(obj, key, val);
		else
			log_redact(val);
	}
}

static bool
token_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	    c == '+' || c == '/' || c == '=';
}

/* Overwrites the token starting at p with REDACTED, keeping the rest. */
static void
redact_at(char *p)
{
	char *end = p;
	size_t rlen = strlen(REDACTED), tlen;

	while (token_char(*end))
		end++;
	tlen = (size_t)(end - p);
	if (tlen < rlen) {
		memset(p, '*', tlen);
		return;
	}
	memcpy(p, REDACTED, rlen);
	memmove(p + rlen, end, strlen(end) + 1);
}

void
log_redact_text(char *s)
{
	static const char *const marks[] = { "Bearer ", "bearer ", "eyJ",
	    "hb_" };
	char *p;

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		size_t mlen = strlen(marks[i]);
		bool keep = marks[i][mlen - 1] == ' ';

		for (p = strstr(s, marks[i]); p != NULL;
		    p = strstr(p + 1, marks[i])) {
			/* "jwt=eyJ…" is a token too; "xeyJ" is inside a word. */
			if (p > s && isalnum((unsigned char)p[-1]) && !keep)
				continue;
			redact_at(keep ? p + mlen : p);
		}
	}
}

static void
now_rfc3339(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, outsz - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void
emit(struct json_object *line)
{
	size_t n;
	const char *text;
	char *buf;

	if (log_out == NULL)
		return;
	text = json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(text);
	/*
	 * The line and its newline in one write: several processes append to
	 * one log, and two writes could let another process's line between.
	 */
	buf = malloc(n + 2);
	if (buf == NULL)
		return;
	memcpy(buf, text, n);
	buf[n] = '\n';
	fwrite(buf, 1, n + 1, log_out);
	fflush(log_out);
	free(buf);
}

static struct json_object *
line_new(const char *level, const struct hb_request *r)
{
	struct json_object *line = json_object_new_object();
	const struct hb_trace *t = r != NULL ? &r->trace : log_trace;
	char ts[40];

	now_rfc3339(ts, sizeof(ts));
	json_object_object_add(line, "ts", json_object_new_string(ts));
	json_object_object_add(line, "level", json_object_new_string(level));
	json_object_object_add(line, "pid", json_object_new_int64(log_pid));
	if (r != NULL)
		json_object_object_add(line, "request_id",
		    json_object_new_string(r->request_id));
	if (t != NULL) {
		json_object_object_add(line, "trace_id",
		    json_object_new_string(t->trace_id));
		json_object_object_add(line, "span_id",
		    json_object_new_string(t->span_id));
	}
	return line;
}

static double
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 +
	    (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Appends s as a JSON string (quotes included) to buf[*used..n). */
static void
put_json_string(char *buf, size_t n, size_t *used, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t u = *used;
	/* Bytes of invalid UTF-8 are escaped one by one, keeping JSON valid. */
	bool utf8 = json_utf8_valid(s, strlen(s));

	if (u + 2 >= n)
		return;
	buf[u++] = '"';
	for (; *s != '\0' && u + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[u++] = '\\';
			buf[u++] = (char)c;
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			memcpy(buf + u, "\\u00", 4);
			buf[u + 4] = hex[c >> 4];
			buf[u + 5] = hex[c & 15];
			u += 6;
		} else
			buf[u++] = (char)c;
	}
	buf[u++] = '"';
	*used = u;
}

static void
put_raw(char *buf, size_t n, size_t *used, const char *s)
{
	size_t len = strlen(s);

	if (*used + len < n) {
		memcpy(buf + *used, s, len);
		*used += len;
	}
}

/*
 * The path is the one field of the request line a client can make long:
 * it is cut to PATH_LOG_MAX bytes (escaped up to six times that), so the
 * fields after it and the line's end always fit in the buffer.
 */
#define PATH_LOG_MAX	200

static void
put_json_path(char *line, size_t *used, const char *path)
{
	char cut[PATH_LOG_MAX + 4];
	size_t n = strlen(path);

	if (n <= PATH_LOG_MAX) {
		put_json_string(line, 1400, used, path);
		return;
	}
	/* Back off to a character boundary before appending "...". */
	n = PATH_LOG_MAX;
	while (n > 0 && ((unsigned char)path[n] & 0xc0) == 0x80)
		n--;
	memcpy(cut, path, n);
	memcpy(cut + n, "...", 4);
	put_json_string(line, 1400, used, cut);
}

/*
 * The request line is formatted by hand rather than through json-c: it
 * is written once per request, on the hot path of every endpoint. Only
 * bytes of valid UTF-8 strings reach it (the path is escaped as JSON).
 */
/* The cause of a failure: the SQLSTATE and the message, redacted. */
static void
put_fault(char *line, size_t size, size_t *u, const struct hb_request *r)
{
	char cause[sizeof(r->fault)];

	snprintf(cause, sizeof(cause), "%s", r->fault);
	log_redact_text(cause);
	if (r->fault_state[0] != '\0') {
		put_raw(line, size, u, ",\"sqlstate\":");
		put_json_string(line, size, u, r->fault_state);
	}
	put_raw(line, size, u, ",\"cause\":");
	put_json_string(line, size, u, cause);
}

void
log_request(const struct hb_request *r)
{
	char line[2048], ts[40], num[64];
	size_t u = 0;
	const char *level = r->status >= 500 ? "error" :
	    r->status >= 400 ? "warn" : "info";

	if (log_out == NULL)
		return;
	now_rfc3339(ts, sizeof(ts));
	put_raw(line, sizeof(line), &u, "{\"ts\":\"");
	put_raw(line, sizeof(line), &u, ts);
	put_raw(line, sizeof(line), &u, "\",\"level\":\"");
	put_raw(line, sizeof(line), &u, level);
	put_raw(line, sizeof(line), &u, "\",\"request_id\":");
	put_json_string(line, sizeof(line), &u, r->request_id);
	/* Both are hex the request's trace was checked or made to be. */
	put_raw(line, sizeof(line), &u, ",\"trace_id\":\"");
	put_raw(line, sizeof(line), &u, r->trace.trace_id);
	put_raw(line, sizeof(line), &u, "\",\"span_id\":\"");
	put_raw(line, sizeof(line), &u, r->trace.span_id);
	put_raw(line, sizeof(line), &u, "\",\"method\":");
	put_json_string(line, sizeof(line), &u,
	    strlen(r->method) <= 32 ? r->method : "(too long)");
	put_raw(line, sizeof(line), &u, ",\"path\":");
	put_json_path(line, &u, r->path);
	snprintf(num, sizeof(num), ",\"status\":%d,\"duration_ms\":%.3f,\"pid\":%ld",
	    r->status, elapsed_ms(&r->started), log_pid);
	put_raw(line, sizeof(line), &u, num);
	if (r->program != NULL) {
		put_raw(line, sizeof(line), &u, ",\"program\":");
		put_json_string(line, sizeof(line), &u, r->program);
	}
	put_raw(line, sizeof(line), &u, ",\"remote_addr\":");
	put_json_string(line, sizeof(line), &u, r->remote_addr);
	/* Behind a trusted proxy, the proxy that forwarded the request. */
	if (r->peer_addr != NULL && strcmp(r->peer_addr, r->remote_addr) != 0) {
		put_raw(line, sizeof(line), &u, ",\"peer_addr\":");
		put_json_string(line, sizeof(line), &u, r->peer_addr);
	}
	if (r->org_id[0] != '\0') {
		put_raw(line, sizeof(line), &u, ",\"org_id\":");
		put_json_string(line, sizeof(line), &u, r->org_id);
	}
	if (r->user_id[0] != '\0') {
		put_raw(line, sizeof(line), &u, ",\"user_id\":");
		put_json_string(line, sizeof(line), &u, r->user_id);
	}
	if (r->fault[0] != '\0')
		put_fault(line, sizeof(line), &u, r);
	put_raw(line, sizeof(line), &u, "}\n");
	fwrite(line, 1, u, log_out);
	fflush(log_out);
}

void
log_event(const struct hb_request *r, const char *level, const char *msg,
    struct json_object *fields)
{
	struct json_object *line;
	char text[1024];

	if (strcmp(level, "debug") == 0 && !log_debug_on) {
		json_object_put(fields);
		return;
	}
	line = line_new(level, r);
	snprintf(text, sizeof(text), "%s", msg);
	log_redact_text(text);
	json_object_object_add(line, "msg", json_object_new_string(text));
	if (fields != NULL) {
		log_redact(fields);
		json_object_object_add(line, "fields", fields);
	}
	emit(line);
	json_object_put(line);
}
