#ifndef HB_PROGRAM_H
#define HB_PROGRAM_H

/* The main() every program shares: load the configuration, then serve. */
#include <stdio.h>

#include "app.h"

#define PROGRAM(app_name, route_table) \
	int main(void) \
	{ \
		struct hb_app app = { .name = (app_name), \
		    .routes = (route_table), \
		    .nroutes = sizeof(route_table) / sizeof((route_table)[0]) }; \
		return program_main(&app); \
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

#endif
