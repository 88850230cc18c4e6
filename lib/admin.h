#ifndef HB_ADMIN_H
#define HB_ADMIN_H

#include <stdbool.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "page.h"

/*
 * Platform administration (api.md §5), run as the homebot_admin role,
 * whose policies see every organization. Organizations are answered as
 * {id, name, slug, created_at, suspended, member_count}, users as {id,
 * email, full_name, created_at, disabled, is_superadmin}: JSON objects
 * the caller owns. Every change is audited; every call returns 0 or -1
 * with err set.
 */

int	admin_org_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);

struct hb_admin_org_new {
	const char	*name;
	const char	*slug;		/* NULL: from the name */
	const char	*owner_email;
};

/*
 * Creates an organization whose owner is invited by mail (api.md §5; the
 * token never leaves the mail): 409 slug_taken, 422.
 */
int	admin_org_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_config *cfg, struct hb_arena *a,
	    const struct hb_admin_org_new *in, struct json_object **org,
	    struct hb_error *err);
/* Suspends (on) or unsuspends an organization: 404 not_found. */
int	admin_org_suspend(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, bool on, struct json_object **org,
	    struct hb_error *err);

/* Users whose email contains email_part (NULL: every user). */
int	admin_user_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *email_part, const struct hb_page *p,
	    struct hb_rows *rows, struct hb_error *err);
/*
 * Disables (on; every session of the user is revoked) or enables a
 * user: 404 not_found.
 */
int	admin_user_disable(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, bool on, struct json_object **user,
	    struct hb_error *err);
/* Clears a user's login lockout: 404 not_found. */
int	admin_user_unlock(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct json_object **user, struct hb_error *err);

#endif
