/*
 * TOTP through liboath (RFC 6238's SHA-1 test vectors, the ±1 step
 * window and its edges), the otpauth URI, the QR code's SVG (its path
 * redrawn into modules is the symbol libqrencode made, and nothing of the
 * text is in it) and the recovery codes' normalization.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "mfa.h"
#include "totp.h"
#include "tap.h"

static const unsigned char RFC_SECRET[] = "12345678901234567890";

static void
test_rfc6238(void)
{
	/* RFC 6238 Appendix B, SHA-1: the last 6 of its 8 digits. */
	static const struct { long t; const char *code; } v[] = {
		{ 59, "287082" }, { 1111111109, "081804" },
		{ 1111111111, "050471" }, { 1234567890, "005924" },
		{ 2000000000, "279037" },
	};
	char out[TOTP_DIGITS + 1];
	uint64_t step;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ok(totp_code(RFC_SECRET, 20, (time_t)v[i].t, out) == 0,
		    "code of t=%ld", v[i].t);
		is_str(out, v[i].code, "RFC 6238 vector t=%ld", v[i].t);
		step = 0;
		ok(totp_check(RFC_SECRET, 20, (time_t)v[i].t, TOTP_WINDOW,
		    v[i].code, &step) == 0, "its code is accepted at t=%ld",
		    v[i].t);
		is_int(step, v[i].t / 30, "and matches step %ld", v[i].t / 30);
	}
}

static void
test_window(void)
{
	const time_t now = 1234567890;	/* step 41152263 */
	char code[TOTP_DIGITS + 1];
	uint64_t step;

	for (int d = -3; d <= 3; d++) {
		ok(totp_code(RFC_SECRET, 20, now + d * TOTP_STEP, code) == 0,
		    "code of step %+d", d);
		step = 0;
		if (d >= -1 && d <= 1) {
			ok(totp_check(RFC_SECRET, 20, now, TOTP_WINDOW, code,
			    &step) == 0, "step %+d is accepted", d);
			is_int(step, now / 30 + d, "as step now%+d", d);
		} else
			ok(totp_check(RFC_SECRET, 20, now, TOTP_WINDOW, code,
			    &step) == -1, "step %+d is refused", d);
	}
	/* The edges inside one step: its first and last second. */
	ok(totp_code(RFC_SECRET, 20, 1111111109, code) == 0, "code of 1111111109");
	ok(totp_check(RFC_SECRET, 20, 1111111080, TOTP_WINDOW, code,
	    &step) == 0, "accepted from the first second of its step");
	ok(totp_check(RFC_SECRET, 20, 1111111139, TOTP_WINDOW, code,
	    &step) == 0, "accepted in the last second of the next step");
	ok(totp_check(RFC_SECRET, 20, 1111111140, TOTP_WINDOW, code,
	    &step) == -1, "refused two steps later");
	ok(totp_check(RFC_SECRET, 20, 1111111049, TOTP_WINDOW, code,
	    &step) == -1, "refused two steps earlier");
	/* Malformed codes never reach liboath. */
	ok(totp_check(RFC_SECRET, 20, 59, 1, "28708", &step) == -1, "5 digits");
	ok(totp_check(RFC_SECRET, 20, 59, 1, "2870821", &step) == -1,
	    "7 digits");
	ok(totp_check(RFC_SECRET, 20, 59, 1, "28708a", &step) == -1,
	    "a letter");
	ok(totp_check(RFC_SECRET, 20, 59, 1, " 87082", &step) == -1,
	    "a space");
	ok(totp_check(RFC_SECRET, 20, 59, 1, NULL, &step) == -1, "NULL");
	/* Another secret's code. */
	ok(totp_check((const unsigned char *)"abcdefghijabcdefghij", 20, 59, 1,
	    "287082", &step) == -1, "another secret's code is refused");
}

static void
test_secret(void)
{
	unsigned char a[TOTP_SECRET_LEN], b[TOTP_SECRET_LEN];
	char b32[TOTP_B32_LEN + 1];

	ok(totp_secret_new(a) == 0 && totp_secret_new(b) == 0, "two secrets");
	ok(memcmp(a, b, sizeof(a)) != 0, "they differ");
	ok(totp_base32(RFC_SECRET, 20, b32) == 0, "base32");
	is_str(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "RFC 4648 base32");
	ok(totp_base32(RFC_SECRET, 19, b32) == -1, "only 20-byte secrets");
}

static void
test_uri(void)
{
	char *u = totp_uri("Home bot", "a+b@example.com", "GEZDGNBV");

	ok(u != NULL, "uri");
	is_str(u, "otpauth://totp/Home%20bot:a%2Bb%40example.com?secret="
	    "GEZDGNBV&issuer=Home%20bot&algorithm=SHA1&digits=6&period=30",
	    "otpauth URI, label and issuer percent-encoded");
	free(u);
	u = totp_uri("x\"<&>", "é", "A");
	lacks_str(u, "<", "no markup survives");
	has_str(u, "%C3%A9", "UTF-8 bytes encoded one by one");
	free(u);
}

/* Redraws the SVG's path into a width x width matrix; -1 on any surprise. */
static int
redraw(const char *svg, int width, unsigned char *m)
{
	const char *p = strstr(svg, " d=\"");
	int x, y, n, n2, used;

	if (p == NULL)
		return -1;
	p += 4;
	while (*p == 'M') {
		if (sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &n2, &used) != 4 ||
		    n != n2 || n < 1)
			return -1;
		x -= 4;
		y -= 4;
		if (x < 0 || y < 0 || y >= width || x + n > width)
			return -1;
		for (int i = 0; i < n; i++)
			m[y * width + x + i] = 1;
		p += used;
	}
	return *p == '"' ? 0 : -1;
}

static void
test_svg(void)
{
	const char *text = "otpauth://totp/Homebot:<script>@x?secret=GEZDGNBV";
	char *svg = totp_qr_svg(text);
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	unsigned char *m;
	int same = 1, dark = 0;

	ok(svg != NULL && qr != NULL, "svg and symbol");
	ok(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0,
	    "an SVG document");
	ok(strlen(svg) > 6 && strcmp(svg + strlen(svg) - 6, "</svg>") == 0,
	    "closed");
	lacks_str(svg, "script", "nothing of the text is in it");
	lacks_str(svg, "otpauth", "not even its harmless part");
	m = calloc((size_t)(qr->width * qr->width), 1);
	ok(redraw(svg, qr->width, m) == 0, "its path is squares of modules");
	for (int i = 0; i < qr->width * qr->width; i++) {
		if (m[i] != (qr->data[i] & 1))
			same = 0;
		dark += m[i];
	}
	ok(same, "redrawn, it is the symbol libqrencode made");
	ok(dark > 0, "with dark modules");
	free(m);
	QRcode_free(qr);
	free(svg);
}

static void
test_recovery_hash(void)
{
	char a[65], b[65];

	ok(mfa_recovery_hash("abcde-fghij", a) == 0, "a code");
	ok(mfa_recovery_hash("ABCDE FGHIJ", b) == 0, "typed differently");
	is_str(a, b, "one hash: case, dashes and spaces do not matter");
	ok(mfa_recovery_hash("abcde-fghi", a) == -1, "too short");
	ok(mfa_recovery_hash("abcde-fghijk", a) == -1, "too long");
	ok(mfa_recovery_hash("abcde-fgh1j", a) == -1, "not base32");
}

int
main(void)
{
	plan(71);
	test_rfc6238();
	test_window();
	test_secret();
	test_uri();
	test_svg();
	test_recovery_hash();
	return done_testing();
}
