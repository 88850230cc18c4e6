#ifndef HB_MAIL_H
#define HB_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "error.h"

/* The largest formatted message, and a template's rendered parts. */
#define HB_MAIL_MAX		(64 * 1024)
#define HB_MAIL_SUBJECT_MAX	512
#define HB_MAIL_TEXT_MAX	(16 * 1024)
/* Connecting to SMTP_URL may take at most this long (and SMTP_TIMEOUT). */
#define HB_MAIL_CONNECT_TIMEOUT	10

/*
 * One plain-text mail. All borrowed. to is a bare address (local@domain,
 * ASCII); subject is one line of UTF-8; text is UTF-8 with LF or CRLF line
 * ends. date 0 means now.
 */
struct hb_mail {
	const char	*to;
	const char	*subject;
	const char	*text;
	time_t		 date;
};

/*
 * Error codes (err->code) of this module, so the caller can tell what a
 * retry may fix:
 *   mail_invalid         422  the mail cannot be formatted: a CR or LF in a
 *                             header field, a bad address, text that is not
 *                             UTF-8, a message over HB_MAIL_MAX; or a
 *                             template without a value. A retry cannot help.
 *   mail_not_configured  503  SMTP_URL is empty.
 *   smtp_transient       503  no connection, a timeout, TLS, a 4xx reply.
 *   smtp_permanent       502  the server answered 5xx (bad recipient,
 *                             refused sender, failed login).
 * Every message is safe to log and to store as a job's last_error: it
 * never holds the mail's text (its links carry tokens), the recipient or
 * the SMTP password.
 */

/*
 * Process-wide libcurl set-up: call once before any other thread starts
 * (the worker's main), and mail_global_cleanup() at exit.
 */
int	mail_global_init(struct hb_error *err);
void	mail_global_cleanup(void);

/*
 * Checks the mail settings in full (MAIL_FROM's address, which config_load
 * only checks loosely), so a worker refuses to start rather than fail every
 * mail: 0, or -1 with err naming the variable.
 */
int	mail_config_check(const struct hb_config *cfg, struct hb_error *err);

/* Whether addr is a bare ASCII address local@domain that mail_format takes. */
bool	mail_address_valid(const char *addr);

/*
 * Formats m, from cfg's MAIL_FROM, as a complete RFC 5322 message with CRLF
 * line ends and a quoted-printable body into buf (the caller's, bufsz
 * bytes, NUL-terminated). Returns the length, or -1 with err set
 * (mail_invalid).
 */
long	mail_format(const struct hb_config *cfg, const struct hb_mail *m,
	    char *buf, size_t bufsz, struct hb_error *err);

/*
 * Sends msg (len bytes, as mail_format made it) to the address to over
 * SMTP_URL, from MAIL_FROM's address. Blocks for at most SMTP_TIMEOUT
 * seconds. Returns 0, or -1 with err set (see the codes above).
 */
int	mail_send(const struct hb_config *cfg, const char *to,
	    const char *msg, size_t len, struct hb_error *err);

/* mail_format() then mail_send(), with a buffer of its own. */
int	mail_deliver(const struct hb_config *cfg, const struct hb_mail *m,
	    struct hb_error *err);

/*
 * A link for a mail: PUBLIC_URL + path + "#token=" + token into out (the
 * caller's, outsz bytes). The token rides in the fragment, so it never
 * reaches a server's access log or a Referer, and the page that path
 * serves POSTs it only when the user confirms (mail scanners open links).
 * Returns 0, or -1 with err (mail_invalid) when path does not start with
 * '/', token is not base64url, or out is too small.
 */
int	mail_link(const struct hb_config *cfg, const char *path,
	    const char *token, char *out, size_t outsz, struct hb_error *err);

/* A value for a {{name}} placeholder; both borrowed. */
struct hb_mail_var {
	const char	*name;
	const char	*value;
};

/* A rendered template: the caller owns it (about 16 KiB). */
struct hb_mail_rendered {
	char	 subject[HB_MAIL_SUBJECT_MAX];
	char	 text[HB_MAIL_TEXT_MAX];
};

/*
 * The template called name ("verify_email", "invite", "password_reset",
 * "email_change", "email_changed_notice", "sign_in_notice"): static text
 * whose first line is "Subject: …", then an empty line, then the body.
 * NULL for an unknown name. The texts live in lib/mail_templates.c.
 */
const char *mail_template(const char *name);

/*
 * Replaces every {{name}} in tmpl (name: [a-z0-9_]+) with its value from
 * vars[0..n-1] into out (the caller's, outsz bytes). Values go in verbatim
 * and are never expanded again. Returns the length, or -1 with err
 * (mail_invalid) for a placeholder without a value, a malformed
 * placeholder or an out too small.
 */
long	mail_render_text(const char *tmpl, const struct hb_mail_var *vars,
	    size_t n, char *out, size_t outsz, struct hb_error *err);

/*
 * Renders template name with vars into *out: its subject line and its
 * body, each rendered on its own, so a value cannot move text from one to
 * the other. Returns 0, or -1 with err (mail_invalid).
 */
int	mail_render(const char *name, const struct hb_mail_var *vars,
	    size_t n, struct hb_mail_rendered *out, struct hb_error *err);

#endif
