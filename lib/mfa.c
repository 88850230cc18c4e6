#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth_token.h"
#include "crypto.h"
#include "mfa.h"

static const char SQL_GET[] =
    "SELECT enabled, encode(wrapped_key, 'hex') AS wrapped_key,"
    " encode(secret, 'hex') AS secret, generation"
    " FROM homebot.mfa_totp_get($1)";
static const char SQL_BEGIN[] =
    "SELECT homebot.mfa_totp_begin($1, decode($2, 'hex'), decode($3, 'hex'),"
    " $4) AS status";
static const char SQL_CONFIRM[] =
    "SELECT homebot.mfa_totp_confirm($1, $2, $3, " "ARRAY(SELECT decode(h,"
    " 'hex') FROM unnest($4::text[]) h)) AS status";
static const char SQL_USE[] =
    "SELECT homebot.mfa_totp_use($1, $2, $3) AS ok";
static const char SQL_REPLACE[] =
    "SELECT homebot.mfa_recovery_replace($1, ARRAY(SELECT decode(h, 'hex')"
    " FROM unnest($2::text[]) h)) AS ok";
static const char SQL_DISABLE[] =
    "SELECT homebot.mfa_disable($1, $2)";
static const char SQL_CHALLENGE_NEW[] =
    "SELECT homebot.mfa_challenge_new($1, decode($2, 'hex'), $3, $4, $5, $6)";
static const char SQL_CHALLENGE_GET[] =
    "SELECT user_id, email, encode(wrapped_key, 'hex') AS wrapped_key,"
    " encode(secret, 'hex') AS secret, generation"
    " FROM homebot.mfa_challenge_get(decode($1, 'hex'))";
static const char SQL_CHALLENGE_FINISH[] =
    "SELECT status, requested_org, verified_hash, rehash"
    " FROM homebot.mfa_challenge_finish(decode($1, 'hex'), $2, $3,"
    " decode($4, 'hex'))";
static const char SQL_ATTEMPT_CLEAR[] =
    "SELECT homebot.mfa_attempt_clear($1, $2)";

/* The base32 alphabet of the recovery codes, lowercase. */
static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

static int
unavailable(struct hb_error *err)
{
	return hb_fail(err, 503, "service_unavailable", "Two-factor "
	    "authentication needs the vault's master key (VAULT_MASTER_KEY),"
	    " which this server does not have.");
}

static int
internal(struct hb_error *err)
{
	return hb_fail(err, 500, "internal_error",
	    "The second factor could not be processed.");
}

static int
unreadable(struct hb_error *err)
{
	return hb_fail(err, 500, "internal_error", "The stored TOTP secret "
	    "does not decrypt under the vault's keys.");
}

void
mfa_secret_wipe(struct hb_mfa_secret *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

/* "user:<user id>", the vault binding of a user's secret. */
static void
binding(const char *user_id, char out[VAULT_ID_MAX + 1])
{
	snprintf(out, VAULT_ID_MAX + 1, "user:%s", user_id);
}

/* Decodes hex s into out[max]; the length, or -1. */
static long
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 1;

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = isxdigit((unsigned char)s[2 * i]) ?
		    (isdigit((unsigned char)s[2 * i]) ? s[2 * i] - '0' :
		    (tolower((unsigned char)s[2 * i]) - 'a' + 10)) : -1;
		int lo = isxdigit((unsigned char)s[2 * i + 1]) ?
		    (isdigit((unsigned char)s[2 * i + 1]) ? s[2 * i + 1] - '0' :
		    (tolower((unsigned char)s[2 * i + 1]) - 'a' + 10)) : -1;

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* Decrypts the row's secret into s; 0 or -1 with err. */
static int
secret_from_row(const struct vault_keyring *kr, const char *user_id,
    const PGresult *res, struct hb_mfa_secret *s, struct hb_error *err)
{
	unsigned char wrapped[VAULT_WRAPPED_MAX], blob[VAULT_BLOB_OVERHEAD +
	    TOTP_SECRET_LEN], *plain = NULL;
	const char *gen = db_value(res, 0, "generation");
	char bind[VAULT_ID_MAX + 1];
	struct vault_data_key dk;
	struct vault_aad aad = { bind, "totp", 0 };
	long wlen, blen;
	size_t plen = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	s->enabled = db_bool(res, 0, "enabled");
	if (gen == NULL)
		return 0;
	if (kr == NULL)
		return unavailable(err);
	s->present = true;
	s->generation = strtoull(gen, NULL, 10);
	wlen = unhex(db_value(res, 0, "wrapped_key"), wrapped, sizeof(wrapped));
	blen = unhex(db_value(res, 0, "secret"), blob, sizeof(blob));
	if (wlen < 0 || blen < 0)
		return unreadable(err);
	binding(user_id, bind);
	aad.version = s->generation;
	if (vault_unwrap(kr, bind, wrapped, (size_t)wlen, &dk) != VAULT_OK)
		return unreadable(err);
	rc = vault_decrypt(&dk, &aad, blob, (size_t)blen, &plain, &plen);
	vault_data_key_wipe(&dk);
	if (rc != VAULT_OK || plen != TOTP_SECRET_LEN) {
		vault_plaintext_free(plain, plen);
		mfa_secret_wipe(s);
		return unreadable(err);
	}
	memcpy(s->bytes, plain, TOTP_SECRET_LEN);
	vault_plaintext_free(plain, plen);
	return 0;
}

int
mfa_secret_load(struct hb_db *db, const struct vault_keyring *kr,
    const char *user_id, struct hb_mfa_secret *s, struct hb_error *err)
{
	const char *params[1] = { user_id };
	PGresult *res = db_exec(db, SQL_GET, 1, params, err);
	int rc;

	memset(s, 0, sizeof(*s));
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1 ?
	    secret_from_row(kr, user_id, res, s, err) : 0;
	PQclear(res);
	return rc;
}

/*
 * Encrypts secret for user_id's enrolment of generation gen: the hex of
 * the wrapped data key and of the value blob, malloc'ed (the caller frees
 * both; neither holds anything in clear). 0 or -1.
 */
static int
seal(const struct vault_keyring *kr, const char *user_id, uint64_t gen,
    const unsigned char *secret, char **wrapped_hex, char **blob_hex)
{
	char bind[VAULT_ID_MAX + 1];
	struct vault_data_key dk;
	struct vault_aad aad = { bind, "totp", gen };
	unsigned char *wrapped = NULL, *blob = NULL;
	size_t wlen = 0, blen = 0;
	int rc;

	*wrapped_hex = *blob_hex = NULL;
	binding(user_id, bind);
	if (vault_data_key_generate(&dk) != VAULT_OK)
		return -1;
	rc = vault_wrap(kr, bind, &dk, &wrapped, &wlen);
	if (rc == VAULT_OK)
		rc = vault_encrypt(&dk, &aad, secret, TOTP_SECRET_LEN, &blob,
		    &blen);
	vault_data_key_wipe(&dk);
	if (rc == VAULT_OK) {
		*wrapped_hex = malloc(2 * wlen + 1);
		*blob_hex = malloc(2 * blen + 1);
	}
	if (*wrapped_hex != NULL && *blob_hex != NULL) {
		crypto_hex(wrapped, wlen, *wrapped_hex);
		crypto_hex(blob, blen, *blob_hex);
	} else
		rc = -1;
	free(wrapped);
	free(blob);
	if (rc != VAULT_OK) {
		free(*wrapped_hex);
		free(*blob_hex);
		*wrapped_hex = *blob_hex = NULL;
		return -1;
	}
	return 0;
}

/* The answer of POST /auth/mfa/totp; NULL: no memory. */
static struct json_object *
enrolment_json(const char *issuer, const char *email, const char *b32)
{
	char *uri = totp_uri(issuer, email, b32), *svg;
	struct json_object *o;

	if (uri == NULL)
		return NULL;
	svg = totp_qr_svg(uri);
	if (svg == NULL) {
		OPENSSL_cleanse(uri, strlen(uri));
		free(uri);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "secret", json_object_new_string(b32));
	json_object_object_add(o, "otpauth_uri", json_object_new_string(uri));
	json_object_object_add(o, "qr_svg", json_object_new_string(svg));
	OPENSSL_cleanse(uri, strlen(uri));
	free(uri);
	free(svg);
	return o;
}

int
mfa_begin(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct vault_keyring *kr, const char *issuer, const char *user_id,
    const char *email, struct json_object **out, struct hb_error *err)
{
	unsigned char secret[TOTP_SECRET_LEN];
	char b32[TOTP_B32_LEN + 1], gen[24], *wrapped_hex, *blob_hex;
	const char *params[4], *status;
	struct timespec ts;
	PGresult *res;
	int rc;

	*out = NULL;
	if (kr == NULL)
		return unavailable(err);
	/* Each enrolment's generation: its microsecond, never 0. */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(gen, sizeof(gen), "%" PRIu64, (uint64_t)ts.tv_sec * 1000000u +
	    (uint64_t)ts.tv_nsec / 1000u + 1u);
	if (totp_secret_new(secret) == -1 ||
	    totp_base32(secret, sizeof(secret), b32) == -1 ||
	    seal(kr, user_id, strtoull(gen, NULL, 10), secret, &wrapped_hex,
	    &blob_hex) == -1) {
		OPENSSL_cleanse(secret, sizeof(secret));
		OPENSSL_cleanse(b32, sizeof(b32));
		return internal(err);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	params[0] = user_id;
	params[1] = wrapped_hex;
	params[2] = blob_hex;
	params[3] = gen;
	res = db_tenant_query(db, ctx, false, SQL_BEGIN, 4, params, err);
	free(wrapped_hex);
	free(blob_hex);
	if (res == NULL) {
		OPENSSL_cleanse(b32, sizeof(b32));
		return -1;
	}
	status = db_value(res, 0, "status");
	if (status != NULL && strcmp(status, "ok") == 0) {
		*out = enrolment_json(issuer, email, b32);
		rc = *out != NULL ? 0 : internal(err);
	} else if (status != NULL && strcmp(status, "mfa_enabled") == 0)
		rc = hb_fail(err, 409, "mfa_enabled",
		    "TOTP is already on for this account.");
	else
		rc = hb_fail(err, 401, "invalid_token",
		    "The access token is not valid.");
	PQclear(res);
	OPENSSL_cleanse(b32, sizeof(b32));
	return rc;
}

/*
 * 10 new recovery codes: *codes the JSON array of them, lits the text[]
 * literal of their hashes' hex (caller-sized). 0 or -1.
 */
static int
recovery_new(struct json_object **codes,
    char lit[MFA_RECOVERY_CODES * (2 * HB_SHA256_LEN + 1) + 3])
{
	char *p = lit;

	*codes = json_object_new_array();
	*p++ = '{';
	for (int i = 0; i < MFA_RECOVERY_CODES; i++) {
		unsigned char rnd[10];
		char code[MFA_RECOVERY_LEN + 1], hex[2 * HB_SHA256_LEN + 1];

		if (crypto_random(rnd, sizeof(rnd)) == -1) {
			json_object_put(*codes);
			*codes = NULL;
			return -1;
		}
		for (int j = 0, k = 0; j < 10; j++) {
			if (j == 5)
				code[k++] = '-';
			code[k++] = B32[rnd[j] & 31];
		}
		code[MFA_RECOVERY_LEN] = '\0';
		if (mfa_recovery_hash(code, hex) != 0) {
			OPENSSL_cleanse(code, sizeof(code));
			OPENSSL_cleanse(rnd, sizeof(rnd));
			json_object_put(*codes);
			*codes = NULL;
			return -1;
		}
		json_object_array_add(*codes, json_object_new_string(code));
		if (i > 0)
			*p++ = ',';
		memcpy(p, hex, 2 * HB_SHA256_LEN);
		p += 2 * HB_SHA256_LEN;
		OPENSSL_cleanse(code, sizeof(code));
		OPENSSL_cleanse(rnd, sizeof(rnd));
	}
	*p++ = '}';
	*p = '\0';
	return 0;
}

int
mfa_recovery_hash(const char *code, char hex[2 * HB_SHA256_LEN + 1])
{
	char norm[16];
	unsigned char h[HB_SHA256_LEN];
	size_t n = 0;
	int rc;

	for (; *code != '\0'; code++) {
		char c = (char)tolower((unsigned char)*code);

		if (c == '-' || c == ' ')
			continue;
		if (strchr(B32, c) == NULL || c == '\0' || n == 10)
			return -1;
		norm[n++] = c;
	}
	if (n != 10)
		return -1;
	rc = crypto_sha256(norm, n, h);
	OPENSSL_cleanse(norm, sizeof(norm));
	if (rc == -1)
		return -2;
	crypto_hex(h, sizeof(h), hex);
	return 0;
}

int
mfa_confirm(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_mfa_secret *s, const char *user_id, const char *code,
    struct json_object **codes, struct hb_error *err)
{
	char lit[MFA_RECOVERY_CODES * (2 * HB_SHA256_LEN + 1) + 3];
	char gen[24], stepbuf[24];
	const char *params[4] = { user_id, gen, stepbuf, lit }, *status;
	uint64_t step;
	PGresult *res;
	int rc;

	*codes = NULL;
	if (s->enabled)
		return hb_fail(err, 409, "mfa_enabled",
		    "TOTP is already on for this account.");
	if (!s->present)
		return hb_fail(err, 409, "mfa_not_started", "Start the "
		    "enrolment first: POST /api/v1/auth/mfa/totp.");
	if (totp_check(s->bytes, TOTP_SECRET_LEN, time(NULL), TOTP_WINDOW,
	    code, &step) == -1)
		return 1;
	if (recovery_new(codes, lit) == -1)
		return internal(err);
	snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
	snprintf(stepbuf, sizeof(stepbuf), "%" PRIu64, step);
	res = db_tenant_query(db, ctx, false, SQL_CONFIRM, 4, params, err);
	if (res == NULL) {
		json_object_put(*codes);
		*codes = NULL;
		return -1;
	}
	status = db_value(res, 0, "status");
	if (status != NULL && strcmp(status, "ok") == 0)
		rc = 0;
	else if (status != NULL && strcmp(status, "mfa_enabled") == 0)
		rc = hb_fail(err, 409, "mfa_enabled",
		    "TOTP is already on for this account.");
	else
		rc = hb_fail(err, 409, "mfa_not_started", "The enrolment "
		    "changed meanwhile; start it again.");
	PQclear(res);
	if (rc != 0) {
		json_object_put(*codes);
		*codes = NULL;
	}
	return rc;
}

int
mfa_code_use(struct hb_db *db, const struct hb_mfa_secret *s,
    const char *user_id, const char *code, struct hb_error *err)
{
	char gen[24], stepbuf[24];
	const char *params[3] = { user_id, gen, stepbuf };
	uint64_t step;
	PGresult *res;
	bool ok;

	if (!s->enabled || !s->present ||
	    totp_check(s->bytes, TOTP_SECRET_LEN, time(NULL), TOTP_WINDOW,
	    code, &step) == -1)
		return 1;
	snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
	snprintf(stepbuf, sizeof(stepbuf), "%" PRIu64, step);
	if ((res = db_exec(db, SQL_USE, 3, params, err)) == NULL)
		return -1;
	ok = db_bool(res, 0, "ok");
	PQclear(res);
	return ok ? 0 : 1;
}

int
mfa_recovery_replace(struct hb_db *db, const char *user_id,
    struct json_object **codes, struct hb_error *err)
{
	char lit[MFA_RECOVERY_CODES * (2 * HB_SHA256_LEN + 1) + 3];
	const char *params[2] = { user_id, lit };
	PGresult *res;
	bool ok;

	if (recovery_new(codes, lit) == -1) {
		db_tx_rollback(db);
		return internal(err);
	}
	if ((res = db_exec(db, SQL_REPLACE, 2, params, err)) == NULL) {
		json_object_put(*codes);
		*codes = NULL;
		return -1;
	}
	ok = db_bool(res, 0, "ok");
	PQclear(res);
	if (!ok || db_tx_commit(db, err) == -1) {
		db_tx_rollback(db);
		json_object_put(*codes);
		*codes = NULL;
		return ok ? -1 : hb_fail(err, 409, "mfa_not_enabled",
		    "TOTP is not on for this account.");
	}
	return 0;
}

int
mfa_disable(struct hb_db *db, const char *user_id, const char *session_id,
    struct hb_error *err)
{
	const char *params[2] = { user_id, session_id };
	PGresult *res = db_exec(db, SQL_DISABLE, 2, params, err);

	if (res == NULL)
		return -1;
	PQclear(res);
	return db_tx_commit(db, err);
}

int
mfa_challenge_new(struct hb_db *db, struct hb_arena *a, const char *user_id,
    const char *org_id, const char *verified_hash, const char *rehash,
    const char **token, struct hb_error *err)
{
	char hex[HB_TOKEN_HEX_LEN], ttl[16];
	const char *params[6] = { user_id, hex, org_id, verified_hash, rehash,
	    ttl };
	PGresult *res;

	if ((*token = auth_token_new(a, hex, err)) == NULL)
		return -1;
	snprintf(ttl, sizeof(ttl), "%d", MFA_TOKEN_TTL);
	if ((res = db_exec(db, SQL_CHALLENGE_NEW, 6, params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
mfa_challenge_get(struct hb_db *db, const struct vault_keyring *kr,
    struct hb_arena *a, const char *token, struct hb_mfa_challenge *c,
    struct hb_mfa_secret *s, struct hb_error *err)
{
	const char *params[1];
	PGresult *res;
	int rc;

	memset(s, 0, sizeof(*s));
	memset(c, 0, sizeof(*c));
	if (auth_token_hex(token, c->token_hex, err) == -1)
		return -1;
	params[0] = c->token_hex;
	if ((res = db_exec(db, SQL_CHALLENGE_GET, 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return hb_fail(err, 401, "invalid_mfa_token", "The mfa_token "
		    "is not valid (unknown, used or expired): log in again.");
	}
	c->user_id = arena_strdup(a, db_value(res, 0, "user_id"));
	c->email = arena_strdup(a, db_value(res, 0, "email"));
	/* The challenge exists only while TOTP is on. */
	rc = c->user_id == NULL || c->email == NULL ?
	    hb_fail(err, 503, "service_unavailable", "Out of memory.") :
	    secret_from_row(kr, c->user_id, res, s, err);
	s->enabled = rc == 0;
	PQclear(res);
	return rc;
}

int
mfa_challenge_finish(struct hb_db *db, struct hb_arena *a,
    struct hb_mfa_challenge *c, const struct hb_mfa_secret *s,
    const char *code, const char *recovery_code, struct hb_error *err)
{
	char gen[24], stepbuf[24], hash[2 * HB_SHA256_LEN + 1];
	const char *params[4] = { c->token_hex, gen, NULL, NULL }, *status;
	uint64_t step;
	PGresult *res;
	int rc;

	snprintf(gen, sizeof(gen), "%" PRIu64, s->generation);
	if (code != NULL) {
		if (totp_check(s->bytes, TOTP_SECRET_LEN, time(NULL),
		    TOTP_WINDOW, code, &step) == -1)
			return 1;
		snprintf(stepbuf, sizeof(stepbuf), "%" PRIu64, step);
		params[2] = stepbuf;
	} else {
		rc = recovery_code != NULL ?
		    mfa_recovery_hash(recovery_code, hash) : -1;
		if (rc == -2)
			return hb_fail_internal(err);
		if (rc == -1)
			return 1;
		params[3] = hash;
	}
	res = db_exec(db, SQL_CHALLENGE_FINISH, 4, params, err);
	if (res == NULL)
		return -1;
	status = db_value(res, 0, "status");
	if (status != NULL && strcmp(status, "ok") == 0) {
		const char *org = db_value(res, 0, "requested_org");
		const char *rehash = db_value(res, 0, "rehash");

		c->org_id = org != NULL ? arena_strdup(a, org) : NULL;
		c->verified_hash = arena_strdup(a,
		    db_value(res, 0, "verified_hash"));
		c->rehash = rehash != NULL ? arena_strdup(a, rehash) : NULL;
		rc = c->verified_hash != NULL ? 0 : hb_fail(err, 503,
		    "service_unavailable", "Out of memory.");
	} else if (status != NULL && strcmp(status, "invalid_code") == 0)
		rc = 1;
	else
		rc = hb_fail(err, 401, "invalid_mfa_token", "The mfa_token "
		    "is not valid (unknown, used or expired): log in again.");
	PQclear(res);
	return rc;
}

int
mfa_attempt_clear(struct hb_db *db, const char *email,
    const char *attempt_id, struct hb_error *err)
{
	const char *params[2] = { email, attempt_id };
	PGresult *res;

	if (attempt_id == NULL)
		return 0;
	if ((res = db_exec(db, SQL_ATTEMPT_CLEAR, 2, params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}
