#ifndef HB_CRYPTO_H
#define HB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#define HB_SHA256_LEN	32

/* Fills buf with n bytes from the kernel's CSPRNG; 0 or -1. */
int	crypto_random(void *buf, size_t n);
/* base64url without padding into out (size >= 4*n/3+2); returns the length. */
size_t	crypto_b64url_encode(const unsigned char *in, size_t n, char *out,
	    size_t outsz);
/* Decodes base64url (no padding); returns the length or -1. */
long	crypto_b64url_decode(const char *in, size_t n, unsigned char *out,
	    size_t outsz);
/*
 * SHA-256 and HMAC-SHA-256 of n bytes: 0, or -1 when OpenSSL failed (out
 * is then unset: a caller that went on would hash or compare whatever it
 * held).
 */
__attribute__((warn_unused_result))
int	crypto_sha256(const void *data, size_t n,
	    unsigned char out[HB_SHA256_LEN]);
/* SHA-256 of the n strings one after another: 0, or -1 (out unset). */
__attribute__((warn_unused_result))
int	crypto_sha256_join(const char *const *parts, int n,
	    unsigned char out[HB_SHA256_LEN]);
__attribute__((warn_unused_result))
int	crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
	    size_t n, unsigned char out[HB_SHA256_LEN]);
/* Compares in time that depends only on n, never on the contents. */
bool	crypto_equal(const void *a, const void *b, size_t n);
/* Lowercase hex of n bytes into out[2n+1]. */
void	crypto_hex(const unsigned char *in, size_t n, char *out);

#endif
