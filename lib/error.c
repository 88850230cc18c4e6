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
