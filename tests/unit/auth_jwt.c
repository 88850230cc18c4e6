/*
 * Access tokens (api.md §2): HS256 with SECRET_KEY, or RS256 / ES256
 * with JWT_PRIVATE_KEY_FILE and a JWKS. Every forgery a client can send
 * is tried and must be a 401 invalid_token: alg none, another algorithm
 * (the alg-confusion attack included), a bad or missing signature, bad
 * claims. Forged tokens are made with libjwt and by hand (base64url JSON
 * and OpenSSL's HMAC), and the libjwt behaviours that make each check
 * necessary are pinned by tests of their own.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <json-c/json.h>
#include <jwt.h>

#include "auth_jwt.h"
#include "crypto.h"
#include "tap.h"

#define ISS	"homebot"
#define NOW	1750000000L
#define SUB	"3f0c9a52-6d2e-4c8b-9a1f-0e5d7b2c4a61"
#define ORG	"8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"
#define SID	"c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5"
#define JTI	"0f1e2d3c-4b5a-4968-8776-655443322110"
#define SECRET	"jwt-unit-test-secret-0123456789abcdef"

#define JS(s)	"\"" s "\""	/* a JSON string literal */

static struct hb_config cfg;
static struct hb_jwt_keys hs;
static char tmpdir[] = "/tmp/hb-jwt-XXXXXX";

/* ---------------------------------------------------------------- */
/* Building tokens                                                  */
/* ---------------------------------------------------------------- */

/* Marks a claim as left out (NULL means its good default). */
static const char OMIT[] = "(omit)";

/* The claims of a token as raw JSON values. */
struct pl {
	const char	*iss, *sub, *org, *role, *sid, *jti, *typ;
	const char	*iat, *exp, *nbf;	/* nbf: absent unless set */
	const char	*extra;			/* more ,"name":value text */
};

static void
add(char *out, size_t outsz, const char *name, const char *v,
    const char *def)
{
	size_t used = strlen(out);

	if (v == OMIT || (v == NULL && def == NULL))
		return;
	snprintf(out + used, outsz - used, "%s\"%s\":%s", used > 1 ? "," : "",
	    name, v != NULL ? v : def);
}

static char *
payload(char *out, size_t outsz, const struct pl *o)
{
	char iat[32], exp[32];

	snprintf(iat, sizeof(iat), "%ld", NOW - 60);
	snprintf(exp, sizeof(exp), "%ld", NOW + 840);
	snprintf(out, outsz, "{");
	add(out, outsz, "iss", o->iss, JS(ISS));
	add(out, outsz, "sub", o->sub, JS(SUB));
	add(out, outsz, "org", o->org, JS(ORG));
	add(out, outsz, "role", o->role, JS("member"));
	add(out, outsz, "sid", o->sid, JS(SID));
	add(out, outsz, "jti", o->jti, JS(JTI));
	add(out, outsz, "typ", o->typ, JS("access"));
	add(out, outsz, "iat", o->iat, iat);
	add(out, outsz, "exp", o->exp, exp);
	add(out, outsz, "nbf", o->nbf, NULL);
	snprintf(out + strlen(out), outsz - strlen(out), "%s}",
	    o->extra != NULL ? o->extra : "");
	return out;
}

/* The strings up to END, one after another, into out (or bail out). */
#define END	((const char *)0)
static char *
join(char *out, size_t outsz, ...)
{
	va_list ap;
	const char *s;
	size_t used = 0, n;

	va_start(ap, outsz);
	while ((s = va_arg(ap, const char *)) != NULL) {
		n = strlen(s);
		if (used + n >= outsz) {
			printf("Bail out! test buffer too small\n");
			exit(2);
		}
		memmove(out + used, s, n);
		used += n;
	}
	va_end(ap);
	out[used] = '\0';
	return out;
}

static void
b64(const void *p, size_t n, char *out, size_t outsz)
{
	if (crypto_b64url_encode(p, n, out, outsz) != (n + 2) / 3 * 4 -
	    (n % 3 == 1 ? 2 : n % 3 == 2 ? 1 : 0)) {
		printf("Bail out! test buffer too small for base64url\n");
		exit(2);
	}
}

/*
 * b64(header) "." b64(payload), then "." and the signature under md
 * (HMAC with key), or sig as given when md is NULL (none when sig is
 * NULL: no third part at all).
 */
static char *
hand(char *out, size_t outsz, const char *header, const char *pay,
    const EVP_MD *md, const void *key, size_t keylen, const char *sig)
{
	char h[1024], p[16384], s[200];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	b64(header, strlen(header), h, sizeof(h));
	b64(pay, strlen(pay), p, sizeof(p));
	join(out, outsz, h, ".", p, END);
	if (md != NULL) {
		HMAC(md, key, (int)keylen, (const unsigned char *)out,
		    strlen(out), mac, &maclen);
		b64(mac, maclen, s, sizeof(s));
		sig = s;
	}
	if (sig != NULL)
		join(out + strlen(out), outsz - strlen(out), ".", sig, END);
	return out;
}

/* A token made by libjwt: alg and key, claims o, a kid header or none. */
static char *
lj(jwt_alg_t alg, const void *key, size_t keylen, const struct pl *o,
    const char *kid)
{
	static const struct pl none;
	char json[16384];
	jwt_t *jwt = NULL;
	char *token = NULL;

	payload(json, sizeof(json), o != NULL ? o : &none);
	if (jwt_new(&jwt) != 0) {
		printf("Bail out! jwt_new\n");
		exit(2);
	}
	if (jwt_add_grants_json(jwt, json) == 0 &&
	    (kid == NULL || jwt_add_header(jwt, "kid", kid) == 0) &&
	    jwt_set_alg(jwt, alg, key, (int)keylen) == 0)
		token = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (token == NULL) {
		printf("Bail out! libjwt cannot make a %s token\n",
		    jwt_alg_str(alg));
		exit(2);
	}
	return token;
}

/* An HS256 token under the test's SECRET_KEY, by libjwt. */
static char *
lj_hs(const struct pl *o)
{
	return lj(JWT_ALG_HS256, SECRET, strlen(SECRET), o, NULL);
}

/* The same, by hand. */
static char *
hand_hs(char *out, size_t outsz, const struct pl *o)
{
	char pay[16384];

	return hand(out, outsz, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    payload(pay, sizeof(pay), o), EVP_sha256(), SECRET,
	    strlen(SECRET), NULL);
}

/* Part i (0-2) of a token, base64url-decoded into out as text. */
static bool
part(const char *token, int i, char *out, size_t outsz)
{
	const char *s = token, *e;
	long n;

	for (; i > 0; i--) {
		s = strchr(s, '.');
		if (s == NULL)
			return false;
		s++;
	}
	e = strchr(s, '.');
	if (e == NULL)
		e = s + strlen(s);
	n = crypto_b64url_decode(s, (size_t)(e - s), (unsigned char *)out,
	    outsz - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* The length of part i once decoded, or -1. */
static long
part_len(const char *token, int i)
{
	char buf[4096];
	const char *s = token, *e;

	for (; i > 0; i--) {
		s = strchr(s, '.');
		if (s == NULL)
			return -1;
		s++;
	}
	e = strchr(s, '.');
	if (e == NULL)
		e = s + strlen(s);
	return crypto_b64url_decode(s, (size_t)(e - s), (unsigned char *)buf,
	    sizeof(buf));
}

/* A string member of a JSON text, or NULL. */
static const char *
json_str(const char *text, const char *name, char *out, size_t outsz)
{
	struct json_object *o = json_tokener_parse(text), *v;
	const char *r = NULL;

	if (json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string)) {
		snprintf(out, outsz, "%s", json_object_get_string(v));
		r = out;
	}
	json_object_put(o);
	return r;
}

/* ---------------------------------------------------------------- */
/* Verifying                                                        */
/* ---------------------------------------------------------------- */

static int
verify_at(struct hb_jwt_keys *k, const char *token, long now,
    struct hb_claims *out, struct hb_error *err)
{
	hb_error_clear(err);
	memset(out, 'x', sizeof(*out));
	return auth_jwt_verify(k, ISS, token, now, out, err);
}

static bool
cleared(const struct hb_claims *c)
{
	static const struct hb_claims zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

/* Expects a 401 invalid_token and nothing of the claims left behind. */
static void
refused_at(struct hb_jwt_keys *k, const char *token, long now,
    const char *what)
{
	struct hb_claims out;
	struct hb_error err = {0};
	int rc = verify_at(k, token, now, &out, &err);
	bool good = rc == -1 && err.status == 401 &&
	    strcmp(err.code, "invalid_token") == 0 && cleared(&out);

	ok(good, "refused: %s", what);
	if (!good)
		diag("rc %d, status %d, code \"%s\", claims %scleared; "
		    "token %.200s", rc, err.status, err.code,
		    cleared(&out) ? "" : "not ", token != NULL ? token :
		    "(null)");
}

static void
refused(struct hb_jwt_keys *k, const char *token, const char *what)
{
	refused_at(k, token, NOW, what);
}

static bool
accepted_at(struct hb_jwt_keys *k, const char *token, long now,
    const char *what)
{
	struct hb_claims out;
	struct hb_error err = {0};
	int rc = verify_at(k, token, now, &out, &err);

	ok(rc == 0 && err.status == 0, "accepted: %s", what);
	if (rc != 0)
		diag("status %d %s; token %.200s", err.status, err.code,
		    token != NULL ? token : "(null)");
	return rc == 0;
}

static bool
accepted(struct hb_jwt_keys *k, const char *token, const char *what)
{
	return accepted_at(k, token, NOW, what);
}

static void
good_claims(struct hb_claims *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "%s", SUB);
	snprintf(c->org, sizeof(c->org), "%s", ORG);
	snprintf(c->sid, sizeof(c->sid), "%s", SID);
	snprintf(c->jti, sizeof(c->jti), "%s", JTI);
	snprintf(c->role, sizeof(c->role), "%s", "admin");
	c->iat = NOW - 5;
	c->exp = NOW + 895;
}

/* ---------------------------------------------------------------- */
/* HS256                                                            */
/* ---------------------------------------------------------------- */

static void
test_hs_load(void)
{
	struct hb_error err = {0};

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s", SECRET);
	snprintf(cfg.issuer, sizeof(cfg.issuer), "%s", ISS);
	is_int(auth_jwt_keys_load(&hs, &cfg, &err), 0,
	    "HS256: auth_jwt_keys_load with SECRET_KEY and no key file");
	is_int(hs.alg, JWT_ALG_HS256, "HS256: the algorithm is HS256");
	is_str(hs.kid, "", "HS256: no kid");
	is_str(hs.jwks, "{\"keys\":[]}", "HS256: the JWKS is empty: the "
	    "secret is never published");
	ok(hs.verify_key != NULL && hs.verify_len == (int)strlen(SECRET) &&
	    memcmp(hs.verify_key, SECRET, strlen(SECRET)) == 0,
	    "HS256: the verification key is SECRET_KEY (never NULL: see the "
	    "alg none pin)");
}

static void
test_hs_roundtrip(void)
{
	struct hb_claims c, out;
	struct hb_error err = {0};
	struct json_object *o, *v;
	char text[4096], s[64];
	char *token;
	int rc;

	good_claims(&c);
	token = auth_jwt_sign(&hs, ISS, &c);
	ok(token != NULL, "HS256: auth_jwt_sign makes a token");
	if (token == NULL)
		return;
	diag("token: %s", token);
	rc = verify_at(&hs, token, NOW, &out, &err);
	is_int(rc, 0, "HS256: the token verifies");
	is_str(out.sub, SUB, "round trip: sub");
	is_str(out.org, ORG, "round trip: org");
	is_str(out.sid, SID, "round trip: sid");
	is_str(out.jti, JTI, "round trip: jti");
	is_str(out.role, "admin", "round trip: role");
	is_int(out.iat, NOW - 5, "round trip: iat");
	is_int(out.exp, NOW + 895, "round trip: exp");

	/* What is on the wire, read without libjwt. */
	ok(part(token, 0, text, sizeof(text)), "the header is base64url");
	is_str(json_str(text, "alg", s, sizeof(s)), "HS256", "header alg "
	    "HS256");
	is_str(json_str(text, "typ", s, sizeof(s)), "JWT", "header typ JWT");
	ok(json_str(text, "kid", s, sizeof(s)) == NULL, "no kid under HS256");
	ok(part(token, 1, text, sizeof(text)), "the payload is base64url");
	o = json_tokener_parse(text);
	is_int(json_object_object_length(o), 9, "the payload has 9 claims: %s",
	    text);
	is_str(json_str(text, "iss", s, sizeof(s)), ISS, "claim iss");
	is_str(json_str(text, "sub", s, sizeof(s)), SUB, "claim sub");
	is_str(json_str(text, "org", s, sizeof(s)), ORG, "claim org");
	is_str(json_str(text, "role", s, sizeof(s)), "admin", "claim role");
	is_str(json_str(text, "sid", s, sizeof(s)), SID, "claim sid");
	is_str(json_str(text, "jti", s, sizeof(s)), JTI, "claim jti");
	is_str(json_str(text, "typ", s, sizeof(s)), "access", "claim typ "
	    "access");
	ok(json_object_object_get_ex(o, "iat", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == NOW - 5, "claim iat is the number");
	ok(json_object_object_get_ex(o, "exp", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == NOW + 895, "claim exp is the number");
	json_object_put(o);
	is_int(part_len(token, 2), 32, "the signature is 32 bytes "
	    "(HMAC-SHA-256)");

	/* exp is the first second the token is no longer good. */
	accepted_at(&hs, token, NOW + 894, "one second before exp");
	refused_at(&hs, token, NOW + 895, "at exp (exp <= now)");
	refused_at(&hs, token, NOW + 100000, "long after exp");
	/* Verified against another issuer. */
	rc = auth_jwt_verify(&hs, "someone-else", token, NOW, &out, &err);
	ok(rc == -1 && err.status == 401, "refused: verified for another "
	    "issuer than it names");
	hb_error_clear(&err);
	free(token);

	/* The issuer is the caller's, not a constant. */
	token = auth_jwt_sign(&hs, "other-iss", &c);
	rc = auth_jwt_verify(&hs, "other-iss", token, NOW, &out, &err);
	is_int(rc, 0, "another issuer signs and verifies under its own name");
	hb_error_clear(&err);
	refused(&hs, token, "a token of issuer other-iss, verified for "
	    "homebot");
	free(token);
}

/* The good tokens every forgery below is a variation of. */
static void
test_hs_controls(void)
{
	char buf[8192];
	char *t;

	t = lj_hs(NULL);
	accepted(&hs, t, "control: a good token made by libjwt");
	free(t);
	accepted(&hs, hand_hs(buf, sizeof(buf), &(struct pl){ 0 }),
	    "control: a good token made by hand");
	accepted(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}",
	    "{\"iss\":\"homebot\",\"sub\":\"" SUB "\",\"org\":\"" ORG "\","
	    "\"role\":\"member\",\"sid\":\"" SID "\",\"jti\":\"" JTI "\","
	    "\"typ\":\"access\",\"iat\":1749999000,\"exp\":1750000001}",
	    EVP_sha256(), SECRET, strlen(SECRET), NULL),
	    "control: by hand, no typ header, claims in another order");
	accepted(&hs, hand_hs(buf, sizeof(buf), &(struct pl){
	    .nbf = "1750000000" }), "control: nbf == now");
	accepted(&hs, hand_hs(buf, sizeof(buf), &(struct pl){
	    .nbf = "1749990000" }), "control: nbf in the past");
	accepted(&hs, hand_hs(buf, sizeof(buf), &(struct pl){
	    .role = JS("fifteen-chars-x") }), "control: a 15-byte role");
}

static void
test_hs_none(void)
{
	char pay[4096], buf[8192], good[8192];
	const char *sig;
	char *t;
	jwt_t *jwt = NULL;

	payload(pay, sizeof(pay), &(struct pl){ 0 });
	hand_hs(good, sizeof(good), &(struct pl){ 0 });
	sig = strrchr(good, '.') + 1;

	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    pay, NULL, NULL, 0, ""), "alg none, unsigned, trailing dot");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    pay, NULL, NULL, 0, NULL), "alg none, unsigned, no trailing dot");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"none\"}", pay, NULL,
	    NULL, 0, ""), "alg none without typ");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"None\",\"typ\":\"JWT\"}",
	    pay, NULL, NULL, 0, ""), "alg None, trailing dot");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"None\",\"typ\":\"JWT\"}",
	    pay, NULL, NULL, 0, NULL), "alg None, no trailing dot");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"NONE\"}", pay, NULL,
	    NULL, 0, ""), "alg NONE");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"none\"}", pay, NULL,
	    NULL, 0, sig), "alg none carrying a real HS256 signature");
	refused(&hs, hand(buf, sizeof(buf), "{\"typ\":\"JWT\"}", pay, NULL,
	    NULL, 0, ""), "no alg at all");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"\"}", pay, NULL,
	    NULL, 0, sig), "alg \"\"");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":null}", pay, NULL,
	    NULL, 0, sig), "alg null");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"hs256\"}", pay, NULL,
	    NULL, 0, sig), "alg hs256 (lowercase) with the HS256 signature");
	/* The same, from libjwt's own encoder. */
	jwt_new(&jwt);
	jwt_add_grants_json(jwt, pay);
	jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0);
	t = jwt_encode_str(jwt);
	jwt_free(jwt);
	ok(t != NULL && t[strlen(t) - 1] == '.', "libjwt encodes alg none "
	    "with an empty signature");
	refused(&hs, t, "alg none, made by libjwt");
	free(t);
}

static void
test_hs_other_algs(void)
{
	char pay[4096], buf[8192];
	char *t;

	payload(pay, sizeof(pay), &(struct pl){ 0 });
	t = lj(JWT_ALG_HS512, SECRET, strlen(SECRET), NULL, NULL);
	refused(&hs, t, "HS512 signed with the right secret (libjwt)");
	free(t);
	t = lj(JWT_ALG_HS384, SECRET, strlen(SECRET), NULL, NULL);
	refused(&hs, t, "HS384 signed with the right secret (libjwt)");
	free(t);
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    pay, EVP_sha512(), SECRET, strlen(SECRET), NULL),
	    "HS512 signed with the right secret (by hand)");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
	    pay, EVP_sha384(), SECRET, strlen(SECRET), NULL),
	    "HS384 signed with the right secret (by hand)");
	/* An HS256 MAC under a header that names another algorithm. */
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    pay, EVP_sha256(), SECRET, strlen(SECRET), NULL),
	    "header HS512, HS256 MAC");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
	    pay, EVP_sha256(), SECRET, strlen(SECRET), NULL),
	    "header RS256, HS256 MAC");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
	    pay, EVP_sha256(), SECRET, strlen(SECRET), NULL),
	    "header typ at+jwt (libjwt takes only JWT)");
}

static void
test_hs_signature(void)
{
	char buf[8192], other[8192], *dot;
	size_t n;
	char *t;

	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	n = strlen(buf);
	dot = strrchr(buf, '.');
	/* A character in the middle: all six of its bits are signature. */
	dot[20] = dot[20] == 'A' ? 'B' : 'A';
	refused(&hs, buf, "one signature character changed");
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	buf[n - 1] = '\0';
	refused(&hs, buf, "the signature cut by one character");
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	strcat(buf, "A");
	refused(&hs, buf, "the signature one character longer");
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	strcat(buf, "=");
	refused(&hs, buf, "the signature with base64 padding");
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	strrchr(buf, '.')[1] = '\0';
	refused(&hs, buf, "the signature removed, trailing dot kept");
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	*strrchr(buf, '.') = '\0';
	refused(&hs, buf, "the signature and its dot removed");
	/* Another token's signature. */
	hand_hs(buf, sizeof(buf), &(struct pl){ 0 });
	hand_hs(other, sizeof(other), &(struct pl){ .role = JS("owner") });
	strcpy(strrchr(buf, '.'), strrchr(other, '.'));
	refused(&hs, buf, "another token's signature");

	/* Signed with another secret. */
	t = lj(JWT_ALG_HS256, "another-secret-0123456789abcdef-0123",
	    strlen("another-secret-0123456789abcdef-0123"), NULL, NULL);
	refused(&hs, t, "HS256 under another secret");
	free(t);
	t = lj(JWT_ALG_HS256, SECRET, strlen(SECRET) - 1, NULL, NULL);
	refused(&hs, t, "HS256 under the secret less its last byte");
	free(t);
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}",
	    payload(other, sizeof(other), &(struct pl){ 0 }), EVP_sha256(),
	    "jwt-unit-test-secret-0123456789abcdeF", strlen(SECRET), NULL),
	    "HS256 under the secret with one letter's case changed");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}",
	    payload(other, sizeof(other), &(struct pl){ 0 }), EVP_sha256(),
	    "", 0, NULL), "HS256 under the empty key");
}

/* Replaces the payload of token with b64(pay), keeping the signature. */
static void
swap_payload(char *token, size_t tokensz, const char *pay)
{
	char h[1024], p[8192], s[200];
	const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');

	snprintf(h, sizeof(h), "%.*s", (int)(d1 - token), token);
	snprintf(s, sizeof(s), "%s", d2 + 1);
	b64(pay, strlen(pay), p, sizeof(p));
	join(token, tokensz, h, ".", p, ".", s, END);
}

static void
test_hs_tampered(void)
{
	char token[8192], pay[4096], orig[4096];
	struct hb_claims c;
	char *t, *at;

	good_claims(&c);
	snprintf(c.role, sizeof(c.role), "%s", "member");
	t = auth_jwt_sign(&hs, ISS, &c);
	snprintf(token, sizeof(token), "%s", t);
	free(t);
	part(token, 1, orig, sizeof(orig));

	/* Re-encoding the payload unchanged gives the very same token. */
	snprintf(pay, sizeof(pay), "%s", orig);
	swap_payload(token, sizeof(token), pay);
	accepted(&hs, token, "control: the payload re-encoded unchanged");

	at = strstr(pay, "\"member\"");
	memcpy(at, "\"viewer\"", 8);
	swap_payload(token, sizeof(token), pay);
	refused(&hs, token, "payload tampered: role member -> viewer");

	snprintf(pay, sizeof(pay), "%s", orig);
	at = strstr(pay, SUB);
	at[0] = at[0] == 'a' ? 'b' : 'a';
	swap_payload(token, sizeof(token), pay);
	refused(&hs, token, "payload tampered: one character of sub");

	snprintf(pay, sizeof(pay), "%s", orig);
	at = strstr(pay, "\"exp\":");
	at[6] = '9';	/* a far later expiry */
	swap_payload(token, sizeof(token), pay);
	refused(&hs, token, "payload tampered: exp pushed out");

	snprintf(pay, sizeof(pay), "%s", orig);
	pay[strlen(pay) - 1] = '\0';
	strcat(pay, ",\"admin\":true}");
	swap_payload(token, sizeof(token), pay);
	refused(&hs, token, "payload tampered: a claim added");

	/* The header: kid added, the same alg. */
	t = auth_jwt_sign(&hs, ISS, &c);
	{
		char h[256], rest[8192];

		b64("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"x\"}", 38, h,
		    sizeof(h));
		snprintf(rest, sizeof(rest), "%s", strchr(t, '.'));
		join(token, sizeof(token), h, rest, END);
	}
	free(t);
	refused(&hs, token, "header tampered: a kid added");
}

static void
test_hs_claims(void)
{
	static const struct {
		struct pl	 o;
		const char	*what;
	} bad[] = {
		{ { .exp = "1750000000" }, "exp == now" },
		{ { .exp = "1749999999" }, "exp a second ago" },
		{ { .exp = "0" }, "exp 0" },
		{ { .exp = "-1" }, "exp -1" },
		{ { .exp = OMIT }, "exp missing" },
		{ { .exp = JS("9999999999") }, "exp a string" },
		{ { .exp = "9999999999.5" }, "exp a fraction" },
		{ { .exp = "null" }, "exp null" },
		{ { .nbf = "1750000001" }, "nbf a second ahead" },
		{ { .nbf = "1760000000" }, "nbf far ahead" },
		{ { .iat = OMIT }, "iat missing" },
		{ { .typ = JS("refresh") }, "typ refresh" },
		{ { .typ = OMIT }, "typ missing" },
		{ { .typ = JS("Access") }, "typ Access" },
		{ { .typ = JS("access ") }, "typ \"access \"" },
		{ { .typ = JS("") }, "typ \"\"" },
		{ { .typ = "1" }, "typ a number" },
		{ { .typ = "[\"access\"]" }, "typ an array" },
		{ { .iss = JS("evil") }, "iss evil" },
		{ { .iss = OMIT }, "iss missing" },
		{ { .iss = JS("homebot2") }, "iss homebot2" },
		{ { .iss = JS("homebo") }, "iss homebo (a prefix)" },
		{ { .iss = JS("Homebot") }, "iss Homebot" },
		{ { .iss = JS("") }, "iss \"\"" },
		{ { .iss = "[\"homebot\"]" }, "iss an array" },
		{ { .sub = JS("not-a-uuid") }, "sub not a UUID" },
		{ { .sub = JS("3F0C9A52-6D2E-4C8B-9A1F-0E5D7B2C4A61") },
		  "sub an uppercase UUID" },
		{ { .sub = JS("3f0c9a52-6d2e-4c8b-9a1f-0e5d7b2c4a6") },
		  "sub 35 characters" },
		{ { .sub = JS("3f0c9a52-6d2e-4c8b-9a1f-0e5d7b2c4a611") },
		  "sub 37 characters" },
		{ { .sub = JS("3f0c9a526d2e4c8b9a1f0e5d7b2c4a61") },
		  "sub without dashes" },
		{ { .sub = JS("{3f0c9a52-6d2e-4c8b-9a1f-0e5d7b2c4a6}") },
		  "sub in braces" },
		{ { .sub = JS("3f0c9a52_6d2e-4c8b-9a1f-0e5d7b2c4a61") },
		  "sub with _ for a dash" },
		{ { .sub = JS("3f0c9a52-6d2e-4c8b-9a1f-0e5d7b2c4a6g") },
		  "sub with a g" },
		{ { .sub = JS("") }, "sub \"\"" },
		{ { .sub = OMIT }, "sub missing" },
		{ { .sub = "42" }, "sub a number" },
		{ { .org = JS("not-a-uuid") }, "org not a UUID" },
		{ { .org = JS("8A7B6C5D-4E3F-4A1B-8C9D-0E1F2A3B4C5D") },
		  "org an uppercase UUID" },
		{ { .org = OMIT }, "org missing" },
		{ { .org = JS("8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5") },
		  "org 35 characters" },
		{ { .sid = JS("not-a-uuid") }, "sid not a UUID" },
		{ { .sid = JS("C1D2E3F4-A5B6-4C7D-8E9F-A0B1C2D3E4F5") },
		  "sid an uppercase UUID" },
		{ { .sid = OMIT }, "sid missing" },
		{ { .sid = JS("c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5x") },
		  "sid 37 characters" },
		{ { .jti = OMIT }, "jti missing" },
		{ { .jti = JS("0f1e2d3c-4b5a-4968-8776-6554433221100") },
		  "jti 37 characters (does not fit)" },
		{ { .role = OMIT }, "role missing" },
		{ { .role = JS("sixteen-chars-xx") }, "role 16 bytes (does not "
		  "fit)" },
	};
	char buf[8192];
	char what[128];
	char *t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "%s (libjwt)", bad[i].what);
		t = lj_hs(&bad[i].o);
		refused(&hs, t, what);
		free(t);
		snprintf(what, sizeof(what), "%s (by hand)", bad[i].what);
		refused(&hs, hand_hs(buf, sizeof(buf), &bad[i].o), what);
	}
}

static void
test_hs_shapes(void)
{
	static const char *const junk[] = {
		"", "garbage", ".", "..", "...", "....", "a.b", "a.b.c",
		"a.b.c.d", "eyJ.eyJ.eyJ", "Bearer", " ", "null",
	};
	char good[8192], buf[8300];
	char *t;
	size_t n;

	refused(&hs, NULL, "a NULL token");
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "\"%s\"", junk[i]);
		refused(&hs, junk[i], what);
	}
	hand_hs(good, sizeof(good), &(struct pl){ 0 });
	snprintf(buf, sizeof(buf), "%s.", good);
	refused(&hs, buf, "a good token and a fourth, empty part (three dots)");
	snprintf(buf, sizeof(buf), "%s.%s", good, strrchr(good, '.') + 1);
	refused(&hs, buf, "a good token and its signature again (three dots)");
	snprintf(buf, sizeof(buf), "Bearer %s", good);
	refused(&hs, buf, "\"Bearer \" left in front");
	snprintf(buf, sizeof(buf), " %s", good);
	refused(&hs, buf, "a leading space");
	snprintf(buf, sizeof(buf), "%s\n", good);
	refused(&hs, buf, "a trailing newline");
	snprintf(buf, sizeof(buf), "%s", good);
	*strchr(buf, '.') = '\0';
	refused(&hs, buf, "the header alone");
	/*
	 * An empty header or payload part: libjwt 1.10.2 writes past a
	 * 0-byte buffer on these (valgrind sees it), so auth_jwt_verify
	 * must refuse them before jwt_decode.
	 */
	hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}", "", EVP_sha256(), SECRET,
	    strlen(SECRET), NULL);
	refused(&hs, buf, "an empty payload part, HMAC and all");
	refused(&hs, hand(buf, sizeof(buf), "", "{}", EVP_sha256(), SECRET,
	    strlen(SECRET), NULL), "an empty header part, HMAC and all");
	snprintf(buf, sizeof(buf), ".%s", strchr(good, '.') + 1);
	refused(&hs, buf, "a good token with its header removed");
	snprintf(buf, sizeof(buf), "%.*s.%s", (int)(strchr(good, '.') - good),
	    good, strrchr(good, '.'));
	refused(&hs, buf, "a good token with its payload removed");
	refused(&hs, "..sig", "\"..sig\"");
	refused(&hs, ".x.", "\".x.\"");
	snprintf(buf, sizeof(buf), "%s", good);
	*strrchr(buf, '.') = '=';
	strcat(buf, ".x");
	refused(&hs, buf, "padding in the payload part");
	/* The payload is not JSON, or not an object. */
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}", "not json",
	    EVP_sha256(), SECRET, strlen(SECRET), NULL), "a payload that is "
	    "not JSON");
	refused(&hs, hand(buf, sizeof(buf), "{\"alg\":\"HS256\"}", "[1,2]",
	    EVP_sha256(), SECRET, strlen(SECRET), NULL), "a payload that is "
	    "an array");
	refused(&hs, hand(buf, sizeof(buf), "not json", "{}", EVP_sha256(),
	    SECRET, strlen(SECRET), NULL), "a header that is not JSON");

	/*
	 * Size: the largest good token under 4096 bytes is taken, the
	 * smallest over is not (the pad claim only makes it bigger).
	 */
	{
		char *le = NULL, *gt = NULL, extra[4096];

		for (size_t pad = 2700; pad < 3100 && gt == NULL; pad++) {
			snprintf(extra, sizeof(extra), ",\"pad\":\"%0*d\"",
			    (int)pad, 0);
			t = lj_hs(&(struct pl){ .extra = extra });
			n = strlen(t);
			if (n <= 4096) {
				free(le);
				le = t;
			} else
				gt = t;
		}
		if (le == NULL || gt == NULL) {
			printf("Bail out! no token sizes around 4096\n");
			exit(2);
		}
		diag("sizes tried: %zu and %zu bytes", strlen(le), strlen(gt));
		ok(strlen(le) >= 4090, "(a good token of %zu bytes)",
		    strlen(le));
		accepted(&hs, le, "a good token of at most 4096 bytes");
		refused(&hs, gt, "a good token of more than 4096 bytes");
		free(le);
		free(gt);
	}
	/* A token of a megabyte. */
	{
		char *big = malloc(1 << 20);

		if (big == NULL)
			abort();
		memset(big, 'A', (1 << 20) - 1);
		big[(1 << 20) - 1] = '\0';
		big[100] = big[200] = '.';
		refused(&hs, big, "a megabyte of token");
		free(big);
	}
}

/* ---------------------------------------------------------------- */
/* The libjwt behaviours each check above exists for                */
/* ---------------------------------------------------------------- */

static void
test_libjwt_pins(void)
{
	jwt_t *jwt = NULL;
	char *t, pay[4096], buf[8192];
	int rc;
	long v;

	/* 1. It does not check exp: we do. */
	t = lj_hs(&(struct pl){ .exp = "1" });
	rc = jwt_decode(&jwt, t, (const unsigned char *)SECRET,
	    (int)strlen(SECRET));
	is_int(rc, 0, "libjwt pin: jwt_decode accepts an expired token (so "
	    "auth_jwt_verify checks exp)");
	jwt_free(jwt);
	jwt = NULL;
	free(t);
	/* ...nor nbf, nor iss. */
	t = lj_hs(&(struct pl){ .nbf = "9999999999", .iss = JS("evil") });
	rc = jwt_decode(&jwt, t, (const unsigned char *)SECRET,
	    (int)strlen(SECRET));
	is_int(rc, 0, "libjwt pin: jwt_decode accepts nbf ahead and any iss");
	jwt_free(jwt);
	jwt = NULL;
	free(t);

	/* 2. The token's header picks the algorithm. */
	t = lj(JWT_ALG_HS512, SECRET, strlen(SECRET), NULL, NULL);
	rc = jwt_decode(&jwt, t, (const unsigned char *)SECRET,
	    (int)strlen(SECRET));
	ok(rc == 0 && jwt_get_alg(jwt) == JWT_ALG_HS512, "libjwt pin: "
	    "jwt_decode accepts an HS512 token when the HS256 secret matches "
	    "(so auth_jwt_verify compares jwt_get_alg)");
	jwt_free(jwt);
	jwt = NULL;
	free(t);

	/* 3. A missing integer claim is told by errno alone. */
	t = lj_hs(&(struct pl){ .iat = OMIT });
	rc = jwt_decode(&jwt, t, (const unsigned char *)SECRET,
	    (int)strlen(SECRET));
	is_int(rc, 0, "(the token without iat decodes)");
	errno = 0;
	v = jwt_get_grant_int(jwt, "iat");
	is_int(errno, ENOENT, "libjwt pin: jwt_get_grant_int sets errno ENOENT "
	    "for a missing claim (returning %ld)", v);
	errno = 0;
	v = jwt_get_grant_int(jwt, "exp");
	ok(errno == 0 && v == NOW + 840, "libjwt pin: ...and leaves errno "
	    "alone for a present one");
	jwt_free(jwt);
	jwt = NULL;
	free(t);

	/* 4. alg none: refused with a key, taken without one. */
	payload(pay, sizeof(pay), &(struct pl){ 0 });
	hand(buf, sizeof(buf), "{\"alg\":\"none\"}", pay, NULL, NULL, 0, "");
	rc = jwt_decode(&jwt, buf, (const unsigned char *)SECRET,
	    (int)strlen(SECRET));
	ok(rc != 0, "libjwt pin: jwt_decode refuses alg none when a key is "
	    "given (%d)", rc);
	jwt_free(jwt);
	jwt = NULL;
	rc = jwt_decode(&jwt, buf, NULL, 0);
	is_int(rc, 0, "libjwt pin: ...but takes it unverified with a NULL key "
	    "(so the key is never NULL)");
	jwt_free(jwt);
	jwt = NULL;
}

/* ---------------------------------------------------------------- */
/* RS256 and ES256                                                  */
/* ---------------------------------------------------------------- */

static char path_rsa[300], path_rsa2[300], path_rsa1024[300];
static char path_p256[300], path_p256b[300], path_p384[300];
static char path_k1[300], path_ed[300], path_pub[300], path_txt[300];
static char path_empty[300], path_missing[300];

static void
sh(const char *cmd)
{
	char out[4096];
	size_t n;
	FILE *p = popen(cmd, "r");
	int st;

	if (p == NULL) {
		printf("Bail out! popen %s\n", cmd);
		exit(2);
	}
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	st = pclose(p);
	if (st != 0) {
		printf("Bail out! %s: %s\n", cmd, out);
		exit(2);
	}
}

static void
genkey(char *path, const char *name, const char *args)
{
	char cmd[1024];

	snprintf(path, 300, "%s/%s", tmpdir, name);
	snprintf(cmd, sizeof(cmd), "openssl genpkey %s -out '%s' 2>&1", args,
	    path);
	sh(cmd);
}

static void remove_keys(void);

static void
make_keys(void)
{
	char cmd[1024];
	FILE *fp;

	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(2);
	}
	atexit(remove_keys);	/* also after a bail out */
	genkey(path_rsa, "rsa.pem", "-algorithm RSA -pkeyopt "
	    "rsa_keygen_bits:2048");
	genkey(path_rsa2, "rsa2.pem", "-algorithm RSA -pkeyopt "
	    "rsa_keygen_bits:2048");
	genkey(path_rsa1024, "rsa1024.pem", "-algorithm RSA -pkeyopt "
	    "rsa_keygen_bits:1024");
	genkey(path_p256, "p256.pem", "-algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256");
	genkey(path_p256b, "p256b.pem", "-algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256");
	genkey(path_p384, "p384.pem", "-algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-384");
	genkey(path_k1, "secp256k1.pem", "-algorithm EC -pkeyopt "
	    "ec_paramgen_curve:secp256k1");
	genkey(path_ed, "ed25519.pem", "-algorithm ED25519");
	snprintf(path_pub, sizeof(path_pub), "%s/public.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl pkey -in '%s' -pubout -out '%s' "
	    "2>&1", path_rsa, path_pub);
	sh(cmd);
	snprintf(path_txt, sizeof(path_txt), "%s/notakey.txt", tmpdir);
	fp = fopen(path_txt, "w");
	fputs("SECRET_KEY=this is not a PEM key\n", fp);
	fclose(fp);
	snprintf(path_empty, sizeof(path_empty), "%s/empty.pem", tmpdir);
	fp = fopen(path_empty, "w");
	fclose(fp);
	snprintf(path_missing, sizeof(path_missing), "%s/missing.pem", tmpdir);
}

static void
remove_keys(void)
{
	const char *paths[] = { path_rsa, path_rsa2, path_rsa1024, path_p256,
	    path_p256b, path_p384, path_k1, path_ed, path_pub, path_txt,
	    path_empty };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i][0] != '\0')
			unlink(paths[i]);
	rmdir(tmpdir);
}

static int
load(struct hb_jwt_keys *k, const char *path, struct hb_error *err)
{
	struct hb_config c = cfg;

	snprintf(c.jwt_private_key_file, sizeof(c.jwt_private_key_file), "%s",
	    path);
	hb_error_clear(err);
	return auth_jwt_keys_load(k, &c, err);
}

/* The whole file, for libjwt to sign with. */
static char *
slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 20000);

	if (fp == NULL || buf == NULL) {
		printf("Bail out! cannot read %s\n", path);
		exit(2);
	}
	*n = fread(buf, 1, 19999, fp);
	fclose(fp);
	return buf;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *pkey = fp != NULL ? PEM_read_PrivateKey(fp, NULL, NULL,
	    NULL) : NULL;

	if (fp != NULL)
		fclose(fp);
	if (pkey == NULL) {
		printf("Bail out! cannot read the key %s\n", path);
		exit(2);
	}
	return pkey;
}

/* The single JWK of a JWKS text, checked for its common members. */
static struct json_object *
the_jwk(struct json_object *jwks, const struct hb_jwt_keys *k,
    const char *kty, const char *alg)
{
	struct json_object *keys, *key, *v;
	char name[32];

	snprintf(name, sizeof(name), "%s", alg);
	ok(json_object_is_type(jwks, json_type_object) &&
	    json_object_object_length(jwks) == 1 &&
	    json_object_object_get_ex(jwks, "keys", &keys) &&
	    json_object_is_type(keys, json_type_array) &&
	    json_object_array_length(keys) == 1, "%s: the JWKS parses: "
	    "{\"keys\": [one key]}", name);
	if (!json_object_object_get_ex(jwks, "keys", &keys) ||
	    json_object_array_length(keys) != 1)
		return NULL;
	key = json_object_array_get_idx(keys, 0);
	ok(json_object_object_get_ex(key, "kty", &v) &&
	    strcmp(json_object_get_string(v), kty) == 0, "%s: kty %s", name,
	    kty);
	ok(json_object_object_get_ex(key, "kid", &v) &&
	    strcmp(json_object_get_string(v), k->kid) == 0, "%s: kid is the "
	    "kid", name);
	ok(json_object_object_get_ex(key, "use", &v) &&
	    strcmp(json_object_get_string(v), "sig") == 0, "%s: use sig",
	    name);
	ok(json_object_object_get_ex(key, "alg", &v) &&
	    strcmp(json_object_get_string(v), alg) == 0, "%s: alg %s", name,
	    alg);
	/* Nothing private: d, p, q, dp, dq, qi. */
	ok(!json_object_object_get_ex(key, "d", NULL) &&
	    !json_object_object_get_ex(key, "p", NULL) &&
	    !json_object_object_get_ex(key, "q", NULL) &&
	    !json_object_object_get_ex(key, "dp", NULL) &&
	    !json_object_object_get_ex(key, "qi", NULL),
	    "%s: no private member in the JWK", name);
	return key;
}

/* A base64url member of a JWK, strictly decoded; its length or -1. */
static long
jwk_bytes(struct json_object *key, const char *name, unsigned char *out,
    size_t outsz)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(key, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	return crypto_b64url_decode(s, strlen(s), out, outsz);
}

/* A public PEM made from the JWK alone; the caller frees it. */
static char *
pem_of(EVP_PKEY *pub)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long n;

	if (pub != NULL && bio != NULL && PEM_write_bio_PUBKEY(bio, pub) == 1) {
		n = BIO_get_mem_data(bio, &data);
		pem = calloc(1, (size_t)n + 1);
		if (pem != NULL)
			memcpy(pem, data, (size_t)n);
	}
	BIO_free(bio);
	return pem;
}

static char *
rsa_pem_from_jwk(const unsigned char *n, long nlen, const unsigned char *e,
    long elen)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pub = NULL;
	char *pem;

	if (b != NULL && bn != NULL && be != NULL &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		params = OSSL_PARAM_BLD_to_param(b);
	if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY, params);
	pem = pem_of(pub);
	EVP_PKEY_free(pub);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return pem;
}

static char *
ec_pem_from_jwk(const unsigned char *x, const unsigned char *y)
{
	unsigned char pt[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pub = NULL;
	char *pem;

	pt[0] = 4;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY, params);
	pem = pem_of(pub);
	EVP_PKEY_free(pub);
	EVP_PKEY_CTX_free(ctx);
	return pem;
}

/* Whether libjwt verifies token with pem, as the algorithm alg. */
static bool
jwks_verifies(const char *token, const char *pem, jwt_alg_t alg)
{
	jwt_t *jwt = NULL;
	bool good;

	if (pem == NULL)
		return false;
	good = jwt_decode(&jwt, token, (const unsigned char *)pem,
	    (int)strlen(pem)) == 0 && jwt_get_alg(jwt) == alg;
	jwt_free(jwt);
	return good;
}

static bool
b64url_text(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == strlen(s);
}

/* What RS256 and ES256 share: the signed token and its header. */
static char *
asym_roundtrip(struct hb_jwt_keys *k, const char *name,
    const char *alg)
{
	struct hb_claims c, out;
	struct hb_error err = {0};
	char text[1024], s[64];
	char *token;

	ok(k->kid[0] != '\0' && b64url_text(k->kid), "%s: a kid (%s)", name,
	    k->kid);
	ok(k->verify_key != NULL && strncmp((const char *)k->verify_key,
	    "-----BEGIN PUBLIC KEY-----", 26) == 0 &&
	    strstr((const char *)k->verify_key, "PRIVATE") == NULL,
	    "%s: the verification key is the public PEM", name);
	good_claims(&c);
	token = auth_jwt_sign(k, ISS, &c);
	ok(token != NULL, "%s: auth_jwt_sign makes a token", name);
	if (token == NULL)
		return NULL;
	is_int(verify_at(k, token, NOW, &out, &err), 0, "%s: it verifies",
	    name);
	ok(strcmp(out.sub, SUB) == 0 && strcmp(out.org, ORG) == 0 &&
	    strcmp(out.sid, SID) == 0 && strcmp(out.jti, JTI) == 0 &&
	    strcmp(out.role, "admin") == 0 && out.iat == NOW - 5 &&
	    out.exp == NOW + 895, "%s: round trip of every claim", name);
	refused_at(k, token, NOW + 895, "expired, whatever the algorithm");
	part(token, 0, text, sizeof(text));
	is_str(json_str(text, "alg", s, sizeof(s)), alg, "%s: header alg %s",
	    name, alg);
	is_str(json_str(text, "kid", s, sizeof(s)), k->kid, "%s: the header "
	    "carries the kid", name);
	is_str(json_str(text, "typ", s, sizeof(s)), "JWT", "%s: header typ "
	    "JWT", name);
	return token;
}

/* The attacks with any asymmetric key. */
static void
asym_attacks(struct hb_jwt_keys *k, const char *name, jwt_alg_t alg,
    const char *priv_path, const char *other_path)
{
	char what[128], pay[4096], buf[8192];
	char *t, *pem, *pem2;
	size_t n, n2;
	jwt_t *jwt = NULL;
	int rc;

	pem = slurp(priv_path, &n);
	pem2 = slurp(other_path, &n2);
	t = lj(alg, pem, n, NULL, k->kid);
	snprintf(what, sizeof(what), "%s: control: libjwt signs with the key "
	    "file", name);
	accepted(k, t, what);
	free(t);

	/* The alg-confusion attack: HMAC keyed with the public PEM. */
	t = lj(JWT_ALG_HS256, k->verify_key, (size_t)k->verify_len, NULL,
	    k->kid);
	rc = jwt_decode(&jwt, t, k->verify_key, k->verify_len);
	ok(rc == 0 && jwt_get_alg(jwt) == JWT_ALG_HS256, "%s: libjwt pin: "
	    "jwt_decode takes HS256 keyed with the public PEM (alg confusion)",
	    name);
	jwt_free(jwt);
	jwt = NULL;
	snprintf(what, sizeof(what), "%s: ALG CONFUSION: HS256 keyed with the "
	    "public key PEM", name);
	refused(k, t, what);
	free(t);
	payload(pay, sizeof(pay), &(struct pl){ 0 });
	hand(buf, sizeof(buf), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pay,
	    EVP_sha256(), k->verify_key, (size_t)k->verify_len, NULL);
	snprintf(what, sizeof(what), "%s: ALG CONFUSION by hand", name);
	refused(k, buf, what);
	hand(buf, sizeof(buf), "{\"alg\":\"HS512\"}", pay,
	    EVP_sha512(), k->verify_key, (size_t)k->verify_len, NULL);
	snprintf(what, sizeof(what), "%s: ALG CONFUSION with HS512", name);
	refused(k, buf, what);

	/* Another key of the same kind. */
	t = lj(alg, pem2, n2, NULL, k->kid);
	snprintf(what, sizeof(what), "%s: signed by another key (with our kid)",
	    name);
	refused(k, t, what);
	free(t);
	/* SECRET_KEY no longer signs anything. */
	t = lj_hs(NULL);
	snprintf(what, sizeof(what), "%s: HS256 under SECRET_KEY", name);
	refused(k, t, what);
	free(t);
	hand(buf, sizeof(buf), "{\"alg\":\"none\"}", pay, NULL, NULL, 0, "");
	snprintf(what, sizeof(what), "%s: alg none", name);
	refused(k, buf, what);
	/* A signature of ours on another token. */
	{
		struct hb_claims c;
		char *mine, good[8192];

		good_claims(&c);
		mine = auth_jwt_sign(k, ISS, &c);
		hand(good, sizeof(good), "{\"alg\":\"HS256\"}", pay, NULL, NULL,
		    0, strrchr(mine, '.') + 1);
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(strchr(mine, '.') -
		    mine), mine, strchr(good, '.'));
		snprintf(what, sizeof(what), "%s: our header and signature on "
		    "another payload", name);
		refused(k, buf, what);
		free(mine);
	}
	free(pem);
	free(pem2);
}

static void
test_rs256(void)
{
	struct hb_jwt_keys k, k2, kb;
	struct hb_error err = {0};
	struct json_object *jwks, *key;
	unsigned char nbuf[600], ebuf[16], *mod;
	long nlen, elen;
	char *token, *pem, *rsapem;
	size_t rsalen;
	EVP_PKEY *pkey;
	BIGNUM *bn = NULL;
	jwt_t *jwt = NULL;

	is_int(load(&k, path_rsa, &err), 0, "RS256: a 2048-bit RSA key loads "
	    "(%s)", err.message);
	is_int(k.alg, JWT_ALG_RS256, "RS256: the algorithm is RS256");
	token = asym_roundtrip(&k, "RS256", "RS256");
	if (token == NULL)
		return;
	is_int(part_len(token, 2), 256, "RS256: the signature is 256 bytes");

	/* The kid names the key: the same key, the same kid; another, not. */
	is_int(load(&k2, path_rsa, &err), 0, "RS256: the key loads again");
	is_str(k2.kid, k.kid, "RS256: the same key gives the same kid");
	auth_jwt_keys_free(&k2);
	is_int(load(&kb, path_rsa2, &err), 0, "RS256: another key loads");
	ok(strcmp(kb.kid, k.kid) != 0, "RS256: another key, another kid");
	refused(&kb, token, "RS256: our token under another key");
	auth_jwt_keys_free(&kb);

	/* The JWKS. */
	jwks = json_tokener_parse(k.jwks);
	key = the_jwk(jwks, &k, "RSA", "RS256");
	if (key != NULL) {
		is_int(json_object_object_length(key), 6, "RS256: the JWK has "
		    "kty, kid, use, alg, n, e and nothing else");
		nlen = jwk_bytes(key, "n", nbuf, sizeof(nbuf));
		elen = jwk_bytes(key, "e", ebuf, sizeof(ebuf));
		is_int(nlen, 256, "RS256: n is base64url of 256 bytes");
		ok(nlen > 0 && nbuf[0] != 0, "RS256: n has no leading zero byte");
		ok(elen == 3 && memcmp(ebuf, "\x01\x00\x01", 3) == 0,
		    "RS256: e is AQAB (65537)");
		pkey = read_key(path_rsa);
		mod = calloc(1, 600);
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn) ==
		    1 && mod != NULL)
			BN_bn2bin(bn, mod);
		ok(nlen == 256 && bn != NULL && BN_num_bytes(bn) == 256 &&
		    memcmp(mod, nbuf, 256) == 0, "RS256: n is the key's "
		    "modulus");
		BN_free(bn);
		free(mod);
		EVP_PKEY_free(pkey);
		pem = rsa_pem_from_jwk(nbuf, nlen, ebuf, elen);
		ok(jwks_verifies(token, pem, JWT_ALG_RS256), "RS256: the "
		    "token verifies with a key built from the JWKS alone");
		free(pem);
	}
	json_object_put(jwks);

	asym_attacks(&k, "RS256", JWT_ALG_RS256, path_rsa, path_rsa2);
	/* RS384 / RS512 with the very key: only the algorithm differs. */
	rsapem = slurp(path_rsa, &rsalen);
	{
		char *t = lj(JWT_ALG_RS384, rsapem, rsalen, NULL, k.kid);

		ok(jwt_decode(&jwt, t, k.verify_key, k.verify_len) == 0 &&
		    jwt_get_alg(jwt) == JWT_ALG_RS384, "RS256: libjwt pin: "
		    "jwt_decode takes RS384 under the RS256 public key");
		jwt_free(jwt);
		jwt = NULL;
		refused(&k, t, "RS256: RS384 signed with the right key");
		free(t);
		t = lj(JWT_ALG_RS512, rsapem, rsalen, NULL, k.kid);
		refused(&k, t, "RS256: RS512 signed with the right key");
		free(t);
	}
	free(rsapem);
	free(token);
	auth_jwt_keys_free(&k);
	ok(k.sign_key == NULL && k.verify_key == NULL && k.jwks == NULL,
	    "auth_jwt_keys_free leaves nothing behind");
}

static void
test_es256(void)
{
	struct hb_jwt_keys k, kb;
	struct hb_error err = {0};
	struct json_object *jwks, *key, *v;
	unsigned char x[64], y[64], pt[65];
	long xlen, ylen;
	size_t ptlen = 0;
	char *token, *pem;
	EVP_PKEY *pkey;

	is_int(load(&k, path_p256, &err), 0, "ES256: a P-256 key loads (%s)",
	    err.message);
	is_int(k.alg, JWT_ALG_ES256, "ES256: the algorithm is ES256");
	token = asym_roundtrip(&k, "ES256", "ES256");
	if (token == NULL)
		return;
	/* JOSE wants r || s, 64 bytes, not DER. */
	is_int(part_len(token, 2), 64, "ES256: the signature is r||s, 64 "
	    "bytes");
	is_int(load(&kb, path_p256b, &err), 0, "ES256: another P-256 key loads");
	ok(strcmp(kb.kid, k.kid) != 0, "ES256: another key, another kid");
	refused(&kb, token, "ES256: our token under another key");
	auth_jwt_keys_free(&kb);

	jwks = json_tokener_parse(k.jwks);
	key = the_jwk(jwks, &k, "EC", "ES256");
	if (key != NULL) {
		is_int(json_object_object_length(key), 7, "ES256: the JWK has "
		    "kty, kid, use, alg, crv, x, y and nothing else");
		ok(json_object_object_get_ex(key, "crv", &v) &&
		    strcmp(json_object_get_string(v), "P-256") == 0,
		    "ES256: crv P-256");
		xlen = jwk_bytes(key, "x", x, sizeof(x));
		ylen = jwk_bytes(key, "y", y, sizeof(y));
		is_int(xlen, 32, "ES256: x is base64url of 32 bytes");
		is_int(ylen, 32, "ES256: y is base64url of 32 bytes");
		pkey = read_key(path_p256);
		EVP_PKEY_get_octet_string_param(pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &ptlen);
		EVP_PKEY_free(pkey);
		ok(ptlen == 65 && xlen == 32 && ylen == 32 &&
		    memcmp(pt + 1, x, 32) == 0 && memcmp(pt + 33, y, 32) == 0,
		    "ES256: x and y are the key's point");
		if (xlen == 32 && ylen == 32) {
			pem = ec_pem_from_jwk(x, y);
			ok(jwks_verifies(token, pem, JWT_ALG_ES256), "ES256: the "
			    "token verifies with a key built from the JWKS "
			    "alone");
			free(pem);
		} else
			ok(0, "ES256: no x and y to build a key from");
	}
	json_object_put(jwks);

	asym_attacks(&k, "ES256", JWT_ALG_ES256, path_p256, path_p256b);
	/* An RS256 token against the ES256 keys. */
	{
		size_t n;
		char *rsapem = slurp(path_rsa, &n);
		char *t = lj(JWT_ALG_RS256, rsapem, n, NULL, k.kid);

		refused(&k, t, "ES256: an RS256 token");
		free(t);
		free(rsapem);
	}
	free(token);
	auth_jwt_keys_free(&k);
}

static void
test_load_failures(void)
{
	static const struct {
		const char	*path;
		const char	*what;
	} bad[] = {
		{ path_missing, "a missing file" },
		{ path_txt, "a file that is not a key" },
		{ path_empty, "an empty file" },
		{ path_pub, "a public key only" },
		{ path_rsa1024, "a 1024-bit RSA key" },
		{ path_p384, "a P-384 key" },
		{ path_k1, "a secp256k1 key (256 bits, but not P-256)" },
		{ path_ed, "an Ed25519 key" },
		{ "/", "a directory" },
	};
	struct hb_jwt_keys k;
	struct hb_error err = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		memset(&k, 0x5a, sizeof(k));
		rc = load(&k, bad[i].path, &err);
		is_int(rc, -1, "JWT_PRIVATE_KEY_FILE=%s: refused", bad[i].what);
		has_str(err.message, "JWT_PRIVATE_KEY_FILE", "...the error "
		    "names JWT_PRIVATE_KEY_FILE (%s)", bad[i].what);
		ok(err.status == 500, "...a 500 (%s)", bad[i].what);
		ok(k.sign_key == NULL && k.verify_key == NULL &&
		    k.jwks == NULL, "...and no keys are left (%s)",
		    bad[i].what);
		if (rc == 0)
			auth_jwt_keys_free(&k);
	}
}

/* ---------------------------------------------------------------- */
/* The cache of verified tokens                                     */
/* ---------------------------------------------------------------- */

static void
test_cache(void)
{
	struct hb_jwt_keys k;
	struct hb_claims first, out;
	struct hb_error err = {0};
	char buf[8192], jti[64], *t;
	unsigned long h;
	int wrong = 0, n = 5000;

	is_int(auth_jwt_keys_load(&k, &cfg, &err), 0, "cache: keys load");
	t = lj_hs(NULL);
	is_int(verify_at(&k, t, NOW, &first, &err), 0,
	    "cache: a token verifies");
	is_int(auth_jwt_cache_hits(&k), 0, "cache: the first time in full");
	ok(verify_at(&k, t, NOW + 1, &out, &err) == 0 &&
	    memcmp(&out, &first, sizeof(out)) == 0,
	    "cache: the second time, the same claims");
	is_int(auth_jwt_cache_hits(&k), 1, "cache: from the cache");
	refused_at(&k, t, NOW + 840, "from the cache, at exp");
	is_int(auth_jwt_cache_hits(&k), 2, "cache: exp is checked on a hit");
	accepted_at(&k, t, NOW, "cache: before exp again");
	is_int(auth_jwt_cache_hits(&k), 2, "cache: an expired token's way was "
	    "emptied: verified in full");
	h = auth_jwt_cache_hits(&k);
	ok(auth_jwt_verify(&k, "someone-else", t, NOW, &out, &err) == -1 &&
	    err.status == 401, "cache: refused for another issuer");
	hb_error_clear(&err);
	is_int(auth_jwt_cache_hits(&k), h, "cache: which is another entry");
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	refused_at(&k, t, NOW, "cache: the cached token with another "
	    "signature");
	free(t);

	/* nbf: refused before it, accepted at it, refused before it again. */
	hand_hs(buf, sizeof(buf), &(struct pl){ .nbf = "1750000100" });
	refused_at(&k, buf, NOW, "cache: nbf ahead");
	accepted_at(&k, buf, NOW + 100, "cache: at nbf");
	h = auth_jwt_cache_hits(&k);
	refused_at(&k, buf, NOW + 50, "cache: before nbf, from the cache");
	is_int(auth_jwt_cache_hits(&k), h + 1, "cache: nbf is checked on a "
	    "hit");

	/* A token refused is refused again, in full: none is kept. */
	h = auth_jwt_cache_hits(&k);
	hand_hs(buf, sizeof(buf), &(struct pl){ .sub = JS("not-a-uuid") });
	refused_at(&k, buf, NOW, "cache: signed, sub not a uuid");
	refused_at(&k, buf, NOW, "cache: signed, sub not a uuid, again");
	hand(buf, sizeof(buf), "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
	    "{\"iss\":"
	    "\"homebot\",\"sub\":\"" SUB "\",\"org\":\"" ORG "\",\"role\":"
	    "\"member\",\"sid\":\"" SID "\",\"jti\":\"" JTI "\",\"typ\":"
	    "\"access\",\"iat\":1749999000,\"exp\":1750000900}", EVP_sha384(),
	    SECRET, strlen(SECRET), NULL);
	refused_at(&k, buf, NOW, "cache: HS384 under the secret");
	refused_at(&k, buf, NOW, "cache: HS384 under the secret, again");
	is_int(auth_jwt_cache_hits(&k), h, "cache: no refused token was kept");

	/* More tokens than entries: a hit is always that token's own. */
	h = auth_jwt_cache_hits(&k);
	for (int i = 0; i < n; i++) {
		snprintf(jti, sizeof(jti), "\"0f1e2d3c-4b5a-4968-8776-%012d\"",
		    i);
		hand_hs(buf, sizeof(buf), &(struct pl){ .jti = jti });
		for (int twice = 0; twice < 2; twice++)
			if (verify_at(&k, buf, NOW, &out, &err) != 0 ||
			    strncmp(out.jti, jti + 1, 36) != 0)
				wrong++;
	}
	is_int(wrong, 0, "cache: %d tokens verified twice each, each with "
	    "its own claims", n);
	is_int(auth_jwt_cache_hits(&k) - h, n, "cache: each second time from "
	    "the cache");
	auth_jwt_keys_free(&k);
	is_int(auth_jwt_cache_hits(&k), 0, "cache: freed with the keys");
}

/* The set (of 1,024) a token falls in: its digest's first two bytes. */
static unsigned
cache_set_of(const char *token)
{
	unsigned char d[HB_SHA256_LEN];
	char buf[8192];
	int n = snprintf(buf, sizeof(buf), "%s\n%s", ISS, token);

	if (crypto_sha256(buf, (size_t)n, d) == -1)
		abort();
	return ((unsigned)d[0] << 8 | d[1]) & 1023;
}

/* Five tokens of one set: the one found or put longest ago goes first. */
static void
test_cache_lru(void)
{
	struct hb_jwt_keys k;
	struct hb_claims out;
	struct hb_error err = {0};
	char t[5][2048], buf[2048], jti[64];
	unsigned want = 0;
	unsigned long h;
	int found = 0;

	if (auth_jwt_keys_load(&k, &cfg, &err) == -1) {
		ok(0, "cache LRU: keys load");
		return;
	}
	for (int i = 0; i < 200000 && found < 5; i++) {
		snprintf(jti, sizeof(jti), "\"1f1e2d3c-4b5a-4968-8776-%012d\"",
		    i);
		hand_hs(buf, sizeof(buf), &(struct pl){ .jti = jti });
		if (found == 0)
			want = cache_set_of(buf);
		if (cache_set_of(buf) == want)
			snprintf(t[found++], sizeof(t[0]), "%s", buf);
	}
	is_int(found, 5, "cache LRU: five tokens of one set");
	for (int i = 0; i < 4; i++)
		verify_at(&k, t[i], NOW, &out, &err);
	verify_at(&k, t[0], NOW, &out, &err);	/* t[1] is now the oldest */
	verify_at(&k, t[4], NOW, &out, &err);	/* and makes room */
	h = auth_jwt_cache_hits(&k);
	ok(verify_at(&k, t[0], NOW, &out, &err) == 0 &&
	    auth_jwt_cache_hits(&k) == h + 1, "cache LRU: the one found "
	    "again stays");
	ok(verify_at(&k, t[1], NOW, &out, &err) == 0 &&
	    auth_jwt_cache_hits(&k) == h + 1, "cache LRU: the oldest went, "
	    "and verifies in full");
	ok(verify_at(&k, t[4], NOW, &out, &err) == 0 &&
	    auth_jwt_cache_hits(&k) == h + 2, "cache LRU: the newest stays");
	auth_jwt_keys_free(&k);
}

int
main(void)
{
	plan(360);
	test_hs_load();
	test_hs_roundtrip();
	test_hs_controls();
	test_hs_none();
	test_hs_other_algs();
	test_hs_signature();
	test_hs_tampered();
	test_hs_claims();
	test_hs_shapes();
	test_libjwt_pins();
	test_cache();
	test_cache_lru();
	make_keys();
	test_rs256();
	test_es256();
	test_load_failures();
	auth_jwt_keys_free(&hs);
	return done_testing();
}
