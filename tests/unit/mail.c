/*
 * lib/mail.c without a mail server: the message mail_format writes (RFC
 * 5322 headers, RFC 2047 subjects, quoted-printable bodies, CRLF, line
 * lengths), what it refuses (header injection, bad addresses), templates,
 * links, and that a failed send's error never quotes the mail.
 * tests/unit/mail_smtp.c sends to scripts/smtp-sink.py.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "json.h"
#include "mail.h"
#include "tap.h"

#define TOKEN	"tok_SECRET-7f3a9c2b1d"

static char msg[HB_MAIL_MAX];

static void
cfg_init(struct hb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->mail_from, sizeof(cfg->mail_from), "%s",
	    "Homebot <homebot@mail.example>");
	snprintf(cfg->public_url, sizeof(cfg->public_url), "%s",
	    "https://homebot.example");
	cfg->smtp_timeout = 30;
}

static long
format(const struct hb_config *cfg, const char *to, const char *subject,
    const char *text, struct hb_error *err)
{
	struct hb_mail m = { to, subject, text, 0 };

	hb_error_clear(err);
	return mail_format(cfg, &m, msg, sizeof(msg), err);
}

/* The header block of a message: everything before the empty line. */
static size_t
header_len(const char *s)
{
	const char *e = strstr(s, "\r\n\r\n");

	return e == NULL ? 0 : (size_t)(e - s) + 2;
}

/*
 * The value of header name, unfolded (the CRLF of each fold removed), into
 * out; "" when there is none.
 */
static const char *
header(const char *s, const char *name, char *out, size_t outsz)
{
	size_t hl = header_len(s), nl = strlen(name), o = 0;
	const char *p = s, *e;

	out[0] = '\0';
	while (p < s + hl) {
		e = strstr(p, "\r\n");
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			if (*p == ' ')
				p++;
			for (;;) {
				while (p < e && o + 1 < outsz)
					out[o++] = *p++;
				if (e[2] != ' ' && e[2] != '\t')
					break;
				p = e + 2;
				e = strstr(p, "\r\n");
			}
			out[o] = '\0';
			o = strspn(out, " ");
			memmove(out, out + o, strlen(out + o) + 1);
			return out;
		}
		p = e + 2;
	}
	return out;
}

/*
 * Whether every line of s ends in CRLF (no bare CR or LF), header lines
 * are at most hmax long and body lines at most bmax.
 */
static bool
lines_ok(const char *s, size_t hmax, size_t bmax, size_t *longest_header,
    size_t *longest_body)
{
	size_t hl = header_len(s), len;
	const char *p = s, *e;

	*longest_header = *longest_body = 0;
	if (hl == 0)
		return false;
	while (*p != '\0') {
		e = strstr(p, "\r\n");
		if (e == NULL)
			return false;
		len = (size_t)(e - p);
		if (memchr(p, '\r', len) != NULL || memchr(p, '\n', len) != NULL)
			return false;
		if ((size_t)(p - s) < hl) {
			if (len > *longest_header)
				*longest_header = len;
		} else if (len > *longest_body)
			*longest_body = len;
		p = e + 2;
	}
	return *longest_header <= hmax && *longest_body <= bmax;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the quoted-printable body of s into out; -1 when malformed. */
static int
qp_decode(const char *s, char *out, size_t outsz)
{
	const char *p = s + header_len(s) + 2;
	size_t o = 0;

	while (*p != '\0' && o + 1 < outsz) {
		if (*p == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (*p == '=') {
			if (hexval(p[1]) < 0 || hexval(p[2]) < 0)
				return -1;
			out[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 3;
		} else {
			if ((unsigned char)*p >= 0x80)
				return -1;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return 0;
}

/*
 * Decodes a header value made of RFC 2047 B encoded-words (the blanks
 * between them dropped) into out. Returns how many words, -1 when a word
 * is malformed, longer than 75 or not whole UTF-8 characters.
 */
static int
ew_decode(const char *v, char *out, size_t outsz)
{
	unsigned char dec[128];
	size_t o = 0, n;
	int words = 0, len;
	const char *e;

	out[0] = '\0';
	while (*v != '\0') {
		while (*v == ' ')
			v++;
		if (*v == '\0')
			break;
		if (strncmp(v, "=?UTF-8?B?", 10) != 0 ||
		    (e = strstr(v + 10, "?=")) == NULL || e + 2 - v > 75)
			return -1;
		n = (size_t)(e - v - 10);
		len = EVP_DecodeBlock(dec, (const unsigned char *)v + 10,
		    (int)n);
		if (len < 0)
			return -1;
		if (n >= 1 && v[10 + n - 1] == '=')
			len--;
		if (n >= 2 && v[10 + n - 2] == '=')
			len--;
		if (!json_utf8_valid((const char *)dec, (size_t)len) ||
		    o + (size_t)len >= outsz)
			return -1;
		memcpy(out + o, dec, (size_t)len);
		o += (size_t)len;
		out[o] = '\0';
		words++;
		v = e + 2;
	}
	return words;
}

static void
test_headers(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char v[512], id[512];
	size_t lh, lb;
	bool good;
	long n;

	cfg_init(&cfg);
	n = format(&cfg, "bob@example.com", "Confirm your email",
	    "Hello,\nopen http://x.example/#token=" TOKEN "\n", &err);
	ok(n > 0, "a plain mail formats (%s)", err.message);
	is_int(n, strlen(msg), "the length returned is the message's");
	ok(strncmp(msg, "Date: ", 6) == 0, "the message starts with Date");
	is_str(header(msg, "From", v, sizeof(v)),
	    "Homebot <homebot@mail.example>", "From is MAIL_FROM");
	is_str(header(msg, "To", v, sizeof(v)), "bob@example.com",
	    "To is the recipient");
	is_str(header(msg, "Subject", v, sizeof(v)), "Confirm your email",
	    "an ASCII subject goes as it is");
	is_str(header(msg, "MIME-Version", v, sizeof(v)), "1.0",
	    "MIME-Version: 1.0");
	is_str(header(msg, "Content-Type", v, sizeof(v)),
	    "text/plain; charset=UTF-8", "Content-Type: text/plain, UTF-8");
	is_str(header(msg, "Content-Transfer-Encoding", v, sizeof(v)),
	    "quoted-printable", "the body is quoted-printable");
	is_str(header(msg, "Auto-Submitted", v, sizeof(v)), "auto-generated",
	    "Auto-Submitted: auto-generated keeps auto-responders quiet");
	header(msg, "Message-ID", id, sizeof(id));
	ok(strlen(id) == 1 + 32 + strlen("@mail.example>") && id[0] == '<' &&
	    strspn(id + 1, "0123456789abcdef") == 32 &&
	    strcmp(id + 33, "@mail.example>") == 0,
	    "Message-ID is <32 hex digits@the domain of MAIL_FROM> (%s)", id);
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "every line ends in CRLF, headers <= 78, body <= 76 (%zu, %zu)",
	    lh, lb);
	ok(strstr(msg, "\r\n\r\n") != NULL && header_len(msg) > 0,
	    "an empty line separates headers and body");
	ok(n >= 2 && strcmp(msg + n - 2, "\r\n") == 0,
	    "the message ends in CRLF");
	hb_error_clear(&err);
}

static void
test_date(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Hi", "text", 1700000000 };
	char v[128], wd[8], mon[8];
	int day, year, hh, mm, ss, zone;

	cfg_init(&cfg);
	ok(mail_format(&cfg, &m, msg, sizeof(msg), &err) > 0,
	    "a mail with a fixed date formats");
	is_str(header(msg, "Date", v, sizeof(v)),
	    "Tue, 14 Nov 2023 22:13:20 +0000",
	    "Date is RFC 5322 date-time in UTC");
	m.date = 1704067199;
	mail_format(&cfg, &m, msg, sizeof(msg), &err);
	is_str(header(msg, "Date", v, sizeof(v)),
	    "Sun, 31 Dec 2023 23:59:59 +0000", "the last second of a year");

	format(&cfg, "bob@example.com", "Hi", "text", &err);
	header(msg, "Date", v, sizeof(v));
	ok(sscanf(v, "%3s, %d %3s %d %d:%d:%d %d", wd, &day, mon, &year, &hh,
	    &mm, &ss, &zone) == 8 && year >= 2024 && zone == 0 &&
	    strstr(v, "+0000") != NULL, "date 0 means now, in UTC (%s)", v);
	hb_error_clear(&err);
}

static void
test_message_id_unique(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	static char ids[200][80];
	int dup = 0;

	cfg_init(&cfg);
	for (int i = 0; i < 200; i++) {
		format(&cfg, "bob@example.com", "Hi", "text", &err);
		header(msg, "Message-ID", ids[i], sizeof(ids[i]));
		for (int j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				dup++;
	}
	is_int(dup, 0, "200 messages have 200 different Message-IDs");

	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
	    "ops@notify.example.org");
	format(&cfg, "bob@example.com", "Hi", "text", &err);
	has_str(header(msg, "Message-ID", ids[0], sizeof(ids[0])),
	    "@notify.example.org>", "the Message-ID's domain follows MAIL_FROM");
	hb_error_clear(&err);
}

static void
test_subject_encoding(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char v[2048], dec[2048], raw[1200], line[128];
	const char *utf8 = "Grüße aus Köln — 你好 ✓";
	size_t lh, lb;
	bool good;
	int words, bad;

	cfg_init(&cfg);
	ok(format(&cfg, "bob@example.com", utf8, "x", &err) > 0,
	    "a UTF-8 subject formats");
	has_str(msg, "\r\nSubject: =?UTF-8?B?",
	    "a UTF-8 subject is an RFC 2047 B encoded-word");
	header(msg, "Subject", v, sizeof(v));
	words = ew_decode(v, dec, sizeof(dec));
	ok(words >= 1, "the encoded subject decodes (%d words)", words);
	is_str(dec, utf8, "the decoded subject is the original");
	for (const char *p = msg; p < msg + header_len(msg); p++)
		if ((unsigned char)*p >= 0x80) {
			ok(0, "the headers are 7-bit");
			break;
		} else if (p + 1 == msg + header_len(msg))
			ok(1, "the headers are 7-bit");

	/* Long enough to need folding; 2- and 3-byte characters mixed. */
	raw[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(raw, i % 3 ? "ü€ " : "日本");
	ok(format(&cfg, "bob@example.com", raw, "x", &err) > 0,
	    "a long UTF-8 subject formats (%s)", err.message);
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "a long UTF-8 subject is folded: no header line over 78 (%zu)", lh);
	header(msg, "Subject", v, sizeof(v));
	words = ew_decode(v, dec, sizeof(dec));
	ok(words > 2, "it is folded into %d encoded-words, each <= 75 "
	    "characters and whole UTF-8 characters", words);
	is_str(dec, raw, "the folded subject decodes to the original");
	bad = 0;
	{
		const char *p = strstr(msg, "\r\nSubject: ") + 2, *e;

		for (int i = 0; i < words; i++) {
			e = strstr(p, "\r\n");
			snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
			if (i > 0 && strncmp(line, " =?UTF-8?B?", 11) != 0)
				bad++;
			p = e + 2;
		}
	}
	is_int(bad, 0, "each continuation line starts with a blank and a word");

	format(&cfg, "bob@example.com", "Price =?ISO-8859-1?Q?x?=", "x", &err);
	header(msg, "Subject", v, sizeof(v));
	ok(strncmp(v, "=?UTF-8?B?", 10) == 0,
	    "an ASCII subject holding \"=?\" is encoded, not read as a word");
	ew_decode(v, dec, sizeof(dec));
	is_str(dec, "Price =?ISO-8859-1?Q?x?=", "and decodes to itself");
	hb_error_clear(&err);
}

static void
test_subject_folding_ascii(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char subject[300], v[600], dec[600];
	size_t lh, lb;
	bool good;

	cfg_init(&cfg);
	snprintf(subject, sizeof(subject), "%s",
	    "Ada Lovelace invited you to The Analytical Engine Society of "
	    "Greater London and Surrounding Counties on Homebot today");
	ok(format(&cfg, "bob@example.com", subject, "x", &err) > 0,
	    "a long ASCII subject formats");
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "a long ASCII subject is folded within 78 (%zu)", lh);
	is_str(header(msg, "Subject", v, sizeof(v)), subject,
	    "it is folded at blanks and unfolds to the original");
	lacks_str(v, "=?", "a foldable ASCII subject is not encoded");

	memset(subject, 'x', 100);
	subject[100] = '\0';
	ok(format(&cfg, "bob@example.com", subject, "x", &err) > 0,
	    "a 100-character word as subject formats");
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "a word too long to fold goes as encoded-words within 78 (%zu)", lh);
	header(msg, "Subject", v, sizeof(v));
	ok(ew_decode(v, dec, sizeof(dec)) > 1 && strcmp(dec, subject) == 0,
	    "and decodes to the original");

	ok(format(&cfg, "bob@example.com", "", "x", &err) > 0,
	    "an empty subject formats");
	has_str(msg, "\r\nSubject: \r\n", "as an empty Subject header");
	hb_error_clear(&err);
}

static void
test_header_injection(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	static const char *const subjects[] = {
		"Hi\r\nBcc: evil@attacker.example",
		"Hi\nBcc: evil@attacker.example",
		"Hi\rBcc: evil@attacker.example",
		"trailing newline\n",
	};
	static const char *const tos[] = {
		"bob@example.com\r\nBcc: evil@attacker.example",
		"bob@example.com\nBcc: evil@attacker.example",
		"bob@example.com\r",
	};

	cfg_init(&cfg);
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		is_int(format(&cfg, "bob@example.com", subjects[i], "x", &err),
		    -1, "a CR or LF in the subject is refused (#%zu)", i);
		has_str(err.message, "CR or LF", "the error says why");
		is_str(err.code, "mail_invalid", "code mail_invalid");
		is_str(msg, "", "nothing is left in the buffer");
	}
	for (size_t i = 0; i < sizeof(tos) / sizeof(tos[0]); i++) {
		is_int(format(&cfg, tos[i], "Hi", "x", &err), -1,
		    "a CR or LF in the recipient is refused (#%zu)", i);
		has_str(err.message, "CR or LF", "the error says why");
	}
	is_int(format(&cfg, "bob@example.com", "tab\tand bell\a", "x", &err),
	    -1, "a control character in the subject is refused");
	is_int(format(&cfg, "bob@example.com", "bad \xc3\x28 utf-8", "x", &err),
	    -1, "a subject that is not UTF-8 is refused");
	is_int(format(&cfg, "bob@example.com", NULL, "x", &err), -1,
	    "no subject is refused");

	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
	    "Homebot <homebot@mail.example>\r\nBcc: evil@attacker.example");
	is_int(format(&cfg, "bob@example.com", "Hi", "x", &err), -1,
	    "a CR or LF in MAIL_FROM is refused");
	has_str(err.message, "MAIL_FROM", "the error names MAIL_FROM");
	hb_error_clear(&err);
}

static void
test_addresses(void)
{
	static const char *const good[] = {
		"bob@example.com", "admin@localhost", "first.last+tag@sub.example.co.uk",
		"o'brien@example.ie", "x@a-b.example", "1@2.3",
	};
	static const char *const bad[] = {
		"", "bob", "@example.com", "bob@", "bob@@example.com",
		"bob smith@example.com", "<bob@example.com>",
		"Bob <bob@example.com>", "bob@example.com,eve@example.com",
		"bob..smith@example.com", ".bob@example.com", "bob.@example.com",
		"bob@-example.com", "bob@example-.com", "bob@example..com",
		"bob@.example.com", "bob@example.com.", "b\xc3\xb6" "b@example.com",
		"bob@ex_ample.com", "bob@[127.0.0.1]", "\"bob\"@example.com",
		"bob@exa mple.com", "bob@example.com>", "bob\t@example.com",
	};
	char local65[80], long_domain[300];
	struct hb_config cfg;
	struct hb_error err = {0};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(mail_address_valid(good[i]), "address %s is valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!mail_address_valid(bad[i]), "address \"%s\" is refused",
		    bad[i]);
	ok(!mail_address_valid(NULL), "no address is refused");
	memset(local65, 'a', 65);
	snprintf(local65 + 65, sizeof(local65) - 65, "@example.com");
	ok(!mail_address_valid(local65), "a 65-byte local part is refused");
	memset(long_domain, 0, sizeof(long_domain));
	strcpy(long_domain, "a@");
	for (int i = 0; i < 26; i++)
		strcat(long_domain, "abcdefghi.");
	strcat(long_domain, "com");
	ok(!mail_address_valid(long_domain), "an address over 254 bytes is "
	    "refused (%zu)", strlen(long_domain));

	cfg_init(&cfg);
	is_int(format(&cfg, "Bob <bob@example.com>", "Hi", "x", &err), -1,
	    "mail_format refuses a recipient with a display name");
	has_str(err.message, "recipient", "the error names the recipient");
	lacks_str(err.message, "bob@example.com",
	    "the error does not quote the address");
	is_int(format(&cfg, "bob@example.com,eve@example.com", "Hi", "x", &err),
	    -1, "mail_format refuses two recipients in one");
	{
		const char *to = "a.rather.long.local.part@"
		    "a-department.of-a-large-organization.example.com";
		size_t lh, lb;
		bool fits;
		char v[128];

		ok(format(&cfg, to, "Hi", "x", &err) > 0,
		    "a recipient of %zu bytes formats", strlen(to));
		fits = lines_ok(msg, 78, 76, &lh, &lb);
		ok(fits, "its To header starts on a continuation line, within "
		    "78 (%zu)", lh);
		is_str(header(msg, "To", v, sizeof(v)), to,
		    "and unfolds to the address");
	}
	hb_error_clear(&err);
}

static void
test_body(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char text[2048], want[4096], got[4096];
	size_t lh, lb, o = 0;
	bool good;
	const char *body;
	long n;

	cfg_init(&cfg);
	snprintf(text, sizeof(text),
	    "Hello Zoë,\n"
	    "\n"
	    ".a line starting with a dot\n"
	    ".\n"
	    "From here on\n"
	    "a=b and trailing blanks  \n"
	    "tab at the end\t\r\n"
	    "lone CR\rend\n"
	    "https://homebot.example/account/verify#token=%s%s\n"
	    "no newline at the end",
	    TOKEN, "-and-a-very-long-tail-that-runs-past-seventy-six-"
	    "characters-for-sure-0123456789");
	n = format(&cfg, "bob@example.com", "Hi", text, &err);
	ok(n > 0, "a body with every kind of line formats (%s)", err.message);
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "every body line ends in CRLF and is at most 76 (%zu)", lb);
	body = msg + header_len(msg) + 2;
	for (const char *p = body; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80) {
			ok(0, "the body is 7-bit");
			break;
		} else if (p[1] == '\0')
			ok(1, "the body is 7-bit");
	has_str(body, "Hello Zo=C3=AB,", "UTF-8 is =XX-encoded");
	has_str(body, "\r\n.a line starting with a dot\r\n",
	    "a line starting with '.' is left for libcurl to dot-stuff");
	has_str(body, "\r\n.\r\n", "a line of one '.' is left for libcurl too");
	has_str(body, "\r\n=46rom here on\r\n",
	    "\"From \" at a line start is =46rom");
	has_str(body, "a=3Db and trailing blanks =20\r\n",
	    "'=' is =3D and a blank before a line end is =20");
	has_str(body, "tab at the end=09\r\n", "a tab before a line end is =09");
	has_str(body, "lone CR\r\nend\r\n", "a lone CR becomes CRLF");
	has_str(body, "=\r\n", "a long line gets soft line breaks");
	ok(strcmp(msg + n - strlen("at the end\r\n"), "at the end\r\n") == 0,
	    "a text without a final newline still ends in CRLF");

	/* Decoding gives back the text with CRLF line ends. */
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n' || (*p == '\r' && p[1] != '\n')) {
			want[o++] = '\r';
			want[o++] = '\n';
		} else if (*p != '\r')
			want[o++] = *p;
	}
	want[o] = '\0';
	strcat(want, "\r\n");
	ok(qp_decode(msg, got, sizeof(got)) == 0,
	    "the body is valid quoted-printable");
	is_str(got, want, "it decodes to the text, with CRLF line ends");

	ok(format(&cfg, "bob@example.com", "Hi", "", &err) > 0,
	    "an empty text formats");
	ok(strcmp(msg + strlen(msg) - 4, "\r\n\r\n") == 0,
	    "an empty body ends with the header's empty line");
	is_int(format(&cfg, "bob@example.com", "Hi", "bad \xff utf-8", &err),
	    -1, "a text that is not UTF-8 is refused");
	is_int(format(&cfg, "bob@example.com", "Hi", NULL, &err), -1,
	    "no text is refused");
	hb_error_clear(&err);
}

static void
test_long_body(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct hb_mail m = { "bob@example.com", "Hi", NULL, 0 };
	char small[300];
	char *big;
	size_t lh, lb;
	bool good;

	cfg_init(&cfg);
	big = malloc(30000);
	if (big == NULL)
		abort();
	memset(big, 'a', 29999);
	big[29999] = '\0';
	m.text = big;
	ok(mail_format(&cfg, &m, msg, sizeof(msg), &err) > 0,
	    "a 30,000-byte line formats");
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good,
	    "and is cut into lines of at most 76 (%zu)", lb);
	memset(big, 0, 30000);
	for (int i = 0; i < 29990; i += 2)
		memcpy(big + i, "\xc3\xbc", 2);
	is_int(mail_format(&cfg, &m, msg, sizeof(msg), &err), -1,
	    "a body too long for the buffer once encoded is refused");
	has_str(err.message, "longer than", "the error says it is too long");
	is_str(msg, "", "nothing is left in the buffer");
	free(big);

	m.text = "short";
	is_int(mail_format(&cfg, &m, small, sizeof(small), &err), -1,
	    "a buffer too small for the headers is refused");
	is_int(mail_format(&cfg, &m, small, 0, &err), -1,
	    "a buffer of 0 bytes is refused");
	hb_error_clear(&err);
}

static void
test_from(void)
{
	static const struct {
		const char	*mail_from;
		const char	*header;
	} cases[] = {
		{ "homebot@mail.example", "homebot@mail.example" },
		{ "  Homebot   <homebot@mail.example>  ",
		    "Homebot <homebot@mail.example>" },
		{ "\"Acme, Inc.\" <noreply@acme.example>",
		    "\"Acme, Inc.\" <noreply@acme.example>" },
		{ "Acme (no reply) <noreply@acme.example>",
		    "\"Acme (no reply)\" <noreply@acme.example>" },
		{ "\"Say \\\"hi\\\"\" <hi@acme.example>",
		    "\"Say \\\"hi\\\"\" <hi@acme.example>" },
	};
	static const char *const bad[] = {
		"Homebot", "Homebot <homebot>", "Homebot <a@b.example> x",
		"<a@b.example", "A <b> <c@d.example>", "",
	};
	struct hb_config cfg;
	struct hb_error err = {0};
	char v[512], dec[512];
	size_t lh, lb;
	bool good;

	cfg_init(&cfg);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
		    cases[i].mail_from);
		format(&cfg, "bob@example.com", "Hi", "x", &err);
		is_str(header(msg, "From", v, sizeof(v)), cases[i].header,
		    "MAIL_FROM '%s' gives From: %s", cases[i].mail_from,
		    cases[i].header);
		is_int(mail_config_check(&cfg, &err), 0,
		    "mail_config_check takes '%s'", cases[i].mail_from);
	}

	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
	    "Zoë's Bötchen <bot@mail.example>");
	format(&cfg, "bob@example.com", "Hi", "x", &err);
	header(msg, "From", v, sizeof(v));
	ok(strncmp(v, "=?UTF-8?B?", 10) == 0 &&
	    strstr(v, " <bot@mail.example>") != NULL,
	    "a UTF-8 display name is an encoded-word (%s)", v);
	*strstr(v, " <bot@") = '\0';
	ew_decode(v, dec, sizeof(dec));
	is_str(dec, "Zoë's Bötchen", "and decodes to the name");

	snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s",
	    "The Notification Service of the Analytical Engine Society "
	    "<notifications@analytical-engine-society.example>");
	format(&cfg, "bob@example.com", "Hi", "x", &err);
	good = lines_ok(msg, 78, 76, &lh, &lb);
	ok(good, "a long From (and the Message-ID with its domain) is "
	    "folded within 78 (%zu)", lh);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cfg.mail_from, sizeof(cfg.mail_from), "%s", bad[i]);
		is_int(format(&cfg, "bob@example.com", "Hi", "x", &err), -1,
		    "MAIL_FROM '%s' is refused by mail_format", bad[i]);
		is_int(mail_config_check(&cfg, &err), -1,
		    "and by mail_config_check");
		is_str(err.code, "config", "as a configuration error");
		has_str(err.message, "MAIL_FROM", "naming MAIL_FROM");
	}
	hb_error_clear(&err);
}

/* What each template needs; the link is always the last value. */
static const struct {
	const char		*name;
	struct hb_mail_var	 vars[5];
	size_t			 n;
} templates[] = {
	{ "verify_email", { { "link", NULL } }, 1 },
	{ "invite", { { "inviter", "Ada Lovelace" },
	    { "organization", "Zoë's Analytical Engines" }, { "link", NULL } },
	    3 },
	{ "password_reset", { { "link", NULL } }, 1 },
	{ "email_change", { { "new_email", "ada@new.example" },
	    { "link", NULL } }, 2 },
	{ "email_changed_notice", { { "old_email", "ada@old.example" },
	    { "new_email", "ada@new.example" }, { "link", NULL } }, 3 },
	{ "sign_in_notice", { { "when", "2026-12-03 19:45:00 UTC" },
	    { "device", "Firefox on Linux" }, { "network", "2001:db8:7::/48" },
	    { "ip", "2001:db8:7::42" }, { "link", NULL } }, 5 },
};

static void
test_templates(void)
{
	static struct hb_mail_rendered r;
	struct hb_mail_var vars[5];
	struct hb_config cfg;
	struct hb_error err = {0};
	char link[256];
	size_t lh, lb;

	cfg_init(&cfg);
	ok(mail_link(&cfg, "/account/verify", TOKEN, link, sizeof(link),
	    &err) == 0, "a link is built");
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		const char *name = templates[i].name;
		size_t n = templates[i].n;

		memcpy(vars, templates[i].vars, sizeof(vars));
		vars[n - 1].value = link;
		ok(mail_template(name) != NULL, "template %s exists", name);
		is_int(mail_render(name, vars, n, &r, &err), 0,
		    "template %s renders with its values (%s)", name,
		    err.message);
		ok(r.subject[0] != '\0' && strpbrk(r.subject, "\r\n{}") == NULL,
		    "%s: one subject line, every placeholder filled (%s)", name,
		    r.subject);
		has_str(r.text, link, "%s: the body holds the link", name);
		lacks_str(r.text, "{{", "%s: no placeholder is left", name);
		ok(r.text[0] != '\n' && r.text[0] != '\0',
		    "%s: the body starts after the empty line", name);
		for (size_t j = 0; j + 1 < n; j++)
			has_str(strcmp(name, "invite") == 0 && j == 0 ?
			    r.subject : r.text, vars[j].value,
			    "%s: {{%s}} is filled in", name, vars[j].name);
		/* Every value is needed: without one, rendering fails. */
		for (size_t j = 0; j < n; j++) {
			struct hb_mail_var fewer[5];
			size_t k = 0;

			for (size_t x = 0; x < n; x++)
				if (x != j)
					fewer[k++] = vars[x];
			is_int(mail_render(name, fewer, k, &r, &err), -1,
			    "%s without {{%s}} fails", name, vars[j].name);
			has_str(err.message, vars[j].name,
			    "the error names {{%s}}", vars[j].name);
		}
		mail_render(name, vars, n, &r, &err);
		{
			struct hb_mail m = { "bob@example.com", r.subject,
			    r.text, 0 };

			ok(mail_format(&cfg, &m, msg, sizeof(msg), &err) > 0 &&
			    lines_ok(msg, 78, 76, &lh, &lb),
			    "%s formats into a valid message", name);
		}
	}
	ok(mail_template("nope") == NULL && mail_template(NULL) == NULL,
	    "an unknown template is NULL");
	is_int(mail_render("nope", NULL, 0, &r, &err), -1,
	    "rendering an unknown template fails");
	hb_error_clear(&err);
}

static void
test_render_text(void)
{
	struct hb_mail_var vars[] = {
		{ "name", "Ada" },
		{ "link", "https://x.example/#token={{name}}" },
		{ "braces", "}}{{" },
		{ "empty", "" },
	};
	static struct hb_mail_rendered r;
	struct hb_error err = {0};
	char out[256], tiny[8];
	long n;

	n = mail_render_text("Hi {{name}}, {{name}}! {{link}}", vars, 4, out,
	    sizeof(out), &err);
	is_str(out, "Hi Ada, Ada! https://x.example/#token={{name}}",
	    "placeholders are filled, repeats too, values verbatim and never "
	    "expanded again");
	is_int(n, strlen(out), "the length returned is the text's");
	mail_render_text("<{{braces}}>{{empty}}<{{name}}>", vars, 4, out,
	    sizeof(out), &err);
	is_str(out, "<}}{{><Ada>",
	    "a value holding braces is inserted as it is; an empty value too");
	mail_render_text("{ single } {name} no placeholders", vars, 4, out,
	    sizeof(out), &err);
	is_str(out, "{ single } {name} no placeholders",
	    "single braces are text");
	is_int(mail_render_text("Hi {{nobody}}", vars, 4, out, sizeof(out),
	    &err), -1, "a placeholder without a value fails");
	has_str(err.message, "{{nobody}}", "the error names the placeholder");
	is_str(out, "", "nothing is left in the buffer");
	is_int(mail_render_text("Hi {{name}}", NULL, 0, out, sizeof(out), &err),
	    -1, "no values at all fails");
	is_int(mail_render_text("Hi {{ name }}", vars, 4, out, sizeof(out),
	    &err), -1, "a placeholder with blanks is malformed");
	has_str(err.message, "malformed", "the error says malformed");
	is_int(mail_render_text("Hi {{name", vars, 4, out, sizeof(out), &err),
	    -1, "an unclosed placeholder is malformed");
	is_int(mail_render_text("Hi {{}}", vars, 4, out, sizeof(out), &err), -1,
	    "an empty placeholder is malformed");
	is_int(mail_render_text("Hi {{Name}}", vars, 4, out, sizeof(out), &err),
	    -1, "placeholder names are lowercase");
	is_int(mail_render_text("Hello {{name}}", vars, 4, tiny, sizeof(tiny),
	    &err), -1, "a result longer than the buffer fails");
	has_str(err.message, "longer than", "the error says it is too long");
	is_str(tiny, "", "nothing is left in the small buffer");

	/* A value cannot add a header: the subject is one line or refused. */
	{
		struct hb_mail_var evil[] = {
			{ "inviter", "Eve\r\nBcc: victim@example.com" },
			{ "organization", "Acme" }, { "link", "https://x/" },
		};
		struct hb_config cfg;
		struct hb_mail m = { "bob@example.com", NULL, NULL, 0 };

		cfg_init(&cfg);
		is_int(mail_render("invite", evil, 3, &r, &err), 0,
		    "a value with CRLF renders (verbatim)");
		m.subject = r.subject;
		m.text = r.text;
		is_int(mail_format(&cfg, &m, msg, sizeof(msg), &err), -1,
		    "but a subject it broke into two lines is refused");
		has_str(err.message, "CR or LF", "as header injection");
	}
	hb_error_clear(&err);
}

static void
test_link(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	char out[128], tiny[20];

	cfg_init(&cfg);
	is_int(mail_link(&cfg, "/account/verify", "abc-DEF_123", out,
	    sizeof(out), &err), 0, "a link is built");
	is_str(out, "https://homebot.example/account/verify#token=abc-DEF_123",
	    "PUBLIC_URL + path + #token=");
	is_int(mail_link(&cfg, "account/verify", "abc", out, sizeof(out), &err),
	    -1, "a path without a leading '/' fails");
	is_int(mail_link(&cfg, "/a?x=1", "abc", out, sizeof(out), &err), -1,
	    "a path with '?' fails");
	is_int(mail_link(&cfg, "/a", "a b", out, sizeof(out), &err), -1,
	    "a token with a blank fails");
	is_int(mail_link(&cfg, "/a", "a#b", out, sizeof(out), &err), -1,
	    "a token with '#' fails");
	is_int(mail_link(&cfg, "/a", "", out, sizeof(out), &err), -1,
	    "an empty token fails");
	is_int(mail_link(&cfg, "/a", NULL, out, sizeof(out), &err), -1,
	    "no token fails");
	is_int(mail_link(&cfg, "/account/verify", "abc", tiny, sizeof(tiny),
	    &err), -1, "a link longer than the buffer fails");
	is_str(tiny, "", "and leaves an empty string");
	hb_error_clear(&err);
}

/* A loopback port nothing listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		abort();
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
test_send_errors(void)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	const char *text = "Your link: https://homebot.example/account/verify"
	    "#token=" TOKEN "\n";
	struct hb_mail m = { "bob@example.com", "Verify", text, 0 };
	long n;

	cfg_init(&cfg);
	n = mail_format(&cfg, &m, msg, sizeof(msg), &err);
	is_int(mail_send(&cfg, m.to, msg, (size_t)n, &err), -1,
	    "mail_send without SMTP_URL fails");
	is_str(err.code, "mail_not_configured", "code mail_not_configured");

	snprintf(cfg.smtp_url, sizeof(cfg.smtp_url),
	    "smtp://mailer:p4ssw0rd-in-url@127.0.0.1:%d", closed_port());
	snprintf(cfg.smtp_password, sizeof(cfg.smtp_password), "%s",
	    "Sm7p-Pa55word");
	is_int(mail_send(&cfg, "bob@example.com\r\nRCPT TO:<eve@x.example>",
	    msg, (size_t)n, &err), -1,
	    "mail_send refuses a recipient with CRLF before connecting");
	is_int(mail_send(&cfg, "bob@example.com", msg, (size_t)n, &err), -1,
	    "mail_send to a closed port fails");
	is_str(err.code, "smtp_transient", "as transient: a retry may pass");
	is_int(err.status, 503, "status 503");
	has_str(err.message, "onnect", "the error says it could not connect "
	    "(%s)", err.message);
	lacks_str(err.message, TOKEN, "the error never holds the mail's token");
	lacks_str(err.message, "account/verify", "nor its link");
	lacks_str(err.message, "bob@example.com", "nor the recipient");
	lacks_str(err.message, "p4ssw0rd-in-url", "nor the URL's password");
	lacks_str(err.message, "Sm7p-Pa55word", "nor SMTP_PASSWORD");

	m.to = "not an address";
	is_int(mail_deliver(&cfg, &m, &err), -1,
	    "mail_deliver refuses a bad recipient");
	is_str(err.code, "mail_invalid", "code mail_invalid");
	hb_error_clear(&err);
}

int
main(void)
{
	plan(297);
	struct hb_error err = {0};

	if (mail_global_init(&err) == -1) {
		printf("Bail out! %s\n", err.message);
		return 1;
	}
	test_headers();
	test_date();
	test_message_id_unique();
	test_subject_encoding();
	test_subject_folding_ascii();
	test_header_injection();
	test_addresses();
	test_body();
	test_long_body();
	test_from();
	test_templates();
	test_render_text();
	test_link();
	test_send_errors();
	mail_global_cleanup();
	return done_testing();
}
