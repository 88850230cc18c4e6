#ifndef HB_MFA_H
#define HB_MFA_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "arena.h"
#include "db.h"
#include "error.h"
#include "totp.h"
#include "vault.h"

/*
 * The data of api.md §12's TOTP: a user's secret, encrypted with the
 * vault's keys (lib/vault.h) before it reaches the database, the recovery
 * codes (SHA-256 only) and the second steps of logins (mfa_token, SHA-256
 * only). The functions it calls are in schema/R__mfa.sql.
 *
 * A person's second factor is the person's, in every organization they
 * belong to, so the secret is bound to the user, not to an organization:
 * each enrolment draws its own data key, wrapped by the master key with
 * the binding id "user:<user id>" (vault_wrap's id), and the secret's
 * value blob is bound to that id, the name "totp" and the enrolment's
 * generation. A blob copied to another user or another enrolment does not
 * decrypt.
 *
 * Each call returns 0, or -1 with err set; the code checks also return 1
 * for a wrong (or replayed) code, which the caller counts as a failed
 * login. Strings live in the arena a unless said otherwise.
 */

#define MFA_RECOVERY_CODES	10
/* "xxxxx-xxxxx": 10 base32 characters (50 bits) and a dash. */
#define MFA_RECOVERY_LEN	11
#define MFA_TOKEN_TTL		300

/* A user's stored TOTP secret, decrypted; mfa_secret_wipe() when done. */
struct hb_mfa_secret {
	bool		 enabled;	/* TOTP is on (else pending or none) */
	bool		 present;	/* a secret is stored */
	uint64_t	 generation;
	unsigned char	 bytes[TOTP_SECRET_LEN];
};
void	mfa_secret_wipe(struct hb_mfa_secret *s);

/*
 * POST /auth/mfa/totp: a new pending secret for user_id (replacing a
 * pending one), and *out = {secret, otpauth_uri, qr_svg}, which the
 * caller releases: 409 mfa_enabled while TOTP is on; 503 without a
 * usable VAULT_MASTER_KEY (kr NULL).
 */
int	mfa_begin(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct vault_keyring *kr, const char *issuer,
	    const char *user_id, const char *email, struct json_object **out,
	    struct hb_error *err);

/* user_id's stored secret, decrypted into *s (zeroed when none). */
int	mfa_secret_load(struct hb_db *db, const struct vault_keyring *kr,
	    const char *user_id, struct hb_mfa_secret *s,
	    struct hb_error *err);

/*
 * POST /auth/mfa/totp/confirm: code against the pending secret s; when
 * right, TOTP is on and *codes the 10 new recovery codes (a JSON array
 * the caller releases). 1: wrong code. 409 mfa_enabled, 409
 * mfa_not_started (no pending secret, or it changed meanwhile).
 */
int	mfa_confirm(struct hb_db *db, const struct hb_db_ctx *ctx,
	    const struct hb_mfa_secret *s, const char *user_id,
	    const char *code, struct json_object **codes,
	    struct hb_error *err);

/*
 * Whether code is a right, unused code of user_id's active secret s, and
 * uses it (no replay) inside the transaction open on db: 0 yes, 1 no.
 */
int	mfa_code_use(struct hb_db *db, const struct hb_mfa_secret *s,
	    const char *user_id, const char *code, struct hb_error *err);

/*
 * POST /auth/mfa/recovery-codes, once the code was used in the open
 * transaction: replaces the recovery codes, commits, *codes as above.
 */
int	mfa_recovery_replace(struct hb_db *db, const char *user_id,
	    struct json_object **codes, struct hb_error *err);

/*
 * DELETE /auth/mfa/totp, once the code was used in the open transaction:
 * TOTP off, the other sessions revoked, committed.
 */
int	mfa_disable(struct hb_db *db, const char *user_id,
	    const char *session_id, struct hb_error *err);

/*
 * POST /auth/login with TOTP on: a new mfa_token (in the arena) for the
 * login of user_id whose password matched verified_hash; org_id the
 * organization asked for (or NULL), rehash a stronger hash to store (or
 * NULL).
 */
int	mfa_challenge_new(struct hb_db *db, struct hb_arena *a,
	    const char *user_id, const char *org_id, const char *verified_hash,
	    const char *rehash, const char **token, struct hb_error *err);

/* The live login of an mfa_token, for POST /auth/mfa/verify. */
struct hb_mfa_challenge {
	char		 token_hex[2 * 32 + 1];
	const char	*user_id;
	const char	*email;
	/* What login_start needs once the second step is right. */
	const char	*org_id;
	const char	*verified_hash;
	const char	*rehash;
};

/* 401 invalid_mfa_token when token names no live login; *s its secret. */
int	mfa_challenge_get(struct hb_db *db, const struct vault_keyring *kr,
	    struct hb_arena *a, const char *token, struct hb_mfa_challenge *c,
	    struct hb_mfa_secret *s, struct hb_error *err);

/*
 * Completes the login of c with a TOTP code or a recovery code (exactly
 * one of them): uses the token and the code. 1: the code is wrong,
 * replayed, or a used recovery code; 401 invalid_mfa_token when another
 * request completed it first or it expired meanwhile.
 */
int	mfa_challenge_finish(struct hb_db *db, struct hb_arena *a,
	    struct hb_mfa_challenge *c, const struct hb_mfa_secret *s,
	    const char *code, const char *recovery_code, struct hb_error *err);

/*
 * A recovery code as typed (any case, dashes and spaces ignored) into the
 * hex of the SHA-256 the table keeps: 0; -1 when it cannot be one, -2
 * when the digest could not be made (hex unset either way).
 */
int	mfa_recovery_hash(const char *code, char hex[2 * 32 + 1]);

/* The attempt login_lookup recorded for a right code no longer counts. */
int	mfa_attempt_clear(struct hb_db *db, const char *email,
	    const char *attempt_id, struct hb_error *err);

#endif
