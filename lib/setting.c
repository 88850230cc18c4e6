#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "http.h"
#include "json.h"
#include "setting.h"

#define PLATFORM_FIELDS \
	"key, value, description, is_public, " \
	HB_SQL_TS("created_at") " AS created_at, " \
	HB_SQL_TS("updated_at") " AS updated_at, created_by, updated_by, version"
#define ORG_KEY_FIELDS \
	"$1::text AS key, settings -> $1::text AS value," \
	" coalesce(settings_version, 1) AS version, " \
	HB_SQL_TS("settings_updated_at") " AS updated_at," \
	" settings_updated_by AS updated_by"

static const char SQL_PUBLIC[] =
    "SELECT settings, etag FROM homebot.public_settings()";
/* The keyset's id: a UUID made of the key's md5, as a cursor must hold. */
static const char SQL_LIST[] =
    "SELECT " PLATFORM_FIELDS ", md5(key)::uuid AS _id,"
    " created_at AS _ts FROM homebot.platform_settings"
    " WHERE ($1::timestamptz IS NULL"
    "   OR (created_at, md5(key)::uuid) < ($1, $2::uuid))"
    " ORDER BY created_at DESC, md5(key)::uuid DESC LIMIT $3";
static const char SQL_PLATFORM_LOCK[] =
    "SELECT " PLATFORM_FIELDS " FROM homebot.platform_settings"
    " WHERE key = $1 FOR UPDATE";
/* The metadata columns are the row_metadata trigger's. */
static const char SQL_PLATFORM_PUT[] =
    "INSERT INTO homebot.platform_settings AS s"
    " (key, value, description, is_public)"
    " VALUES ($1, $2::jsonb, coalesce($3, ''), coalesce($4::boolean, false))"
    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
    " description = coalesce($3, s.description),"
    " is_public = coalesce($4::boolean, s.is_public)"
    " RETURNING " PLATFORM_FIELDS;
static const char SQL_PLATFORM_DELETE[] =
    "DELETE FROM homebot.platform_settings WHERE key = $1";
/* organizations_pkey under RLS: only the credential's organization. */
#define ORG_ID "NULLIF(current_setting('app.org_id', true), '')::uuid"
static const char SQL_ORG_GET[] =
    "SELECT " ORG_KEY_FIELDS " FROM homebot.organizations"
    " WHERE id = " ORG_ID " AND settings ? $1::text";
static const char SQL_ORG_LOCK[] =
    "SELECT coalesce(settings_version, 1) AS version,"
    " settings -> $1::text AS old,"
    " octet_length((settings || jsonb_build_object($1::text, $2::jsonb))"
    "::text) AS _size FROM homebot.organizations"
    " WHERE id = " ORG_ID " FOR UPDATE";
/* settings_version and settings_updated_* are the trigger's. */
static const char SQL_ORG_PUT[] =
    "UPDATE homebot.organizations"
    " SET settings = settings || jsonb_build_object($1::text, $2::jsonb),"
    " updated_at = now() WHERE id = " ORG_ID " RETURNING " ORG_KEY_FIELDS;

bool
setting_key_valid(const char *key)
{
	size_t n;

	if (key == NULL || !islower((unsigned char)key[0]))
		return false;
	n = strlen(key);
	if (n > HB_SETTING_KEY_MAX)
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (!islower(ch) && !isdigit(ch) && ch != '_' && ch != '.' &&
		    ch != '-')
			return false;
	}
	return true;
}

/*
 * Whether every number in v is one json-c held as written: it clamps an
 * integer beyond 64 bits to the nearest end (and reads some exponents as
 * such integers) and a double beyond its range to infinity, and would
 * store another number than the client sent. The parser limits the depth.
 */
static bool
numbers_fit(struct json_object *v)
{
	struct json_object_iterator it, end;
	int64_t i;

	switch (json_object_get_type(v)) {
	case json_type_int:
		i = json_object_get_int64(v);
		return i != INT64_MIN && i != INT64_MAX &&
		    json_object_get_uint64(v) != UINT64_MAX;
	case json_type_double:
		return isfinite(json_object_get_double(v));
	case json_type_array:
		for (size_t k = 0; k < json_object_array_length(v); k++)
			if (!numbers_fit(json_object_array_get_idx(v, k)))
				return false;
		return true;
	case json_type_object:
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if (!numbers_fit(json_object_iter_peek_value(&it)))
				return false;
		return true;
	default:
		return true;
	}
}

const char *
setting_value_json(struct hb_json_check *c, size_t max)
{
	struct json_object *v;
	const char *text;

	if (c->body == NULL || !json_object_object_get_ex(c->body, "value",
	    &v)) {
		json_check_fail(c, "value", "is required");
		return NULL;
	}
	if (!numbers_fit(v)) {
		json_check_fail(c, "value", "must hold only numbers within"
		    " 64-bit integers and doubles");
		return NULL;
	}
	text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	if (text == NULL || strlen(text) > max) {
		json_check_fail(c, "value", max == HB_SETTING_VALUE_MAX ?
		    "must be at most 32 KiB of JSON" :
		    "must be at most 16 KiB of JSON");
		return NULL;
	}
	/* PostgreSQL's jsonb cannot hold a NUL character, even escaped. */
	if (strstr(text, "\\u0000") != NULL) {
		json_check_fail(c, "value", "must not contain \\u0000");
		return NULL;
	}
	return text;
}

/* Whether the version (NULL: no such object) meets if_match. */
static bool
matches(long if_match, const char *version)
{
	if (if_match == HB_IF_MATCH_NONE)
		return true;
	if (version == NULL)
		return false;
	return if_match == HB_IF_MATCH_ANY || if_match == atol(version);
}

static int
precondition_failed(struct hb_error *err)
{
	return hb_fail(err, 412, "precondition_failed",
	    "The setting has changed since it was read (If-Match).");
}

int
setting_public(struct hb_db *db, struct json_object **settings, char *etag,
    size_t etag_size, struct hb_error *err)
{
	PGresult *res = db_exec(db, SQL_PUBLIC, 0, NULL, err);
	struct json_object *row;

	*settings = NULL;
	if (res == NULL)
		return -1;
	row = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
	snprintf(etag, etag_size, "\"%s\"",
	    PQntuples(res) == 1 ? db_value(res, 0, "etag") : "");
	PQclear(res);
	if (row == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "The settings could not be read.");
	*settings = json_object_get(json_object_object_get(row, "settings"));
	json_object_put(row);
	return *settings != NULL ? 0 : hb_fail(err, 503,
	    "service_unavailable", "The settings could not be read.");
}

int
setting_platform_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err)
{
	const char *params[3];

	return page_query(db, ctx, p, SQL_LIST, params, 0, "_ts", "_id", rows,
	    err);
}

/* {value, description, is_public} of a platform row (NULL: null); owned. */
static struct json_object *
audit_side(struct json_object *row)
{
	struct json_object *o;

	if (row == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "value",
	    json_object_get(json_object_object_get(row, "value")));
	json_object_object_add(o, "description",
	    json_object_get(json_object_object_get(row, "description")));
	json_object_object_add(o, "is_public",
	    json_object_get(json_object_object_get(row, "is_public")));
	return o;
}

/*
 * Audits action on key with changes {key, old, new} (each side an
 * object, or null) and commits; rc not 0 rolls back. *row is released on
 * a failure.
 */
static int
audit_change(struct hb_db *db, const struct hb_db_ctx *ctx, bool platform,
    const char *action, const char *key, struct json_object *old_side,
    struct json_object *new_side, int rc, struct json_object **row,
    struct hb_error *err)
{
	struct json_object *changes = json_object_new_object();
	struct hb_audit_event ev = { .platform = platform, .action = action,
	    .target_type = platform ? "platform_setting" :
	    "organization_setting", .target_id = key };

	json_object_object_add(changes, "key", json_object_new_string(key));
	json_object_object_add(changes, "old", old_side);
	json_object_object_add(changes, "new", new_side);
	ev.changes_json = json_object_to_json_string_ext(changes,
	    JSON_C_TO_STRING_PLAIN);
	rc = audit_commit(db, ctx, &ev, rc, row, err);
	json_object_put(changes);
	return rc;
}

/* Locks the platform row key; *old its row or NULL. 0 or -1 (no tx). */
static int
platform_lock(struct hb_db *db, const struct hb_db_ctx *ctx, const char *key,
    struct json_object **old, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, true, SQL_PLATFORM_LOCK, 1,
	    &key, err);

	*old = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*old = db_row_json(res, 0);
	PQclear(res);
	return 0;
}

static const char *
row_version(struct json_object *row)
{
	struct json_object *v = row != NULL ?
	    json_object_object_get(row, "version") : NULL;

	return v != NULL ? json_object_get_string(v) : NULL;
}

int
setting_platform_put(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_setting_put *in, struct json_object **row,
    bool *created, struct hb_error *err)
{
	const char *params[4] = { in->key, in->value_json, in->description,
	    in->is_public };
	struct json_object *old;
	PGresult *res;
	int rc = 0;

	*row = NULL;
	if (platform_lock(db, ctx, in->key, &old, err) == -1)
		return -1;
	*created = old == NULL;
	if (!matches(in->if_match, row_version(old)))
		rc = precondition_failed(err);
	else if ((res = db_exec(db, SQL_PLATFORM_PUT, 4, params, err)) ==
	    NULL)
		rc = -1;
	else {
		*row = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
		PQclear(res);
		if (*row == NULL)
			rc = hb_fail(err, 503, "service_unavailable",
			    "The setting could not be written.");
	}
	rc = audit_change(db, ctx, true, "admin.setting.changed", in->key,
	    audit_side(old), audit_side(*row), rc, row, err);
	json_object_put(old);
	return rc;
}

int
setting_platform_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *key, long if_match, struct hb_error *err)
{
	struct json_object *old, *none = NULL;
	PGresult *res;
	int rc = 0;

	if (platform_lock(db, ctx, key, &old, err) == -1)
		return -1;
	if (old == NULL)
		rc = hb_fail(err, 404, "not_found", "No such setting.");
	else if (!matches(if_match, row_version(old)))
		rc = precondition_failed(err);
	else if ((res = db_exec(db, SQL_PLATFORM_DELETE, 1, &key, err)) ==
	    NULL)
		rc = -1;
	else
		PQclear(res);
	rc = audit_change(db, ctx, true, "admin.setting.deleted", key,
	    audit_side(old), NULL, rc, &none, err);
	json_object_put(old);
	return rc;
}

int
setting_org_get(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *key, struct json_object **row, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, false, SQL_ORG_GET, 1, &key,
	    err);

	*row = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*row = db_row_json(res, 0);
	PQclear(res);
	if (*row == NULL)
		return hb_fail(err, 404, "not_found", "No such setting.");
	return 0;
}

/* {value} of one side of an organization key's change; owned. */
static struct json_object *
org_side(struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "value", json_object_get(value));
	return o;
}

int
setting_org_put(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *key, const char *value_json, long if_match,
    struct json_object **row, struct hb_error *err)
{
	const char *params[2] = { key, value_json };
	struct json_object *lock = NULL, *old_side = NULL, *v;
	bool had;
	PGresult *res;
	int rc = 0;

	*row = NULL;
	res = db_tenant_query(db, ctx, true, SQL_ORG_LOCK, 2, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		lock = db_row_json(res, 0);
	had = PQntuples(res) == 1 && !PQgetisnull(res, 0, PQfnumber(res, "old"));
	if (lock != NULL && atol(db_value(res, 0, "_size")) >
	    HB_ORG_SETTINGS_MAX) {
		struct hb_json_check c = { NULL, json_object_new_array() };

		json_check_fail(&c, "value", "the settings would grow past"
		    " 16 KiB of JSON");
		rc = json_check_done(&c, err);
	}
	PQclear(res);
	if (lock == NULL)
		rc = hb_fail(err, 404, "not_found", "No such organization.");
	else if (rc == 0 && !matches(if_match, row_version(lock)))
		rc = precondition_failed(err);
	else if (rc == 0 && (res = db_exec(db, SQL_ORG_PUT, 2, params,
	    err)) == NULL)
		rc = -1;
	else if (rc == 0) {
		*row = PQntuples(res) == 1 ? db_row_json(res, 0) : NULL;
		PQclear(res);
		if (*row == NULL)
			rc = hb_fail(err, 404, "not_found",
			    "No such organization.");
	}
	if (had && json_object_object_get_ex(lock, "old", &v))
		old_side = org_side(v);
	rc = audit_change(db, ctx, false, "setting.changed", key, old_side,
	    *row != NULL ? org_side(json_object_object_get(*row, "value")) :
	    NULL, rc, row, err);
	json_object_put(lock);
	return rc;
}
