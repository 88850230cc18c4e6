#ifndef HB_SESSION_H
#define HB_SESSION_H

#include <stdbool.h>

#include "arena.h"
#include "auth_session.h"
#include "db.h"
#include "error.h"
#include "page.h"

/*
 * The data of api.md §2: accounts, logins, sessions and their refresh
 * tokens. Every call runs under ctx (the request's context: IP, user
 * agent, request ID and, once authenticated, user and organization),
 * owns its statements and transactions, and returns 0 or -1 with err
 * set. Strings it returns live in the arena a.
 */

struct hb_register {
	const char	*email;
	const char	*password_hash;
	const char	*full_name;	/* may be NULL */
	const char	*org_name;
	int		 refresh_ttl;
	/* The device registered from (lib/sign_in.h); NULL: none recorded. */
	const char	*device_family;
	const char	*device_network;
};

/* A user, an organization and its owner's first session: 409 email_taken. */
int	session_register(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const struct hb_register *in,
	    struct hb_login *out, struct hb_error *err);

/* What a login needs to know before it checks the password. */
struct hb_login_lookup {
	const char	*user_id;	/* NULL: no such account */
	const char	*password_hash;	/* NULL: no such account */
	int		 retry_after;	/* > 0: locked out for that long */
	const char	*attempt_id;	/* the attempt, counted as failed */
	bool		 mfa_enabled;	/* the account has TOTP on */
	const char	*email_key;	/* the caller's: the email looked up */
};

struct hb_login_limits {
	int		 max_attempts;
	int		 window;
};

/*
 * Looks the email up and, unless it is locked out, records the attempt
 * as failed before the password is checked, so that concurrent logins
 * cannot check more passwords than the lockout allows.
 */
int	session_login_lookup(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const char *email_key,
	    const struct hb_login_limits *lim, struct hb_login_lookup *out,
	    struct hb_error *err);
/* Audits the failed attempt (and the lockout it may start). */
int	session_login_failed(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *email_key, const struct hb_login_lookup *l,
	    const struct hb_login_limits *lim, struct hb_error *err);

struct hb_session_start {
	const char	*user_id;
	const char	*org_id;	/* NULL: the last used, else the oldest */
	const char	*rehash;	/* a new password hash to store, or NULL */
	/* The stored hash the password was checked against; NULL: none was. */
	const char	*verified_hash;
	int		 refresh_ttl;
	/*
	 * The device of a sign-in with credentials (lib/sign_in.h), NULL for
	 * none (a switch); a device new to the user mails a notice linking to
	 * notice_link (api.md §12).
	 */
	const char	*device_family;
	const char	*device_network;
	const char	*notice_link;
};

/*
 * Starts a session once the password was right (or for a switch): 403
 * account_disabled, organization_suspended or not_a_member; 401
 * invalid_credentials when the password changed since it was checked.
 */
int	session_start(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const struct hb_session_start *in,
	    struct hb_login *out, struct hb_error *err);

/*
 * Rotates a refresh token: 401 invalid_refresh_token, refresh_token_reused,
 * or session_expired once the session began more than max_age seconds ago.
 */
int	session_refresh(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const char *refresh_token, int refresh_ttl,
	    int max_age, struct hb_login *out, struct hb_error *err);

/* Revokes ctx's session, or every session of its user; audited. */
int	session_logout(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *session_id, bool all, struct hb_error *err);

/*
 * Stores a new password hash while session_id is live and the stored hash
 * is still verified, the one the current password was checked against
 * (else 401 invalid_token), revokes the user's other sessions, ends the
 * email's lockout count and voids the links mailed before (a reset, an
 * email change); audited.
 */
int	session_set_password(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *session_id, const char *verified, const char *hash,
	    struct hb_error *err);

/* One page of ctx's user's live sessions, with "current" for session_id. */
int	session_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *session_id, int refresh_ttl, const struct hb_page *p,
	    struct hb_rows *rows, struct hb_error *err);
/* Revokes one of ctx's user's sessions: 404 when it is not theirs. */
int	session_revoke(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct hb_error *err);

/* The account a live invitation is for; strings in the arena. */
struct hb_invite_lookup {
	const char	*user_id;
	const char	*email;
	bool		 verified;	/* its address is verified */
};
/* Looks an invitation token up: 401 invalid_invite when it is not live. */
int	session_invite_lookup(struct hb_db *db, struct hb_arena *a,
	    const char *invite_token, struct hb_invite_lookup *out,
	    struct hb_error *err);
/*
 * An acceptance (api.md §2, "Email ownership"): of the mailed token, or
 * of invitation_id by the verified user user_id. An unverified account
 * takes password_hash as its password (and loses its sessions); a
 * verified one must be user_id or still have verified_hash.
 */
struct hb_accept_invite {
	const char	*invite_token;	/* NULL: invitation_id */
	const char	*invitation_id;
	const char	*user_id;	/* the caller's token's user, or NULL */
	const char	*password_hash;	/* a new password, or NULL */
	const char	*verified_hash;	/* the hash a password matched, or NULL */
	const char	*full_name;	/* may be NULL */
	int		 refresh_ttl;
};
/*
 * Accepts an invitation and starts a session in its organization: 401
 * invalid_invite (404 by id), 401 invalid_credentials, 403
 * email_not_verified, 422 when an unverified account sent no password.
 */
int	session_accept_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const struct hb_accept_invite *in,
	    struct hb_login *out, struct hb_error *err);
#endif
