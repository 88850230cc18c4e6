#ifndef HB_MEMBER_H
#define HB_MEMBER_H

#include <stdbool.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "page.h"

/*
 * The members of ctx's organization (api.md §3). Members are answered as
 * JSON objects {user_id, email, full_name, role, status, joined_at} the
 * caller owns. Every call returns 0 or -1 with err set.
 */

/* Whether role is one of owner, admin, member, viewer. */
bool	member_role_valid(const char *role);

int	member_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);

/*
 * Invites email with role (api.md §3): the member is "invited" whether
 * or not the account exists, and the invitation is mailed (its token
 * never leaves the mail). *member is the new member: 409 already_member.
 */
int	member_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_arena *a, const char *email,
	    const char *role, struct json_object **member,
	    struct hb_error *err);
/*
 * Enqueues, in the transaction open on db, the invitation mail to to with
 * the link of token (inviter NULL: "An administrator").
 */
int	member_mail_invitation(struct hb_db *db, const struct hb_config *cfg,
	    const char *to, const char *organization, const char *inviter,
	    const char *token, struct hb_error *err);
/*
 * Mails a member still invited a new invitation; the older links stop
 * working: 404 not_found, 409 already_member (active).
 */
int	member_resend_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_arena *a, const char *user_id,
	    struct hb_error *err);
/* A change of one member; touching owners needs may_touch_owners. */
struct hb_member_change {
	const char	*user_id;
	const char	*role;		/* the new role; unused on removal */
	bool		 may_touch_owners;
};

/* 403 forbidden (owners), 404 not_found, 409 last_owner. */
int	member_change_role(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_member_change *in, struct json_object **member,
	    struct hb_error *err);
int	member_remove(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_member_change *in, struct hb_error *err);

#endif
