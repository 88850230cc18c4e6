/*
 * The mails Homebot sends, as plain text compiled into the library, so a
 * program needs no file at run time to send one. Each is "Subject: …", an
 * empty line, then the body; mail_render() puts the caller's values in
 * place of {{name}}. Every link is {{link}}, built with mail_link(): the
 * page it opens says what will happen and asks for a click, so a mail
 * scanner that opens links uses up no token.
 *
 * Placeholders, by template:
 *   verify_email          link
 *   invite                link, inviter, organization
 *   password_reset        link
 *   email_change          link, new_email   (sent to the new address)
 *   email_changed_notice  link, old_email, new_email   (to the old one;
 *                         link is the reset page, without a token)
 *   sign_in_notice        link, when, device, network, ip   (a sign-in
 *                         from a device new to the user; link is the
 *                         account's security page, without a token)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mail.h"

static const char verify_email[] =
    "Subject: Confirm your email address for Homebot\n"
    "\n"
    "Hello,\n"
    "\n"
    "please confirm that this is your email address: open the link below\n"
    "and choose Confirm.\n"
    "\n"
    "{{link}}\n"
    "\n"
    "If you did not sign up for Homebot, ignore this mail.\n";

static const char invite[] =
    "Subject: {{inviter}} invited you to {{organization}} on Homebot\n"
    "\n"
    "Hello,\n"
    "\n"
    "{{inviter}} invited you to join {{organization}} on Homebot. To accept,\n"
    "open the link below and choose your password.\n"
    "\n"
    "{{link}}\n"
    "\n"
    "If you did not expect this invitation, ignore this mail.\n";

static const char password_reset[] =
    "Subject: Reset your Homebot password\n"
    "\n"
    "Hello,\n"
    "\n"
    "someone asked to reset the password of your Homebot account. To choose\n"
    "a new one, open the link below.\n"
    "\n"
    "{{link}}\n"
    "\n"
    "If that was not you, ignore this mail: your password stays as it is.\n";

static const char email_change[] =
    "Subject: Confirm your new email address for Homebot\n"
    "\n"
    "Hello,\n"
    "\n"
    "please confirm that {{new_email}} is the new email address of your\n"
    "Homebot account: open the link below and choose Confirm.\n"
    "\n"
    "{{link}}\n"
    "\n"
    "Until you confirm, the account keeps its old address. If you did not\n"
    "ask for this change, ignore this mail.\n";

static const char email_changed_notice[] =
    "Subject: Your Homebot email address is being changed\n"
    "\n"
    "Hello,\n"
    "\n"
    "someone signed in to your Homebot account asked to change its email\n"
    "address from {{old_email}} to {{new_email}}. The change takes effect\n"
    "once the new address confirms it.\n"
    "\n"
    "If that was not you, reset your password now (which ends every\n"
    "session of the account) and tell your administrator:\n"
    "\n"
    "{{link}}\n";

static const char sign_in_notice[] =
    "Subject: New sign-in to your Homebot account\n"
    "\n"
    "Hello,\n"
    "\n"
    "your Homebot account was just signed in to from a device it had not\n"
    "seen in the last 90 days:\n"
    "\n"
    "  When:    {{when}}\n"
    "  Device:  {{device}}\n"
    "  Network: {{network}} (address {{ip}})\n"
    "\n"
    "If that was you, there is nothing to do. If it was not, open the page\n"
    "below, sign in, end the sessions you do not recognize and change your\n"
    "password:\n"
    "\n"
    "{{link}}\n";

static const struct {
	const char	*name;
	const char	*text;
} templates[] = {
	{ "verify_email", verify_email },
	{ "invite", invite },
	{ "password_reset", password_reset },
	{ "email_change", email_change },
	{ "email_changed_notice", email_changed_notice },
	{ "sign_in_notice", sign_in_notice },
};

const char *
mail_template(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i].name, name) == 0)
			return templates[i].text;
	return NULL;
}

/* ASCII only: isalnum() would take bytes of UTF-8 text in some locales. */
static bool
ascii_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static bool
base64url_text(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!ascii_alnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

int
mail_link(const struct hb_config *cfg, const char *path, const char *token,
    char *out, size_t outsz, struct hb_error *err)
{
	int n;

	if (outsz > 0)
		out[0] = '\0';
	if (path == NULL || path[0] != '/')
		return hb_fail(err, 422, "mail_invalid",
		    "mail: a link path starts with '/'");
	for (const char *p = path; *p != '\0'; p++)
		if (!ascii_alnum((unsigned char)*p) &&
		    strchr("/-_.", *p) == NULL)
			return hb_fail(err, 422, "mail_invalid",
			    "mail: a link path is letters, digits and /-_.");
	if (!base64url_text(token))
		return hb_fail(err, 422, "mail_invalid",
		    "mail: a link token is base64url");
	n = snprintf(out, outsz, "%s%s#token=%s", cfg->public_url, path,
	    token);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the link is longer than %zu bytes",
		    outsz > 0 ? outsz - 1 : 0);
	}
	return 0;
}
