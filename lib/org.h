#ifndef HB_ORG_H
#define HB_ORG_H

#include "db.h"
#include "error.h"
#include "page.h"

/*
 * Organizations (api.md §3). An organization is answered as a JSON
 * object {id, name, slug, settings, created_at} the caller owns. Every
 * call returns 0 or -1 with err set.
 */

/* ctx's user's organizations, each {id, name, slug, role, created_at}. */
int	org_list_mine(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);
/* A new organization owned by ctx's user (slug NULL: from the name). */
int	org_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *name, const char *slug, struct json_object **org,
	    struct hb_error *err);
/* ctx's organization: 404 not_found. */
int	org_current(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct json_object **org, struct hb_error *err);
/* Changes ctx's organization's name and/or settings (JSON); audited. */
int	org_update(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *name, const char *settings_json,
	    struct json_object **org, struct hb_error *err);

#endif
