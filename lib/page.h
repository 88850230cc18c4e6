#ifndef HB_PAGE_H
#define HB_PAGE_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "http.h"

#define HB_PAGE_DEFAULT	50
#define HB_PAGE_MAX	200

/* One page of a collection, newest first, keyed on (created_at, id). */
struct hb_page {
	int		 limit;
	bool		 after;		/* a cursor was given */
	char		 ts[40];	/* its created_at */
	char		 id[37];	/* its id */
};

/*
 * Reads ?limit= (1..200, else 422) and ?cursor= (else 400 invalid_cursor).
 * A cursor is signed for one collection kind and one scope (organization
 * or user), so one from another endpoint or organization is refused.
 */
int	 page_parse(struct hb_request *r, const char *kind, const char *scope,
	    struct hb_page *p, struct hb_error *err);
/* The opaque cursor after the row (ts, id), in the arena. */
const char *page_cursor(struct hb_request *r, const char *kind,
	    const char *scope, const char *ts, const char *id);
/* Shapes row i of a result as one item of a collection. */
typedef struct json_object *(*hb_row_fn)(PGresult *res, int i);

/*
 * Runs one page of a collection and answers it: sql's parameters are
 * params[0..nextra) and then the page's created-at, id and limit + 1,
 * which this fills in. Column 0 of the result is the id and column ts_col
 * the created-at that key the next page. Returns the status sent.
 */
int	 page_run(struct hb_request *r, struct hb_db *db,
	    const struct hb_db_ctx *ctx, const struct hb_page *p,
	    const char *kind, const char *scope, const char *sql,
	    const char **params, int nextra, int ts_col, hb_row_fn row);

/* Sends {"data": data, "next_cursor": cursor or null}; releases data. */
int	 page_send(struct hb_request *r, struct json_object *data,
	    const char *next_cursor);

#endif
