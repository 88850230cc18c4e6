#ifndef HB_SETTING_H
#define HB_SETTING_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "page.h"

/*
 * Settings (api.md §10). A platform setting is answered as {key, value,
 * description, is_public} + row metadata (created_at, updated_at,
 * created_by, updated_by, version); one key of an organization's settings
 * as {key, value, version, updated_at, updated_by}, where version (the
 * ETag) is the version of the organization's whole settings document.
 * Answers are JSON objects the caller owns. Every change is audited with
 * its old and new value; every call returns 0 or -1 with err set.
 */

#define HB_SETTING_KEY_MAX	64
#define HB_SETTING_VALUE_MAX	32768	/* bytes of a platform value's JSON */
#define HB_ORG_SETTINGS_MAX	16384	/* bytes of an organization's document */

/* Whether key is ^[a-z][a-z0-9_.-]{0,63}$. */
bool	setting_key_valid(const char *key);

struct hb_json_check;
/*
 * The body's "value" (required; any JSON, null too) as JSON text of at
 * most max bytes, borrowed from the body; NULL with a failure added to c.
 */
const char *setting_value_json(struct hb_json_check *c, size_t max);

/*
 * The public platform settings as one object {key: value} and its ETag
 * (a quoted hash, into etag of etag_size >= 35 bytes); no tenant context.
 */
int	setting_public(struct hb_db *db, struct json_object **settings,
	    char *etag, size_t etag_size, struct hb_error *err);

/* Every platform setting (the admin role), newest first. */
int	setting_platform_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);

struct hb_setting_put {
	const char	*key;		/* setting_key_valid() */
	const char	*value_json;	/* valid JSON text */
	const char	*description;	/* NULL: as it is ("" for a new key) */
	const char	*is_public;	/* "true"/"false"; NULL: as it is */
	long		 if_match;	/* http_if_match() */
};

/*
 * Creates (*created true) or replaces a platform setting: 412
 * precondition_failed when if_match does not match the key's version (or
 * the key does not exist). Audited as admin.setting.changed.
 */
int	setting_platform_put(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_setting_put *in, struct json_object **row,
	    bool *created, struct hb_error *err);
/* Deletes a platform setting: 404, 412. Audited as admin.setting.deleted. */
int	setting_platform_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *key, long if_match, struct hb_error *err);

/* One key of ctx's organization's settings: 404 not_found. */
int	setting_org_get(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *key, struct json_object **row, struct hb_error *err);
/*
 * Sets one key of ctx's organization's settings: 412 when if_match does
 * not match the settings' version, 422 when the document would grow past
 * HB_ORG_SETTINGS_MAX. Audited as setting.changed.
 */
int	setting_org_put(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *key, const char *value_json, long if_match,
	    struct json_object **row, struct hb_error *err);

#endif
