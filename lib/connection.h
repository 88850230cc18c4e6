#ifndef HB_CONNECTION_H
#define HB_CONNECTION_H

#include <stdbool.h>

#include <json-c/json.h>

#include "db.h"
#include "error.h"
#include "page.h"
#include "vault.h"

/*
 * Connections (api.md §11) in the organization of ctx, under RLS
 * (organization and team scope; a deleted connection is hidden by the
 * policies). The secret fields are encrypted here as secret values are
 * (secret_seal), each bound to the organization, its own id and its value
 * version; every answer but connection_reveal's lists their names with a
 * hint at most (the last 4 characters of a value of at least 16), never a
 * value. Each function answers through *conn a JSON object the caller owns
 * (NULL on failure) and returns 0, or -1 with err set. if_match is as
 * http_if_match_param() gives it.
 */

#define CONNECTION_TYPE_MAX	32	/* characters of a type */
#define CONNECTION_CONFIG_MAX	16384	/* bytes of config's JSON */
#define CONNECTION_FIELD_MAX	64	/* characters of a field's name */
#define CONNECTION_VALUE_MAX	16384	/* bytes of a field's value */
#define CONNECTION_FIELDS_MAX	32	/* secret fields of a connection */

/* What a POST or PATCH carries; NULL or -1: not given. */
struct hb_connection_input {
	const char	*name;
	const char	*type;
	const char	*team_id;	/* POST only */
	const char	*config;	/* a JSON object's text */
	int		 is_active;	/* 0, 1, or -1 */
	int		 is_default;	/* 0, 1, or -1 */
	/*
	 * Borrowed: field name → string (set) or null (remove, PATCH only);
	 * checked with connection_fields_check().
	 */
	struct json_object *secret_fields;
};

/* Whether type is ^[a-z][a-z0-9_.-]{0,31}$. */
bool	 connection_type_valid(const char *type);
/* Whether name is ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$. */
bool	 connection_field_name_valid(const char *name);
/*
 * Whether fields (an object) holds at most CONNECTION_FIELDS_MAX names,
 * each valid, each mapped to a string of 1..CONNECTION_VALUE_MAX bytes of
 * UTF-8 without NUL, or to null when allow_null. NULL, or a message for
 * the 422 (static).
 */
const char *connection_fields_check(struct json_object *fields,
	    bool allow_null);

/* team_id, type: NULL for any. */
int	 connection_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *team_id, const char *type, const struct hb_page *p,
	    struct hb_rows *rows, struct hb_error *err);
/* 409 default_taken when is_default and the type has a default already. */
int	 connection_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr,
	    const struct hb_connection_input *in, struct json_object **conn,
	    struct hb_error *err);
int	 connection_get(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct json_object **conn, struct hb_error *err);
/*
 * Changes what in gives (config replaced whole; secret_fields merged:
 * a string sets that field, null removes it). 409 default_taken as above.
 */
int	 connection_update(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const char *id, const char *if_match,
	    const struct hb_connection_input *in, struct json_object **conn,
	    struct hb_error *err);
/* The soft delete; the secret fields go at once. */
int	 connection_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, const char *if_match, struct hb_error *err);
/*
 * The secret fields' values as one object {name: value} (*fields, the
 * caller's), audited as
 * connection.revealed in the same transaction. A value that does not
 * decrypt is 409 secret_unreadable.
 */
int	 connection_reveal(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const char *id,
	    struct json_object **fields, struct hb_error *err);

#endif
