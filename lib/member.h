#ifndef HB_MEMBER_H
#define HB_MEMBER_H

#include <stdbool.h>

#include "arena.h"
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

/* An invitation, or an addition when the account exists. */
struct hb_invited {
	struct json_object *member;	/* owned */
	const char	*invite_token;	/* in the arena; NULL if added */
};

/* Adds or invites email with role: 409 already_member. */
int	member_invite(struct hb_db *db, const struct hb_db_ctx *ctx,
	    struct hb_arena *a, const char *email, const char *role,
	    struct hb_invited *out, struct hb_error *err);

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
