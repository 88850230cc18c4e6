#ifndef HB_AUTH_TOKEN_H
#define HB_AUTH_TOKEN_H

#include <stdbool.h>

#include "arena.h"
#include "crypto.h"
#include "error.h"

/* 32 random bytes, base64url: 43 characters. */
#define HB_SECRET_B64_LEN	43
#define HB_REFRESH_TOKEN_MAX	64
/* "hb_" + 8-character prefix + "_" + 43-character secret. */
#define HB_API_KEY_LEN		(3 + 8 + 1 + HB_SECRET_B64_LEN)
#define HB_API_KEY_PREFIX_LEN	8

/* The hex of a token's SHA-256, as the tables keep it, with its NUL. */
#define HB_TOKEN_HEX_LEN	(2 * HB_SHA256_LEN + 1)

/*
 * A new opaque token (refresh, invitation: 256 bits from the OS) in the
 * arena, and the hex of its SHA-256 in hex. NULL with err set: 503 when
 * there is no randomness, 500 when there is no memory or no digest.
 */
char	*auth_token_new(struct hb_arena *a, char hex[HB_TOKEN_HEX_LEN],
	    struct hb_error *err);
/*
 * The hex of the SHA-256 of token, the form the tables keep: 0, or -1
 * with err set (500) when the digest could not be made.
 */
int	auth_token_hex(const char *token, char hex[HB_TOKEN_HEX_LEN],
	    struct hb_error *err);
/*
 * A new refresh token (256 bits from the OS) and its SHA-256: 0, or -1
 * with err set as auth_token_new() sets it and no secret left in token.
 */
int	auth_refresh_new(char token[HB_REFRESH_TOKEN_MAX],
	    unsigned char hash[HB_SHA256_LEN], struct hb_error *err);
/* Whether s has the shape of a refresh token (43 base64url characters). */
bool	auth_refresh_valid(const char *s);
/*
 * A new API key "hb_<prefix>_<secret>", its prefix and SHA-256: 0, or -1
 * with err set as auth_token_new() sets it and no secret left in key.
 */
int	auth_api_key_new(char key[HB_API_KEY_LEN + 1],
	    char prefix[HB_API_KEY_PREFIX_LEN + 1],
	    unsigned char hash[HB_SHA256_LEN], struct hb_error *err);
/* Whether key has the API key shape; copies its prefix when it does. */
bool	auth_api_key_parse(const char *key,
	    char prefix[HB_API_KEY_PREFIX_LEN + 1]);

#endif
