#ifndef HB_VALIDATE_H
#define HB_VALIDATE_H

#include <stdbool.h>

#include "arena.h"
#include "config.h"
#include "json.h"

#define HB_EMAIL_MAX	254

/*
 * Reads an email field: trimmed, at most 254 bytes, one "@" between a
 * local part and a dotted domain, no spaces. Returns the trimmed text in
 * the arena, or NULL with a detail added (when invalid or required).
 */
const char *validate_email(struct hb_json_check *c, struct hb_arena *a,
	    const char *field, bool required);
/*
 * The trimmed, lowercase copy of s in the arena: the key emails are
 * compared and locked out by, case-insensitively.
 */
char	*validate_email_key(struct hb_arena *a, const char *s);
/*
 * Why cracklib's dictionary and rules (Debian's cracklib-runtime) call pw
 * easy to guess ("it is based on a dictionary word"), or NULL: it passes,
 * or there is no dictionary to ask. Static text; not thread-safe.
 */
const char *validate_password_guessable(const char *pw);
/*
 * A new password: PASSWORD_MIN_LENGTH..72 bytes (never cut short), not
 * the email, not easy to guess (validate_password_guessable). Adds a
 * detail to c when it breaks a rule.
 */
void	 validate_new_password(struct hb_json_check *c,
	    const struct hb_config *cfg, const char *field, const char *pw,
	    const char *email);

/* Whether s is an RFC 3339 date-time (2026-11-22T14:46:25Z, offsets and
 * fractions allowed). */
bool	 validate_timestamp(const char *s);

/*
 * The error of a status of the organization-creating functions that is
 * not "ok": 409 slug_taken, or 422 for a slug the database refused.
 * Returns -1.
 */
int	 validate_slug_status(const char *status, struct hb_error *err);
/* A form field: required, at most max bytes of UTF-8 text. */
void	 validate_form_text(struct hb_json_check *c, const char *field,
	    const char *value, size_t max);

#endif
