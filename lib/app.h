#ifndef HB_APP_H
#define HB_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "auth_jwt.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "http.h"

/* One FastCGI program: its routes, its configuration, its connection. */
struct hb_app {
	const char		*name;
	const struct hb_route	*routes;
	size_t			 nroutes;
	bool			 admin_db;	/* connect as ADMIN_DATABASE_URL */
	/*
	 * When set, judges every request before routing: -1 with r->err set
	 * answers that error instead, whatever the method, path or body.
	 */
	int			(*admit)(struct hb_request *r, struct hb_app *app);
	struct hb_config	 cfg;
	struct hb_db		*db;	/* owned; connects on first use */
	struct hb_jwt_keys	 keys;	/* owned */
};

/*
 * Loads the configuration and prepares the (not yet opened) database
 * handle. Returns 0, or -1 with err->message the one line to stop with.
 */
int	app_init(struct hb_app *app, struct hb_error *err);
/* Serves FastCGI requests until the web server stops the program. */
int	app_run(struct hb_app *app);
void	app_free(struct hb_app *app);

#endif
