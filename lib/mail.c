/*
 * Mail: formatting a message, sending it with libcurl, the templates'
 * renderer and the links. Nothing here prints or keeps state: a caller
 * passes its buffers and gets 0/-1 with an hb_error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "json.h"
#include "mail.h"

/* RFC 5322 2.1.1: a header line SHOULD stay within 78 characters. */
#define HEADER_LINE	78
/* RFC 2045 6.7: quoted-printable lines are at most 76, a soft '=' included. */
#define QP_LINE		76
/*
 * Bytes of text per RFC 2047 encoded-word: 42 bytes are 56 base64
 * characters, 68 with "=?UTF-8?B?" and "?=", so "Subject: " plus one word
 * stays within 78 and so does a continuation line.
 */
#define EW_BYTES	42
#define ADDR_MAX	254
#define NAME_MAX_BYTES	128

/* Appends to a caller's buffer; once something does not fit, full stays set. */
struct out {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 full;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* Undoes what was appended after mark (a length o had before). */
static void
out_truncate(struct out *o, size_t mark)
{
	o->len = mark;
	o->p[mark] = '\0';
	o->full = false;
}

/* ASCII only: isalnum() would take bytes of UTF-8 text in some locales. */
static bool
ascii_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static bool
atext(int c)
{
	return ascii_alnum(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool
mail_address_valid(const char *addr)
{
	const char *at, *p, *label;

	if (addr == NULL || strlen(addr) > ADDR_MAX)
		return false;
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || at - addr > 64)
		return false;
	/* The local part is a dot-atom: quoted local parts are refused. */
	for (p = addr; p < at; p++) {
		if (*p == '.') {
			if (p == addr || p + 1 == at || p[1] == '.')
				return false;
		} else if (!atext((unsigned char)*p))
			return false;
	}
	/* The domain: letters, digits and hyphens in labels of 1 to 63. */
	label = at + 1;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = p + 1;
		} else if (!ascii_alnum((unsigned char)*p) && *p != '-')
			return false;
	}
}

/* A CR or LF would start a header of the sender's choosing. */
static int
check_header(const char *s, const char *what, struct hb_error *err)
{
	if (s == NULL)
		return hb_fail(err, 422, "mail_invalid", "mail: no %s", what);
	if (strpbrk(s, "\r\n") != NULL)
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the %s holds a CR or LF (header injection refused)",
		    what);
	for (const char *p = s; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return hb_fail(err, 422, "mail_invalid",
			    "mail: the %s holds a control character", what);
	if (!json_utf8_valid(s, strlen(s)))
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the %s is not UTF-8", what);
	return 0;
}

static const char *
skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Copies s[0..n) into out without the blanks around it; false if too long. */
static bool
copy_trimmed(const char *s, size_t n, char *out, size_t outsz)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= outsz)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Removes the quotes around a quoted display name and its backslashes. */
static void
unquote(char *s)
{
	size_t n = strlen(s);
	char *w = s;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return;
	s[n - 1] = '\0';
	for (const char *r = s + 1; *r != '\0'; r++) {
		if (*r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
}

/*
 * Splits MAIL_FROM, "Display Name <local@domain>" or "local@domain", into
 * name (empty when there is none) and addr, both the caller's.
 */
static int
from_parse(const char *from, char *name, size_t namesz, char *addr,
    size_t addrsz, struct hb_error *err)
{
	const char *lt, *gt;

	if (check_header(from, "MAIL_FROM", err) == -1)
		return -1;
	lt = strchr(from, '<');
	name[0] = '\0';
	if (lt == NULL) {
		if (!copy_trimmed(from, strlen(from), addr, addrsz))
			addr[0] = '\0';
	} else {
		gt = strchr(lt, '>');
		if (gt == NULL || *skip_spaces(gt + 1) != '\0' ||
		    strchr(lt + 1, '<') != NULL ||
		    !copy_trimmed(from, (size_t)(lt - from), name, namesz) ||
		    !copy_trimmed(lt + 1, (size_t)(gt - lt - 1), addr, addrsz))
			addr[0] = '\0';
		unquote(name);
	}
	if (!mail_address_valid(addr) || strlen(name) > NAME_MAX_BYTES)
		return hb_fail(err, 422, "mail_invalid",
		    "MAIL_FROM: expected Name <local@domain> or local@domain");
	return 0;
}

int
mail_config_check(const struct hb_config *cfg, struct hb_error *err)
{
	char name[NAME_MAX_BYTES + 2], addr[ADDR_MAX + 2];

	if (from_parse(cfg->mail_from, name, sizeof(name), addr, sizeof(addr),
	    err) == -1) {
		err->status = 500;
		snprintf(err->code, sizeof(err->code), "config");
		return -1;
	}
	return 0;
}

/*
 * Writes s as RFC 2047 encoded-words, each a whole number of characters
 * (§5), the second and later each on a continuation line of its own:
 * decoders drop the folding between adjacent encoded-words (§6.2).
 */
static void
put_encoded_words(struct out *o, const char *s)
{
	unsigned char b64[4 * EW_BYTES / 3 + 4];
	size_t n = strlen(s), k;
	bool first = true;

	do {
		k = n < EW_BYTES ? n : EW_BYTES;
		while (k > 0 && k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
		if (k == 0)
			k = n < EW_BYTES ? n : EW_BYTES;
		EVP_EncodeBlock(b64, (const unsigned char *)s, (int)k);
		if (!first)
			out_str(o, "\r\n ");
		out_str(o, "=?UTF-8?B?");
		out_str(o, (const char *)b64);
		out_str(o, "?=");
		s += k;
		n -= k;
		first = false;
	} while (n > 0);
}

/*
 * Writes ASCII s after a header's "Name: " (col characters), folding
 * before a space so no line exceeds 78. Returns false, having written
 * nothing, when a word is too long for that.
 */
static bool
put_folded_ascii(struct out *o, size_t col, const char *s)
{
	size_t mark = o->len, i, brk;

	while (col + strlen(s) > HEADER_LINE) {
		brk = 0;
		/* Fold at a space with text after it: no line of blanks. */
		for (i = 1; col + i <= HEADER_LINE && s[i] != '\0'; i++)
			if (s[i] == ' ' && s[i - 1] != ' ' && s[i + 1] != ' ' &&
			    s[i + 1] != '\0')
				brk = i;
		if (brk == 0) {
			out_truncate(o, mark);
			return false;
		}
		out_add(o, s, brk);
		out_str(o, "\r\n");
		s += brk;
		col = 0;
	}
	out_str(o, s);
	return true;
}

/*
 * A header whose value cannot be folded inside: a long one (a long domain
 * in an address or a Message-ID) starts on a continuation line, where
 * RFC 5322 allows folding whitespace before it.
 */
static void
put_token(struct out *o, const char *name, const char *value)
{
	out_str(o, name);
	if (strlen(name) + 2 + strlen(value) > HEADER_LINE)
		out_str(o, ":\r\n ");
	else
		out_str(o, ": ");
	out_str(o, value);
	out_str(o, "\r\n");
}

/* Whether s must go as encoded-words: not ASCII, or it looks like one. */
static bool
needs_encoding(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80 || *p == '\t')
			return true;
	return strstr(s, "=?") != NULL;
}

static void
put_subject(struct out *o, const char *subject)
{
	out_str(o, "Subject: ");
	if (needs_encoding(subject) ||
	    !put_folded_ascii(o, strlen("Subject: "), subject))
		put_encoded_words(o, subject);
	out_str(o, "\r\n");
}

/* A display name of atext and spaces only goes as it is; else quoted. */
static bool
phrase_is_atoms(const char *s)
{
	for (; *s != '\0'; s++)
		if (!atext((unsigned char)*s) && *s != ' ')
			return false;
	return true;
}

/* The length of the line being written, in the header that began at start. */
static size_t
line_length(const struct out *o, size_t start)
{
	size_t i = o->len;

	while (i > start && o->p[i - 1] != '\n')
		i--;
	return o->len - i;
}

static void
put_from(struct out *o, const char *name, const char *addr)
{
	size_t start = o->len, mark;

	out_str(o, "From: ");
	if (name[0] == '\0') {
		out_str(o, addr);
		out_str(o, "\r\n");
		return;
	}
	mark = o->len;
	if (needs_encoding(name))
		put_encoded_words(o, name);
	else if (phrase_is_atoms(name))
		out_str(o, name);
	else {
		out_str(o, "\"");
		for (const char *p = name; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				out_str(o, "\\");
			out_add(o, p, 1);
		}
		out_str(o, "\"");
	}
	/* A name too long for the line goes as encoded-words, which fold. */
	if (!o->full && line_length(o, start) > HEADER_LINE) {
		out_truncate(o, mark);
		put_encoded_words(o, name);
	}
	if (!o->full && line_length(o, start) + strlen(addr) + 3 <= HEADER_LINE)
		out_str(o, " <");
	else
		out_str(o, "\r\n <");
	out_str(o, addr);
	out_str(o, ">\r\n");
}

/*
 * The body as quoted-printable (RFC 2045 6.7): every line ends in CRLF
 * (LF, CRLF and a lone CR in text all become one), no line exceeds 76,
 * whatever the values put into the text hold, and the message is 7-bit.
 * Not 8bit: libcurl never sends BODY=8BITMIME (RFC 6152) in MAIL FROM, so
 * 8-bit text would reach servers that never agreed to take it. The price
 * is a raw message where a link's '=' reads "=3D" and long lines wrap,
 * which every mail reader decodes. A "From " at the start of a line is
 * written "=46rom " so mbox stores do not mangle it. Lines starting with
 * "." are left to libcurl, which doubles the dot on the wire (RFC 5321
 * 4.5.2): doing it here too would double it twice.
 */
static void
put_quoted_printable(struct out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0, tl;
	char tok[3];
	bool eol;

	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;

		if (c == '\r' || c == '\n') {
			out_str(o, "\r\n");
			col = 0;
			s += (c == '\r' && s[1] == '\n') ? 2 : 1;
			continue;
		}
		eol = s[1] == '\0' || s[1] == '\r' || s[1] == '\n';
		if (((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !eol)) &&
		    !(col == 0 && strncmp(s, "From ", 5) == 0)) {
			tok[0] = (char)c;
			tl = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 0xf];
			tl = 3;
		}
		/* A soft break ("=" CRLF) keeps the line within 76. */
		if (col + tl > (eol ? QP_LINE : QP_LINE - 1)) {
			out_str(o, "=\r\n");
			col = 0;
		}
		out_add(o, tok, tl);
		col += tl;
		s++;
	}
	/* col is 0 after a line break only: the text's, or the header's end. */
	if (col > 0)
		out_str(o, "\r\n");
}

/* RFC 5322 3.3 date-time in UTC, with English names whatever the locale. */
static void
format_date(time_t t, char *out, size_t outsz)
{
	static const char *const wday[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%s, %d %s %04d %02d:%02d:%02d +0000",
	    wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "<128 random bits in hex@the domain of MAIL_FROM>". */
static int
message_id(const char *from_addr, char *out, size_t outsz,
    struct hb_error *err)
{
	unsigned char rnd[16];
	char hex[2 * sizeof(rnd) + 1];

	if (crypto_random(rnd, sizeof(rnd)) == -1)
		return hb_fail(err, 503, "smtp_transient",
		    "mail: no randomness for a Message-ID");
	crypto_hex(rnd, sizeof(rnd), hex);
	snprintf(out, outsz, "<%s@%s>", hex, strrchr(from_addr, '@') + 1);
	return 0;
}

long
mail_format(const struct hb_config *cfg, const struct hb_mail *m, char *buf,
    size_t bufsz, struct hb_error *err)
{
	char name[NAME_MAX_BYTES + 2], addr[ADDR_MAX + 2], date[64];
	char id[ADDR_MAX + 40];
	struct out o = { buf, 0, bufsz, false };

	if (bufsz == 0)
		return hb_fail(err, 422, "mail_invalid", "mail: no buffer");
	buf[0] = '\0';
	if (check_header(m->to, "recipient", err) == -1)
		return -1;
	if (!mail_address_valid(m->to))
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the recipient is not an address local@domain");
	if (check_header(m->subject, "subject", err) == -1)
		return -1;
	if (m->text == NULL || !json_utf8_valid(m->text, strlen(m->text)))
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the text is not UTF-8");
	if (from_parse(cfg->mail_from, name, sizeof(name), addr,
	    sizeof(addr), err) == -1 ||
	    message_id(addr, id, sizeof(id), err) == -1)
		return -1;
	format_date(m->date != 0 ? m->date : time(NULL), date, sizeof(date));

	put_token(&o, "Date", date);
	put_token(&o, "Message-ID", id);
	put_from(&o, name, addr);
	put_token(&o, "To", m->to);
	put_subject(&o, m->subject);
	out_str(&o, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    /* RFC 3834: auto-responders do not answer it. */
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n");
	put_quoted_printable(&o, m->text);
	if (o.full) {
		buf[0] = '\0';
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the message is longer than %zu bytes", bufsz - 1);
	}
	return (long)o.len;
}

int
mail_global_init(struct hb_error *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hb_fail(err, 500, "mail",
		    "mail: curl_global_init failed");
	return 0;
}

void
mail_global_cleanup(void)
{
	curl_global_cleanup();
}

/* The upload: libcurl reads the message from here and dot-stuffs it. */
struct upload {
	const char	*p;
	size_t		 left;
};

static size_t
upload_read(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Replaces every occurrence of secret in s by "***", in place. */
static void
redact(char *s, const char *secret)
{
	size_t n;
	char *p;

	if (secret == NULL || (n = strlen(secret)) < 3)
		return;
	while ((p = strstr(s, secret)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

/*
 * The error of a failed transfer, from libcurl's words and the SMTP reply
 * code only. The server's reply text is left out on purpose: a filter that
 * refuses a mail may quote the link it found, and the link holds a token.
 */
static int
send_error(const struct hb_config *cfg, const char *to, CURLcode rc,
    const char *detail, long reply, struct hb_error *err)
{
	char text[200], *password = NULL;
	CURLU *u;

	snprintf(text, sizeof(text), "%.80s%s%.110s", curl_easy_strerror(rc),
	    detail[0] != '\0' ? ": " : "", detail);
	for (char *p = text; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	/* libcurl does not quote them today; nothing here relies on that. */
	redact(text, to);
	redact(text, cfg->smtp_password);
	u = curl_url();
	if (u != NULL && curl_url_set(u, CURLUPART_URL, cfg->smtp_url,
	    CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
		redact(text, password);
		curl_free(password);
	}
	curl_url_cleanup(u);
	if (reply >= 500)
		return hb_fail(err, 502, "smtp_permanent",
		    "smtp: %s (reply %ld)", text, reply);
	if (reply > 0)
		return hb_fail(err, 503, "smtp_transient",
		    "smtp: %s (reply %ld)", text, reply);
	return hb_fail(err, 503, "smtp_transient", "smtp: %s", text);
}

static CURLcode
set_options(CURL *c, const struct hb_config *cfg, const char *from,
    struct curl_slist *rcpts, struct upload *up, char *errbuf)
{
	long timeout = cfg->smtp_timeout > 0 ? cfg->smtp_timeout : 30;
	long connect = timeout < HB_MAIL_CONNECT_TIMEOUT ? timeout :
	    HB_MAIL_CONNECT_TIMEOUT;
	CURLcode rc;

	if ((rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url)) ||
	    /* SMTP_URL names a mail server, never a file or a web page. */
	    (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) ||
	    (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_MAIL_FROM, from)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)up->left)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_READDATA, up)))
		return rc;
	/* smtps:// is TLS from the start; smtp:// upgrades when offered. */
	if (strncasecmp(cfg->smtp_url, "smtp://", 7) == 0 &&
	    (rc = curl_easy_setopt(c, CURLOPT_USE_SSL,
	    (long)CURLUSESSL_TRY)) != CURLE_OK)
		return rc;
	/* Without SMTP_USER, credentials in SMTP_URL (if any) are used. */
	if (cfg->smtp_user[0] != '\0' &&
	    ((rc = curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password))))
		return rc;
	return CURLE_OK;
}

int
mail_send(const struct hb_config *cfg, const char *to, const char *msg,
    size_t len, struct hb_error *err)
{
	char name[NAME_MAX_BYTES + 2], addr[ADDR_MAX + 2];
	char from[ADDR_MAX + 4], rcpt[ADDR_MAX + 4];
	char errbuf[CURL_ERROR_SIZE];
	struct upload up = { msg, len };
	struct curl_slist *rcpts = NULL;
	CURLcode rc;
	long reply = 0;
	CURL *c;

	if (cfg->smtp_url[0] == '\0')
		return hb_fail(err, 503, "mail_not_configured",
		    "mail: SMTP_URL is not set");
	/* libcurl writes both addresses into SMTP commands unchecked. */
	if (check_header(to, "recipient", err) == -1)
		return -1;
	if (!mail_address_valid(to))
		return hb_fail(err, 422, "mail_invalid",
		    "mail: the recipient is not an address local@domain");
	if (from_parse(cfg->mail_from, name, sizeof(name), addr,
	    sizeof(addr), err) == -1)
		return -1;
	snprintf(from, sizeof(from), "<%s>", addr);
	snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	errbuf[0] = '\0';
	c = curl_easy_init();
	if (c == NULL || (rcpts = curl_slist_append(NULL, rcpt)) == NULL) {
		curl_easy_cleanup(c);
		return hb_fail(err, 503, "smtp_transient",
		    "mail: out of memory");
	}
	rc = set_options(c, cfg, from, rcpts, &up, errbuf);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpts);
	if (rc != CURLE_OK)
		return send_error(cfg, to, rc, errbuf, reply, err);
	return 0;
}

int
mail_deliver(const struct hb_config *cfg, const struct hb_mail *m,
    struct hb_error *err)
{
	char *buf = malloc(HB_MAIL_MAX);
	long n;
	int rc;

	if (buf == NULL)
		return hb_fail(err, 503, "smtp_transient",
		    "mail: out of memory");
	n = mail_format(cfg, m, buf, HB_MAIL_MAX, err);
	rc = n == -1 ? -1 : mail_send(cfg, m->to, buf, (size_t)n, err);
	free(buf);
	return rc;
}

static bool
placeholder_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *
var_value(const struct hb_mail_var *vars, size_t n, const char *name,
    size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (vars[i].name != NULL && strlen(vars[i].name) == len &&
		    memcmp(vars[i].name, name, len) == 0)
			return vars[i].value;
	return NULL;
}

long
mail_render_text(const char *tmpl, const struct hb_mail_var *vars, size_t n,
    char *out, size_t outsz, struct hb_error *err)
{
	struct out o = { out, 0, outsz, false };
	const char *p = tmpl, *open, *close, *v;

	if (outsz == 0)
		return hb_fail(err, 422, "mail_invalid", "template: no buffer");
	out[0] = '\0';
	while ((open = strstr(p, "{{")) != NULL) {
		out_add(&o, p, (size_t)(open - p));
		for (close = open + 2; placeholder_char((unsigned char)*close);
		    close++)
			;
		if (close == open + 2 || strncmp(close, "}}", 2) != 0) {
			out[0] = '\0';
			return hb_fail(err, 422, "mail_invalid",
			    "template: a malformed placeholder at byte %ld",
			    (long)(open - tmpl));
		}
		v = var_value(vars, n, open + 2, (size_t)(close - open - 2));
		if (v == NULL) {
			out[0] = '\0';
			return hb_fail(err, 422, "mail_invalid",
			    "template: no value for {{%.*s}}",
			    (int)(close - open - 2), open + 2);
		}
		out_str(&o, v);
		p = close + 2;
	}
	out_str(&o, p);
	if (o.full) {
		out[0] = '\0';
		return hb_fail(err, 422, "mail_invalid",
		    "template: the result is longer than %zu bytes", outsz - 1);
	}
	return (long)o.len;
}

int
mail_render(const char *name, const struct hb_mail_var *vars, size_t n,
    struct hb_mail_rendered *out, struct hb_error *err)
{
	const char *t = mail_template(name), *nl;
	char subject[HB_MAIL_SUBJECT_MAX];
	size_t len;

	out->subject[0] = out->text[0] = '\0';
	if (t == NULL)
		return hb_fail(err, 422, "mail_invalid",
		    "template: no template \"%.40s\"", name ? name : "");
	nl = strchr(t, '\n');
	if (strncmp(t, "Subject: ", 9) != 0 || nl == NULL || nl[1] != '\n' ||
	    (len = (size_t)(nl - t - 9)) >= sizeof(subject))
		return hb_fail(err, 422, "mail_invalid",
		    "template %s: expected a Subject line, then an empty line",
		    name);
	memcpy(subject, t + 9, len);
	subject[len] = '\0';
	if (mail_render_text(subject, vars, n, out->subject,
	    sizeof(out->subject), err) == -1 ||
	    mail_render_text(nl + 2, vars, n, out->text, sizeof(out->text),
	    err) == -1)
		return -1;
	return 0;
}
