#ifndef HB_AUTH_SESSION_H
#define HB_AUTH_SESSION_H

#include <stdbool.h>

#include <json-c/json.h>

#include "auth_jwt.h"
#include "config.h"

/* A session just started or refreshed: what a token response carries. */
struct hb_login {
	const char	*user_id;
	const char	*email;
	const char	*full_name;
	bool		 email_verified;
	bool		 mfa_enabled;
	const char	*org_id;
	const char	*org_name;
	const char	*org_slug;
	const char	*role;
	const char	*session_id;
	const char	*refresh_token;
};

/*
 * The token response of api.md §2 with a freshly signed access token.
 * Returns an object the caller releases, or NULL when signing fails.
 */
struct json_object *auth_token_response(const struct hb_jwt_keys *k,
	    const struct hb_config *cfg, const struct hb_login *l);

#endif
