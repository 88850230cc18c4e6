/*
 * GET /api/v1/auth/me: the hot path. Authentication, session, membership,
 * user, organization, permissions and teams are one round trip.
 */
#include "auth.h"
#include "program.h"

static struct json_object *
strings_json(const char *const *v, int n)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static struct json_object *
me_to_json(const struct hb_principal *who)
{
	struct json_object *me = json_object_new_object(), *org, *key, *teams;

	json_object_object_add(me, "id", json_object_new_string(who->user_id));
	json_object_object_add(me, "email", json_object_new_string(who->email));
	json_object_object_add(me, "full_name",
	    json_object_new_string(who->full_name));
	json_object_object_add(me, "email_verified",
	    json_object_new_boolean(who->email_verified));
	json_object_object_add(me, "mfa_enabled",
	    json_object_new_boolean(who->mfa_enabled));
	json_object_object_add(me, "created_at",
	    json_object_new_string(who->user_created_at));
	org = json_object_new_object();
	json_object_object_add(org, "id", json_object_new_string(who->org_id));
	json_object_object_add(org, "name",
	    json_object_new_string(who->org_name));
	json_object_object_add(org, "slug",
	    json_object_new_string(who->org_slug));
	json_object_object_add(me, "organization", org);
	json_object_object_add(me, "role", json_object_new_string(who->role));
	json_object_object_add(me, "permissions",
	    strings_json(who->permissions, who->npermissions));
	teams = who->teams != NULL ? json_tokener_parse(who->teams) : NULL;
	json_object_object_add(me, "teams", teams != NULL ? teams :
	    json_object_new_array());
	if (who->method == HB_AUTH_JWT) {
		json_object_object_add(me, "auth_method",
		    json_object_new_string("jwt"));
		json_object_object_add(me, "session_id",
		    json_object_new_string(who->session_id));
		return me;
	}
	json_object_object_add(me, "auth_method",
	    json_object_new_string("api_key"));
	key = json_object_new_object();
	json_object_object_add(key, "id", json_object_new_string(who->key_id));
	json_object_object_add(key, "name",
	    json_object_new_string(who->key_name));
	json_object_object_add(key, "prefix",
	    json_object_new_string(who->key_prefix));
	json_object_object_add(key, "scopes",
	    strings_json(who->scopes, who->nscopes));
	json_object_object_add(me, "api_key", key);
	return me;
}

static int
handle_me(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;

	/* Open to a member require_mfa holds: it tells them where they stand. */
	if (auth_request(r, app->db, &app->keys, HB_AUTH_MFA_ENROL, &who,
	    &r->err) == -1)
		return -1;
	return http_json(r, 200, me_to_json(&who));
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/auth/me", handle_me, 0 },
};

PROGRAM("homebot-me", routes)
