#ifndef HB_PAGE_H
#define HB_PAGE_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "http.h"

#define HB_PAGE_DEFAULT	50
#define HB_PAGE_MAX	200

/*
 * One page of a collection, newest first, keyed on (created_at, id). A
 * cursor is signed for one collection kind and one scope (organization,
 * user or "platform"), so one from another endpoint or organization is
 * refused.
 */
struct hb_page {
	const char	*kind;		/* borrowed */
	const char	*scope;		/* borrowed */
	int		 limit;
	bool		 after;		/* a cursor was given */
	char		 ts[40];	/* its created_at */
	char		 id[37];	/* its id */
};

/* What a data module read for one page. */
struct hb_rows {
	struct json_object *data;	/* owned: the page's items */
	bool		 more;		/* there is a next page */
	char		 last_ts[40];	/* the keys of its last item */
	char		 last_id[37];
};

/*
 * Reads ?limit= (1..200, else 422) and ?cursor= (else 400 invalid_cursor)
 * for the collection kind in scope.
 */
int	 page_parse(struct hb_request *r, const char *kind, const char *scope,
	    struct hb_page *p, struct hb_error *err);

/*
 * Runs one page of a collection under ctx and collects it into rows: sql's
 * parameters are params[0..nextra), then the page's keyset parameters
 * (the cursor's created-at and id, and limit + 1), which this writes to
 * params[nextra..nextra+2]. The items are db_row_json() objects; the keys
 * of the last one come from the columns named ts_col and id_col (which
 * may be "_" columns).
 */
int	 page_query(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, const char *sql, const char **params,
	    int nextra, const char *ts_col, const char *id_col,
	    struct hb_rows *rows, struct hb_error *err);

/*
 * The opaque cursor after the row (ts, id), in the arena; NULL if too
 * long, or when no memory or no MAC could be had.
 */
const char *page_cursor(struct hb_request *r, const char *kind,
	    const char *scope, const char *ts, const char *id);
/*
 * The opaque cursor after rows (in the arena), or NULL on the last page,
 * and also when there is a next page but no cursor to it: the last row
 * had no position a cursor can hold, or page_cursor() failed. Check
 * rows->more.
 */
const char *page_next_cursor(struct hb_request *r, const struct hb_page *p,
	    const struct hb_rows *rows);

#endif
