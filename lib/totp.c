#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <qrencode.h>

#include "crypto.h"
#include "totp.h"

/*
 * liboath's library state; oath_init() is idempotent and cheap after its
 * first call, but is kept to one call a process. The programs are
 * single-threaded.
 */
static bool
oath_ready(void)
{
	static bool ready;

	if (!ready && oath_init() == OATH_OK)
		ready = true;
	return ready;
}

int
totp_secret_new(unsigned char secret[TOTP_SECRET_LEN])
{
	return crypto_random(secret, TOTP_SECRET_LEN);
}

int
totp_base32(const unsigned char *secret, size_t len,
    char out[TOTP_B32_LEN + 1])
{
	char *b32 = NULL;
	size_t n = 0;
	int rc = -1;

	if (!oath_ready() || len != TOTP_SECRET_LEN ||
	    oath_base32_encode((const char *)secret, len, &b32, &n) != OATH_OK)
		return -1;
	/* 20 bytes are exactly 32 base32 characters: no padding. */
	if (b32 != NULL && n == TOTP_B32_LEN) {
		memcpy(out, b32, n);
		out[n] = '\0';
		rc = 0;
	}
	if (b32 != NULL) {
		OPENSSL_cleanse(b32, n);
		free(b32);
	}
	return rc;
}

int
totp_code(const unsigned char *secret, size_t len, time_t t,
    char out[TOTP_DIGITS + 1])
{
	if (!oath_ready() || oath_totp_generate((const char *)secret, len, t,
	    TOTP_STEP, OATH_TOTP_DEFAULT_START_TIME, TOTP_DIGITS,
	    out) != OATH_OK)
		return -1;
	return 0;
}

int
totp_check(const unsigned char *secret, size_t len, time_t now,
    unsigned window, const char *code, uint64_t *step)
{
	int pos;

	if (code == NULL || strlen(code) != TOTP_DIGITS ||
	    strspn(code, "0123456789") != TOTP_DIGITS || !oath_ready())
		return -1;
	/* liboath compares each candidate in turn; its answer is the step. */
	if (oath_totp_validate3((const char *)secret, len, now, TOTP_STEP,
	    OATH_TOTP_DEFAULT_START_TIME, window, &pos, step, code) < 0)
		return -1;
	return 0;
}

/* Appends s percent-encoded (all but A-Z a-z 0-9 - . _ ~) at *p. */
static char *
pct(char *p, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return p;
}

char *
totp_uri(const char *issuer, const char *account, const char *b32)
{
	static const char tail[] = "&algorithm=SHA1&digits=6&period=30";
	size_t n = 3 * (2 * strlen(issuer) + strlen(account)) + strlen(b32) +
	    sizeof(tail) + 64;
	char *uri = malloc(n), *p;

	if (uri == NULL)
		return NULL;
	p = uri + sprintf(uri, "otpauth://totp/");
	p = pct(p, issuer);
	*p++ = ':';
	p = pct(p, account);
	p += sprintf(p, "?secret=%s&issuer=", b32);
	p = pct(p, issuer);
	memcpy(p, tail, sizeof(tail));
	return uri;
}

char *
totp_qr_svg(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8,
	    1);
	const int quiet = 4;
	size_t cap, len;
	char *svg;
	int w, size;

	if (qr == NULL)
		return NULL;
	w = qr->width;
	size = w + 2 * quiet;
	/* At most one run per two modules, each "M x yhNv1h-Nz" ≤ 32 bytes. */
	cap = 512 + (size_t)w * (size_t)(w / 2 + 1) * 32;
	svg = malloc(cap);
	if (svg == NULL) {
		QRcode_free(qr);
		return NULL;
	}
	len = (size_t)snprintf(svg, cap,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
	    " width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
	    "<path fill=\"#000\" d=\"", size, size, size * 6, size * 6,
	    size, size);
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w; ) {
			int run = 0;

			while (x + run < w && (qr->data[y * w + x + run] & 1))
				run++;
			if (run == 0) {
				x++;
				continue;
			}
			if (len < cap)
				len += (size_t)snprintf(svg + len, cap - len,
				    "M%d %dh%dv1h-%dz", x + quiet, y + quiet,
				    run, run);
			x += run;
		}
	}
	if (len < cap)
		len += (size_t)snprintf(svg + len, cap - len, "\"/></svg>");
	QRcode_free(qr);
	if (len >= cap) {
		free(svg);
		return NULL;
	}
	return svg;
}
