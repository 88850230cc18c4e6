#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"

int
crypto_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
crypto_b64url_encode(const unsigned char *in, size_t n, char *out,
    size_t outsz)
{
	size_t o = 0;
	unsigned int v;

	for (size_t i = 0; i < n; i += 3) {
		size_t left = n - i;

		v = (unsigned int)in[i] << 16;
		if (left > 1)
			v |= (unsigned int)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		/* The group's characters plus the terminating NUL must fit. */
		if (o + (left > 2 ? 4 : left + 1) + 1 > outsz)
			break;
		out[o++] = B64URL[(v >> 18) & 63];
		out[o++] = B64URL[(v >> 12) & 63];
		if (left > 1)
			out[o++] = B64URL[(v >> 6) & 63];
		if (left > 2)
			out[o++] = B64URL[v & 63];
	}
	if (o < outsz)
		out[o] = '\0';
	return o;
}

static int
b64val(char c)
{
	const char *p = c != '\0' ? strchr(B64URL, c) : NULL;

	return p != NULL ? (int)(p - B64URL) : -1;
}

long
crypto_b64url_decode(const char *in, size_t n, unsigned char *out,
    size_t outsz)
{
	size_t o = 0;
	unsigned int v = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d = b64val(in[i]);

		if (d < 0)
			return -1;
		v = v << 6 | (unsigned int)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	/* Leftover bits must be zero, so every value has one encoding. */
	if ((v & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

/*
 * SHA-256 fetched once per process: EVP_sha256() is looked up again on
 * every digest, a third of the digest's cost for a token-sized input.
 * Held for the process's life, like OpenSSL's own tables.
 */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md != NULL ? md : EVP_sha256();
}

int
crypto_sha256(const void *data, size_t n, unsigned char out[HB_SHA256_LEN])
{
	unsigned int len = HB_SHA256_LEN;

	return EVP_Digest(data, n, out, &len, sha256_md(), NULL) == 1 &&
	    len == HB_SHA256_LEN ? 0 : -1;
}

int
crypto_sha256_join(const char *const *parts, int n,
    unsigned char out[HB_SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = HB_SHA256_LEN;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1;

	for (int i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t n, unsigned char out[HB_SHA256_LEN])
{
	unsigned int len = HB_SHA256_LEN;

	if (keylen > INT_MAX)
		return -1;
	return HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len) !=
	    NULL && len == HB_SHA256_LEN ? 0 : -1;
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}
