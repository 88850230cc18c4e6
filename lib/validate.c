#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crack.h>

#include "auth_password.h"
#include "validate.h"

static bool
email_shape(const char *s)
{
	const char *at = strchr(s, '@'), *dot;

	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	dot = strrchr(at + 1, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return false;
	return true;
}

const char *
validate_email(struct hb_json_check *c, struct hb_arena *a,
    const char *field, bool required)
{
	const char *raw = json_get_string(c, field, required, 1, 1024);
	size_t n;

	if (raw == NULL)
		return NULL;
	while (isspace((unsigned char)*raw))
		raw++;
	n = strlen(raw);
	while (n > 0 && isspace((unsigned char)raw[n - 1]))
		n--;
	if (n == 0 || n > HB_EMAIL_MAX) {
		json_check_fail(c, field, "must be an email address of at most "
		    "254 bytes");
		return NULL;
	}
	raw = arena_strndup(a, raw, n);
	if (raw == NULL || !email_shape(raw)) {
		json_check_fail(c, field, "not a valid email");
		return NULL;
	}
	return raw;
}

char *
validate_email_key(struct hb_arena *a, const char *s)
{
	size_t n;
	char *out;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	out = arena_strndup(a, s, n);
	for (char *p = out; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

const char *
validate_password_guessable(const char *pw)
{
	const char *why = FascistCheck(pw, GetDefaultCracklibDict());

	/*
	 * cracklib answers its own trouble as a reason too; without its
	 * dictionary (cracklib-runtime) the other rules still apply.
	 */
	if (why == NULL || strcmp(why, "error loading dictionary") == 0)
		return NULL;
	return why;
}

void
validate_new_password(struct hb_json_check *c, const struct hb_config *cfg,
    const char *field, const char *pw, const char *email)
{
	char msg[128];
	const char *why;
	size_t n;

	if (pw == NULL)
		return;
	n = strlen(pw);
	if (n < (size_t)cfg->password_min_length || n > HB_PASSWORD_MAX) {
		snprintf(msg, sizeof(msg), "must be %d to %d bytes long",
		    cfg->password_min_length, HB_PASSWORD_MAX);
		json_check_fail(c, field, msg);
	} else if (email != NULL && strcasecmp(pw, email) == 0)
		json_check_fail(c, field, "must not be the email address");
	else if ((why = validate_password_guessable(pw)) != NULL) {
		snprintf(msg, sizeof(msg), "is too easy to guess: %s", why);
		json_check_fail(c, field, msg);
	}
}

static bool
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool
date_valid(int y, int m, int d)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool
validate_timestamp(const char *s)
{
	size_t n = strlen(s);

	if (n < 20 || n > 40 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return false;
	if (!date_valid(atoi(s), atoi(s + 5), atoi(s + 8)) ||
	    atoi(s + 11) > 23 || atoi(s + 14) > 59 || atoi(s + 17) > 59)
		return false;
	s += 19;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return true;
	return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' &&
	    digits(s + 4, 2) && s[6] == '\0';
}

int
validate_slug_status(const char *status, struct hb_error *err)
{
	struct hb_json_check c = { NULL, json_object_new_array() };

	if (strcmp(status, "slug_taken") == 0) {
		json_object_put(c.details);
		return hb_fail(err, 409, "slug_taken",
		    "Another organization has this slug.");
	}
	json_check_fail(&c, "slug", "must be 1 to 63 of a-z, 0-9 and '-', "
	    "not starting or ending with '-'");
	return json_check_done(&c, err);
}

void
validate_form_text(struct hb_json_check *c, const char *field,
    const char *value, size_t max)
{
	char msg[80];

	if (value == NULL || *value == '\0') {
		json_check_fail(c, field, "is required");
		return;
	}
	if (strlen(value) > max || !json_utf8_valid(value, strlen(value))) {
		snprintf(msg, sizeof(msg),
		    "must be at most %zu bytes of UTF-8 text", max);
		json_check_fail(c, field, msg);
	}
}
