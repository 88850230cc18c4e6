/*
 * The identity endpoints of api.md §2: register, login, refresh, logout,
 * password change, the caller's sessions, switching organization,
 * invitations, and the email-ownership flows (verification, password
 * reset, email change). GET /api/v1/auth/me is its own program (me.c)
 * because it is the hot path. The data lives in lib/session.c and
 * lib/account.c; two-factor authentication (api.md §12) in lib/mfa.c.
 */
#include <string.h>
#include <strings.h>

#include "account.h"
#include "auth.h"
#include "auth_password.h"
#include "mfa.h"
#include "page.h"
#include "program.h"
#include "ratelimit.h"
#include "session.h"
#include "sign_in.h"
#include "uuid.h"
#include "validate.h"

/*
 * The vault's keys, for the TOTP secrets: NULL when VAULT_MASTER_KEY is
 * missing or unusable, and then two-factor enrolment answers 503 while
 * everything else of this program works.
 */
static struct vault_keyring *keyring;

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

/*
 * The device of this request's sign-in (api.md §12: a user-agent family
 * and the client's /24 or /48 network, lib/sign_in.h), in r's arena; both
 * NULL, and nothing recorded, when the client's address is not one or
 * memory runs out: a notice is a courtesy, never a reason to refuse a
 * login.
 */
static void
sign_in_device(struct hb_request *r, const char **family,
    const char **network)
{
	char fam[HB_SIGN_IN_FAMILY_MAX], net[HB_SIGN_IN_NETWORK_MAX];

	*family = *network = NULL;
	if (sign_in_network(r->remote_addr, net, sizeof(net)) == -1 ||
	    sign_in_family(http_user_agent(r), fam, sizeof(fam)) == -1)
		return;
	*family = arena_strdup(r->arena, fam);
	*network = arena_strdup(r->arena, net);
	if (*family == NULL || *network == NULL)
		*family = *network = NULL;
}

/*
 * in's device and the link of the notice a new one mails: the account's
 * security page, where the user sees and ends sessions. In r's arena.
 */
static void
sign_in_start(struct hb_request *r, const struct hb_app *app,
    struct hb_session_start *in)
{
	size_t n = strlen(app->cfg.public_url) + sizeof("/account/security");
	char *link = arena_alloc(r->arena, n);

	if (link == NULL)
		return;
	snprintf(link, n, "%s/account/security", app->cfg.public_url);
	sign_in_device(r, &in->device_family, &in->device_network);
	in->notice_link = link;
}

static int
handle_register(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	/* No context but the trace, which the verification mail's job carries. */
	const struct hb_db_ctx traced = { .trace_id = ctx.trace_id };
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
	sign_in_device(r, &in.device_family, &in.device_network);
	/*
	 * The account and the mail of its verification link, or neither. As
	 * alone, register runs without a context (lib/session.c), but for the
	 * trace.
	 */
	if (db_tx_begin(app->db, &traced, &r->err) == -1)
		return -1;
	if (session_register(app->db, &ctx, r->arena, &in, &l, &r->err) == -1 ||
	    account_verify_send(app->db, &app->cfg, r->arena, l.user_id,
	    &r->err) == -1 ||
	    db_tx_commit(app->db, &r->err) == -1) {
		db_tx_rollback(app->db);
		return -1;
	}
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

/*
 * Whether password opens the account of email, wherever a password is
 * checked (login, password and email change, an invitation of a verified
 * account): 429 too_many_attempts while the email is locked out, else the
 * attempt counts against the lockout, and a wrong password is audited and
 * answered 401 invalid_credentials. found is the account looked up.
 */
static int
password_check(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const char *email, const char *password,
    struct hb_login_lookup *found)
{
	struct hb_login_limits lim = { app->cfg.login_max_attempts,
	    app->cfg.login_window };
	const char *key = validate_email_key(r->arena, email);

	if (key == NULL)
		return hb_fail(&r->err, 503, "service_unavailable",
		    "Out of memory.");
	if (session_login_lookup(app->db, ctx, r->arena, key, &lim, found,
	    &r->err) == -1)
		return -1;
	found->email_key = key;
	if (found->retry_after > 0) {
		hb_fail(&r->err, 429, "too_many_attempts",
		    "Too many failed logins for this email; try again later.");
		r->err.retry_after = found->retry_after;
		return -1;
	}
	if (!password_opens(app, found, password)) {
		if (session_login_failed(app->db, ctx, key, found, &lim,
		    &r->err) == -1)
			return -1;
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "Email or password is wrong.");
	}
	return 0;
}

/*
 * The first step of a login with TOTP on (api.md §12): the password was
 * right, so its attempt no longer counts; the second step's codes count
 * on their own. No token yet: an mfa_token for POST /auth/mfa/verify.
 */
static int
send_mfa_challenge(struct hb_request *r, struct hb_app *app,
    const struct hb_login_lookup *found, const struct hb_session_start *in)
{
	struct json_object *body;
	const char *token;

	if (mfa_challenge_new(app->db, r->arena, in->user_id, in->org_id,
	    in->verified_hash, in->rehash, &token, &r->err) == -1 ||
	    mfa_attempt_clear(app->db, found->email_key, found->attempt_id,
	    &r->err) == -1)
		return -1;
	body = json_object_new_object();
	json_object_object_add(body, "mfa_required",
	    json_object_new_boolean(true));
	json_object_object_add(body, "mfa_token",
	    json_object_new_string(token));
	json_object_object_add(body, "expires_in",
	    json_object_new_int(MFA_TOKEN_TTL));
	return http_json(r, 200, body);
}

/*
 * 422 when pw is one of the last 5 passwords of email's account (api.md
 * §12). Asked after every other rule, and after the current password is
 * proved where one is asked (proved: that account's lookup, else NULL):
 * each comparison is a bcrypt, and the answer tells whether pw is the
 * current password. A refusal after a proof is no failed guess.
 */
static int
password_fresh(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const struct hb_login_lookup *proved,
    const char *field, const char *pw, const char *email)
{
	struct hb_json_check c;
	bool reused;

	if (email == NULL || pw == NULL)
		return 0;
	if (account_password_reused(app->db, email, pw, &reused,
	    &r->err) == -1)
		return -1;
	if (!reused)
		return 0;
	if (proved != NULL && account_password_proved(app->db, ctx,
	    proved->user_id, proved->password_hash, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	json_check_fail(&c, field, "must differ from the account's last 5 "
	    "passwords");
	return json_check_done(&c, &r->err);
}

static int
handle_login(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_session_start in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	const char *email, *password;
	char rehash[HB_HASH_MAX];
	struct hb_login_lookup found;
	struct hb_login l;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    login_input(r, &email, &password, &in.org_id) == -1 ||
	    password_check(r, app, &ctx, email, password, &found) == -1)
		return -1;
	/* Only a weaker hash is replaced: a stronger one is kept as it is. */
	if (auth_password_cost(found.password_hash) < app->cfg.bcrypt_cost) {
		if (auth_password_hash(password, app->cfg.bcrypt_cost, rehash,
		    &r->err) == -1)
			return -1;
		in.rehash = rehash;
	}
	in.user_id = found.user_id;
	in.verified_hash = found.password_hash;
	if (found.mfa_enabled)
		return send_mfa_challenge(r, app, &found, &in);
	sign_in_start(r, app, &in);
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

	if (ratelimit_refresh(app->db, &ctx, &app->cfg, &r->err) == -1)
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

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY |
	    HB_AUTH_MFA_ENROL, &who, &r->err) == -1)
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
	struct hb_login_lookup found;
	const char *current, *next;
	char hash[HB_HASH_MAX];

	/*
	 * Guesses of the current password count against the IP's limit and
	 * the email's lockout, as logins do.
	 */
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
	    password_check(r, app, &ctx, who.email, current, &found) == -1)
		return -1;
	if (found.user_id == NULL || strcmp(found.user_id, who.user_id) != 0)
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "The current password is wrong.");
	if (password_fresh(r, app, &ctx, &found, "new_password", next,
	    who.email) == -1 ||
	    auth_password_hash(next, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 ||
	    session_set_password(app->db, &ctx, who.session_id,
	    found.password_hash, hash, &r->err) == -1)
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

/*
 * How an invitation for a verified account is proven: the caller's access
 * token of that account, else its current password (counted like a
 * login). Fills in; 0 or -1.
 */
static int
invite_proof(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const struct hb_invite_lookup *inv,
    const char *password, struct hb_accept_invite *in)
{
	struct hb_principal who;
	struct hb_login_lookup found;

	if (http_header(r, "authorization") != NULL) {
		if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY,
		    &who, &r->err) == -1)
			return -1;
		if (strcmp(who.user_id, inv->user_id) == 0) {
			in->user_id = who.user_id;
			return 0;
		}
	}
	if (password == NULL)
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "Sign in as the invited account, or give its password.");
	if (password_check(r, app, ctx, inv->email, password, &found) == -1)
		return -1;
	in->verified_hash = found.password_hash;
	return 0;
}

static int
handle_accept_invite(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	struct hb_accept_invite in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	struct hb_invite_lookup inv = { 0 };
	const char *password;
	char hash[HB_HASH_MAX];
	struct hb_login l;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.invite_token = json_get_string(&c, "invite_token", true, 1, 1024);
	password = json_get_string(&c, "password", false, 1, 1024);
	in.full_name = json_get_string(&c, "full_name", false, 0, 200);
	/* Which rule applies, and the address a new password must differ from. */
	if (in.invite_token != NULL && session_invite_lookup(app->db,
	    r->arena, in.invite_token, &inv, &r->err) == -1) {
		json_object_put(c.details);
		return -1;
	}
	if (in.invite_token != NULL && !inv.verified) {
		if (password == NULL)
			json_check_fail(&c, "password",
			    "is required: choose the account's password");
		validate_new_password(&c, &app->cfg, "password", password,
		    inv.email);
	}
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	if (inv.verified) {
		if (invite_proof(r, app, &ctx, &inv, password, &in) == -1)
			return -1;
	} else {
		if (password_fresh(r, app, &ctx, NULL, "password", password,
		    inv.email) == -1 ||
		    auth_password_hash(password, app->cfg.bcrypt_cost, hash,
		    &r->err) == -1)
			return -1;
		in.password_hash = hash;
	}
	if (session_accept_invite(app->db, &ctx, r->arena, &in, &l,
	    &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

/* GET /api/v1/auth/invitations and its accept need a verified address. */
static int
verified_caller(struct hb_request *r, struct hb_app *app,
    struct hb_principal *who)
{
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, who,
	    &r->err) == -1)
		return -1;
	if (!who->email_verified)
		return hb_fail(&r->err, 403, "email_not_verified",
		    "Verify your email address first.");
	return 0;
}

static int
handle_invitations(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;

	if (verified_caller(r, app, &who) == -1 ||
	    page_parse(r, "invitations", who.user_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (account_invitations(app->db, &ctx, who.user_id, &page, &rows,
	    &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_invitation_accept(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_accept_invite in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	struct hb_login l;

	in.invitation_id = http_route_param(r, "id");
	if (verified_caller(r, app, &who) == -1)
		return -1;
	if (!uuid_valid(in.invitation_id))
		return hb_fail(&r->err, 404, "not_found",
		    "No such invitation.");
	in.user_id = who.user_id;
	if (session_accept_invite(app->db, &ctx, r->arena, &in, &l,
	    &r->err) == -1)
		return -1;
	return send_tokens(r, app, 200, &l);
}

/* {"user": user}, with user the caller's. */
static int
send_user(struct hb_request *r, struct json_object *user)
{
	struct json_object *body = json_object_new_object();

	json_object_object_add(body, "user", user);
	return http_json(r, 200, body);
}

/* The one field "token" of the body; NULL with err set. */
static const char *
read_token(struct hb_request *r, const char *field)
{
	struct hb_json_check c;
	const char *token;

	json_check_begin(&c, r->json);
	token = json_get_string(&c, field, true, 1, 1024);
	return json_check_done(&c, &r->err) == -1 ? NULL : token;
}

static int
handle_verify_email(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct json_object *user;
	const char *token;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    (token = read_token(r, "token")) == NULL ||
	    account_verify(app->db, &ctx, token, &user, &r->err) == -1)
		return -1;
	return send_user(r, user);
}

static int
handle_verify_resend(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    db_tx_begin(app->db, &ctx, &r->err) == -1)
		return -1;
	if (account_verify_send(app->db, &app->cfg, r->arena, who.user_id,
	    &r->err) == -1 || db_tx_commit(app->db, &r->err) == -1) {
		db_tx_rollback(app->db);
		return -1;
	}
	return send_message(r, 202, "A new confirmation link is on its way.");
}

static int
handle_forgot(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	const char *email;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	email = validate_email(&c, r->arena, "email", true);
	if (json_check_done(&c, &r->err) == -1 ||
	    account_forgot_enqueue(app->db, email, ctx.trace_id,
	    &r->err) == -1)
		return -1;
	/*
	 * The same answer, and the same work, whether or not the account
	 * exists: homebot-worker looks it up.
	 */
	return send_message(r, 202, "If an account has this address, a link to "
	    "reset its password is on its way.");
}

static int
handle_reset(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_json_check c;
	const char *token, *password, *email = NULL;
	char hash[HB_HASH_MAX];

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	token = json_get_string(&c, "token", true, 1, 1024);
	password = json_get_string(&c, "new_password", true, 1, 1024);
	/* The account's address, so the password can be checked against it. */
	if (token != NULL && account_reset_email(app->db, r->arena, token,
	    &email, &r->err) == -1) {
		json_object_put(c.details);
		return -1;
	}
	validate_new_password(&c, &app->cfg, "new_password", password, email);
	if (json_check_done(&c, &r->err) == -1 ||
	    password_fresh(r, app, &ctx, NULL, "new_password", password,
	    email) == -1 ||
	    auth_password_hash(password, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 ||
	    account_reset(app->db, &ctx, token, hash, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_email_change(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct hb_login_lookup found;
	struct hb_email_change in;
	const char *password;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.new_email = validate_email(&c, r->arena, "new_email", true);
	password = json_get_string(&c, "password", true, 1, 1024);
	if (in.new_email != NULL && strcasecmp(in.new_email, who.email) == 0)
		json_check_fail(&c, "new_email", "is the current address");
	if (json_check_done(&c, &r->err) == -1 ||
	    password_check(r, app, &ctx, who.email, password, &found) == -1)
		return -1;
	if (found.user_id == NULL || strcmp(found.user_id, who.user_id) != 0)
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "The password is wrong.");
	in.user_id = who.user_id;
	in.verified_hash = found.password_hash;
	if (account_email_change(app->db, &ctx, &app->cfg, r->arena, &in,
	    &r->err) == -1)
		return -1;
	return send_message(r, 202, "A confirmation link is on its way to the "
	    "new address.");
}

static int
handle_email_confirm(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct json_object *user;
	const char *token;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1 ||
	    (token = read_token(r, "token")) == NULL ||
	    account_email_confirm(app->db, &ctx, token, &user, &r->err) == -1)
		return -1;
	return send_user(r, user);
}

/*
 * The two-factor endpoints of api.md §12. Each guess of a code counts
 * like a guess of the password: against the IP's limit, and against the
 * email's lockout (a wrong code is audited as a failed login and may lock
 * the email; a right one un-counts its attempt).
 */

/* The caller of an enrolment endpoint, held by require_mfa or not. */
static int
mfa_caller(struct hb_request *r, struct hb_app *app, struct hb_principal *who,
    struct hb_db_ctx *ctx)
{
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY |
	    HB_AUTH_MFA_ENROL, who, &r->err) == -1)
		return -1;
	*ctx = auth_ctx(who, r);
	return ratelimit_auth(app->db, ctx, &app->cfg, &r->err);
}

/* 429 while email is locked out; else the attempt of a code begins. */
static int
code_attempt(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const char *email,
    struct hb_login_lookup *found)
{
	struct hb_login_limits lim = { app->cfg.login_max_attempts,
	    app->cfg.login_window };
	const char *key = validate_email_key(r->arena, email);

	if (key == NULL)
		return hb_fail(&r->err, 503, "service_unavailable",
		    "Out of memory.");
	if (session_login_lookup(app->db, ctx, r->arena, key, &lim, found,
	    &r->err) == -1)
		return -1;
	found->email_key = key;
	if (found->retry_after > 0) {
		hb_fail(&r->err, 429, "too_many_attempts",
		    "Too many failed attempts for this account; try again "
		    "later.");
		r->err.retry_after = found->retry_after;
		return -1;
	}
	return 0;
}

/*
 * Ends the attempt of found by rc, a code check's result: 0 (right) no
 * longer counts, 1 (wrong or replayed) is a failed login and 401
 * invalid_mfa_code, -1 (err set) stays as it is.
 */
static int
code_attempt_end(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const struct hb_login_lookup *found, int rc)
{
	struct hb_login_limits lim = { app->cfg.login_max_attempts,
	    app->cfg.login_window };

	if (rc == 0)
		return mfa_attempt_clear(app->db, found->email_key,
		    found->attempt_id, &r->err);
	if (rc == 1) {
		if (session_login_failed(app->db, ctx, found->email_key, found,
		    &lim, &r->err) == -1)
			return -1;
		return hb_fail(&r->err, 401, "invalid_mfa_code",
		    "The code is wrong, expired or already used.");
	}
	return -1;
}

/* The one code field; NULL with err set. */
static const char *
read_code(struct hb_request *r)
{
	struct hb_json_check c;
	const char *code;

	json_check_begin(&c, r->json);
	code = json_get_string(&c, "code", true, 1, 16);
	return json_check_done(&c, &r->err) == -1 ? NULL : code;
}

/* {"recovery_codes": codes}. */
static int
send_recovery_codes(struct hb_request *r, struct json_object *codes)
{
	struct json_object *body = json_object_new_object();

	json_object_object_add(body, "recovery_codes", codes);
	return http_json(r, 200, body);
}

static int
handle_mfa_begin(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct hb_json_check c;
	struct hb_login_lookup found;
	struct json_object *out;
	const char *password;

	if (mfa_caller(r, app, &who, &ctx) == -1)
		return -1;
	json_check_begin(&c, r->json);
	password = json_get_string(&c, "password", true, 1, 1024);
	if (json_check_done(&c, &r->err) == -1 ||
	    password_check(r, app, &ctx, who.email, password, &found) == -1)
		return -1;
	if (found.user_id == NULL || strcmp(found.user_id, who.user_id) != 0)
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "The password is wrong.");
	if (mfa_attempt_clear(app->db, found.email_key, found.attempt_id,
	    &r->err) == -1 ||
	    mfa_begin(app->db, &ctx, keyring, app->cfg.issuer, who.user_id,
	    who.email, &out, &r->err) == -1)
		return -1;
	return http_json(r, 200, out);
}

static int
handle_mfa_confirm(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct hb_login_lookup found;
	struct hb_mfa_secret s;
	struct json_object *codes = NULL;
	const char *code;
	int rc;

	if (mfa_caller(r, app, &who, &ctx) == -1 ||
	    (code = read_code(r)) == NULL ||
	    mfa_secret_load(app->db, keyring, who.user_id, &s, &r->err) == -1)
		return -1;
	/* Nothing to confirm (409 from mfa_confirm) costs no attempt. */
	if (s.enabled || !s.present) {
		rc = mfa_confirm(app->db, &ctx, &s, who.user_id, code, &codes,
		    &r->err);
		mfa_secret_wipe(&s);
		return rc;
	}
	if (code_attempt(r, app, &ctx, who.email, &found) == -1) {
		mfa_secret_wipe(&s);
		return -1;
	}
	rc = mfa_confirm(app->db, &ctx, &s, who.user_id, code, &codes,
	    &r->err);
	mfa_secret_wipe(&s);
	if (code_attempt_end(r, app, &ctx, &found, rc) == -1) {
		json_object_put(codes);
		return -1;
	}
	return send_recovery_codes(r, codes);
}

/*
 * The code of a caller with TOTP on, used in a transaction left open for
 * the change it proves: 0, or -1 with err (401 invalid_mfa_code, 409
 * mfa_not_enabled, 429). found is the attempt it counts as.
 */
static int
code_proof(struct hb_request *r, struct hb_app *app,
    const struct hb_db_ctx *ctx, const struct hb_principal *who,
    const char *code, struct hb_login_lookup *found, bool counted)
{
	struct hb_mfa_secret s;
	int rc;

	if (mfa_secret_load(app->db, keyring, who->user_id, &s,
	    &r->err) == -1)
		return -1;
	if (!s.enabled) {
		mfa_secret_wipe(&s);
		return hb_fail(&r->err, 409, "mfa_not_enabled",
		    "TOTP is not on for this account.");
	}
	if ((!counted && code_attempt(r, app, ctx, who->email,
	    found) == -1) || db_tx_begin(app->db, ctx, &r->err) == -1) {
		mfa_secret_wipe(&s);
		return -1;
	}
	rc = mfa_code_use(app->db, &s, who->user_id, code, &r->err);
	mfa_secret_wipe(&s);
	if (rc != 0)
		db_tx_rollback(app->db);
	if (code_attempt_end(r, app, ctx, found, rc) == -1) {
		db_tx_rollback(app->db);
		return -1;
	}
	return 0;
}

static int
handle_mfa_recovery(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct hb_login_lookup found;
	struct json_object *codes;
	const char *code;

	if (mfa_caller(r, app, &who, &ctx) == -1 ||
	    (code = read_code(r)) == NULL ||
	    code_proof(r, app, &ctx, &who, code, &found, false) == -1 ||
	    mfa_recovery_replace(app->db, who.user_id, &codes, &r->err) == -1)
		return -1;
	return send_recovery_codes(r, codes);
}

static int
handle_mfa_disable(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct hb_json_check c;
	struct hb_login_lookup found;
	const char *password, *code;

	if (mfa_caller(r, app, &who, &ctx) == -1)
		return -1;
	json_check_begin(&c, r->json);
	password = json_get_string(&c, "password", true, 1, 1024);
	code = json_get_string(&c, "code", true, 1, 16);
	if (json_check_done(&c, &r->err) == -1 ||
	    password_check(r, app, &ctx, who.email, password, &found) == -1)
		return -1;
	if (found.user_id == NULL || strcmp(found.user_id, who.user_id) != 0)
		return hb_fail(&r->err, 401, "invalid_credentials",
		    "The password is wrong.");
	/* The password's attempt is the code's too: one a request. */
	if (code_proof(r, app, &ctx, &who, code, &found, true) == -1 ||
	    mfa_disable(app->db, who.user_id, who.session_id, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_mfa_verify(struct hb_request *r, struct hb_app *app)
{
	struct hb_db_ctx ctx = auth_ctx(NULL, r);
	struct hb_session_start in = { .refresh_ttl =
	    app->cfg.refresh_token_ttl };
	struct hb_json_check c;
	struct hb_mfa_challenge ch;
	struct hb_mfa_secret s;
	struct hb_login_lookup found;
	const char *token, *code, *recovery;
	struct hb_login l;
	int rc;

	if (ratelimit_auth(app->db, &ctx, &app->cfg, &r->err) == -1)
		return -1;
	json_check_begin(&c, r->json);
	token = json_get_string(&c, "mfa_token", true, 1, 1024);
	code = json_get_string(&c, "code", false, 1, 16);
	recovery = json_get_string(&c, "recovery_code", false, 1, 64);
	if ((code == NULL) == (recovery == NULL))
		json_check_fail(&c, code == NULL ? "code" : "recovery_code",
		    "give either code or recovery_code");
	if (json_check_done(&c, &r->err) == -1 ||
	    mfa_challenge_get(app->db, keyring, r->arena, token, &ch, &s,
	    &r->err) == -1)
		return -1;
	if (code_attempt(r, app, &ctx, ch.email, &found) == -1) {
		mfa_secret_wipe(&s);
		return -1;
	}
	rc = mfa_challenge_finish(app->db, r->arena, &ch, &s, code, recovery,
	    &r->err);
	mfa_secret_wipe(&s);
	if (rc == 1)
		return code_attempt_end(r, app, &ctx, &found, rc);
	if (rc == -1) {
		/* Another request completed the login first: no guess. */
		if (r->err.status == 401)
			mfa_attempt_clear(app->db, found.email_key,
			    found.attempt_id, &(struct hb_error){ 0 });
		return -1;
	}
	/* login_start records the success that ends the lockout count. */
	in.user_id = ch.user_id;
	in.org_id = ch.org_id;
	in.verified_hash = ch.verified_hash;
	in.rehash = ch.rehash;
	sign_in_start(r, app, &in);
	if (session_start(app->db, &ctx, r->arena, &in, &l, &r->err) == -1)
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
	{ "GET", "/api/v1/auth/invitations", handle_invitations, 0 },
	{ "POST", "/api/v1/auth/invitations/{id}/accept",
	    handle_invitation_accept, 0 },
	{ "POST", "/api/v1/auth/verify-email", handle_verify_email, 0 },
	{ "POST", "/api/v1/auth/verify-email/resend", handle_verify_resend,
	    0 },
	{ "POST", "/api/v1/auth/password/forgot", handle_forgot, 0 },
	{ "POST", "/api/v1/auth/password/reset", handle_reset, 0 },
	{ "POST", "/api/v1/auth/email", handle_email_change, 0 },
	{ "POST", "/api/v1/auth/email/confirm", handle_email_confirm, 0 },
	{ "POST", "/api/v1/auth/mfa/totp", handle_mfa_begin, 0 },
	{ "DELETE", "/api/v1/auth/mfa/totp", handle_mfa_disable, 0 },
	{ "POST", "/api/v1/auth/mfa/totp/confirm", handle_mfa_confirm, 0 },
	{ "POST", "/api/v1/auth/mfa/recovery-codes", handle_mfa_recovery, 0 },
	{ "POST", "/api/v1/auth/mfa/verify", handle_mfa_verify, 0 },
};

/*
 * program_main's, with the vault's keyring for the TOTP secrets: without
 * a usable one this program still serves everything but two-factor
 * enrolment and the second step of a login (503), and says so once.
 */
int
main(void)
{
	struct hb_app app = { .name = "homebot-auth", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]) };
	struct hb_error err = {0};
	int rc;

	if (app_init(&app, &err) == -1) {
		fprintf(stderr, "%s: %s\n", app.name, err.message);
		return 1;
	}
	if (vault_keyring_load(&keyring, app.cfg.vault_master_key,
	    app.cfg.vault_old_keys, &err) != VAULT_OK)
		fprintf(stderr, "%s: two-factor authentication is unavailable:"
		    " %s\n", app.name, err.message);
	rc = app_run(&app);
	vault_keyring_free(keyring);
	app_free(&app);
	return rc;
}
