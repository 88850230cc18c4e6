/*
 * The identity endpoints of api.md §2: register, login, refresh, logout,
 * password change, and the caller's sessions. GET /api/v1/auth/me is its
 * own program (me.c) because it is the hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "auth_password.h"
#include "auth_session.h"
#include "auth_token.h"
#include "crypto.h"
#include "page.h"
#include "program.h"
#include "ratelimit.h"
#include "validate.h"

/*
 * Uses users_email_key (lower(email)) and login_attempts(email, attempted_at).
 * Unless the email is locked, it records the attempt as failed before the
 * password is checked (attempt_id), so that concurrent logins cannot check
 * more passwords than the lockout allows.
 */
static const char SQL_LOGIN_LOOKUP[] =
    "SELECT user_id, password_hash, disabled, retry_after, attempt_id"
    " FROM homebot.login_lookup($1, $2, $3, $4)";
static const char SQL_LOGIN_FAILED[] =
    "SELECT homebot.login_failed($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_LOGIN_START[] =
    "SELECT status, session_id, organization_id, org_name, org_slug, role,"
    " email, full_name FROM homebot.login_start($1, $2, $3, $4, $5,"
    " decode($6, 'hex'), $7, $8)";
static const char SQL_REGISTER[] =
    "SELECT status, user_id, session_id, organization_id, org_name, org_slug"
    " FROM homebot.register($1, $2, $3, $4, $5, $6, $7, decode($8, 'hex'), $9)";
static const char SQL_REFRESH[] =
    "SELECT status, session_id, user_id, organization_id, org_name, org_slug,"
    " role, email, full_name FROM homebot.refresh_rotate(decode($1, 'hex'),"
    " decode($2, 'hex'), $3, $4, $5, $6)";
/* The caller's sessions, by sessions(user_id, created_at DESC, id DESC). */
static const char SQL_SESSIONS[] =
    "SELECT id, " HB_SQL_TS("created_at") ", " HB_SQL_TS("last_used_at") ","
    " ip, user_agent, organization_id, id = $2::uuid FROM homebot.sessions"
    " WHERE user_id = $1 AND revoked_at IS NULL"
    "   AND last_used_at > now() - make_interval(secs => $3::int)"
    "   AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))"
    " ORDER BY created_at DESC, id DESC LIMIT $6";
static const char SQL_REVOKE_SESSION[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id";
static const char SQL_LOGOUT[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE revoked_at IS NULL AND (id = $1 OR ($2 AND user_id = $3))";
static const char SQL_PASSWORD_HASH[] =
    "SELECT password_hash FROM homebot.users WHERE id = $1";
/* The update only happens while the caller's session is still live. */
static const char SQL_SET_PASSWORD[] =
    "UPDATE homebot.users SET password_hash = $1, updated_at = now()"
    " WHERE id = $2 AND EXISTS (SELECT 1 FROM homebot.sessions"
    "  WHERE id = $3 AND revoked_at IS NULL) RETURNING id";
static const char SQL_REVOKE_OTHERS[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL";

static const char *
col(struct hb_request *r, PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL :
	    arena_strdup(r->arena, PQgetvalue(res, 0, c));
}

static void
itoa_buf(char *buf, size_t n, long v)
{
	snprintf(buf, n, "%ld", v);
}

/* Answers with the token response of a new or refreshed session. */
static int
send_tokens(struct hb_request *r, struct hb_app *app, int status,
    const struct hb_login *l)
{
	struct json_object *body = auth_token_response(&app->keys, &app->cfg, l);

	if (body == NULL)
		return http_fail(r, 503, "service_unavailable",
		    "The access token cannot be signed now.");
	return http_json(r, status, body);
}

/* A fresh refresh token and the hex of its hash, both in the arena. */
static int
new_refresh(struct hb_request *r, char **token, char **hash_hex)
{
	unsigned char hash[HB_SHA256_LEN];

	*token = arena_alloc(r->arena, HB_REFRESH_TOKEN_MAX);
	*hash_hex = arena_alloc(r->arena, 2 * HB_SHA256_LEN + 1);
	if (*token == NULL || *hash_hex == NULL ||
	    auth_refresh_new(*token, hash) == -1)
		return -1;
	crypto_hex(hash, sizeof(hash), *hash_hex);
	return 0;
}

static int
handle_register(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;
	const char *email, *password, *full_name, *org_name, *params[9];
	char hash[HB_HASH_MAX], ttl[16], *refresh, *refresh_hex;
	struct hb_login l;
	PGresult *res;

	if (!app->cfg.registration_open)
		return http_fail(r, 403, "registration_closed",
		    "Registration is closed on this server.");
	if (ratelimit_auth(r, app->db, &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	email = validate_email(&c, r->arena, "email", true);
	password = json_get_string(&c, "password", true, 1, 1024);
	full_name = json_get_string(&c, "full_name", false, 0, 200);
	org_name = json_get_string(&c, "organization_name", true, 1, 200);
	validate_new_password(&c, &app->cfg, "password", password, email);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	if (auth_password_hash(password, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 || new_refresh(r, &refresh, &refresh_hex) == -1)
		return http_error(r, &r->err);
	itoa_buf(ttl, sizeof(ttl), app->cfg.refresh_token_ttl);
	params[0] = email;
	params[1] = hash;
	params[2] = full_name != NULL ? full_name : "";
	params[3] = org_name;
	params[4] = r->remote_addr;
	params[5] = audit_user_agent(r);
	params[6] = r->request_id;
	params[7] = refresh_hex;
	params[8] = ttl;
	res = db_exec(app->db, SQL_REGISTER, 9, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		PQclear(res);
		return http_fail(r, 409, "email_taken",
		    "An account with this email already exists.");
	}
	l = (struct hb_login){ col(r, res, 1), email, params[2],
	    col(r, res, 3), col(r, res, 4), col(r, res, 5), "owner",
	    col(r, res, 2), refresh };
	PQclear(res);
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
		if (*email == NULL || **email == '\0')
			json_check_fail(&c, "username", "is required");
		else if (strlen(*email) > 1024 ||
		    !json_utf8_valid(*email, strlen(*email)))
			json_check_fail(&c, "username",
			    "must be at most 1024 bytes of UTF-8 text");
		if (*password == NULL || **password == '\0')
			json_check_fail(&c, "password", "is required");
		else if (strlen(*password) > 1024 ||
		    !json_utf8_valid(*password, strlen(*password)))
			json_check_fail(&c, "password",
			    "must be at most 1024 bytes of UTF-8 text");
		return json_check_done(&c, &r->err);
	}
	json_check_begin(&c, r->json);
	*email = json_get_string(&c, "email", true, 1, 1024);
	*password = json_get_string(&c, "password", true, 1, 1024);
	*org_id = json_get_string(&c, "organization_id", false, 36, 36);
	if (*org_id != NULL && !auth_is_uuid(*org_id))
		json_check_fail(&c, "organization_id", "must be a UUID");
	return json_check_done(&c, &r->err);
}

/*
 * Audits a failed login (and the lockout it may start), whose attempt
 * login_lookup already counted: 401.
 */
static int
login_refused(struct hb_request *r, struct hb_app *app, const char *email,
    const char *user_id, const char *attempt_id)
{
	char max[16], window[16];
	const char *params[8] = { email, user_id, r->remote_addr,
	    audit_user_agent(r), r->request_id, max, window, attempt_id };
	PGresult *res;

	itoa_buf(max, sizeof(max), app->cfg.login_max_attempts);
	itoa_buf(window, sizeof(window), app->cfg.login_window);
	res = db_exec(app->db, SQL_LOGIN_FAILED, 8, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	PQclear(res);
	return http_fail(r, 401, "invalid_credentials",
	    "Email or password is wrong.");
}

static int
login_status(struct hb_request *r, const char *status)
{
	if (strcmp(status, "account_disabled") == 0)
		return http_fail(r, 403, "account_disabled",
		    "This account is disabled.");
	if (strcmp(status, "organization_suspended") == 0)
		return http_fail(r, 403, "organization_suspended",
		    "The organization is suspended.");
	return http_fail(r, 403, "not_a_member",
	    "You are not a member of that organization.");
}

/* Starts the session once the password was right. */
static int
login_start(struct hb_request *r, struct hb_app *app, const char *user_id,
    const char *org_id, const char *rehash)
{
	char ttl[16], *refresh, *refresh_hex;
	const char *params[8];
	struct hb_login l;
	PGresult *res;

	if (new_refresh(r, &refresh, &refresh_hex) == -1)
		return http_fail(r, 503, "service_unavailable",
		    "No randomness available.");
	itoa_buf(ttl, sizeof(ttl), app->cfg.refresh_token_ttl);
	params[0] = user_id;
	params[1] = org_id;
	params[2] = r->remote_addr;
	params[3] = audit_user_agent(r);
	params[4] = r->request_id;
	params[5] = refresh_hex;
	params[6] = ttl;
	params[7] = rehash;
	res = db_exec(app->db, SQL_LOGIN_START, 8, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		const char *status = PQntuples(res) == 1 ?
		    col(r, res, 0) : "not_a_member";

		PQclear(res);
		return login_status(r, status);
	}
	l = (struct hb_login){ user_id, col(r, res, 6), col(r, res, 7),
	    col(r, res, 2), col(r, res, 3), col(r, res, 4), col(r, res, 5),
	    col(r, res, 1), refresh };
	PQclear(res);
	return send_tokens(r, app, 200, &l);
}

static int
handle_login(struct hb_request *r, struct hb_app *app)
{
	const char *email, *password, *org_id, *user_id, *hash, *attempt_id;
	const char *params[4];
	char max[16], window[16], rehash[HB_HASH_MAX];
	PGresult *res;
	int wait;
	bool ok;

	if (ratelimit_auth(r, app->db, &r->err) == -1 ||
	    login_input(r, &email, &password, &org_id) == -1)
		return http_error(r, &r->err);
	email = validate_email_key(r->arena, email);
	if (email == NULL)
		return http_fail(r, 503, "service_unavailable", "Out of memory.");
	itoa_buf(max, sizeof(max), app->cfg.login_max_attempts);
	itoa_buf(window, sizeof(window), app->cfg.login_window);
	params[0] = email;
	params[1] = max;
	params[2] = window;
	params[3] = r->remote_addr;
	res = db_exec(app->db, SQL_LOGIN_LOOKUP, 4, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	user_id = col(r, res, 0);
	hash = col(r, res, 1);
	wait = atoi(PQgetvalue(res, 0, 3));
	attempt_id = col(r, res, 4);
	PQclear(res);
	if (wait > 0) {
		hb_fail(&r->err, 429, "too_many_attempts",
		    "Too many failed logins for this email; try again later.");
		r->err.retry_after = wait;
		return http_error(r, &r->err);
	}
	/*
	 * From here on the attempt counts as a failed one (attempt_id) until
	 * login_start records a success. No transaction is open during bcrypt.
	 *
	 * An unknown email costs one bcrypt verification too, against a
	 * dummy hash, so the answer's timing does not reveal which emails
	 * have accounts. Passwords over 72 bytes never match: bcrypt would
	 * silently ignore the rest.
	 */
	if (hash == NULL) {
		auth_password_dummy(password, app->cfg.bcrypt_cost);
		ok = false;
	} else
		ok = auth_password_verify(password, hash) &&
		    strlen(password) <= HB_PASSWORD_MAX;
	if (!ok)
		return login_refused(r, app, email, user_id, attempt_id);
	if (auth_password_cost(hash) != app->cfg.bcrypt_cost &&
	    auth_password_hash(password, app->cfg.bcrypt_cost, rehash,
	    &r->err) == -1)
		return http_error(r, &r->err);
	return login_start(r, app, user_id, org_id,
	    auth_password_cost(hash) != app->cfg.bcrypt_cost ? rehash : NULL);
}

static int
handle_refresh(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;
	const char *old, *params[6];
	char ttl[16], old_hex[2 * HB_SHA256_LEN + 1], *refresh, *refresh_hex;
	unsigned char old_hash[HB_SHA256_LEN];
	struct hb_login l;
	PGresult *res;
	const char *status;

	if (ratelimit_auth(r, app->db, &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	old = json_get_string(&c, "refresh_token", true, 1, 1024);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	if (!auth_refresh_valid(old))
		return http_fail(r, 401, "invalid_refresh_token",
		    "The refresh token is not valid.");
	crypto_sha256(old, strlen(old), old_hash);
	crypto_hex(old_hash, sizeof(old_hash), old_hex);
	if (new_refresh(r, &refresh, &refresh_hex) == -1)
		return http_fail(r, 503, "service_unavailable",
		    "No randomness available.");
	itoa_buf(ttl, sizeof(ttl), app->cfg.refresh_token_ttl);
	params[0] = old_hex;
	params[1] = refresh_hex;
	params[2] = ttl;
	params[3] = r->remote_addr;
	params[4] = audit_user_agent(r);
	params[5] = r->request_id;
	res = db_exec(app->db, SQL_REFRESH, 6, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	status = PQntuples(res) == 1 ? col(r, res, 0) : "invalid";
	if (strcmp(status, "ok") != 0) {
		PQclear(res);
		if (strcmp(status, "reused") == 0)
			return http_fail(r, 401, "refresh_token_reused", "This refresh "
			    "token was already used; the session is revoked.");
		return http_fail(r, 401, "invalid_refresh_token",
		    "The refresh token is not valid.");
	}
	l = (struct hb_login){ col(r, res, 2), col(r, res, 7), col(r, res, 8),
	    col(r, res, 3), col(r, res, 4), col(r, res, 5), col(r, res, 6),
	    col(r, res, 1), refresh };
	PQclear(res);
	return send_tokens(r, app, 200, &l);
}

/* Runs statement sql in the open transaction, then audits and commits. */
static int
write_audited(struct hb_request *r, struct hb_app *app,
    const struct hb_principal *who, const char *sql, int n,
    const char *const *params, const char *action, const char *target_type,
    const char *target_id)
{
	PGresult *res = db_exec(app->db, sql, n, params, &r->err);

	if (res == NULL)
		return -1;
	PQclear(res);
	struct hb_audit_event ev = { NULL, false, action, target_type, target_id,
	    NULL };

	if (audit_write(app->db, r, who, &ev, &r->err) == -1 ||
	    db_tx_commit(app->db, &r->err) == -1) {
		db_tx_rollback(app->db);
		return -1;
	}
	return 0;
}

static int
handle_logout(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	const char *params[3];
	bool all;

	if (auth_request(r, app->db, &app->keys,
	    HB_AUTH_TOKEN_ONLY | HB_AUTH_KEEP_TX, &who, &r->err) == -1)
		return http_error(r, &r->err);
	/* The body is optional here. */
	all = false;
	if (r->json != NULL) {
		json_check_begin(&c, r->json);
		all = json_get_bool(&c, "all_sessions", false, false);
		if (json_check_done(&c, &r->err) == -1) {
			db_tx_rollback(app->db);
			return http_error(r, &r->err);
		}
	}
	params[0] = who.session_id;
	params[1] = all ? "true" : "false";
	params[2] = who.user_id;
	if (write_audited(r, app, &who, SQL_LOGOUT, 3, params, "auth.logout",
	    "session", who.session_id) == -1)
		return http_error(r, &r->err);
	return http_no_content(r);
}

static int
handle_password(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	const char *current, *next, *params[3];
	char hash[HB_HASH_MAX];
	PGresult *res;
	bool ok;

	/* Guesses of the current password count against the IP's limit. */
	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 || ratelimit_auth(r, app->db, &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	current = json_get_string(&c, "current_password", true, 1, 1024);
	next = json_get_string(&c, "new_password", true, 1, 1024);
	validate_new_password(&c, &app->cfg, "new_password", next, who.email);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	ctx = auth_ctx(&who, r);
	params[0] = who.user_id;
	res = db_tenant_query(app->db, &ctx, false, SQL_PASSWORD_HASH, 1,
	    params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	ok = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    strlen(current) <= HB_PASSWORD_MAX &&
	    auth_password_verify(current, PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!ok)
		return http_fail(r, 401, "invalid_credentials",
		    "The current password is wrong.");
	if (auth_password_hash(next, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 || db_tx_begin(app->db, &ctx, &r->err) == -1)
		return http_error(r, &r->err);
	params[0] = hash;
	params[1] = who.user_id;
	params[2] = who.session_id;
	res = db_exec(app->db, SQL_SET_PASSWORD, 3, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	ok = PQntuples(res) == 1;
	PQclear(res);
	if (!ok) {
		db_tx_rollback(app->db);
		return http_fail(r, 401, "invalid_token",
		    "The access token is not valid.");
	}
	params[0] = who.user_id;
	params[1] = who.session_id;
	if (write_audited(r, app, &who, SQL_REVOKE_OTHERS, 2, params,
	    "auth.password.changed", "user", who.user_id) == -1)
		return http_error(r, &r->err);
	return http_no_content(r);
}

static struct json_object *
session_json(PGresult *res, int i)
{
	static const char *const names[] = { "id", "created_at",
	    "last_used_at", "ip", "user_agent", "organization_id" };
	struct json_object *s = json_row_strings(res, i, 0, names, 6);

	json_object_object_add(s, "current",
	    json_object_new_boolean(PQgetvalue(res, i, 6)[0] == 't'));
	return s;
}

static int
handle_sessions(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_db_ctx ctx;
	char ttl[16];
	const char *params[6];

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1 ||
	    page_parse(r, "sessions", who.user_id, &page, &r->err) == -1)
		return http_error(r, &r->err);
	itoa_buf(ttl, sizeof(ttl), app->cfg.refresh_token_ttl);
	params[0] = who.user_id;
	params[1] = who.session_id;
	params[2] = ttl;
	ctx = auth_ctx(&who, r);
	return page_run(r, app->db, &ctx, &page, "sessions", who.user_id,
	    SQL_SESSIONS, params, 3, 1, session_json);
}

static int
handle_session_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_audit_event ev;
	const char *id = http_route_param(r, "id"), *params[2];
	PGresult *res;
	bool found;

	if (auth_request(r, app->db, &app->keys,
	    HB_AUTH_TOKEN_ONLY | HB_AUTH_KEEP_TX, &who, &r->err) == -1)
		return http_error(r, &r->err);
	if (!auth_is_uuid(id)) {
		db_tx_rollback(app->db);
		return http_fail(r, 404, "not_found", "No such session.");
	}
	params[0] = id;
	params[1] = who.user_id;
	res = db_exec(app->db, SQL_REVOKE_SESSION, 2, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found) {
		db_tx_rollback(app->db);
		return http_fail(r, 404, "not_found", "No such session.");
	}
	ev = (struct hb_audit_event){ NULL, false, "auth.session.revoked", "session",
	    id, NULL };
	if (audit_write(app->db, r, &who, &ev, &r->err) == -1 ||
	    db_tx_commit(app->db, &r->err) == -1)
		return http_error(r, &r->err);
	return http_no_content(r);
}

static int
handle_switch(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	const char *org_id;

	if (auth_request(r, app->db, &app->keys, HB_AUTH_TOKEN_ONLY, &who,
	    &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	org_id = json_get_string(&c, "organization_id", true, 36, 36);
	if (org_id != NULL && !auth_is_uuid(org_id))
		json_check_fail(&c, "organization_id", "must be a UUID");
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	/* A new session in the other organization, as a login would start. */
	return login_start(r, app, who.user_id, org_id, NULL);
}

static const char SQL_ACCEPT[] =
    "SELECT status, user_id, session_id, organization_id, org_name, org_slug,"
    " role, email, full_name FROM homebot.accept_invite(decode($1, 'hex'),"
    " $2, $3, $4, $5, $6, decode($7, 'hex'), $8)";

static const char SQL_INVITE_EMAIL[] =
    "SELECT homebot.invitation_email(decode($1, 'hex'))";

/*
 * The email of a live invitation, so the new password can be checked
 * against it before anything is written: 0 with *email set, or -1 with
 * 401 invalid_invite (or 503) in r->err.
 */
static int
invite_email(struct hb_request *r, struct hb_app *app, const char *token_hex,
    const char **email)
{
	PGresult *res = db_exec(app->db, SQL_INVITE_EMAIL, 1, &token_hex,
	    &r->err);

	if (res == NULL)
		return -1;
	*email = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
	    col(r, res, 0) : NULL;
	PQclear(res);
	if (*email == NULL)
		return hb_fail(&r->err, 401, "invalid_invite",
		    "The invitation is not valid.");
	return 0;
}

static int
handle_accept_invite(struct hb_request *r, struct hb_app *app)
{
	struct hb_json_check c;
	const char *token, *password, *full_name, *params[8], *email = NULL;
	char hash[HB_HASH_MAX], ttl[16], token_hex[2 * HB_SHA256_LEN + 1];
	char *refresh, *refresh_hex;
	unsigned char token_hash[HB_SHA256_LEN];
	struct hb_login l;
	PGresult *res;

	if (ratelimit_auth(r, app->db, &r->err) == -1)
		return http_error(r, &r->err);
	json_check_begin(&c, r->json);
	token = json_get_string(&c, "invite_token", true, 1, 1024);
	password = json_get_string(&c, "password", true, 1, 1024);
	full_name = json_get_string(&c, "full_name", false, 0, 200);
	if (token != NULL && !auth_refresh_valid(token)) {
		json_object_put(c.details);
		return http_fail(r, 401, "invalid_invite",
		    "The invitation is not valid.");
	}
	if (token != NULL) {
		crypto_sha256(token, strlen(token), token_hash);
		crypto_hex(token_hash, sizeof(token_hash), token_hex);
		if (invite_email(r, app, token_hex, &email) == -1) {
			json_object_put(c.details);
			return http_error(r, &r->err);
		}
	}
	validate_new_password(&c, &app->cfg, "password", password, email);
	if (json_check_done(&c, &r->err) == -1)
		return http_error(r, &r->err);
	if (auth_password_hash(password, app->cfg.bcrypt_cost, hash,
	    &r->err) == -1 || new_refresh(r, &refresh, &refresh_hex) == -1)
		return http_error(r, &r->err);
	itoa_buf(ttl, sizeof(ttl), app->cfg.refresh_token_ttl);
	params[0] = token_hex;
	params[1] = hash;
	params[2] = full_name;
	params[3] = r->remote_addr;
	params[4] = audit_user_agent(r);
	params[5] = r->request_id;
	params[6] = refresh_hex;
	params[7] = ttl;
	res = db_exec(app->db, SQL_ACCEPT, 8, params, &r->err);
	if (res == NULL)
		return http_error(r, &r->err);
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "ok") != 0) {
		PQclear(res);
		return http_fail(r, 401, "invalid_invite",
		    "The invitation is not valid.");
	}
	l = (struct hb_login){ col(r, res, 1), col(r, res, 7), col(r, res, 8),
	    col(r, res, 3), col(r, res, 4), col(r, res, 5), col(r, res, 6),
	    col(r, res, 2), refresh };
	PQclear(res);
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
