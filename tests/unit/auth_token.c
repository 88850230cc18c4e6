/*
 * Refresh tokens and API keys (api.md §2): 256 bits from the OS in
 * base64url, stored only as their SHA-256, and parsers that take exactly
 * the shapes issued and nothing else.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "auth_token.h"
#include "tap.h"

#define N	1000

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How many strings of v[0..n) equal another (after sorting v). */
static int
duplicates(char **v, size_t n)
{
	int dup = 0;

	qsort(v, n, sizeof(v[0]), cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			dup++;
	return dup;
}

static bool
matches(const char *re, const char *s)
{
	regex_t rx;
	bool m;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
		printf("Bail out! bad regex %s\n", re);
		exit(2);
	}
	m = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return m;
}

/* SHA-256 by OpenSSL's one-shot call, not by crypto.c. */
static bool
hash_is_sha256(const unsigned char hash[HB_SHA256_LEN], const char *text)
{
	unsigned char want[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, strlen(text), want);
	return memcmp(hash, want, sizeof(want)) == 0;
}

static void
test_refresh_new(void)
{
	static char tokens[N][HB_REFRESH_TOKEN_MAX];
	char *sorted[N];
	unsigned char hash[HB_SHA256_LEN], raw[40];
	int bad_rc = 0, bad_shape = 0, bad_hash = 0, invalid = 0, bad_raw = 0;
	struct hb_error err = {0};

	for (int i = 0; i < N; i++) {
		memset(tokens[i], '#', sizeof(tokens[i]));
		memset(hash, 0, sizeof(hash));
		if (auth_refresh_new(tokens[i], hash, &err) != 0)
			bad_rc++;
		if (!matches("^[A-Za-z0-9_-]{43}$", tokens[i]))
			bad_shape++;
		if (!hash_is_sha256(hash, tokens[i]))
			bad_hash++;
		if (!auth_refresh_valid(tokens[i]))
			invalid++;
		/* 43 characters carry 256 bits with 2 zero bits to spare. */
		if (crypto_b64url_decode(tokens[i], strlen(tokens[i]), raw,
		    sizeof(raw)) != 32)
			bad_raw++;
		sorted[i] = tokens[i];
	}
	diag("a refresh token: %s", tokens[0]);
	is_int(bad_rc, 0, "auth_refresh_new returns 0 (%d calls)", N);
	is_int(bad_shape, 0, "every refresh token is 43 base64url characters");
	is_int(bad_raw, 0, "every refresh token decodes to 32 bytes");
	is_int(bad_hash, 0, "the hash is SHA-256 of the token's text");
	is_int(invalid, 0, "auth_refresh_valid accepts every token issued");
	is_int(duplicates(sorted, N), 0, "%d refresh tokens are distinct", N);
}

static void
test_refresh_valid(void)
{
	static const char *const bad[] = {
		"",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* 42 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",	/* 44 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3\xa9",
	};
	static const char *const good[] = {
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
		"RSTUVWXYZ0123456789-_-_-_-_-_-_-_-_-_-_-_-_",
	};

	ok(!auth_refresh_valid(NULL), "auth_refresh_valid(NULL) is false");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!auth_refresh_valid(bad[i]), "auth_refresh_valid refuses "
		    "bad shape %zu (%zu bytes)", i, strlen(bad[i]));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(auth_refresh_valid(good[i]), "auth_refresh_valid accepts %s",
		    good[i]);
}

static void
test_api_key_new(void)
{
	static char keys[N][HB_API_KEY_LEN + 1];
	char *sorted[N], prefix[HB_API_KEY_PREFIX_LEN + 1], parsed[16];
	unsigned char hash[HB_SHA256_LEN], raw[40];
	int bad_rc = 0, bad_shape = 0, bad_prefix = 0, bad_hash = 0;
	int unparsed = 0, bad_raw = 0, seen[256] = { 0 }, alphabet = 0;
	int prefixes_equal = 0;
	struct hb_error err = {0};

	for (int i = 0; i < N; i++) {
		memset(keys[i], '#', sizeof(keys[i]));
		memset(prefix, '#', sizeof(prefix));
		if (auth_api_key_new(keys[i], prefix, hash, &err) != 0)
			bad_rc++;
		if (!matches("^hb_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$", keys[i]))
			bad_shape++;
		if (strlen(prefix) != 8 || strncmp(keys[i] + 3, prefix, 8) != 0)
			bad_prefix++;
		if (!hash_is_sha256(hash, keys[i]))
			bad_hash++;
		memset(parsed, '#', sizeof(parsed));
		if (!auth_api_key_parse(keys[i], parsed) ||
		    strcmp(parsed, prefix) != 0)
			unparsed++;
		if (crypto_b64url_decode(keys[i] + 12, 43, raw,
		    sizeof(raw)) != 32)
			bad_raw++;
		for (int j = 0; j < 8; j++)
			seen[(unsigned char)prefix[j]]++;
		if (i > 0 && strncmp(keys[i] + 3, keys[i - 1] + 3, 8) == 0)
			prefixes_equal++;
		sorted[i] = keys[i];
	}
	for (int c = 0; c < 256; c++)
		if (seen[c] > 0)
			alphabet++;
	diag("an API key: %s", keys[0]);
	is_int(bad_rc, 0, "auth_api_key_new returns 0 (%d calls)", N);
	is_int(bad_shape, 0, "every key matches ^hb_[a-z0-9]{8}_"
	    "[A-Za-z0-9_-]{43}$");
	is_int(bad_prefix, 0, "the prefix returned is the key's 8 characters "
	    "after hb_");
	is_int(bad_hash, 0, "the hash is SHA-256 of the whole key");
	is_int(unparsed, 0, "auth_api_key_parse accepts every key issued and "
	    "gives its prefix");
	is_int(bad_raw, 0, "the secret part decodes to 32 bytes (256 bits)");
	/* 8000 draws from 36 characters: each one shows up. */
	is_int(alphabet, 36, "prefixes use all of [a-z0-9]");
	is_int(prefixes_equal, 0, "consecutive prefixes differ");
	is_int(duplicates(sorted, N), 0, "%d API keys are distinct", N);
}

static void
test_api_key_parse(void)
{
	static const char good[] =
	    "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	static const struct {
		const char	*key;
		const char	*why;
	} bad[] = {
		{ "", "empty" },
		{ "hb_", "only the tag" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "54 characters" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "56 characters" },
		{ "hb_abc12xy_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "7-character prefix" },
		{ "hb_abc12xyzq_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "9-character prefix" },
		{ "hb_ABC12XYZ_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "uppercase prefix" },
		{ "hb_abc12xyZ_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "one uppercase letter in the prefix" },
		{ "HB_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "uppercase HB_" },
		{ "hx_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "another tag" },
		{ "hbxabc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "no underscore after hb" },
		{ "hb_abc12xyzxAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "no underscore after the prefix" },
		{ "hb_abc12xyz-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "'-' for the second underscore" },
		{ "hb_abc_2xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "'_' in the prefix" },
		{ "hb_abc-2xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "'-' in the prefix" },
		{ "hb_abc.2xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "'.' in the prefix" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
		  "'+' in the secret" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAA",
		  "'/' in the secret" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		  "'=' in the secret" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA",
		  "a space in the secret" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAA",
		  "'.' in the secret" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		  "a newline at the end" },
		{ " hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "a leading space" },
		{ "hb_abc12xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3\xa9",
		  "non-ASCII in the secret" },
		{ "hb_abc12xy\xe9_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  "non-ASCII in the prefix" },
	};
	char prefix[HB_API_KEY_PREFIX_LEN + 1];

	memset(prefix, '#', sizeof(prefix));
	ok(auth_api_key_parse(good, prefix), "auth_api_key_parse accepts %s",
	    good);
	is_str(prefix, "abc12xyz", "auth_api_key_parse copies the prefix");
	ok(auth_api_key_parse(
	    "hb_00000000_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-",
	    prefix), "auth_api_key_parse accepts '-' and '_' in the secret");
	is_str(prefix, "00000000", "an all-digit prefix is copied");
	ok(!auth_api_key_parse(NULL, prefix), "auth_api_key_parse(NULL) is "
	    "false");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!auth_api_key_parse(bad[i].key, prefix),
		    "auth_api_key_parse refuses: %s", bad[i].why);
	/* A refresh token is not an API key, nor the other way round. */
	ok(!auth_refresh_valid(good), "an API key is not a refresh token");
	ok(!auth_api_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    prefix), "a refresh token is not an API key");
}

/* The opaque token in an arena, and the hex the tables keep of it. */
static void
test_token_new(void)
{
	struct hb_arena a;
	struct hb_error err = {0};
	char hex[HB_TOKEN_HEX_LEN], again[HB_TOKEN_HEX_LEN], want[65];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	const char *token;

	arena_init(&a);
	memset(hex, '#', sizeof(hex));
	token = auth_token_new(&a, hex, &err);
	ok(token != NULL && err.status == 0, "auth_token_new makes a token");
	if (token == NULL)
		token = "";
	ok(auth_refresh_valid(token), "it has a refresh token's shape");
	SHA256((const unsigned char *)token, strlen(token), digest);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(want + 2 * i, 3, "%02x", digest[i]);
	is_str(hex, want, "its hex is the SHA-256 of its text");
	is_int(auth_token_hex(token, again, &err), 0,
	    "auth_token_hex reads the token");
	is_str(again, want, "and gives the same hex");
	arena_free(&a);
}

int
main(void)
{
	plan(70);
	test_refresh_new();
	test_token_new();
	test_refresh_valid();
	test_api_key_new();
	test_api_key_parse();
	return done_testing();
}
