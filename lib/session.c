#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth_token.h"
#include "json.h"
#include "session.h"

/*
 * The account functions are SECURITY DEFINER (api.md §2 happens before
 * any tenant is known); see schema/. They take the request's IP, user
 * agent and request ID as parameters and run without a context, so the
 * row changes they make are the system's and their own audit events the
 * user's. Uses users_email_key (lower(email)) and login_attempts(email,
 * attempted_at). The token response's mfa_enabled comes beside each
 * function's row (homebot.mfa_enabled, R__mfa.sql).
 */
static const char SQL_REGISTER[] =
    "SELECT status, user_id, session_id, organization_id, org_name, org_slug"
    " FROM homebot.register($1, $2, $3, $4, $5, $6, $7, decode($8, 'hex'), $9,"
    " $10, $11)";
static const char SQL_LOGIN_LOOKUP[] =
    "SELECT user_id, password_hash, retry_after, attempt_id,"
    " homebot.mfa_enabled(user_id) AS mfa_enabled"
    " FROM homebot.login_lookup($1, $2, $3, $4)";
static const char SQL_LOGIN_FAILED[] =
    "SELECT homebot.login_failed($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_LOGIN_START[] =
    "SELECT status, session_id, organization_id, org_name, org_slug, role,"
    " email, full_name, email_verified, homebot.mfa_enabled($1) AS mfa_enabled"
    " FROM homebot.login_start($1, $2, $3, $4, $5, decode($6, 'hex'), $7, $8, $9,"
    " $10, $11, $12)";
static const char SQL_REFRESH[] =
    "SELECT status, session_id, user_id, organization_id, org_name, org_slug,"
    " role, email, full_name, email_verified,"
    " homebot.mfa_enabled(f.user_id) AS mfa_enabled"
    " FROM homebot.refresh_rotate(decode($1, 'hex'),"
    " decode($2, 'hex'), $3, $4, $5, $6, $7) f";
static const char SQL_ACCEPT[] =
    "SELECT status, user_id, session_id, organization_id, org_name, org_slug,"
    " role, email, full_name, email_verified,"
    " homebot.mfa_enabled(f.user_id) AS mfa_enabled FROM homebot.accept_invite("
    "decode($1, 'hex'), $2, $3, $4, $5, $6, $7, $8, $9, decode($10, 'hex'),"
    " $11) f";
static const char SQL_INVITE_LOOKUP[] =
    "SELECT user_id, email, verified"
    " FROM homebot.invitation_lookup(decode($1, 'hex'))";
/* The caller's sessions, by sessions(user_id, created_at DESC, id DESC). */
static const char SQL_LIST[] =
    "SELECT id, " HB_SQL_TS("created_at") " AS created_at, "
    HB_SQL_TS("last_used_at") " AS last_used_at, ip, user_agent,"
    " organization_id, id = $2::uuid AS current FROM homebot.sessions"
    " WHERE user_id = $1 AND revoked_at IS NULL"
    "   AND last_used_at > now() - make_interval(secs => $3::int)"
    "   AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))"
    " ORDER BY sessions.created_at DESC, sessions.id DESC LIMIT $6";
static const char SQL_REVOKE[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id";
static const char SQL_LOGOUT[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE revoked_at IS NULL AND (id = $1 OR ($2 AND user_id = $3))";
/*
 * The update only happens while the caller's session is still live and
 * the stored hash is still the one the current password was checked
 * against: of two changes at once, only one wins.
 */
static const char SQL_SET_PASSWORD[] =
    "UPDATE homebot.users SET password_hash = $1, updated_at = now()"
    " WHERE id = $2 AND password_hash = $4 AND EXISTS (SELECT 1"
    "  FROM homebot.sessions WHERE id = $3 AND revoked_at IS NULL)"
    " RETURNING id";
static const char SQL_REVOKE_OTHERS[] =
    "UPDATE homebot.sessions SET revoked_at = now()"
    " WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL";
/*
 * The current password was right: the email's lockout count ends, and
 * links sent before (a reset, an email change) stop working.
 */
static const char SQL_PASSWORD_OK[] =
    "SELECT homebot.password_changed($1, $2, $3)";


/* Column column of row 0, copied into the arena; NULL when absent. */
static const char *
col(struct hb_arena *a, const PGresult *res, const char *column)
{
	const char *v = db_value(res, 0, column);

	return v != NULL ? arena_strdup(a, v) : NULL;
}

/* Whether the one row's status column says "ok"; else *status is it. */
static bool
status_ok(struct hb_arena *a, const PGresult *res, const char **status)
{
	const char *s = db_value(res, 0, "status");

	*status = s != NULL ? arena_strdup(a, s) : "";
	return PQntuples(res) == 1 && s != NULL && strcmp(s, "ok") == 0;
}

/*
 * The session a function just started, from the columns the session
 * functions share; what a function does not return stays as it was.
 */
static void
login_from_row(struct hb_arena *a, const PGresult *res, struct hb_login *l)
{
	static const struct { const char *column; size_t off; } cols[] = {
		{ "user_id", offsetof(struct hb_login, user_id) },
		{ "email", offsetof(struct hb_login, email) },
		{ "full_name", offsetof(struct hb_login, full_name) },
		{ "organization_id", offsetof(struct hb_login, org_id) },
		{ "org_name", offsetof(struct hb_login, org_name) },
		{ "org_slug", offsetof(struct hb_login, org_slug) },
		{ "role", offsetof(struct hb_login, role) },
		{ "session_id", offsetof(struct hb_login, session_id) },
	};

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (PQfnumber(res, cols[i].column) >= 0)
			*(const char **)((char *)l + cols[i].off) =
			    col(a, res, cols[i].column);
	}
	if (PQfnumber(res, "email_verified") >= 0)
		l->email_verified = db_bool(res, 0, "email_verified");
	if (PQfnumber(res, "mfa_enabled") >= 0)
		l->mfa_enabled = db_bool(res, 0, "mfa_enabled");
}

static void
itoa_buf(char buf[16], long v)
{
	snprintf(buf, 16, "%ld", v);
}

/*
 * Runs one of the functions that start a session, whose one row carries
 * a status and the session's columns: 0 with out filled in when the
 * status is "ok", 1 with *status saying why it refused, or -1 with err.
 * The functions take the request's context as arguments; its trace ID is
 * set as app.trace_id in the same round trip, so that their audit rows,
 * and the events those publish, carry the request's trace.
 */
static int
session_call(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const char *sql, int n, const char *const *params,
    struct hb_login *out, const char **status, struct hb_error *err)
{
	const struct hb_db_ctx traced = { .trace_id = ctx->trace_id };
	PGresult *res = db_tenant_query(db, &traced, false, sql, n, params,
	    err);
	bool ok;

	if (res == NULL)
		return -1;
	ok = status_ok(a, res, status);
	if (ok)
		login_from_row(a, res, out);
	PQclear(res);
	return ok ? 0 : 1;
}

int
session_register(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const struct hb_register *in, struct hb_login *out,
    struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16];
	const char *params[11], *status;
	int rc;

	*out = (struct hb_login){ .email = in->email, .role = "owner",
	    .full_name = in->full_name != NULL ? in->full_name : "" };
	if ((out->refresh_token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	itoa_buf(ttl, in->refresh_ttl);
	params[0] = in->email;
	params[1] = in->password_hash;
	params[2] = out->full_name;
	params[3] = in->org_name;
	params[4] = ctx->ip;
	params[5] = ctx->user_agent;
	params[6] = ctx->request_id;
	params[7] = hex;
	params[8] = ttl;
	params[9] = in->device_family;
	params[10] = in->device_network;
	rc = session_call(db, ctx, a, SQL_REGISTER, 11, params, out,
	    &status, err);
	if (rc == 1)
		return hb_fail(err, 409, "email_taken",
		    "An account with this email already exists.");
	return rc;
}

int
session_login_lookup(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const char *email_key,
    const struct hb_login_limits *lim, struct hb_login_lookup *out,
    struct hb_error *err)
{
	char max[16], window[16];
	const char *params[4] = { email_key, max, window, ctx->ip };
	const char *wait;
	PGresult *res;

	itoa_buf(max, lim->max_attempts);
	itoa_buf(window, lim->window);
	res = db_exec(db, SQL_LOGIN_LOOKUP, 4, params, err);
	if (res == NULL)
		return -1;
	wait = db_value(res, 0, "retry_after");
	*out = (struct hb_login_lookup){
		.user_id = col(a, res, "user_id"),
		.password_hash = col(a, res, "password_hash"),
		.retry_after = wait != NULL ? atoi(wait) : 0,
		.attempt_id = col(a, res, "attempt_id"),
		.mfa_enabled = db_bool(res, 0, "mfa_enabled"),
		.email_key = email_key,
	};
	PQclear(res);
	return 0;
}

int
session_login_failed(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *email_key, const struct hb_login_lookup *l,
    const struct hb_login_limits *lim, struct hb_error *err)
{
	char max[16], window[16];
	const char *params[8] = { email_key, l->user_id, ctx->ip,
	    ctx->user_agent, ctx->request_id, max, window, l->attempt_id };
	PGresult *res;

	itoa_buf(max, lim->max_attempts);
	itoa_buf(window, lim->window);
	res = db_exec(db, SQL_LOGIN_FAILED, 8, params, err);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
start_refused(const char *status, struct hb_error *err)
{
	/* The password was changed while this login checked the old one. */
	if (strcmp(status, "password_changed") == 0)
		return hb_fail(err, 401, "invalid_credentials",
		    "Email or password is wrong.");
	if (strcmp(status, "account_disabled") == 0)
		return hb_fail(err, 403, "account_disabled",
		    "This account is disabled.");
	if (strcmp(status, "organization_suspended") == 0)
		return hb_fail(err, 403, "organization_suspended",
		    "The organization is suspended.");
	return hb_fail(err, 403, "not_a_member",
	    "You are not a member of that organization.");
}

int
session_start(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const struct hb_session_start *in,
    struct hb_login *out, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16];
	const char *params[12], *status;
	int rc;

	*out = (struct hb_login){ .user_id = in->user_id };
	if ((out->refresh_token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	itoa_buf(ttl, in->refresh_ttl);
	params[0] = in->user_id;
	params[1] = in->org_id;
	params[2] = ctx->ip;
	params[3] = ctx->user_agent;
	params[4] = ctx->request_id;
	params[5] = hex;
	params[6] = ttl;
	params[7] = in->rehash;
	params[8] = in->verified_hash;
	params[9] = in->device_family;
	params[10] = in->device_network;
	params[11] = in->notice_link;
	rc = session_call(db, ctx, a, SQL_LOGIN_START, 12, params, out,
	    &status, err);
	return rc == 1 ? start_refused(status, err) : rc;
}

int
session_refresh(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const char *refresh_token, int refresh_ttl,
    int max_age, struct hb_login *out, struct hb_error *err)
{
	char old_hex[HB_TOKEN_HEX_LEN], hex[HB_TOKEN_HEX_LEN], ttl[16], age[16];
	const char *params[7], *status;
	int rc;

	if (!auth_refresh_valid(refresh_token))
		return hb_fail(err, 401, "invalid_refresh_token",
		    "The refresh token is not valid.");
	*out = (struct hb_login){ 0 };
	if ((out->refresh_token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	if (auth_token_hex(refresh_token, old_hex, err) == -1)
		return -1;
	itoa_buf(ttl, refresh_ttl);
	params[0] = old_hex;
	params[1] = hex;
	params[2] = ttl;
	params[3] = ctx->ip;
	params[4] = ctx->user_agent;
	params[5] = ctx->request_id;
	itoa_buf(age, max_age);
	params[6] = age;
	rc = session_call(db, ctx, a, SQL_REFRESH, 7, params, out,
	    &status, err);
	if (rc != 1)
		return rc;
	if (strcmp(status, "expired") == 0)
		return hb_fail(err, 401, "session_expired", "The session is "
		    "older than its longest life; log in again.");
	if (strcmp(status, "reused") == 0)
		return hb_fail(err, 401, "refresh_token_reused", "This refresh "
		    "token was already used; the session is revoked.");
	return hb_fail(err, 401, "invalid_refresh_token",
	    "The refresh token is not valid.");
}

/*
 * Runs a statement of params in a new transaction under ctx, then audits
 * ev and commits. *rows is the number of rows it returned; when it is 0
 * and need_row, nothing is written.
 */
static int
write_audited(struct hb_db *db, const struct hb_db_ctx *ctx, const char *sql,
    int n, const char *const *params, const struct hb_audit_event *ev,
    bool need_row, int *rows, struct hb_error *err)
{
	PGresult *res = db_tenant_query(db, ctx, true, sql, n, params, err);

	if (res == NULL)
		return -1;
	*rows = PQntuples(res);
	PQclear(res);
	if (need_row && *rows == 0) {
		db_tx_rollback(db);
		return 0;
	}
	if (audit_write(db, ctx, ev, err) == -1)
		return -1;
	return db_tx_commit(db, err);
}

int
session_logout(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *session_id, bool all, struct hb_error *err)
{
	const char *params[3] = { session_id, all ? "true" : "false",
	    ctx->user_id };
	struct hb_audit_event ev = { .action = "auth.logout",
	    .target_type = "session", .target_id = session_id };
	int rows;

	return write_audited(db, ctx, SQL_LOGOUT, 3, params, &ev, false, &rows,
	    err);
}

int
session_set_password(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *session_id, const char *verified, const char *hash,
    struct hb_error *err)
{
	const char *params[4] = { hash, ctx->user_id, session_id, verified };
	struct hb_audit_event ev = { .action = "auth.password.changed",
	    .target_type = "user", .target_id = ctx->user_id };
	PGresult *res;
	int rows;

	res = db_tenant_query(db, ctx, true, SQL_SET_PASSWORD, 4, params, err);
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	PQclear(res);
	if (rows != 1) {
		db_tx_rollback(db);
		return hb_fail(err, 401, "invalid_token",
		    "The access token is not valid.");
	}
	params[0] = ctx->user_id;
	params[1] = session_id;
	res = db_exec(db, SQL_REVOKE_OTHERS, 2, params, err);
	if (res == NULL)
		return -1;
	PQclear(res);
	params[1] = hash;
	params[2] = ctx->ip;
	if ((res = db_exec(db, SQL_PASSWORD_OK, 3, params, err)) == NULL)
		return -1;
	PQclear(res);
	if (audit_write(db, ctx, &ev, err) == -1)
		return -1;
	return db_tx_commit(db, err);
}

int
session_list(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *session_id, int refresh_ttl, const struct hb_page *p,
    struct hb_rows *rows, struct hb_error *err)
{
	char ttl[16];
	const char *params[6] = { ctx->user_id, session_id, ttl };

	itoa_buf(ttl, refresh_ttl);
	return page_query(db, ctx, p, SQL_LIST, params, 3, "created_at", "id",
	    rows, err);
}

int
session_revoke(struct hb_db *db, const struct hb_db_ctx *ctx, const char *id,
    struct hb_error *err)
{
	const char *params[2] = { id, ctx->user_id };
	struct hb_audit_event ev = { .action = "auth.session.revoked",
	    .target_type = "session", .target_id = id };
	int rows;

	if (write_audited(db, ctx, SQL_REVOKE, 2, params, &ev, true, &rows,
	    err) == -1)
		return -1;
	if (rows == 0)
		return hb_fail(err, 404, "not_found", "No such session.");
	return 0;
}

int
session_invite_lookup(struct hb_db *db, struct hb_arena *a,
    const char *invite_token, struct hb_invite_lookup *out,
    struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN];
	const char *params[1] = { hex };
	PGresult *res;

	memset(out, 0, sizeof(*out));
	if (!auth_refresh_valid(invite_token))
		return hb_fail(err, 401, "invalid_invite",
		    "The invitation is not valid.");
	if (auth_token_hex(invite_token, hex, err) == -1)
		return -1;
	res = db_exec(db, SQL_INVITE_LOOKUP, 1, params, err);
	if (res == NULL)
		return -1;
	out->user_id = col(a, res, "user_id");
	out->email = col(a, res, "email");
	out->verified = db_bool(res, 0, "verified");
	PQclear(res);
	if (out->user_id == NULL)
		return hb_fail(err, 401, "invalid_invite",
		    "The invitation is not valid.");
	return 0;
}

/* The error of accept_invite's status s for an acceptance in. */
static int
accept_refused(const char *s, const struct hb_accept_invite *in,
    struct hb_error *err)
{
	if (strcmp(s, "credentials") == 0)
		return hb_fail(err, 401, "invalid_credentials",
		    "Email or password is wrong.");
	if (strcmp(s, "email_not_verified") == 0)
		return hb_fail(err, 403, "email_not_verified",
		    "Verify your email address first.");
	if (strcmp(s, "password_required") == 0) {
		struct hb_json_check c = { NULL, json_object_new_array() };

		json_check_fail(&c, "password",
		    "is required: choose the account's password");
		return json_check_done(&c, err);
	}
	if (in->invite_token == NULL)
		return hb_fail(err, 404, "not_found", "No such invitation.");
	return hb_fail(err, 401, "invalid_invite",
	    "The invitation is not valid.");
}

int
session_accept_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
    struct hb_arena *a, const struct hb_accept_invite *in,
    struct hb_login *out, struct hb_error *err)
{
	char token[HB_TOKEN_HEX_LEN], hex[HB_TOKEN_HEX_LEN], ttl[16];
	const char *params[11], *status;
	int rc;

	if (in->invite_token != NULL && !auth_refresh_valid(in->invite_token))
		return hb_fail(err, 401, "invalid_invite",
		    "The invitation is not valid.");
	*out = (struct hb_login){ 0 };
	if ((out->refresh_token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	if (in->invite_token != NULL &&
	    auth_token_hex(in->invite_token, token, err) == -1)
		return -1;
	itoa_buf(ttl, in->refresh_ttl);
	params[0] = in->invite_token != NULL ? token : NULL;
	params[1] = in->invitation_id;
	params[2] = in->user_id;
	params[3] = in->password_hash;
	params[4] = in->verified_hash;
	params[5] = in->full_name;
	params[6] = ctx->ip;
	params[7] = ctx->user_agent;
	params[8] = ctx->request_id;
	params[9] = hex;
	params[10] = ttl;
	rc = session_call(db, ctx, a, SQL_ACCEPT, 11, params, out,
	    &status, err);
	if (rc == 1)
		return accept_refused(status, in, err);
	return rc;
}
