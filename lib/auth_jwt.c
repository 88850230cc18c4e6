#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth_jwt.h"
#include "crypto.h"
#include "uuid.h"

#define TOKEN_MAX	4096

/*
 * The tokens this process verified last, found by the SHA-256 of the
 * issuer and the token: a client sends the same access token with every
 * request while it lives, and its signature and two JSON parses were a
 * quarter of the hot path's work in the program. Half the digest is kept
 * (128 bits), never the token, and a token is compared only by it, in
 * constant time. Four ways per set (picked by the digest); the way used
 * least recently makes room.
 */
#define CACHE_SETS	1024	/* a power of two */
#define CACHE_WAYS	4
#define CACHE_DIGEST	16

struct cache_entry {
	unsigned char	 digest[CACHE_DIGEST];
	struct hb_claims claims;
	uint32_t	 used;	/* when last found or put; 0: empty */
	long		 nbf;	/* LONG_MIN when the token has none */
};

struct hb_jwt_cache {
	struct cache_entry set[CACHE_SETS][CACHE_WAYS];
	uint32_t	 clock;
	unsigned long	 hits;
};

static unsigned char *
memdup(const void *p, size_t n)
{
	unsigned char *q = malloc(n + 1);

	if (q != NULL) {
		memcpy(q, p, n);
		q[n] = '\0';
	}
	return q;
}

/* Appends a base64url field "name":"value" of n bytes to the JWK text. */
static void
jwk_field(char *out, size_t outsz, const char *name, const unsigned char *v,
    size_t n)
{
	char b64[1024];
	size_t used = strlen(out);

	crypto_b64url_encode(v, n, b64, sizeof(b64));
	snprintf(out + used, outsz - used, ",\"%s\":\"%s\"", name, b64);
}

static int
bn_field(EVP_PKEY *pkey, const char *param, const char *name, char *out,
    size_t outsz)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return -1;
	n = BN_num_bytes(bn);
	if (n <= 0 || (size_t)n > sizeof(buf)) {
		BN_free(bn);
		return -1;
	}
	BN_bn2bin(bn, buf);
	BN_free(bn);
	jwk_field(out, outsz, name, buf, (size_t)n);
	return 0;
}

/* The JWKS document and kid for the public half of pkey. */
static int
build_jwks(struct hb_jwt_keys *k, EVP_PKEY *pkey)
{
	unsigned char *der = NULL, digest[HB_SHA256_LEN], pt[133];
	char jwk[4096];
	size_t ptlen = 0;
	int derlen;

	derlen = i2d_PUBKEY(pkey, &der);
	if (derlen <= 0)
		return -1;
	if (crypto_sha256(der, (size_t)derlen, digest) == -1) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	crypto_b64url_encode(digest, 12, k->kid, sizeof(k->kid));
	snprintf(jwk, sizeof(jwk), "{\"kty\":\"%s\",\"kid\":\"%s\","
	    "\"use\":\"sig\",\"alg\":\"%s\"",
	    k->alg == JWT_ALG_RS256 ? "RSA" : "EC", k->kid,
	    jwt_alg_str(k->alg));
	if (k->alg == JWT_ALG_RS256) {
		if (bn_field(pkey, OSSL_PKEY_PARAM_RSA_N, "n", jwk,
		    sizeof(jwk)) == -1 || bn_field(pkey, OSSL_PKEY_PARAM_RSA_E,
		    "e", jwk, sizeof(jwk)) == -1)
			return -1;
	} else {
		if (EVP_PKEY_get_octet_string_param(pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt),
		    &ptlen) != 1 || ptlen != 65)
			return -1;
		strncat(jwk, ",\"crv\":\"P-256\"", sizeof(jwk) - strlen(jwk) - 1);
		jwk_field(jwk, sizeof(jwk), "x", pt + 1, 32);
		jwk_field(jwk, sizeof(jwk), "y", pt + 33, 32);
	}
	if (asprintf(&k->jwks, "{\"keys\":[%s}]}", jwk) < 0) {
		k->jwks = NULL;
		return -1;
	}
	return 0;
}

static int
public_pem(struct hb_jwt_keys *k, EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
		BIO_free(bio);
		return -1;
	}
	n = BIO_get_mem_data(bio, &data);
	k->verify_key = memdup(data, (size_t)n);
	k->verify_len = (int)n;
	BIO_free(bio);
	return k->verify_key != NULL ? 0 : -1;
}

/* ES256 is P-256 only: secp256k1 and brainpoolP256r1 are 256 bits too. */
static bool
is_p256(EVP_PKEY *pkey)
{
	char group[64];

	return EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) == 1 &&
	    strcmp(group, SN_X9_62_prime256v1) == 0;
}

static int
load_private_key(struct hb_jwt_keys *k, const char *path,
    struct hb_error *err)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *pkey;
	char pem[16384];
	size_t n;
	int rc = -1;

	if (fp == NULL)
		return hb_fail(err, 500, "config",
		    "JWT_PRIVATE_KEY_FILE: cannot read %s", path);
	n = fread(pem, 1, sizeof(pem) - 1, fp);
	fclose(fp);
	pem[n] = '\0';
	fp = fmemopen(pem, n, "r");
	pkey = fp != NULL ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
	if (fp != NULL)
		fclose(fp);
	if (pkey == NULL)
		return hb_fail(err, 500, "config",
		    "JWT_PRIVATE_KEY_FILE: %s is not a PEM private key", path);
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(pkey) >= 2048)
		k->alg = JWT_ALG_RS256;
	else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC && is_p256(pkey))
		k->alg = JWT_ALG_ES256;
	else {
		EVP_PKEY_free(pkey);
		return hb_fail(err, 500, "config", "JWT_PRIVATE_KEY_FILE: "
		    "expected an RSA (>= 2048 bits) or P-256 EC key");
	}
	k->sign_key = memdup(pem, n);
	k->sign_len = (int)n;
	if (k->sign_key != NULL && public_pem(k, pkey) == 0 &&
	    build_jwks(k, pkey) == 0)
		rc = 0;
	EVP_PKEY_free(pkey);
	explicit_bzero(pem, sizeof(pem));
	if (rc == -1)
		hb_fail(err, 500, "config",
		    "JWT_PRIVATE_KEY_FILE: cannot use the key in %s", path);
	return rc;
}

static int
keys_load(struct hb_jwt_keys *k, const struct hb_config *cfg,
    struct hb_error *err)
{
	size_t n = strlen(cfg->secret_key);

	if (cfg->jwt_private_key_file[0] != '\0') {
		if (load_private_key(k, cfg->jwt_private_key_file, err) == -1) {
			auth_jwt_keys_free(k);
			return -1;
		}
		return 0;
	}
	k->alg = JWT_ALG_HS256;
	k->sign_key = memdup(cfg->secret_key, n);
	k->verify_key = memdup(cfg->secret_key, n);
	k->sign_len = k->verify_len = (int)n;
	k->jwks = (char *)memdup("{\"keys\":[]}", 11);
	if (k->sign_key == NULL || k->verify_key == NULL || k->jwks == NULL) {
		auth_jwt_keys_free(k);
		return hb_fail(err, 500, "config", "out of memory");
	}
	return 0;
}

int
auth_jwt_keys_load(struct hb_jwt_keys *k, const struct hb_config *cfg,
    struct hb_error *err)
{
	memset(k, 0, sizeof(*k));
	if (keys_load(k, cfg, err) == -1)
		return -1;
	/* Zero pages until used: a process that verifies nothing pays none. */
	k->cache = calloc(1, sizeof(*k->cache));
	if (k->cache == NULL) {
		auth_jwt_keys_free(k);
		return hb_fail(err, 500, "config", "out of memory");
	}
	return 0;
}

void
auth_jwt_keys_free(struct hb_jwt_keys *k)
{
	if (k->sign_key != NULL)
		explicit_bzero(k->sign_key, (size_t)k->sign_len);
	free(k->sign_key);
	free(k->verify_key);
	free(k->jwks);
	free(k->cache);
	memset(k, 0, sizeof(*k));
}

char *
auth_jwt_sign(const struct hb_jwt_keys *k, const char *issuer,
    const struct hb_claims *c)
{
	jwt_t *jwt = NULL;
	char *token = NULL;

	if (jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_add_grant(jwt, "iss", issuer) == 0 &&
	    jwt_add_grant(jwt, "sub", c->sub) == 0 &&
	    jwt_add_grant(jwt, "org", c->org) == 0 &&
	    jwt_add_grant(jwt, "role", c->role) == 0 &&
	    jwt_add_grant(jwt, "sid", c->sid) == 0 &&
	    jwt_add_grant(jwt, "jti", c->jti) == 0 &&
	    jwt_add_grant(jwt, "typ", "access") == 0 &&
	    jwt_add_grant_int(jwt, "iat", c->iat) == 0 &&
	    jwt_add_grant_int(jwt, "exp", c->exp) == 0 &&
	    (k->kid[0] == '\0' || jwt_add_header(jwt, "kid", k->kid) == 0) &&
	    jwt_set_alg(jwt, k->alg, k->sign_key, k->sign_len) == 0)
		token = jwt_encode_str(jwt);
	jwt_free(jwt);
	return token;
}

static int
copy_claim(jwt_t *jwt, const char *name, char *out, size_t outsz)
{
	const char *v = jwt_get_grant(jwt, name);

	if (v == NULL || strlen(v) >= outsz)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* An integer claim; libjwt answers 0 with errno ENOENT when it is absent. */
static int
int_claim(jwt_t *jwt, const char *name, long *out)
{
	errno = 0;
	*out = jwt_get_grant_int(jwt, name);
	return errno == 0 ? 0 : -1;
}

/* The claims into *out, and nbf into *nbf when the token has one. */
static int
check_claims(jwt_t *jwt, const char *issuer, long now, struct hb_claims *out,
    long *nbf)
{
	const char *typ = jwt_get_grant(jwt, "typ");
	const char *iss = jwt_get_grant(jwt, "iss");

	if (typ == NULL || strcmp(typ, "access") != 0 || iss == NULL ||
	    strcmp(iss, issuer) != 0)
		return -1;
	if (int_claim(jwt, "exp", &out->exp) == -1 || out->exp <= now ||
	    int_claim(jwt, "iat", &out->iat) == -1)
		return -1;
	if (int_claim(jwt, "nbf", nbf) == 0) {
		if (*nbf > now)
			return -1;
	} else if (errno == ENOENT)
		*nbf = LONG_MIN;
	else
		return -1;
	if (copy_claim(jwt, "sub", out->sub, sizeof(out->sub)) == -1 ||
	    copy_claim(jwt, "org", out->org, sizeof(out->org)) == -1 ||
	    copy_claim(jwt, "sid", out->sid, sizeof(out->sid)) == -1 ||
	    copy_claim(jwt, "jti", out->jti, sizeof(out->jti)) == -1 ||
	    copy_claim(jwt, "role", out->role, sizeof(out->role)) == -1)
		return -1;
	if (!uuid_valid(out->sub) || !uuid_valid(out->org) ||
	    !uuid_valid(out->sid))
		return -1;
	return 0;
}

/*
 * Three non-empty base64url parts, checked before libjwt sees the token:
 * libjwt 1.10 writes past a 0-byte buffer when the header or payload
 * part is empty (".x.y", "x..y").
 */
static bool
token_shape(const char *t)
{
	int dots = 0;
	size_t run = 0;

	for (; *t != '\0'; t++) {
		char c = *t;

		if (c == '.') {
			if (run == 0 || ++dots > 2)
				return false;
			run = 0;
		} else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')
			run++;
		else
			return false;
	}
	return dots == 2 && run > 0;
}

/* SHA-256 of the issuer, a newline and the token: 0, or -1. */
static int
token_digest(const char *issuer, const char *token,
    unsigned char out[HB_SHA256_LEN])
{
	const char *parts[] = { issuer, "\n", token };

	return crypto_sha256_join(parts, 3, out);
}

static struct cache_entry *
cache_set(struct hb_jwt_cache *cache, const unsigned char *digest)
{
	return cache->set[((unsigned)digest[0] << 8 | digest[1]) &
	    (CACHE_SETS - 1)];
}

/* A tick of the cache's clock, never 0 (the mark of an empty way). */
static uint32_t
cache_tick(struct hb_jwt_cache *cache)
{
	if (++cache->clock == 0)
		cache->clock = 1;
	return cache->clock;
}

/* The entry of digest, or NULL. */
static struct cache_entry *
cache_find(struct hb_jwt_cache *cache, const unsigned char *digest)
{
	struct cache_entry *set = cache_set(cache, digest);

	for (int w = 0; w < CACHE_WAYS; w++)
		if (set[w].used != 0 && crypto_equal(set[w].digest, digest,
		    CACHE_DIGEST)) {
			set[w].used = cache_tick(cache);
			return &set[w];
		}
	return NULL;
}

static void
cache_put(struct hb_jwt_cache *cache, const unsigned char *digest,
    const struct hb_claims *c, long nbf)
{
	struct cache_entry *set = cache_set(cache, digest), *e = &set[0];

	/* The empty way, or the one found or put longest ago. */
	for (int w = 1; w < CACHE_WAYS && e->used != 0; w++)
		if (set[w].used == 0 || cache->clock - set[w].used >
		    cache->clock - e->used)
			e = &set[w];
	memcpy(e->digest, digest, CACHE_DIGEST);
	e->claims = *c;
	e->nbf = nbf;
	e->used = cache_tick(cache);
}

static int
invalid_token(struct hb_claims *out, struct hb_error *err)
{
	memset(out, 0, sizeof(*out));
	return hb_fail(err, 401, "invalid_token",
	    "The access token is not valid.");
}

/*
 * The answer for a token found in the cache: its claims while exp and
 * nbf allow them at now. An expired token's way is emptied.
 */
static int
cache_answer(struct hb_jwt_cache *cache, struct cache_entry *e, long now,
    struct hb_claims *out, struct hb_error *err)
{
	cache->hits++;
	if (e->claims.exp <= now) {
		memset(e, 0, sizeof(*e));
		return invalid_token(out, err);
	}
	if (e->nbf != LONG_MIN && e->nbf > now)
		return invalid_token(out, err);
	*out = e->claims;
	return 0;
}

int
auth_jwt_verify(struct hb_jwt_keys *k, const char *issuer,
    const char *token, long now, struct hb_claims *out, struct hb_error *err)
{
	unsigned char digest[HB_SHA256_LEN];
	struct cache_entry *hit;
	jwt_t *jwt = NULL;
	long nbf = LONG_MIN;
	bool cached = false;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (token == NULL || strlen(token) > TOKEN_MAX || !token_shape(token))
		return invalid_token(out, err);
	/* Without a digest, the token is verified in full and not kept. */
	if (k->cache != NULL && token_digest(issuer, token, digest) == 0) {
		cached = true;
		if ((hit = cache_find(k->cache, digest)) != NULL)
			return cache_answer(k->cache, hit, now, out, err);
	}
	/*
	 * libjwt verifies with whatever algorithm the token's header names,
	 * so the algorithm is compared with ours after decoding: that is
	 * what refuses "none" and the HS256-with-the-public-key confusion.
	 */
	if (jwt_decode(&jwt, token, k->verify_key, k->verify_len) == 0 &&
	    jwt_get_alg(jwt) == k->alg && check_claims(jwt, issuer, now,
	    out, &nbf) == 0)
		rc = 0;
	jwt_free(jwt);
	if (rc == -1)
		return invalid_token(out, err);
	if (cached)
		cache_put(k->cache, digest, out, nbf);
	return 0;
}

unsigned long
auth_jwt_cache_hits(const struct hb_jwt_keys *k)
{
	return k->cache != NULL ? k->cache->hits : 0;
}
