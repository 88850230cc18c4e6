/*
 * Email ownership (api.md §2): the SECURITY DEFINER functions of
 * schema/R__email.sql, and the mails they allow, enqueued in the same
 * transaction. The account functions take the request's IP, user agent
 * and request ID as parameters, as those of lib/session.c do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "auth_password.h"
#include "auth_token.h"
#include "job.h"

static const char SQL_VERIFY_ISSUE[] =
    "SELECT status, email FROM homebot.verify_email_issue($1,"
    " decode($2, 'hex'), $3, $4)";
static const char SQL_VERIFY[] =
    "SELECT status AS _status, id, email, full_name, email_verified,"
    " homebot.mfa_enabled(id) AS mfa_enabled"
    " FROM homebot.verify_email(decode($1, 'hex'), $2, $3, $4)";
static const char SQL_FORGOT_ENQUEUE[] =
    "SELECT homebot.forgot_enqueue($1)";
static const char SQL_FORGOT[] =
    "SELECT status, email FROM homebot.password_forgot($1,"
    " decode($2, 'hex'), $3, $4)";
static const char SQL_PASSWORD_HISTORY[] =
    "SELECT h FROM homebot.password_history_of($1) AS h";
static const char SQL_PASSWORD_PROVED[] =
    "SELECT homebot.password_proved($1, $2, $3)";
static const char SQL_RESET_EMAIL[] =
    "SELECT homebot.email_token_email('reset', decode($1, 'hex')) AS email";
static const char SQL_RESET[] =
    "SELECT status FROM homebot.password_reset(decode($1, 'hex'), $2, $3,"
    " $4, $5)";
static const char SQL_EMAIL_CHANGE[] =
    "SELECT status, old_email, new_email, notice"
    " FROM homebot.email_change_request("
    "$1, $2, $3, decode($4, 'hex'), $5, $6)";
static const char SQL_EMAIL_CONFIRM[] =
    "SELECT status AS _status, id, email, full_name, email_verified,"
    " homebot.mfa_enabled(id) AS mfa_enabled"
    " FROM homebot.email_change_confirm(decode($1, 'hex'), $2, $3, $4)";
static const char SQL_PURGE[] =
    "SELECT homebot.email_purge() + homebot.sign_in_purge() AS n";
/* By invitations_organization_id_user_id_idx's user, newest first. */
static const char SQL_INVITATIONS[] =
    "SELECT id, organization, role, invited_by, "
    HB_SQL_TS("created_at") " AS created_at, "
    HB_SQL_TS("expires_at") " AS expires_at"
    " FROM homebot.user_invitations($1, $2, $3, $4)";

static void
itoa16(char buf[16], int v)
{
	snprintf(buf, 16, "%d", v);
}

/* -1 with 401 code: a token that is unknown, used or expired. */
static int
bad_link(const char *code, struct hb_error *err)
{
	return hb_fail(err, 401, code,
	    "The link is not valid, or no longer: ask for a new one.");
}

/* The hex of a presented token's hash, or -1 with 401 code. */
static int
token_hex(const char *token, char hex[HB_TOKEN_HEX_LEN], const char *code,
    struct hb_error *err)
{
	if (!auth_refresh_valid(token))
		return bad_link(code, err);
	return auth_token_hex(token, hex, err);
}

/* Whether the one row's status column is s. */
static bool
status_is(const PGresult *res, const char *column, const char *s)
{
	const char *v = db_value(res, 0, column);

	return v != NULL && strcmp(v, s) == 0;
}

/* Enqueues a mail with a token link in the open transaction. */
static int
mail_link_job(struct hb_db *db, const struct hb_config *cfg, const char *to,
    const char *template, const char *page, const char *token,
    struct hb_error *err)
{
	struct hb_job_mail m = { .to = to, .template = template, .page = page,
	    .token = token };

	return job_enqueue_mail(db, cfg, &m, err);
}

int
account_verify_send(struct hb_db *db, const struct hb_config *cfg,
    struct hb_arena *a, const char *user_id, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16];
	const char *params[4] = { user_id, hex, ttl, max }, *token, *to;
	PGresult *res;
	int rc = 0;

	if ((token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	itoa16(ttl, cfg->verify_token_ttl);
	itoa16(max, cfg->mail_per_hour);
	if ((res = db_exec(db, SQL_VERIFY_ISSUE, 4, params, err)) == NULL)
		return -1;
	to = db_value(res, 0, "email");
	if (status_is(res, "status", "already_verified"))
		rc = hb_fail(err, 409, "already_verified",
		    "This email address is already verified.");
	else if (status_is(res, "status", "sent"))
		rc = mail_link_job(db, cfg, to, "verify_email",
		    "/account/verify", token, err);
	PQclear(res);
	return rc;
}

/*
 * Runs a statement whose row is a user {id, email, full_name,
 * email_verified, mfa_enabled}.
 */
static int
user_call(struct hb_db *db, const struct hb_db_ctx *ctx, const char *sql,
    const char *token, struct json_object **user, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN];
	const char *params[4] = { hex, ctx->ip, ctx->user_agent,
	    ctx->request_id };
	PGresult *res;
	int rc = 0;

	*user = NULL;
	if (token_hex(token, hex, "invalid_verification_token", err) == -1)
		return -1;
	if ((res = db_exec(db, sql, 4, params, err)) == NULL)
		return -1;
	if (status_is(res, "_status", "ok"))
		*user = db_row_json(res, 0);
	else if (status_is(res, "_status", "email_taken"))
		rc = hb_fail(err, 409, "email_taken",
		    "An account with this email already exists.");
	else
		rc = bad_link("invalid_verification_token", err);
	PQclear(res);
	return rc;
}

int
account_verify(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *token, struct json_object **user, struct hb_error *err)
{
	return user_call(db, ctx, SQL_VERIFY, token, user, err);
}

int
account_forgot_enqueue(struct hb_db *db, const char *email,
    const char *trace_id, struct hb_error *err)
{
	/* The trace alone: the job carries it (app.trace_id). */
	const struct hb_db_ctx ctx = { .trace_id = trace_id };
	PGresult *res = db_tenant_query(db, &ctx, false, SQL_FORGOT_ENQUEUE,
	    1, &email, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
account_forgot(struct hb_db *db, const struct hb_config *cfg,
    struct hb_arena *a, const char *email, const char *trace_id,
    struct hb_error *err)
{
	const struct hb_db_ctx traced = { .trace_id = trace_id };
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16];
	const char *params[4] = { email, hex, ttl, max }, *token;
	PGresult *res;
	int rc = 0;

	/*
	 * As the other account functions, without a context but the trace,
	 * which the mail's job carries.
	 */
	if ((token = auth_token_new(a, hex, err)) == NULL ||
	    db_tx_begin(db, &traced, err) == -1)
		return -1;
	itoa16(ttl, cfg->reset_token_ttl);
	itoa16(max, cfg->mail_per_hour);
	if ((res = db_exec(db, SQL_FORGOT, 4, params, err)) == NULL)
		return -1;
	if (status_is(res, "status", "sent"))
		rc = mail_link_job(db, cfg, db_value(res, 0, "email"),
		    "password_reset", "/account/reset", token, err);
	PQclear(res);
	if (rc == -1) {
		db_tx_rollback(db);
		return -1;
	}
	return db_tx_commit(db, err);
}

int
account_password_reused(struct hb_db *db, const char *email, const char *pw,
    bool *reused, struct hb_error *err)
{
	const char *params[1] = { email };
	PGresult *res;

	*reused = false;
	if ((res = db_exec(db, SQL_PASSWORD_HISTORY, 1, params, err)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res) && !*reused; i++)
		*reused = auth_password_verify(pw, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

int
account_password_proved(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *user_id, const char *hash, struct hb_error *err)
{
	const char *params[3] = { user_id, hash, ctx->ip };
	PGresult *res = db_exec(db, SQL_PASSWORD_PROVED, 3, params, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
account_reset_email(struct hb_db *db, struct hb_arena *a, const char *token,
    const char **email, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN];
	const char *params[1] = { hex }, *v;
	PGresult *res;

	*email = NULL;
	if (token_hex(token, hex, "invalid_reset_token", err) == -1)
		return -1;
	if ((res = db_exec(db, SQL_RESET_EMAIL, 1, params, err)) == NULL)
		return -1;
	v = db_value(res, 0, "email");
	*email = v != NULL ? arena_strdup(a, v) : NULL;
	PQclear(res);
	if (*email == NULL)
		return bad_link("invalid_reset_token", err);
	return 0;
}

int
account_reset(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *token, const char *hash, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN];
	const char *params[5] = { hex, hash, ctx->ip, ctx->user_agent,
	    ctx->request_id };
	PGresult *res;
	bool ok;

	if (token_hex(token, hex, "invalid_reset_token", err) == -1)
		return -1;
	if ((res = db_exec(db, SQL_RESET, 5, params, err)) == NULL)
		return -1;
	ok = status_is(res, "status", "ok");
	PQclear(res);
	return ok ? 0 : bad_link("invalid_reset_token", err);
}

/* The two mails of an email change, in the open transaction. */
static int
email_change_mails(struct hb_db *db, const struct hb_config *cfg,
    const PGresult *res, const char *token, struct hb_error *err)
{
	const char *old = db_value(res, 0, "old_email");
	const char *new = db_value(res, 0, "new_email");
	char reset[600];
	struct hb_job_mail confirm = { .to = new, .template = "email_change",
	    .page = "/account/email", .token = token,
	    .vars = { "new_email", new } };
	struct hb_job_mail notice = { .to = old,
	    .template = "email_changed_notice",
	    .vars = { "old_email", old, "new_email", new, "link", reset } };

	snprintf(reset, sizeof(reset), "%s/account/reset", cfg->public_url);
	if (job_enqueue_mail(db, cfg, &confirm, err) == -1)
		return -1;
	/* The old address's notices count against its own hourly limit. */
	if (db_bool(res, 0, "notice") &&
	    job_enqueue_mail(db, cfg, &notice, err) == -1)
		return -1;
	return 0;
}

int
account_email_change(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_config *cfg, struct hb_arena *a,
    const struct hb_email_change *in, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16], max[16];
	const char *params[6] = { in->user_id, in->verified_hash,
	    in->new_email, hex, ttl, max }, *token;
	PGresult *res;
	int rc = 0;

	if ((token = auth_token_new(a, hex, err)) == NULL ||
	    db_tx_begin(db, ctx, err) == -1)
		return -1;
	itoa16(ttl, cfg->verify_token_ttl);
	itoa16(max, cfg->mail_per_hour);
	if ((res = db_exec(db, SQL_EMAIL_CHANGE, 6, params, err)) == NULL)
		return -1;
	/*
	 * email_taken still commits: the password was right, and the
	 * function recorded that (the lockout count starts again).
	 */
	if (status_is(res, "status", "email_taken")) {
		PQclear(res);
		if (db_tx_commit(db, err) == -1)
			return -1;
		return hb_fail(err, 409, "email_taken",
		    "An account with this email already exists.");
	} else if (status_is(res, "status", "password_changed"))
		rc = hb_fail(err, 401, "invalid_credentials",
		    "The password is wrong.");
	else if (status_is(res, "status", "sent"))
		rc = email_change_mails(db, cfg, res, token, err);
	PQclear(res);
	if (rc == -1) {
		db_tx_rollback(db);
		return -1;
	}
	return db_tx_commit(db, err);
}

int
account_email_confirm(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *token, struct json_object **user, struct hb_error *err)
{
	return user_call(db, ctx, SQL_EMAIL_CONFIRM, token, user, err);
}

int
account_invitations(struct hb_db *db, const struct hb_db_ctx *ctx,
    const char *user_id, const struct hb_page *p, struct hb_rows *rows,
    struct hb_error *err)
{
	const char *params[4] = { user_id };

	return page_query(db, ctx, p, SQL_INVITATIONS, params, 1, "created_at",
	    "id", rows, err);
}

int
account_purge(struct hb_db *db, struct hb_error *err)
{
	PGresult *res = db_exec(db, SQL_PURGE, 0, NULL, err);
	const char *n;
	int count;

	if (res == NULL)
		return -1;
	n = db_value(res, 0, "n");
	count = n != NULL ? atoi(n) : 0;
	PQclear(res);
	return count;
}
