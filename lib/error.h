#ifndef HB_ERROR_H
#define HB_ERROR_H

#include <json-c/json.h>

/*
 * An error a handler answers with: the HTTP status, the stable code of
 * api.md, a human message and, for 422 only, the validation details.
 */
struct hb_error {
	int		 status;
	char		 code[48];
	char		 message[256];
	struct json_object *details;	/* owned; NULL unless 422 */
	int		 retry_after;	/* seconds; 0 = no Retry-After header */
};

/* Sets *err and returns -1, so callers can "return hb_fail(...)". */
int	hb_fail(struct hb_error *err, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	hb_error_clear(struct hb_error *err);
/* 500 internal_error, the server's own fault; returns -1. */
int	hb_fail_internal(struct hb_error *err);
/* 404 not_found "No such <noun>."; returns -1. */
int	hb_fail_missing(struct hb_error *err, const char *noun);
/* 412 precondition_failed: the <noun> changed since If-Match; -1. */
int	hb_fail_stale(struct hb_error *err, const char *noun);
/*
 * The answer of a database function that reports 'ok', 'stale' or
 * 'not_found' (status NULL: not_found): 0, or -1 with 412 or 404 set.
 */
int	hb_status_result(const char *status, const char *noun,
	    struct hb_error *err);

#endif
