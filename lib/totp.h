#ifndef HB_TOTP_H
#define HB_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * TOTP of RFC 6238 (HMAC-SHA-1, 30-second steps from the Unix epoch, 6
 * digits) through liboath, the otpauth:// URI authenticator apps read,
 * and its QR code as SVG through libqrencode. Nothing here touches a
 * database or logs; secrets are the caller's buffers.
 */

#define TOTP_SECRET_LEN		20	/* bytes: RFC 4226's recommended 160 bits */
#define TOTP_B32_LEN		32	/* base32 of 20 bytes, no padding */
#define TOTP_DIGITS		6
#define TOTP_STEP		30
#define TOTP_WINDOW		1	/* steps accepted either side of now */

/* Fills secret with TOTP_SECRET_LEN bytes from the kernel; 0 or -1. */
int	totp_secret_new(unsigned char secret[TOTP_SECRET_LEN]);

/* The base32 (RFC 4648, no padding) of a secret into out; 0 or -1. */
int	totp_base32(const unsigned char *secret, size_t len,
	    char out[TOTP_B32_LEN + 1]);

/* The code of time t into out (6 digits and a NUL); 0 or -1. */
int	totp_code(const unsigned char *secret, size_t len, time_t t,
	    char out[TOTP_DIGITS + 1]);

/*
 * Whether code (exactly 6 ASCII digits) is the code of a time step
 * within window steps of now's; *step is then the one it matched (the
 * counter, (t - 0) / 30). 0 when it is, -1 when not (or malformed).
 */
int	totp_check(const unsigned char *secret, size_t len, time_t now,
	    unsigned window, const char *code, uint64_t *step);

/*
 * otpauth://totp/<issuer>:<account>?secret=<b32>&issuer=<issuer>&
 * algorithm=SHA1&digits=6&period=30, issuer and account percent-encoded
 * (everything but RFC 3986's unreserved characters). malloc'ed: the
 * caller frees it (it holds the secret: wipe it first). NULL: no memory.
 */
char	*totp_uri(const char *issuer, const char *account, const char *b32);

/*
 * The QR code of text as a standalone SVG document: one square path per
 * run of dark modules in a row, on a white background with the quiet zone
 * of 4 modules; nothing of text is written into it but as modules.
 * malloc'ed; the caller frees it. NULL: no memory, or text too long for a
 * QR code.
 */
char	*totp_qr_svg(const char *text);

#endif
