#ifndef HB_TEAM_H
#define HB_TEAM_H

#include <stdbool.h>

#include <json-c/json.h>

#include "db.h"
#include "error.h"
#include "page.h"

/*
 * Teams (api.md §9) in the organization of ctx, under RLS: a deleted team
 * (deleted_at) is hidden by the policies themselves. Each function
 * answers through *team / *member a JSON object the caller owns (NULL on
 * failure) and returns 0, or -1 with err set. if_match is the version an
 * If-Match asked for, as http_if_match_param() gives it (NULL: any), so a
 * stale one is 412 precondition_failed.
 */

/* What a PATCH or POST of a team carries; NULL: not given. */
struct hb_team_input {
	const char	*name;
	const char	*slug;
	const char	*description;
};

int	 team_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_page *p, struct hb_rows *rows, struct hb_error *err);
int	 team_create(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_team_input *in, struct json_object **team,
	    struct hb_error *err);
int	 team_get(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, struct json_object **team, struct hb_error *err);
int	 team_update(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, const char *if_match,
	    const struct hb_team_input *in, struct json_object **team,
	    struct hb_error *err);
/* The soft delete. */
int	 team_delete(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *id, const char *if_match, struct hb_error *err);

int	 team_member_list(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *team_id, const struct hb_page *p, struct hb_rows *rows,
	    struct hb_error *err);
/* Adds user_id (an active member of the organization) or sets its role. */
int	 team_member_put(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *team_id, const char *user_id, const char *team_role,
	    struct json_object **member, struct hb_error *err);
int	 team_member_remove(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const char *team_id, const char *user_id, struct hb_error *err);

/*
 * The purge job's step: removes up to batch rows soft-deleted more than
 * age seconds ago (every organization's); their number, or -1 with err.
 */
int	 team_purge(struct hb_db *db, int age, int batch, struct hb_error *err);

#endif
