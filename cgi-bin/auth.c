/*
 * The identity endpoints of api.md §2: register, login, refresh, logout,
 * password change, the caller's sessions, switching organization and
 * accepting an invitation. GET /api/v1/auth/me is its own program (me.c)
 * because it is the hot path. The data lives in lib/session.c.
 */
#include <string.h>

#include "auth.h"
#include "auth_password.h"
#include "page.h"
#include "program.h"
#include "ratelimit.h"
#include "session.h"
#include "uuid.h"
#include "validate.h"

/* Answers with the token response of a new or refreshed session. */
static int
send_tokens(struct hb_request *r, struct hb_app *app, int status,
    const struct hb_login *l)
{
	struct json_object *body = auth_token_response(&app->keys, &app->cfg, l);

	if (body == NULL)
		return hb_fail(&r->err, 503, "service_unavailable",
		    "The access token cannot be signed now.");
	return http_json(r, status, body);
}

static int
handle_register(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	struct hb_register in = { .refresh_ttl = app->cfg.refresh_token_ttl };
	const char *password;
	char hash[HB_HASH_MAX];
	struct hb_login l;

	if (!app->cfg.registration_open)
		return hb_fail(&r->err, 403, "registration_closed",
		    "Registration is closed on this server.");
	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.email = validate_email(&c, r->arena, "email", true);
	password = json_get_string(&c, "password", true, 1, 1024);
	in.full_name = json_get_string(&c, "full_name", false, 0, 200);
	in.org_name = json_get_string(&c, "organization_name", true, 1, 200);
	validate_new_password(&c, &app->cfg, "password", password, in.email);
	if (json_check_done(&c, &r->err) == -1 ||
	    auth_password_hash(password, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1)
		return -1;
	in.password_hash = hash;
	if (session_register(app->db, &ctx, r->arena, &in, &l, &r->err) == -1)
		return -1;
	return send_tokens(r, app, 201, &l);
}

/* Login takes JSON, or the form of the OAuth2 password flow. */
static int
login_input(struct hb_request *r, const char **email, const char **password,
    const char **org_id)
{
	struct hb_json_check c;

	if (r->form != NULL) {
		c.body = NULL;
		c.details = json_object_new_array();
		*email = http_form(r, "username");
		*password = http_form(r, "password");
		*org_id = NULL;
		validate_form_text(&c, "username", *email, 1024);
		validate_form_text(&c, "password", *password, 1024);
		return json_check_done(&c, &r->err);
	}
	json_check_begin(&c, r->json);
	*email = json_get_string(&c, "email", true, 1, 1024);
	*password = json_get_string(&c, "password", true, 1, 1024);
	*org_id = json_get_string(&c, "organization_id", false, 36, 36);
	if (*org_id != NULL && !uuid_valid(*org_id))
		json_check_fail(&c, "organization_id", "must be a UUID");
	return json_check_done(&c, &r->err);
}

/*
 * Whether password opens the account of l. From here on the attempt
 * counts as a failed one until session_start records a success; no
 * transaction is open during bcrypt. An unknown email costs one bcrypt
 * verification too, against a dummy hash, so the answer's timing does not
 * reveal which emails have accounts. Passwords over 72 bytes never match:
 * bcrypt would silently ignore the rest.
 */
static bool
password_opens(const struct hb_app *app, const struct hb_login_lookup *l,
    const char *password)
{
	if (l->password_hash == NULL) {
		auth_password_dummy(password, app->cfg.bcrypt_cost);
		return false;
	}
	return auth_password_verify(password, l->password_hash) &&
	    strlen(password) <= HB_PASSWORD_MAX;
}

static int
handle_login(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_login_limits lim = { app->cfg.login_max_attempts,
	    app->cfg.login_window };
	struct hb_session_start in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	const char *email, *password;
	char rehash[HB_HASH_MAX];
	struct hb_login_lookup found;
	struct hb_login l;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    login_input(r, &email, &password, &in.org_id) == -1)
		return -1;
	email = validate_email_key(r->arena, email);
	if (email == NULL)
		return hb_fail(&r->err, 503, "service_unavailable",
		    "Out of memory.");
	if (session_login_lookup(app->db, &ctx, r->arena, email, &lim, &found,
	    &r->err) == -1)
		return -1;
	if (found.retry_after > 0) {
		hb_fail(&r->err, 429, "too_many_attempts",
		    "Too many failed logins for this email; try again later.");
		r->err.retry_after = found.retry_after;
		return -1;
	}
	if (!password_opens(app, &found, password)) {
		if (session_login_failed(app->db, &ctx, email, &found, &lim,
		    &r->err) == -1)
			return -1;
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "Email or password is wrong.");
	}
	/* Only a weaker hash is replaced: a stronger one is kept as it is. */
	if (auth_password_cost(found.password_hash) < app->cfg.bcrypt_cost) {
		if (auth_password_hash(password, app->cfg.bcrypt_cost, rehash,
		    &r->err) == -1)
			return -1;
		in.rehash = rehash;
	}
	in.user_id = found.user_id;
	in.verified_hash = found.password_hash;
	if (session_start(app->db, &ctx, r->arena, &in, &l, &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

static int
handle_refresh(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	const char *token;
	struct hb_login l;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	token = json_get_string(&c, "refresh_token", true, 1, 1024);
	if (json_check_done(&c, &r->err) == -1 ||
	    session_refresh(app->db, &ctx, r->arena, token,
	    app->cfg.refresh_token_ttl, app->cfg.session_max_age, &l,
	    &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

static int
handle_logout(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	bool all = false;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	/* The body is optional here. */
	if (r->json != NULL) {
		json_check_begin(&c, r->json);
		all = json_get_bool(&c, "all_sessions", false, false);
		if (json_check_done(&c, &r->err) == -1)
			return -1;
	}
	ctx = auth_ctx(&who, r);
	if (session_logout(app->db, &ctx, who.session_id, all, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_password(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	const char *current, *next, *stored;
	char hash[HB_HASH_MAX];

	/* Guesses of the current password count against the IP's limit. */
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	current = json_get_string(&c, "current_password", true, 1, 1024);
	next = json_get_string(&c, "new_password", true, 1, 1024);
	validate_new_password(&c, &app->cfg, "new_password", next, who.email);
	if (json_check_done(&c, &r->err) == -1 ||
	    session_password_hash(app->db, &ctx, r->arena, &stored,
	    &r->err) == -1)
		return -1;
	if (stored == NULL || strlen(current) > HB_PASSWORD_MAX ||
	    !auth_password_verify(current, stored))
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "The current password is wrong.");
	if (auth_password_hash(next, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 ||
	    session_set_password(app->db, &ctx, who.session_id, stored, hash,
	    &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_sessions(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    page_parse(r, "sessions", who.user_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (session_list(app->db, &ctx, who.session_id,
	    app->cfg.refresh_token_ttl, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_session_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *id = http_route_param(r, "id");

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	if (!uuid_valid(id))
		return hb_fail(&r->err, 404, "not_found", "No such session.");
	ctx = auth_ctx(&who, r);
	if (session_revoke(app->db, &ctx, id, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_switch(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct hb_session_start in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	struct hb_login l;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.org_id = json_get_string(&c, "organization_id", true, 36, 36);
	if (in.org_id != NULL && !uuid_valid(in.org_id))
		json_check_fail(&c, "organization_id", "must be a UUID");
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	/* A new session in the other organization, as a login would start. */
	in.user_id = who.user_id;
	ctx = auth_ctx(NULL, r);
	if (session_start(app->db, &ctx, r->arena, &in, &l, &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

static int
handle_accept_invite(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	struct hb_accept_invite in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	const char *password, *email = NULL;
	char hash[HB_HASH_MAX];
	struct hb_login l;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.invite_token = json_get_string(&c, "invite_token", true, 1, 1024);
	password = json_get_string(&c, "password", true, 1, 1024);
	in.full_name = json_get_string(&c, "full_name", false, 0, 200);
	/* The invitation's email, so the password can be checked against it. */
	if (in.invite_token != NULL &&
	    session_invite_email(app->db, r->arena, in.invite_token,
	    &email, &r->err) == -1) {
		json_object_put(c.details);
		return -1;
	}
	validate_new_password(&c, &app->cfg, "password", password, email);
	if (json_check_done(&c, &r->err) == -1 ||
	    auth_password_hash(password, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1)
		return -1;
	in.password_hash = hash;
	if (session_accept_invite(app->db, &ctx, r->arena, &in, &l,
	    &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

static const struct hb_route routes[] = {
	{ "POST", "/api/v1/auth/switch", handle_switch, 0 },
	{ "POST", "/api/v1/auth/accept-invite", handle_accept_invite, 0 },
	{ "POST", "/api/v1/auth/register", handle_register, 0 },
	{ "POST", "/api/v1/auth/login", handle_login, HB_ROUTE_FORM },
	{ "POST", "/api/v1/auth/refresh", handle_refresh, 0 },
	{ "POST", "/api/v1/auth/logout", handle_logout, 0 },
	{ "POST", "/api/v1/auth/password", handle_password, 0 },
	{ "GET", "/api/v1/auth/sessions", handle_sessions, 0 },
	{ "DELETE", "/api/v1/auth/sessions/{id}", handle_session_delete, 0 },
};

PROGRAM("homebot-auth", routes)
