#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "auth_token.h"
#include "crypto.h"

/*
 * The hot path of every token-authenticated request: one read-only
 * statement, homebot.authenticate_session() (R__auth.sql), which sets the
 * tenant context of the token's organization and reads the session,
 * membership, user, organization and permissions under it. A session's
 * last_used_at is written when it refreshes (every ACCESS_TOKEN_TTL at
 * most), not here: a write on every request cost a fifth of the
 * throughput. The organization's require_mfa comes with it (mfa_blocked),
 * at no round trip of its own. Both statements here go through
 * db_exec_named(): prepared once per connection, they skip the parse and
 * plan that were a quarter of their cost.
 */
static const char SQL_AUTH_JWT[] =
    "SELECT * FROM homebot.authenticate_session($1, $2, $3)";

/*
 * API keys are found by prefix before any tenant is known, through a
 * SECURITY DEFINER function (plpgsql: each server connection caches its
 * plan); the same statement then sets the tenant context of the key's
 * organization for the rest of its transaction. Its one write, a key's
 * last_used_at, is not audited, so no audit context is needed.
 */
static const char SQL_AUTH_KEY[] =
    "SELECT set_config('app.org_id', k.organization_id::text, true),"
    " set_config('app.user_id', k.user_id::text, true),"
    " set_config('app.api_key_id', k.key_id::text, true),"
    " encode(k.key_hash, 'hex') AS key_hash, k.key_id, k.key_name,"
    " array_to_string(k.scopes, ',') AS scopes,"
    " array_to_string(k.permissions, ',') AS permissions,"
    " k.expired, k.revoked, k.organization_id, k.org_name, k.org_slug,"
    " k.org_suspended, k.user_id, k.email, k.full_name, "
    HB_SQL_TS("k.user_created_at") " AS created_at,"
    " k.user_disabled, k.role, k.email_verified,"
    " k.teams, k.team_ids, k.team_leads, k.mfa_enabled"
    " FROM homebot.authenticate_api_key($1, decode($2, 'hex')) k";

int
auth_split_list(struct hb_arena *a, const char *s, const char **out, int max)
{
	int n = 0;

	while (s != NULL && *s != '\0' && n < max) {
		const char *comma = strchr(s, ',');
		size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);

		if (len > 0 && (out[n] = arena_strndup(a, s, len)) != NULL)
			n++;
		s += len;
		if (*s == ',')
			s++;
	}
	return n;
}

/* Column column of row 0 copied into the arena, or NULL. */
static const char *
col(struct hb_arena *a, const PGresult *res, const char *column)
{
	const char *v = db_value(res, 0, column);

	return v != NULL ? arena_strdup(a, v) : NULL;
}

/*
 * The user, organization, role and permissions of either credential, from
 * the columns both authentication statements name alike.
 */
static void
principal_from_row(struct hb_arena *a, const PGresult *res,
    struct hb_principal *who)
{
	who->user_id = col(a, res, "user_id");
	who->org_id = col(a, res, "organization_id");
	who->email = col(a, res, "email");
	who->full_name = col(a, res, "full_name");
	who->email_verified = db_bool(res, 0, "email_verified");
	who->mfa_enabled = db_bool(res, 0, "mfa_enabled");
	who->user_created_at = col(a, res, "created_at");
	who->org_name = col(a, res, "org_name");
	who->org_slug = col(a, res, "org_slug");
	who->role = col(a, res, "role");
	who->npermissions = auth_split_list(a,
	    db_value(res, 0, "permissions"), who->permissions,
	    HB_MAX_PERMISSIONS);
	who->teams = col(a, res, "teams");
	who->team_ids = col(a, res, "team_ids");
	who->team_leads = col(a, res, "team_leads");
}

/*
 * The credential: "Authorization: Bearer X" or "X-API-Key: X". *is_key
 * says it is an API key: a Bearer credential that looks like one, or
 * anything sent as X-API-Key, which carries nothing else.
 */
static const char *
credential(const struct hb_request *r, bool *is_key)
{
	const char *h = http_header(r, "Authorization");

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		*is_key = strncmp(h, "hb_", 3) == 0;
		return *h != '\0' ? h : NULL;
	}
	h = http_header(r, "X-API-Key");
	*is_key = true;
	return h != NULL && *h != '\0' ? h : NULL;
}

static int
auth_jwt(struct hb_arena *a, const char *issuer, struct hb_db *db,
    struct hb_jwt_keys *k,
    unsigned flags, const char *token, struct hb_principal *who,
    struct hb_error *err)
{
	struct hb_claims *c = &who->claims;
	const char *params[3];
	PGresult *res;
	int rc;

	if (auth_jwt_verify(k, issuer, token, (long)time(NULL), c,
	    err) == -1)
		return -1;
	params[0] = c->sid;
	params[1] = c->sub;
	params[2] = c->org;
	/*
	 * The function sets the tenant context itself, transaction-locally:
	 * run alone (no transaction is open before authentication), the
	 * context ends with this statement.
	 */
	res = db_exec_named(db, SQL_AUTH_JWT, 3, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || db_bool(res, 0, "revoked") ||
	    db_bool(res, 0, "disabled"))
		rc = hb_fail(err, 401, "invalid_token",
		    "The access token is not valid.");
	else if (db_bool(res, 0, "suspended") &&
	    !((flags & HB_AUTH_SUSPENDED_OK) &&
	    db_bool(res, 0, "is_superadmin")))
		rc = hb_fail(err, 403, "organization_suspended",
		    "The organization is suspended.");
	else if (db_bool(res, 0, "mfa_blocked") &&
	    !(flags & HB_AUTH_MFA_ENROL))
		rc = hb_fail(err, 403, "mfa_required", "This organization "
		    "requires two-factor authentication: turn TOTP on first.");
	else {
		who->method = HB_AUTH_JWT;
		who->is_superadmin = db_bool(res, 0, "is_superadmin");
		who->session_id = arena_strdup(a, c->sid);
		principal_from_row(a, res, who);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

static int
auth_key(struct hb_arena *a, struct hb_db *db, const char *key,
    struct hb_principal *who, struct hb_error *err)
{
	char prefix[HB_API_KEY_PREFIX_LEN + 1], hex[HB_TOKEN_HEX_LEN];
	const char *params[2] = { prefix, hex };
	const char *stored;
	PGresult *res;
	int rc;

	if (!auth_api_key_parse(key, prefix))
		return hb_fail(err, 401, "invalid_api_key",
		    "The API key is not valid.");
	if (auth_token_hex(key, hex, err) == -1)
		return -1;
	/* The statement sets the key's tenant context itself. */
	res = db_exec_named(db, SQL_AUTH_KEY, 2, params, err);
	if (res == NULL)
		return -1;
	stored = db_value(res, 0, "key_hash");
	if (stored == NULL)
		stored = "";
	/* The hash is compared here, in constant time, not by SQL '='. */
	if (PQntuples(res) != 1 || strlen(stored) != sizeof(hex) - 1 ||
	    !crypto_equal(stored, hex, sizeof(hex) - 1) ||
	    db_bool(res, 0, "expired") || db_bool(res, 0, "revoked") ||
	    db_bool(res, 0, "user_disabled"))
		rc = hb_fail(err, 401, "invalid_api_key",
		    "The API key is not valid.");
	else if (db_bool(res, 0, "org_suspended"))
		rc = hb_fail(err, 403, "organization_suspended",
		    "The organization is suspended.");
	else {
		who->method = HB_AUTH_API_KEY;
		who->key_id = col(a, res, "key_id");
		who->key_name = col(a, res, "key_name");
		who->key_prefix = arena_strdup(a, prefix);
		who->nscopes = auth_split_list(a,
		    db_value(res, 0, "scopes"), who->scopes,
		    HB_MAX_PERMISSIONS);
		principal_from_row(a, res, who);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int
auth_credential(struct hb_arena *a, const char *issuer, struct hb_db *db,
    struct hb_jwt_keys *keys, unsigned flags, const char *cred,
    bool is_key, struct hb_principal *who, struct hb_error *err)
{
	memset(who, 0, sizeof(*who));
	if (is_key)
		return auth_key(a, db, cred, who, err);
	return auth_jwt(a, issuer, db, keys, flags, cred, who, err);
}

int
auth_request(struct hb_request *r, struct hb_db *db,
    struct hb_jwt_keys *keys, unsigned flags, struct hb_principal *who,
    struct hb_error *err)
{
	bool is_key;
	const char *cred = credential(r, &is_key);
	int rc;

	memset(who, 0, sizeof(*who));
	if (cred == NULL)
		return hb_fail(err, 401, "not_authenticated",
		    "Send an access token or API key as a Bearer credential.");
	if (is_key && (flags & HB_AUTH_TOKEN_ONLY))
		return hb_fail(err, 403, "forbidden",
		    "This endpoint needs an access token, not an API key.");
	rc = auth_credential(r->arena, r->cfg->issuer, db, keys, flags, cred,
	    is_key, who, err);
	if (rc == 0) {
		snprintf(r->org_id, sizeof(r->org_id), "%s", who->org_id);
		snprintf(r->user_id, sizeof(r->user_id), "%s", who->user_id);
	}
	return rc;
}

bool
auth_leads_team(const struct hb_principal *who, const char *team_id)
{
	size_t n = strlen(team_id);
	const char *s = who->team_leads;

	/* "{a,b}": an entry is delimited by '{' or ',' and ',' or '}'. */
	while (n > 0 && s != NULL && (s = strstr(s, team_id)) != NULL) {
		if ((s == who->team_leads || s[-1] == '{' || s[-1] == ',') &&
		    (s[n] == ',' || s[n] == '}'))
			return true;
		s += n;
	}
	return false;
}

bool
auth_has(const struct hb_principal *who, const char *permission)
{
	for (int i = 0; i < who->npermissions; i++)
		if (strcmp(who->permissions[i], permission) == 0)
			return true;
	return false;
}

int
auth_require(const struct hb_principal *who, const char *permission,
    struct hb_error *err)
{
	if (auth_has(who, permission))
		return 0;
	return hb_fail(err, 403, "forbidden",
	    "This needs the permission %s.", permission);
}

struct hb_db_ctx
auth_ctx(const struct hb_principal *who, const struct hb_request *r)
{
	if (who == NULL)
		return (struct hb_db_ctx){ .request_id = r->request_id,
		    .ip = r->remote_addr, .user_agent = http_user_agent(r),
		    .trace_id = r->trace.trace_id };
	return (struct hb_db_ctx){ .org_id = who->org_id,
	    .user_id = who->user_id, .request_id = r->request_id,
	    .api_key_id = who->method == HB_AUTH_API_KEY ? who->key_id : NULL,
	    .ip = r->remote_addr, .user_agent = http_user_agent(r),
	    .trace_id = r->trace.trace_id, .team_ids = who->team_ids,
	    .team_leads = who->team_leads,
	    .teams_write = auth_has(who, "teams:write") ? "true" : NULL };
}
