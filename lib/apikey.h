#ifndef HB_APIKEY_H
#define HB_APIKEY_H

#include "arena.h"
#include "db.h"
#include "error.h"
#include "page.h"

/*
 * The API keys of ctx's organization (api.md §3). A key is answered as a
 * JSON object {id, name, prefix, created_at, expires_at, last_used_at,
 * created_by, scopes} the caller owns; keys are stored as SHA-256 only.
 * Every call returns 0 or -1 with err set.
 */

int	apikey_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);
/* One live key: 404 not_found. */
int	apikey_get(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct json_object **key, struct hb_error *err);

struct hb_apikey_new {
	const char	*name;
	const char	*scopes;	/* permission names joined with ',' */
	int		 expires_in_days;	/* 0: never */
};

/* Creates a key for ctx's user; *key holds "key", the one time it is shown. */
int	apikey_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_apikey_new *in, struct json_object **key,
	    struct hb_error *err);
/* Revokes a live key at once: 404 not_found. */
int	apikey_revoke(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct hb_error *err);

#endif
