#ifndef HB_JSON_H
#define HB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

/*
 * Reads typed fields of a JSON request body. Each problem found is added
 * to the details list; json_check_done() turns a non-empty list into the
 * 422 validation_failed answer.
 */
struct hb_json_check {
	struct json_object *body;	/* borrowed */
	struct json_object *details;	/* owned until json_check_done() */
};

/* Starts a check of body, which must be a JSON object. */
void	 json_check_begin(struct hb_json_check *c, struct json_object *body);
void	 json_check_fail(struct hb_json_check *c, const char *field,
	    const char *message);
/* 0 when every field was valid, else -1 with a 422 in err. */
int	 json_check_done(struct hb_json_check *c, struct hb_error *err);

/*
 * A string field of min..max bytes of valid UTF-8 without NUL; NULL when
 * absent (a failure if required) or invalid. The result is borrowed.
 */
const char *json_get_string(struct hb_json_check *c, const char *field,
	    bool required, size_t min, size_t max);
/* An integer field in min..max; def when absent and not required. */
int64_t	 json_get_int(struct hb_json_check *c, const char *field,
	    bool required, int64_t min, int64_t max, int64_t def);
bool	 json_get_bool(struct hb_json_check *c, const char *field,
	    bool required, bool def);
/* A JSON object field; NULL when absent. The result is borrowed. */
struct json_object *json_get_object(struct hb_json_check *c,
	    const char *field, bool required);

bool	 json_utf8_valid(const char *s, size_t n);
/*
 * Whether s[0..n) is one JSON text as RFC 8259 defines it, nested at most
 * max_depth deep. json-c's strict mode still takes NaN, Infinity, single
 * quotes and raw control characters, which PostgreSQL's jsonb refuses.
 */
bool	 json_text_valid(const char *s, size_t n, int max_depth);
/*
 * For text that json_text_valid() accepted and json-c parsed into root:
 * false when an object of the text gives a key more than once (json-c
 * keeps one of them, so its objects have fewer members than the text).
 */
bool	 json_keys_unique(const char *s, size_t n, struct json_object *root);
/* A number printed with three decimals (durations in ms), not 17 digits. */
struct json_object *json_new_ms(double ms);

#endif
