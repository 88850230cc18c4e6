#ifndef HB_AUTH_H
#define HB_AUTH_H

#include <stdbool.h>

#include "auth_jwt.h"
#include "db.h"
#include "error.h"
#include "http.h"

#define HB_MAX_PERMISSIONS	32

enum hb_auth_method {
	HB_AUTH_JWT,
	HB_AUTH_API_KEY,
};

/* Who is calling; every string lives in the request's arena. */
struct hb_principal {
	enum hb_auth_method method;
	struct hb_claims claims;	/* HB_AUTH_JWT only */
	const char	*user_id;
	const char	*email;
	const char	*full_name;
	bool		 email_verified;
	const char	*user_created_at;
	const char	*org_id;
	const char	*org_name;
	const char	*org_slug;
	const char	*role;
	const char	*session_id;	/* HB_AUTH_JWT only */
	bool		 is_superadmin;	/* HB_AUTH_JWT only */
	bool		 mfa_enabled;	/* the user (a key's creator) has TOTP on */
	const char	*key_id;	/* HB_AUTH_API_KEY only */
	const char	*key_name;
	const char	*key_prefix;
	const char	*scopes[HB_MAX_PERMISSIONS];
	int		 nscopes;
	/* The permissions this request holds (a key's: its live scopes). */
	const char	*permissions[HB_MAX_PERMISSIONS];
	int		 npermissions;
	/*
	 * The user's live teams in the organization: the me object's
	 * [{id, name, team_role}] as JSON text, and the team context's
	 * uuid[] literals of all of them and of those it leads.
	 */
	const char	*teams;
	const char	*team_ids;
	const char	*team_leads;
};

#define HB_AUTH_TOKEN_ONLY	0x01	/* access tokens only, no API keys */
/*
 * A superadmin's token works even while the superadmin's own organization
 * is suspended: for the admin program, which acts on the platform, not in
 * that organization.
 */
#define HB_AUTH_SUSPENDED_OK	0x02
/*
 * The endpoint stays open to a member whom the organization's require_mfa
 * holds until TOTP is on (api.md §12: /auth/me, /auth/logout and the
 * enrolment endpoints); every other token request of such a member is
 * 403 mfa_required. API keys are never held: they are not people.
 */
#define HB_AUTH_MFA_ENROL	0x04

/*
 * Authenticates the request's credential and loads session, membership,
 * user and organization in one round trip under the tenant context of
 * the credential's organization. Returns 0, or -1 with a 401/403/503 in
 * err; no transaction stays open.
 */
int	 auth_request(struct hb_request *r, struct hb_db *db,
	    struct hb_jwt_keys *keys, unsigned flags,
	    struct hb_principal *who, struct hb_error *err);

/*
 * What auth_request() does once it has the credential, for a caller
 * without an HTTP request (the MQTT broker's plugin): cred is an access
 * token, or an API key when is_key. Strings of *who live in arena a.
 * Same answers as auth_request(); flags HB_AUTH_TOKEN_ONLY is the
 * caller's to check.
 */
int	 auth_credential(struct hb_arena *a, const char *issuer,
	    struct hb_db *db, struct hb_jwt_keys *keys, unsigned flags,
	    const char *cred, bool is_key, struct hb_principal *who,
	    struct hb_error *err);

/* Whether the principal is a lead of team_id (a lowercase UUID). */
bool	 auth_leads_team(const struct hb_principal *who, const char *team_id);

/* The one permission check: 0, or -1 with 403 forbidden. */
int	 auth_require(const struct hb_principal *who, const char *permission,
	    struct hb_error *err);
bool	 auth_has(const struct hb_principal *who, const char *permission);

/*
 * The context for the principal's further statements; who NULL: an
 * unauthenticated request (IP, user agent and request ID only).
 */
struct hb_db_ctx auth_ctx(const struct hb_principal *who,
	    const struct hb_request *r);

/* Splits "a,b,c" into up to max arena strings; returns the count. */
int	 auth_split_list(struct hb_arena *a, const char *s, const char **out,
	    int max);

#endif
