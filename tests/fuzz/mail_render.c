/*
 * The mail renderer (lib/mail.c, lib/mail_templates.c): {{name}}
 * placeholders replaced by values, into a buffer of a size the input
 * chooses, allocated to exactly that size so a write past it is caught.
 * An input is the buffer size (two bytes), values one "name=value" a line,
 * a blank line, then the template. The values are also rendered into each
 * of the compiled-in templates, and a link is built from the first two.
 * The rendered text is then formatted as a whole message (mail_format:
 * encoded-word subjects, folding, quoted-printable), to the value "to"
 * and from the value "from" as MAIL_FROM, into a buffer of four times the
 * chosen size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail.h"

#define MAX_VARS	8

static const char *const names[] = { "verify_email", "invite",
    "password_reset", "email_change", "email_changed_notice",
    "sign_in_notice", "nope" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
value(const struct hb_mail_var *vars, size_t n, const char *name,
    const char *def)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(vars[i].name, name) == 0)
			return vars[i].value;
	return def;
}

static void
format(const struct hb_mail_var *vars, size_t n, const char *subject,
    const char *text, size_t bufsz)
{
	struct hb_config cfg;
	struct hb_mail m = { value(vars, n, "to", "bob@example.com"), subject,
	    text, 1750000000 };
	struct hb_error err = {0};
	char *buf = malloc(bufsz != 0 ? bufsz : 1);
	long len;

	if (buf == NULL)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
	    value(vars, n, "from", "Homebot <homebot@example.com>"));
	len = mail_format(&cfg, &m, buf, bufsz, &err);
	if (len >= 0 && ((size_t)len >= bufsz || strlen(buf) != (size_t)len))
		abort();
	hb_error_clear(&err);
	free(buf);
}

static void
render(const char *tmpl, const struct hb_mail_var *vars, size_t n,
    size_t outsz)
{
	struct hb_error err = {0};
	char *out = malloc(outsz != 0 ? outsz : 1);
	long len;

	if (out == NULL)
		abort();
	len = mail_render_text(tmpl, vars, n, out, outsz, &err);
	if (len >= 0 && ((size_t)len >= outsz || strlen(out) != (size_t)len))
		abort();
	hb_error_clear(&err);
	format(vars, n, value(vars, n, "subject", "Hello {{name}}"),
	    len >= 0 ? out : tmpl, outsz * 4);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_mail_var vars[MAX_VARS];
	struct hb_mail_rendered *rendered;
	struct hb_config cfg = { .public_url = "https://homebot.example.com" };
	struct hb_error err = {0};
	char *text, *p, *eol, *eq, link[256];
	size_t outsz, n = 0;

	if (size < 2)
		return 0;
	outsz = (size_t)data[0] << 8 | data[1];
	text = malloc(size - 1);
	if (text == NULL)
		abort();
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	for (p = text; n < MAX_VARS && (eol = strchr(p, '\n')) != NULL &&
	    eol != p; p = eol + 1) {
		*eol = '\0';
		eq = strchr(p, '=');
		vars[n].name = p;
		vars[n++].value = eq != NULL ? eq + 1 : "";
		if (eq != NULL)
			*eq = '\0';
	}
	if (*p == '\n')
		p++;
	render(p, vars, n, outsz);
	rendered = malloc(sizeof(*rendered));
	if (rendered == NULL)
		abort();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mail_render(names[i], vars, n, rendered, &err);
		hb_error_clear(&err);
	}
	free(rendered);
	if (n >= 2) {
		mail_link(&cfg, vars[0].value, vars[1].value, link,
		    outsz % sizeof(link), &err);
		hb_error_clear(&err);
	}
	free(text);
	return 0;
}
