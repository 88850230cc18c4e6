#ifndef HB_SECRET_H
#define HB_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "db.h"
#include "error.h"
#include "page.h"
#include "vault.h"

/*
 * Secrets (api.md §11) in the organization of ctx, under RLS (organization
 * and team scope; a deleted secret is hidden by the policies). Values are
 * encrypted here with the organization's data key (lib/vault.h), created
 * on first use, before they reach the database; the answers of every
 * function but secret_reveal carry metadata only. Each function answers
 * through *secret a JSON object the caller owns (NULL on failure) and
 * returns 0, or -1 with err set. if_match is as http_if_match_param()
 * gives it.
 */

/* The longest value (api.md §11: 1 byte to 64 KiB). */
#define SECRET_VALUE_MAX	65536

/* What a POST carries; NULL: not given. */
struct hb_secret_input {
	const char	*name;
	const char	*description;
	const char	*team_id;
	const char	*value;
};

/*
 * The hint of a value: its last 4 characters (UTF-8) when it has at least
 * 16, else "" (none). out has 17 bytes.
 */
void	 secret_hint(const char *value, char out[17]);

/*
 * The vault under everything that stores secret values (secrets and the
 * secret fields of connections), in the open transaction of ctx's
 * organization org, whose data key is created on first use.
 *
 * secret_seal encrypts value for (org, id, version) as associated data:
 * *hex is the blob's hex, malloc'ed (the caller frees it). secret_open
 * decrypts such a blob: *value as secret_reveal's below, and a blob that
 * does not decrypt under (org, id, version) is 409 secret_unreadable.
 * Each returns 0, or -1 with err set; neither ends the transaction.
 */
int	 secret_seal(struct hb_db *db, const struct vault_keyring *kr,
	    const char *org, const char *id, uint64_t version,
	    const char *value, char **hex, struct hb_error *err);
int	 secret_open(struct hb_db *db, const struct vault_keyring *kr,
	    const char *org, const char *id, uint64_t version,
	    const char *hex, unsigned char **value, size_t *len,
	    struct hb_error *err);

/* team_id: NULL for every secret the caller sees. */
int	 secret_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *team_id, const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);
int	 secret_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const struct hb_secret_input *in,
	    struct json_object **secret, struct hb_error *err);
int	 secret_get(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct json_object **secret, struct hb_error *err);
/* A new value version; keeps history versions (the current one included). */
int	 secret_put(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const char *id, const char *if_match,
	    const char *value, int history, struct json_object **secret,
	    struct hb_error *err);
/* The soft delete; the values go at once. */
int	 secret_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, const char *if_match, struct hb_error *err);
/*
 * The current value, audited as secret.revealed in the same transaction.
 * *value is malloc'ed, NUL-terminated, *len bytes: the caller releases it
 * with vault_plaintext_free(). A blob that does not decrypt (moved from
 * another row or organization, tampered, or under a key no longer loaded)
 * is 409 secret_unreadable.
 */
int	 secret_reveal(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const char *id,
	    unsigned char **value, size_t *len, struct hb_error *err);

#endif
