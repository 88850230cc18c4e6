#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_session.h"
#include "uuid.h"

static struct json_object *
str(const char *s)
{
	return json_object_new_string(s != NULL ? s : "");
}

struct json_object *
auth_token_response(const struct hb_jwt_keys *k, const struct hb_config *cfg,
    const struct hb_login *l)
{
	struct hb_claims c;
	struct json_object *body, *user, *org;
	char *token;

	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", l->user_id);
	snprintf(c.org, sizeof(c.org), "%s", l->org_id);
	snprintf(c.sid, sizeof(c.sid), "%s", l->session_id);
	snprintf(c.role, sizeof(c.role), "%s", l->role);
	uuid_new(c.jti);
	c.iat = (long)time(NULL);
	c.exp = c.iat + cfg->access_token_ttl;
	token = auth_jwt_sign(k, cfg->issuer, &c);
	if (token == NULL)
		return NULL;
	user = json_object_new_object();
	json_object_object_add(user, "id", str(l->user_id));
	json_object_object_add(user, "email", str(l->email));
	json_object_object_add(user, "full_name", str(l->full_name));
	json_object_object_add(user, "email_verified",
	    json_object_new_boolean(l->email_verified));
	json_object_object_add(user, "mfa_enabled",
	    json_object_new_boolean(l->mfa_enabled));
	org = json_object_new_object();
	json_object_object_add(org, "id", str(l->org_id));
	json_object_object_add(org, "name", str(l->org_name));
	json_object_object_add(org, "slug", str(l->org_slug));
	body = json_object_new_object();
	json_object_object_add(body, "access_token", json_object_new_string(token));
	json_object_object_add(body, "token_type", json_object_new_string("bearer"));
	json_object_object_add(body, "expires_in",
	    json_object_new_int(cfg->access_token_ttl));
	json_object_object_add(body, "refresh_token", str(l->refresh_token));
	json_object_object_add(body, "refresh_expires_in",
	    json_object_new_int(cfg->refresh_token_ttl));
	json_object_object_add(body, "user", user);
	json_object_object_add(body, "organization", org);
	json_object_object_add(body, "role", str(l->role));
	free(token);
	return body;
}
