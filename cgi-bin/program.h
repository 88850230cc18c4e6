#ifndef HB_PROGRAM_H
#define HB_PROGRAM_H

/*
 * What every program shares: its main(), and the one rule for answering.
 *
 * A handler parses the request, authenticates and authorizes, calls lib/
 * for the data, and shapes the answer. It answers through an http_
 * answer function (http_json, http_no_content, http_not_modified,
 * http_send_page) or a send_* helper built on them, and returns what that
 * returned; on any failure it returns -1 with r->err set and writes
 * nothing, and the dispatcher answers r->err. No handler rolls back:
 * lib/ owns its transactions, and app.c rolls back whatever a request
 * left open.
 */
#include <stdio.h>
#include <unistd.h>

#include "app.h"
#include "page.h"

#define PROGRAM(app_name, route_table) \
	int main(void) \
	{ \
		struct hb_app app = { .name = (app_name), \
		    .routes = (route_table), \
		    .nroutes = sizeof(route_table) / sizeof((route_table)[0]) }; \
		return program_main(&app); \
	}

/*
 * Stops a program that cannot serve without taking the others down: its
 * one clear line, then a second alive before it exits. lighttpd counts a
 * program that exits within moments of its start as one it cannot start,
 * and then refuses to start itself, with every other program; one that
 * dies later it restarts every second, as any other.
 */
static inline int
program_stop_alone(const char *name, const char *message)
{
	fprintf(stderr, "%s: %s\n", name, message);
	fflush(stderr);
	sleep(1);
	return 1;
}

/* A setting that cannot be used stops the program with one clear line. */
static inline int
program_main(struct hb_app *app)
{
	struct hb_error err = {0};
	int rc;

	if (app_init(app, &err) == -1) {
		fprintf(stderr, "%s: %s\n", app->name, err.message);
		return 1;
	}
	rc = app_run(app);
	app_free(app);
	return rc;
}

/* Answers {"message": message} with status (202: a mail is on its way). */
static inline int
send_message(struct hb_request *r, int status, const char *message)
{
	struct json_object *body = json_object_new_object();

	json_object_object_add(body, "message",
	    json_object_new_string(message));
	return http_json(r, status, body);
}

/*
 * Answers one page of a collection; rows->data is released. A page with
 * more after it but no cursor to them is a 500, never a last page.
 */
static inline int
send_rows(struct hb_request *r, const struct hb_page *page,
    struct hb_rows *rows)
{
	const char *next = page_next_cursor(r, page, rows);
	struct json_object *data = rows->data;

	rows->data = NULL;
	if (rows->more && next == NULL) {
		json_object_put(data);
		return hb_fail_internal(&r->err);
	}
	return http_send_page(r, data, next);
}

#endif
