#include <string.h>

#include "auth_token.h"

static bool
b64url_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int
no_randomness(struct hb_error *err)
{
	return hb_fail(err, 503, "service_unavailable",
	    "No randomness available.");
}

static int
new_secret(char out[HB_SECRET_B64_LEN + 1])
{
	unsigned char raw[32];

	if (crypto_random(raw, sizeof(raw)) == -1)
		return -1;
	crypto_b64url_encode(raw, sizeof(raw), out, HB_SECRET_B64_LEN + 1);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
auth_refresh_new(char token[HB_REFRESH_TOKEN_MAX],
    unsigned char hash[HB_SHA256_LEN], struct hb_error *err)
{
	if (new_secret(token) == -1)
		return no_randomness(err);
	if (crypto_sha256(token, HB_SECRET_B64_LEN, hash) == -1) {
		explicit_bzero(token, HB_REFRESH_TOKEN_MAX);
		return hb_fail_internal(err);
	}
	return 0;
}

bool
auth_refresh_valid(const char *s)
{
	return s != NULL && strlen(s) == HB_SECRET_B64_LEN &&
	    b64url_chars(s, HB_SECRET_B64_LEN);
}

int
auth_api_key_new(char key[HB_API_KEY_LEN + 1],
    char prefix[HB_API_KEY_PREFIX_LEN + 1], unsigned char hash[HB_SHA256_LEN],
    struct hb_error *err)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char raw[HB_API_KEY_PREFIX_LEN];
	char secret[HB_SECRET_B64_LEN + 1];

	if (crypto_random(raw, sizeof(raw)) == -1 || new_secret(secret) == -1)
		return no_randomness(err);
	/* 252 = 7 * 36: bytes above it are rerolled to avoid bias. */
	for (int i = 0; i < HB_API_KEY_PREFIX_LEN; i++) {
		while (raw[i] >= 252)
			if (crypto_random(&raw[i], 1) == -1) {
				explicit_bzero(secret, sizeof(secret));
				return no_randomness(err);
			}
		prefix[i] = alnum[raw[i] % 36];
	}
	prefix[HB_API_KEY_PREFIX_LEN] = '\0';
	memcpy(key, "hb_", 3);
	memcpy(key + 3, prefix, HB_API_KEY_PREFIX_LEN);
	key[3 + HB_API_KEY_PREFIX_LEN] = '_';
	memcpy(key + 4 + HB_API_KEY_PREFIX_LEN, secret, HB_SECRET_B64_LEN + 1);
	explicit_bzero(secret, sizeof(secret));
	if (crypto_sha256(key, HB_API_KEY_LEN, hash) == -1) {
		explicit_bzero(key, HB_API_KEY_LEN + 1);
		return hb_fail_internal(err);
	}
	return 0;
}

bool
auth_api_key_parse(const char *key, char prefix[HB_API_KEY_PREFIX_LEN + 1])
{
	if (key == NULL || strlen(key) != HB_API_KEY_LEN ||
	    strncmp(key, "hb_", 3) != 0 || key[3 + HB_API_KEY_PREFIX_LEN] != '_' ||
	    !b64url_chars(key + 4 + HB_API_KEY_PREFIX_LEN, HB_SECRET_B64_LEN))
		return false;
	for (int i = 0; i < HB_API_KEY_PREFIX_LEN; i++) {
		char c = key[3 + i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
		prefix[i] = c;
	}
	prefix[HB_API_KEY_PREFIX_LEN] = '\0';
	return true;
}

char *
auth_token_new(struct hb_arena *a, char hex[HB_TOKEN_HEX_LEN],
    struct hb_error *err)
{
	unsigned char hash[HB_SHA256_LEN];
	char *token = arena_alloc(a, HB_REFRESH_TOKEN_MAX);

	if (token == NULL) {
		hb_fail_internal(err);
		return NULL;
	}
	if (auth_refresh_new(token, hash, err) == -1)
		return NULL;
	crypto_hex(hash, sizeof(hash), hex);
	return token;
}

int
auth_token_hex(const char *token, char hex[HB_TOKEN_HEX_LEN],
    struct hb_error *err)
{
	unsigned char hash[HB_SHA256_LEN];

	if (crypto_sha256(token, strlen(token), hash) == -1)
		return hb_fail_internal(err);
	crypto_hex(hash, sizeof(hash), hex);
	return 0;
}
