#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int
hb_fail(struct hb_error *err, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	hb_error_clear(err);
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (status == 503)
		err->retry_after = 5;
	return -1;
}

void
hb_error_clear(struct hb_error *err)
{
	if (err == NULL)
		return;
	json_object_put(err->details);
	memset(err, 0, sizeof(*err));
}

int
hb_fail_internal(struct hb_error *err)
{
	return hb_fail(err, 500, "internal_error",
	    "The request could not be completed.");
}

int
hb_fail_missing(struct hb_error *err, const char *noun)
{
	return hb_fail(err, 404, "not_found", "No such %s.", noun);
}

int
hb_fail_stale(struct hb_error *err, const char *noun)
{
	return hb_fail(err, 412, "precondition_failed", "The %s changed "
	    "since the version If-Match names; read it again.", noun);
}

int
hb_status_result(const char *status, const char *noun, struct hb_error *err)
{
	if (status != NULL && strcmp(status, "ok") == 0)
		return 0;
	if (status != NULL && strcmp(status, "stale") == 0)
		return hb_fail_stale(err, noun);
	return hb_fail_missing(err, noun);
}
