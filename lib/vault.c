#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "vault.h"

/*
 * Domain labels at the head of each associated data, so a wrapped key can
 * never pass for a value blob or the other way round, whatever the bytes.
 */
#define DK_LABEL	"homebot-vault-dk"
#define VALUE_LABEL	"homebot-vault-value"
#define DK_AAD_MAX	(sizeof(DK_LABEL) + 2 + VAULT_KID_MAX + 1 + \
			 VAULT_ID_MAX)
#define VALUE_AAD_MAX	(sizeof(VALUE_LABEL) + 1 + 2 * (1 + VAULT_ID_MAX) + \
			 8)

struct vault_key {
	char		 kid[VAULT_KID_MAX + 1];
	unsigned char	 key[VAULT_KEY_LEN];
};

struct vault_keyring {
	struct vault_key current;
	struct vault_key old[VAULT_OLD_KEYS_MAX];
	int		 nold;
};

const char *
vault_strerror(int rc)
{
	switch (rc) {
	case VAULT_OK:
		return "success";
	case VAULT_E_MISSING:
		return "VAULT_MASTER_KEY is not set";
	case VAULT_E_FORMAT:
		return "expected the base64 of 32 bytes, or <key id>:<base64>";
	case VAULT_E_KID:
		return "the key id must be 1 to 32 characters of "
		    "A-Z a-z 0-9 . _ -";
	case VAULT_E_BASE64:
		return "the key is not padded standard base64";
	case VAULT_E_KEY_LENGTH:
		return "the key must decode to 32 bytes";
	case VAULT_E_DUPLICATE_KID:
		return "a key id names two keys";
	case VAULT_E_TOO_MANY:
		return "too many old keys";
	case VAULT_E_UNKNOWN_KID:
		return "no master key of that key id is loaded";
	case VAULT_E_DECRYPT:
		return "cannot decrypt";
	case VAULT_E_ARG:
		return "an id or a value is out of bounds";
	case VAULT_E_INTERNAL:
		return "internal error (memory, randomness or OpenSSL)";
	default:
		return "unknown vault error";
	}
}

static bool
kid_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
kid_valid(const char *kid, size_t n)
{
	if (n == 0 || n > VAULT_KID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!kid_char((unsigned char)kid[i]))
			return false;
	return true;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Standard base64 with its padding and nothing else: no blanks, no url
 * alphabet, and the unused bits of the last group zero, so a key has one
 * spelling. VAULT_OK with *outlen, VAULT_E_BASE64, or VAULT_E_KEY_LENGTH
 * when it decodes to more than outsz bytes.
 */
static int
b64_decode_strict(const char *in, size_t n, unsigned char *out,
    size_t outsz, size_t *outlen)
{
	size_t pad = 0, o = 0;
	unsigned int v = 0;
	int rc = VAULT_OK;

	if (n == 0 || n % 4 != 0)
		return VAULT_E_BASE64;
	while (pad < 2 && in[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return VAULT_E_BASE64;
	if (n / 4 * 3 - pad > outsz)
		return VAULT_E_KEY_LENGTH;
	for (size_t i = 0; i < n; i += 4) {
		size_t have = i + 4 <= n - pad ? 4 : n - pad - i;

		v = 0;
		for (size_t j = 0; j < 4; j++)
			v = v << 6 | (j < have ?
			    (unsigned int)b64_value((unsigned char)in[i + j]) :
			    0);
		out[o++] = (unsigned char)(v >> 16);
		if (have > 2)
			out[o++] = (unsigned char)(v >> 8);
		if (have > 3)
			out[o++] = (unsigned char)v;
		/* The bits past the last whole byte must be zero. */
		if ((have == 2 && (v & 0xffff) != 0) ||
		    (have == 3 && (v & 0xff) != 0))
			rc = VAULT_E_BASE64;
	}
	OPENSSL_cleanse(&v, sizeof(v));
	if (rc != VAULT_OK) {
		OPENSSL_cleanse(out, o);
		return rc;
	}
	*outlen = o;
	return VAULT_OK;
}

/*
 * The key id of a key given without one: 16 hex digits of an HMAC under
 * the key itself, so the same key always has the same id and the id
 * tells nothing of the key.
 */
static int
kid_derive(const unsigned char key[VAULT_KEY_LEN], char *kid)
{
	static const char label[] = "homebot vault key id";
	unsigned char mac[HB_SHA256_LEN];

	if (crypto_hmac_sha256(key, VAULT_KEY_LEN, label, sizeof(label) - 1,
	    mac) == -1)
		return VAULT_E_INTERNAL;
	crypto_hex(mac, VAULT_KID_DERIVED_LEN / 2, kid);
	return VAULT_OK;
}

/*
 * One entry of n bytes at s into *k: "<base64>" (api.md §11; the key id
 * derived from the key) or "<kid>:<base64>" (a key id of one's choosing).
 * No base64 character is a colon, so the two never meet.
 */
static int
key_parse(const char *s, size_t n, struct vault_key *k)
{
	const char *colon = memchr(s, ':', n);
	const char *b64 = colon != NULL ? colon + 1 : s;
	unsigned char raw[VAULT_KEY_LEN];
	size_t kidlen = colon != NULL ? (size_t)(colon - s) : 0, rawlen = 0;
	int rc;

	if (n == 0)
		return VAULT_E_FORMAT;
	if (colon != NULL && !kid_valid(s, kidlen))
		return VAULT_E_KID;
	/* Without a key id, a character of neither kind is no key at all. */
	for (size_t i = 0; colon == NULL && i < n; i++)
		if (b64_value((unsigned char)s[i]) < 0 && s[i] != '=' &&
		    !kid_char((unsigned char)s[i]))
			return VAULT_E_FORMAT;
	rc = b64_decode_strict(b64, n - (size_t)(b64 - s), raw, sizeof(raw),
	    &rawlen);
	if (rc == VAULT_OK && rawlen != VAULT_KEY_LEN)
		rc = VAULT_E_KEY_LENGTH;
	if (rc == VAULT_OK && colon != NULL) {
		memcpy(k->kid, s, kidlen);
		k->kid[kidlen] = '\0';
	} else if (rc == VAULT_OK)
		rc = kid_derive(raw, k->kid);
	if (rc == VAULT_OK)
		memcpy(k->key, raw, VAULT_KEY_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

static bool
kid_taken(const struct vault_keyring *kr, const char *kid)
{
	if (strcmp(kr->current.kid, kid) == 0)
		return true;
	for (int i = 0; i < kr->nold; i++)
		if (strcmp(kr->old[i].kid, kid) == 0)
			return true;
	return false;
}

/* err's message for rc: the setting, the entry (from 1; 0 for none). */
static int
keyring_fail(struct hb_error *err, int rc, const char *setting, int entry)
{
	if (rc == VAULT_E_FORMAT && entry > 0)
		hb_fail(err, 500, "config", "%s: entry %d: expected the "
		    "base64 of 32 bytes, or <key id>:<base64>, "
		    "comma-separated", setting, entry);
	else if (entry > 0)
		hb_fail(err, 500, "config", "%s: entry %d: %s", setting, entry,
		    vault_strerror(rc));
	else
		hb_fail(err, 500, "config", "%s: %s", setting,
		    vault_strerror(rc));
	return rc;
}

/* The comma-separated VAULT_OLD_KEYS into kr->old. */
static int
keyring_old(struct vault_keyring *kr, const char *old, struct hb_error *err)
{
	const char *p = old;
	int rc, entry = 0;

	if (old == NULL || *old == '\0')
		return VAULT_OK;
	for (;;) {
		size_t n = strcspn(p, ",");
		struct vault_key *k;

		entry++;
		if (kr->nold == VAULT_OLD_KEYS_MAX) {
			hb_fail(err, 500, "config", "VAULT_OLD_KEYS: more than "
			    "%d keys", VAULT_OLD_KEYS_MAX);
			return VAULT_E_TOO_MANY;
		}
		k = &kr->old[kr->nold];
		rc = key_parse(p, n, k);
		if (rc != VAULT_OK)
			return keyring_fail(err, rc, "VAULT_OLD_KEYS", entry);
		if (kid_taken(kr, k->kid)) {
			hb_fail(err, 500, "config", "VAULT_OLD_KEYS: entry %d: "
			    "the key id \"%s\" is taken (key ids are unique "
			    "across VAULT_MASTER_KEY and VAULT_OLD_KEYS)", entry,
			    k->kid);
			return VAULT_E_DUPLICATE_KID;
		}
		kr->nold++;
		if (p[n] == '\0')
			return VAULT_OK;
		p += n + 1;
	}
}

int
vault_keyring_load(struct vault_keyring **out, const char *master,
    const char *old, struct hb_error *err)
{
	struct vault_keyring *kr;
	int rc;

	*out = NULL;
	if (master == NULL || *master == '\0') {
		hb_fail(err, 500, "config", "VAULT_MASTER_KEY is not set "
		    "(the base64 of 32 random bytes)");
		return VAULT_E_MISSING;
	}
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL) {
		hb_fail(err, 500, "config", "out of memory");
		return VAULT_E_INTERNAL;
	}
	rc = key_parse(master, strlen(master), &kr->current);
	if (rc != VAULT_OK)
		keyring_fail(err, rc, "VAULT_MASTER_KEY", 0);
	else
		rc = keyring_old(kr, old, err);
	if (rc != VAULT_OK) {
		vault_keyring_free(kr);
		return rc;
	}
	*out = kr;
	return VAULT_OK;
}

void
vault_keyring_free(struct vault_keyring *kr)
{
	if (kr == NULL)
		return;
	OPENSSL_cleanse(kr, sizeof(*kr));
	free(kr);
}

const char *
vault_keyring_kid(const struct vault_keyring *kr)
{
	return kr->current.kid;
}

static const struct vault_key *
keyring_find(const struct vault_keyring *kr, const unsigned char *kid,
    size_t n)
{
	if (strlen(kr->current.kid) == n &&
	    memcmp(kr->current.kid, kid, n) == 0)
		return &kr->current;
	for (int i = 0; i < kr->nold; i++)
		if (strlen(kr->old[i].kid) == n &&
		    memcmp(kr->old[i].kid, kid, n) == 0)
			return &kr->old[i];
	return NULL;
}

int
vault_data_key_generate(struct vault_data_key *dk)
{
	if (crypto_random(dk->bytes, sizeof(dk->bytes)) == -1) {
		vault_data_key_wipe(dk);
		return VAULT_E_INTERNAL;
	}
	return VAULT_OK;
}

void
vault_data_key_wipe(struct vault_data_key *dk)
{
	OPENSSL_cleanse(dk->bytes, sizeof(dk->bytes));
}

/* A new AES-256-GCM context for key and nonce, or NULL. */
static EVP_CIPHER_CTX *
gcm_begin(const unsigned char *key, const unsigned char *nonce, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, VAULT_NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1) {
		/* Freeing a context wipes the key schedule in it. */
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

int
vault_gcm_seal(const unsigned char key[VAULT_KEY_LEN],
    const unsigned char nonce[VAULT_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *pt, size_t len, unsigned char *ct,
    unsigned char tag[VAULT_TAG_LEN])
{
	unsigned char last[16];
	EVP_CIPHER_CTX *c;
	int outl = 0, rc = VAULT_E_INTERNAL;

	if (len > INT_MAX || aadlen > INT_MAX)
		return VAULT_E_ARG;
	if ((c = gcm_begin(key, nonce, 1)) == NULL)
		return VAULT_E_INTERNAL;
	if ((aadlen == 0 || EVP_EncryptUpdate(c, NULL, &outl, aad,
	    (int)aadlen) == 1) &&
	    (len == 0 || (EVP_EncryptUpdate(c, ct, &outl, pt,
	    (int)len) == 1 && (size_t)outl == len)) &&
	    EVP_EncryptFinal_ex(c, last, &outl) == 1 && outl == 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, VAULT_TAG_LEN,
	    tag) == 1)
		rc = VAULT_OK;
	EVP_CIPHER_CTX_free(c);
	if (rc != VAULT_OK && len > 0)
		OPENSSL_cleanse(ct, len);
	return rc;
}

int
vault_gcm_open(const unsigned char key[VAULT_KEY_LEN],
    const unsigned char nonce[VAULT_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *ct, size_t len,
    const unsigned char tag[VAULT_TAG_LEN], unsigned char *pt)
{
	unsigned char last[16], want[VAULT_TAG_LEN];
	EVP_CIPHER_CTX *c;
	int outl = 0, rc = VAULT_E_DECRYPT;

	if (len > INT_MAX || aadlen > INT_MAX)
		return VAULT_E_ARG;
	if ((c = gcm_begin(key, nonce, 0)) == NULL)
		return VAULT_E_INTERNAL;
	/* SET_TAG takes a writable pointer: hand it a copy. */
	memcpy(want, tag, VAULT_TAG_LEN);
	if ((aadlen == 0 || EVP_DecryptUpdate(c, NULL, &outl, aad,
	    (int)aadlen) == 1) &&
	    (len == 0 || (EVP_DecryptUpdate(c, pt, &outl, ct,
	    (int)len) == 1 && (size_t)outl == len)) &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, VAULT_TAG_LEN,
	    want) == 1 &&
	    EVP_DecryptFinal_ex(c, last, &outl) == 1 && outl == 0)
		rc = VAULT_OK;
	EVP_CIPHER_CTX_free(c);
	/* Plaintext that failed its tag may be an attacker's: none leaves. */
	if (rc != VAULT_OK && len > 0)
		OPENSSL_cleanse(pt, len);
	return rc;
}

static bool
id_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strnlen(id, VAULT_ID_MAX + 1);
	return n > 0 && n <= VAULT_ID_MAX;
}

/* Appends a one-byte length and the id; the id is valid (id_valid). */
static size_t
put_id(unsigned char *p, const char *id)
{
	size_t n = strlen(id);

	p[0] = (unsigned char)n;
	memcpy(p + 1, id, n);
	return n + 1;
}

/* The wrapping's associated data: the label, the blob's header, org_id. */
static size_t
dk_aad(unsigned char out[DK_AAD_MAX], const unsigned char *header,
    size_t hlen, const char *org_id)
{
	size_t n = sizeof(DK_LABEL);

	memcpy(out, DK_LABEL, sizeof(DK_LABEL));
	memcpy(out + n, header, hlen);
	n += hlen;
	return n + put_id(out + n, org_id);
}

/*
 * Checks a wrapped key's framing: VAULT_OK with its key id's length, or
 * VAULT_E_DECRYPT.
 */
static int
wrapped_check(const unsigned char *w, size_t len, size_t *kidlen)
{
	size_t kl;

	if (w == NULL || len < 2 || w[0] != VAULT_BLOB_VERSION)
		return VAULT_E_DECRYPT;
	kl = w[1];
	if (len != 2 + kl + VAULT_NONCE_LEN + VAULT_KEY_LEN + VAULT_TAG_LEN ||
	    !kid_valid((const char *)w + 2, kl))
		return VAULT_E_DECRYPT;
	*kidlen = kl;
	return VAULT_OK;
}

int
vault_wrap(const struct vault_keyring *kr, const char *org_id,
    const struct vault_data_key *dk, unsigned char **out, size_t *outlen)
{
	const struct vault_key *mk = &kr->current;
	size_t kl = strlen(mk->kid), hlen = 2 + kl, n, aadlen;
	unsigned char aad[DK_AAD_MAX], *w, *nonce;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (!id_valid(org_id))
		return VAULT_E_ARG;
	n = hlen + VAULT_NONCE_LEN + VAULT_KEY_LEN + VAULT_TAG_LEN;
	if ((w = malloc(n)) == NULL)
		return VAULT_E_INTERNAL;
	w[0] = VAULT_BLOB_VERSION;
	w[1] = (unsigned char)kl;
	memcpy(w + 2, mk->kid, kl);
	nonce = w + hlen;
	if (crypto_random(nonce, VAULT_NONCE_LEN) == -1) {
		free(w);
		return VAULT_E_INTERNAL;
	}
	aadlen = dk_aad(aad, w, hlen, org_id);
	rc = vault_gcm_seal(mk->key, nonce, aad, aadlen, dk->bytes,
	    VAULT_KEY_LEN, nonce + VAULT_NONCE_LEN,
	    nonce + VAULT_NONCE_LEN + VAULT_KEY_LEN);
	if (rc != VAULT_OK) {
		free(w);
		return rc;
	}
	*out = w;
	*outlen = n;
	return VAULT_OK;
}

int
vault_unwrap(const struct vault_keyring *kr, const char *org_id,
    const unsigned char *wrapped, size_t len, struct vault_data_key *dk)
{
	const struct vault_key *mk;
	const unsigned char *nonce;
	unsigned char aad[DK_AAD_MAX];
	size_t kl, aadlen;
	int rc;

	OPENSSL_cleanse(dk->bytes, sizeof(dk->bytes));
	if (!id_valid(org_id))
		return VAULT_E_ARG;
	if ((rc = wrapped_check(wrapped, len, &kl)) != VAULT_OK)
		return rc;
	if ((mk = keyring_find(kr, wrapped + 2, kl)) == NULL)
		return VAULT_E_UNKNOWN_KID;
	nonce = wrapped + 2 + kl;
	aadlen = dk_aad(aad, wrapped, 2 + kl, org_id);
	return vault_gcm_open(mk->key, nonce, aad, aadlen,
	    nonce + VAULT_NONCE_LEN, VAULT_KEY_LEN,
	    nonce + VAULT_NONCE_LEN + VAULT_KEY_LEN, dk->bytes);
}

int
vault_wrapped_kid(const unsigned char *wrapped, size_t len,
    char kid[VAULT_KID_MAX + 1])
{
	size_t kl;
	int rc;

	kid[0] = '\0';
	if ((rc = wrapped_check(wrapped, len, &kl)) != VAULT_OK)
		return rc;
	memcpy(kid, wrapped + 2, kl);
	kid[kl] = '\0';
	return VAULT_OK;
}

int
vault_rewrap(const struct vault_keyring *kr, const char *org_id,
    const unsigned char *wrapped, size_t len, unsigned char **out,
    size_t *outlen)
{
	struct vault_data_key dk;
	int rc;

	*out = NULL;
	*outlen = 0;
	rc = vault_unwrap(kr, org_id, wrapped, len, &dk);
	if (rc == VAULT_OK)
		rc = vault_wrap(kr, org_id, &dk, out, outlen);
	vault_data_key_wipe(&dk);
	return rc;
}

/* A value's associated data into out; VAULT_E_ARG for a bad id. */
static int
value_aad(unsigned char out[VALUE_AAD_MAX], const struct vault_aad *a,
    size_t *len)
{
	size_t n = sizeof(VALUE_LABEL);

	if (a == NULL || !id_valid(a->org_id) || !id_valid(a->secret_id))
		return VAULT_E_ARG;
	memcpy(out, VALUE_LABEL, sizeof(VALUE_LABEL));
	out[n++] = VAULT_BLOB_VERSION;
	n += put_id(out + n, a->org_id);
	n += put_id(out + n, a->secret_id);
	for (int i = 7; i >= 0; i--)
		out[n++] = (unsigned char)(a->version >> (8 * i));
	*len = n;
	return VAULT_OK;
}

int
vault_encrypt(const struct vault_data_key *dk, const struct vault_aad *aad,
    const void *value, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char ad[VALUE_AAD_MAX], *b;
	size_t adlen;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len > VAULT_VALUE_MAX || (value == NULL && len > 0))
		return VAULT_E_ARG;
	if ((rc = value_aad(ad, aad, &adlen)) != VAULT_OK)
		return rc;
	if ((b = malloc(len + VAULT_BLOB_OVERHEAD)) == NULL)
		return VAULT_E_INTERNAL;
	b[0] = VAULT_BLOB_VERSION;
	if (crypto_random(b + 1, VAULT_NONCE_LEN) == -1) {
		free(b);
		return VAULT_E_INTERNAL;
	}
	rc = vault_gcm_seal(dk->bytes, b + 1, ad, adlen, value, len,
	    b + 1 + VAULT_NONCE_LEN, b + 1 + VAULT_NONCE_LEN + len);
	if (rc != VAULT_OK) {
		free(b);
		return rc;
	}
	*out = b;
	*outlen = len + VAULT_BLOB_OVERHEAD;
	return VAULT_OK;
}

int
vault_decrypt(const struct vault_data_key *dk, const struct vault_aad *aad,
    const unsigned char *blob, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char ad[VALUE_AAD_MAX], *pt;
	size_t adlen, n;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = value_aad(ad, aad, &adlen)) != VAULT_OK)
		return rc;
	if (blob == NULL || len < VAULT_BLOB_OVERHEAD ||
	    len - VAULT_BLOB_OVERHEAD > VAULT_VALUE_MAX ||
	    blob[0] != VAULT_BLOB_VERSION)
		return VAULT_E_DECRYPT;
	n = len - VAULT_BLOB_OVERHEAD;
	if ((pt = malloc(n + 1)) == NULL)
		return VAULT_E_INTERNAL;
	rc = vault_gcm_open(dk->bytes, blob + 1, ad, adlen,
	    blob + 1 + VAULT_NONCE_LEN, n, blob + 1 + VAULT_NONCE_LEN + n, pt);
	if (rc != VAULT_OK) {
		/* vault_gcm_open wiped it. */
		free(pt);
		return rc;
	}
	pt[n] = '\0';
	*out = pt;
	*outlen = n;
	return VAULT_OK;
}

void
vault_plaintext_free(unsigned char *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len + 1);
	free(p);
}
