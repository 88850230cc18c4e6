#ifndef HB_LOG_H
#define HB_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

struct hb_request;
struct hb_trace;

/* Log lines go to out (the web server's error log); debug adds debug lines. */
void	log_init(FILE *out, bool debug);
bool	log_debug_enabled(void);
/*
 * The trace of the lines logged without a request (a worker's job run):
 * borrowed until set again; NULL for none. A request's lines carry the
 * request's own trace.
 */
void	log_trace_set(const struct hb_trace *t);

/* The one line every request ends with. */
void	log_request(const struct hb_request *r);
/*
 * A line of level ("debug", "info", "warn", "error") with msg and optional
 * fields, which are redacted and released. r may be NULL.
 */
void	log_event(const struct hb_request *r, const char *level,
	    const char *msg, struct json_object *fields);

/* Whether a field of this name may hold a secret. */
bool	log_key_is_secret(const char *key);
/* Replaces, in place and recursively, the value of every secret field. */
void	log_redact(struct json_object *obj);
/* Replaces bearer tokens, JWTs and API keys inside free text, in place. */
void	log_redact_text(char *s);

#endif
