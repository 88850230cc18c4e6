#ifndef HB_VAULT_H
#define HB_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Envelope encryption for the secrets of api.md §11, AES-256-GCM through
 * OpenSSL's EVP interface: a master key (VAULT_MASTER_KEY) wraps one data
 * key per organization, and each data key encrypts that organization's
 * values. The database only ever holds the wrapped data keys and the value
 * blobs.
 *
 * A master key is the standard base64 of 32 bytes with its padding (44
 * characters, as `openssl rand -base64 32` prints them); its key id is
 * then 16 hex digits derived from the key (an HMAC under it, which tells
 * nothing of the key). "<key id>:<base64>" gives a key id of one's own
 * instead: 1 to 32 characters of A-Z a-z 0-9 '.' '_' '-'. VAULT_OLD_KEYS
 * lists retired master keys the same way, comma-separated: they unwrap,
 * they never wrap. Key ids are unique across both settings.
 *
 * Wrapped data key, 66 + key id bytes:
 *	0x01 | key id length (1) | key id | nonce (12) | encrypted key (32) |
 *	tag (16)
 * with the associated data "homebot-vault-dk\0" | the bytes before the
 * nonce | organization id length (1) | organization id.
 *
 * Value blob, 29 + value bytes:
 *	0x01 | nonce (12) | ciphertext (as long as the value) | tag (16)
 * with the associated data "homebot-vault-value\0" | 0x01 |
 * organization id length (1) | organization id | secret id length (1) |
 * secret id | value version (8, big-endian).
 *
 * Each nonce is 96 random bits from the kernel, drawn anew for every
 * encryption; tags are 128 bits. A wrong key, a wrong organization, secret
 * or version, and any changed byte all give the one error VAULT_E_DECRYPT,
 * and no plaintext. Every key and plaintext this module holds, in its own
 * buffers or OpenSSL's, is wiped (OPENSSL_cleanse) before it is released,
 * on success and on error alike.
 */

#define VAULT_KEY_LEN		32
#define VAULT_NONCE_LEN		12
#define VAULT_TAG_LEN		16
#define VAULT_KID_MAX		32
/* A key id derived from its key: hex digits. */
#define VAULT_KID_DERIVED_LEN	16
#define VAULT_OLD_KEYS_MAX	16
/* Organization and secret ids: 1-128 bytes (a UUID's text is 36). */
#define VAULT_ID_MAX		128
/* The largest value vault_encrypt takes (api.md §11 allows 64 KiB). */
#define VAULT_VALUE_MAX		(1 << 20)
#define VAULT_BLOB_VERSION	0x01
#define VAULT_BLOB_OVERHEAD	(1 + VAULT_NONCE_LEN + VAULT_TAG_LEN)
#define VAULT_WRAPPED_MAX	(2 + VAULT_KID_MAX + VAULT_NONCE_LEN + \
				 VAULT_KEY_LEN + VAULT_TAG_LEN)

enum vault_status {
	VAULT_OK = 0,
	VAULT_E_MISSING,	/* VAULT_MASTER_KEY is not set */
	VAULT_E_FORMAT,		/* an empty entry */
	VAULT_E_KID,		/* key id empty, too long, bad character */
	VAULT_E_BASE64,		/* the key is not padded standard base64 */
	VAULT_E_KEY_LENGTH,	/* the key does not decode to 32 bytes */
	VAULT_E_DUPLICATE_KID,	/* one key id names two keys */
	VAULT_E_TOO_MANY,	/* more than VAULT_OLD_KEYS_MAX old keys */
	VAULT_E_UNKNOWN_KID,	/* a wrapped key's key id is not loaded */
	VAULT_E_DECRYPT,	/* malformed, tampered, wrong key or AAD */
	VAULT_E_ARG,		/* an id or a value out of bounds */
	VAULT_E_INTERNAL,	/* no memory or randomness, OpenSSL failed */
};

/* A short English description of rc; never NULL, never a key. */
const char	*vault_strerror(int rc);

/* A data key, on the caller's stack: vault_data_key_wipe() when done. */
struct vault_data_key {
	unsigned char	bytes[VAULT_KEY_LEN];
};

struct vault_keyring;

/*
 * Parses VAULT_MASTER_KEY and VAULT_OLD_KEYS (old may be NULL or empty)
 * into *out, which the caller frees with vault_keyring_free(). On error
 * *out is NULL and err->message names the setting and what is wrong with
 * it (never the key itself). Returns VAULT_OK or the error.
 */
int	vault_keyring_load(struct vault_keyring **out, const char *master,
	    const char *old, struct hb_error *err);
/* Wipes every key and frees kr; NULL is a no-op. */
void	vault_keyring_free(struct vault_keyring *kr);
/* The current master key's id, borrowed from kr. */
const char	*vault_keyring_kid(const struct vault_keyring *kr);

/* Fills dk with 32 bytes from the kernel's CSPRNG. */
int	vault_data_key_generate(struct vault_data_key *dk);
void	vault_data_key_wipe(struct vault_data_key *dk);

/*
 * Wraps dk with the current master key for organization org_id. *out is
 * malloc'ed, *outlen <= VAULT_WRAPPED_MAX; the caller free()s it (it
 * holds nothing in clear).
 */
int	vault_wrap(const struct vault_keyring *kr, const char *org_id,
	    const struct vault_data_key *dk, unsigned char **out,
	    size_t *outlen);
/*
 * Unwraps with the master key the blob names, current or old, into *dk:
 * VAULT_E_UNKNOWN_KID when no key of that id is loaded, VAULT_E_DECRYPT
 * for anything else wrong. On error *dk is zeroed.
 */
int	vault_unwrap(const struct vault_keyring *kr, const char *org_id,
	    const unsigned char *wrapped, size_t len,
	    struct vault_data_key *dk);
/*
 * The key id a wrapped key names, into kid[VAULT_KID_MAX + 1]; only the
 * header is read, nothing is decrypted or authenticated.
 */
int	vault_wrapped_kid(const unsigned char *wrapped, size_t len,
	    char kid[VAULT_KID_MAX + 1]);
/*
 * Master-key rotation: unwraps with whichever key the blob names and
 * wraps again with the current one; *out as vault_wrap's.
 */
int	vault_rewrap(const struct vault_keyring *kr, const char *org_id,
	    const unsigned char *wrapped, size_t len, unsigned char **out,
	    size_t *outlen);

/* What a value is bound to: a blob decrypts only under the same three. */
struct vault_aad {
	const char	*org_id;
	const char	*secret_id;
	uint64_t	 version;
};

/*
 * Encrypts len bytes (0 to VAULT_VALUE_MAX) into a value blob of len +
 * VAULT_BLOB_OVERHEAD bytes. *out is malloc'ed and the caller free()s it.
 */
int	vault_encrypt(const struct vault_data_key *dk,
	    const struct vault_aad *aad, const void *value, size_t len,
	    unsigned char **out, size_t *outlen);
/*
 * Decrypts a value blob. *out is malloc'ed with *outlen + 1 bytes, the
 * last one NUL; the caller releases it with vault_plaintext_free(). On
 * error *out is NULL and *outlen 0: no byte of plaintext escapes.
 */
int	vault_decrypt(const struct vault_data_key *dk,
	    const struct vault_aad *aad, const unsigned char *blob,
	    size_t len, unsigned char **out, size_t *outlen);
/* Wipes len bytes of p (and its NUL) and frees it; NULL is a no-op. */
void	vault_plaintext_free(unsigned char *p, size_t len);

/*
 * The bare AES-256-GCM underneath, with the caller's nonce: for the
 * known-answer tests and for nothing else, since a nonce used twice under
 * one key gives away both plaintexts and the authentication key. ct and
 * pt are len bytes; aad may be NULL when aadlen is 0. When the tag does
 * not verify, vault_gcm_open wipes pt before it returns VAULT_E_DECRYPT.
 */
int	vault_gcm_seal(const unsigned char key[VAULT_KEY_LEN],
	    const unsigned char nonce[VAULT_NONCE_LEN],
	    const unsigned char *aad, size_t aadlen,
	    const unsigned char *pt, size_t len, unsigned char *ct,
	    unsigned char tag[VAULT_TAG_LEN]);
int	vault_gcm_open(const unsigned char key[VAULT_KEY_LEN],
	    const unsigned char nonce[VAULT_NONCE_LEN],
	    const unsigned char *aad, size_t aadlen,
	    const unsigned char *ct, size_t len,
	    const unsigned char tag[VAULT_TAG_LEN], unsigned char *pt);

#endif
