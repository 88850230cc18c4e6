#ifndef HB_ACCOUNT_H
#define HB_ACCOUNT_H

#include <stdbool.h>

#include <json-c/json.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "page.h"

/*
 * Email ownership (api.md §2): verification, password reset and email
 * change, each proven by a link mailed to the address. Every token is
 * made here (256 bits from the OS), only its hash reaches the database,
 * and the link goes into a mail job enqueued in the same transaction, so
 * no answer, log line or organization's job list ever holds it. At most
 * cfg->mail_per_hour mails of a kind go to one address an hour; past that
 * a call still succeeds and sends nothing. Every call returns 0 or -1
 * with err set; objects it returns are the caller's.
 */

/*
 * Mails user_id a new verification link (the older ones stop working),
 * inside the transaction open on db: 0, or -1 with 409 already_verified.
 */
int	account_verify_send(struct hb_db *db, const struct hb_config *cfg,
	    struct hb_arena *a, const char *user_id, struct hb_error *err);
/* Marks the token's address verified: *user {id, email, full_name, email_verified}; 401 invalid_verification_token. */
int	account_verify(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *token, struct json_object **user,
	    struct hb_error *err);
/*
 * Queues the forgotten-password job of email (one insert, whether or not
 * an account has the address); homebot-worker runs it: account_forgot.
 */
int	account_forgot_enqueue(struct hb_db *db, const char *email,
	    const char *trace_id, struct hb_error *err);
/*
 * Mails a reset link if an enabled account has this address; else nothing.
 * The mail's job carries trace_id (may be NULL).
 */
int	account_forgot(struct hb_db *db, const struct hb_config *cfg,
	    struct hb_arena *a, const char *email, const char *trace_id,
	    struct hb_error *err);
/*
 * Whether pw is one of the last 5 passwords of email's account (its
 * current one and the 4 it replaced: api.md §12), each compared with
 * bcrypt; false for an unknown address. 0, or -1 on a database error.
 */
int	account_password_reused(struct hb_db *db, const char *email,
	    const char *pw, bool *reused, struct hb_error *err);
/*
 * The current password of user_id (whose hash is hash) was given right
 * though nothing changed: the email's lockout count ends as after a login.
 */
int	account_password_proved(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *user_id, const char *hash, struct hb_error *err);
/* The address of a live reset token (in a): 401 invalid_reset_token. */
int	account_reset_email(struct hb_db *db, struct hb_arena *a,
	    const char *token, const char **email, struct hb_error *err);
/*
 * Sets the password of the token's user (hash), verifies the address,
 * ends every session and clears the lockout: 401 invalid_reset_token.
 */
int	account_reset(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *token, const char *hash, struct hb_error *err);
/* An email change asked for by ctx's user, whose password matched verified_hash. */
struct hb_email_change {
	const char	*user_id;
	const char	*verified_hash;
	const char	*new_email;
};
/*
 * Mails a confirmation link to the new address and a notice to the old
 * one: 409 email_taken, 401 invalid_credentials (the password changed).
 */
int	account_email_change(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_arena *a,
	    const struct hb_email_change *in, struct hb_error *err);
/*
 * The change takes effect: *user as account_verify's; 401
 * invalid_verification_token, 409 email_taken.
 */
int	account_email_confirm(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *token, struct json_object **user,
	    struct hb_error *err);
/*
 * Deletes dead mailed tokens, old mail counts and the sign-in devices
 * forgotten after 90 days (the retention job): a count, or -1.
 */
int	account_purge(struct hb_db *db, struct hb_error *err);
/* One page of the live invitations addressed to user_id. */
int	account_invitations(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *user_id, const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);

#endif
