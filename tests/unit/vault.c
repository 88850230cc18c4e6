/*
 * lib/vault: AES-256-GCM against NIST's known answers, the master keys'
 * strict format, data keys wrapped and unwrapped by key id across a
 * rotation, and values bound to their organization, secret and version:
 * any changed byte, any other key and any other row is refused with the
 * one error and no plaintext.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "vault.h"
#include "tap.h"

/* Decodes a test's hex text into out; returns the byte count. */
static size_t
unhex(const char *hex, unsigned char *out, size_t outsz)
{
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 != 0 || n > outsz) {
		printf("Bail out! bad test hex %s\n", hex);
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			printf("Bail out! bad test hex %s\n", hex);
			exit(2);
		}
		out[i] = (unsigned char)b;
	}
	return n;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/*
 * NIST CAVP, gcmEncryptExtIV256.rsp ([Keylen = 256] [IVlen = 96]
 * [Taglen = 128]); the section's PTlen and AADlen in bits, then Count.
 */
static const struct {
	const char	*name;
	const char	*key, *iv, *aad, *pt, *ct, *tag;
} kat[] = {
	{ "PTlen=0 AADlen=0 Count=0",
	  "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
	  "516c33929df5a3284ff463d7", "", "", "",
	  "bdc1ac884d332457a1d2664f168c76f0" },
	{ "PTlen=128 AADlen=0 Count=0",
	  "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
	  "0d18e06c7c725ac9e362e1ce", "", "2db5168e932556f8089a0622981d017d",
	  "fa4362189661d163fcd6a56d8bf0405a",
	  "d636ac1bbedd5cc3ee727dc2ab4a9489" },
	{ "PTlen=128 AADlen=128 Count=0",
	  "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
	  "ac93a1a6145299bde902f21a", "1e0889016f67601c8ebea4943bc23ad6",
	  "2d71bcfa914e4ac045b2aa60955fad24",
	  "8995ae2e6df3dbf96fac7b7137bae67f",
	  "eca5aa77d51d4a0a14d9c51e1da474ab" },
	{ "PTlen=104 AADlen=160 Count=1",
	  "97431e565e8370a4879de962746a2fd67eca868b1c8e51eece2c1f94f74af407",
	  "17fb63066e2726d282ecc610",
	  "78e7374da7c77be5938de8dd76cf0308618306a9",
	  "e21629cc973fbe40176e621d9d", "80dbd469de480389ba6c2fca52",
	  "4e284abb8b4f9f13c7497ae56df05fa5" },
	{ "PTlen=408 AADlen=720 Count=2",
	  "c277df045d0a1a3956958f271055c229d2634427b1d73e99d54920da69f72e01",
	  "79e24f84bc77a21a6cb14ee2",
	  "ca09282238d492029afbd30ea9b4aa9d448d77b4b41a791c35ebe3f8e5034ac7"
	  "1210117a843fae647cea020712c27e5c8f85acf933d5e28430c7770862d8dbb1"
	  "97cbbcfe49dd63f6aa05fbd13e32c459342698dfee5935c7c321",
	  "5ca68d858cc30b1cb0514c4e9de98e1a1a835df401f69e9ec6f1bcb1158f0911"
	  "4dff551683b3827457f77e17a7097b1ea69eac",
	  "5c5223c8eda59a8dc28b08e6c21482a46e5d84d32c7050bf144fc57f4e8094de"
	  "133198da7b4b8398b167204aff837da15d9ab2",
	  "378885950a4491bee3cd681d3c957b9a" },
};

static void
test_kat(void)
{
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		unsigned char key[32], iv[12], aad[128], pt[64], ct[64];
		unsigned char tag[16], got[64], gtag[16], back[64];
		size_t aadlen, ptlen, ctlen;

		unhex(kat[i].key, key, sizeof(key));
		unhex(kat[i].iv, iv, sizeof(iv));
		aadlen = unhex(kat[i].aad, aad, sizeof(aad));
		ptlen = unhex(kat[i].pt, pt, sizeof(pt));
		ctlen = unhex(kat[i].ct, ct, sizeof(ct));
		unhex(kat[i].tag, tag, sizeof(tag));
		if (ctlen != ptlen) {
			printf("Bail out! vector %s: CT and PT differ\n",
			    kat[i].name);
			exit(2);
		}
		memset(got, 0xa5, sizeof(got));
		is_int(vault_gcm_seal(key, iv, aad, aadlen, pt, ptlen, got,
		    gtag), VAULT_OK, "NIST %s: seals", kat[i].name);
		ok(memcmp(got, ct, ctlen) == 0 && memcmp(gtag, tag, 16) == 0,
		    "NIST %s: the ciphertext and tag are NIST's", kat[i].name);
		memset(back, 0xa5, sizeof(back));
		is_int(vault_gcm_open(key, iv, aad, aadlen, ct, ctlen, tag,
		    back), VAULT_OK, "NIST %s: opens", kat[i].name);
		ok(memcmp(back, pt, ptlen) == 0,
		    "NIST %s: the plaintext is NIST's", kat[i].name);
		tag[15] ^= 0x01;
		memset(back, 0xa5, sizeof(back));
		is_int(vault_gcm_open(key, iv, aad, aadlen, ct, ctlen, tag,
		    back), VAULT_E_DECRYPT,
		    "NIST %s: a tag one bit off is refused", kat[i].name);
		ok(all_zero(back, ptlen),
		    "NIST %s: and the output is wiped", kat[i].name);
	}
}

/* "<kid>:<standard base64 of 32 bytes seed, seed+1, ...>" into out. */
static const char *
mkkey(char *out, size_t outsz, const char *kid, unsigned char seed)
{
	unsigned char raw[32], b64[64];

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(seed + i * 7);
	EVP_EncodeBlock(b64, raw, sizeof(raw));
	snprintf(out, outsz, "%s:%s", kid, (const char *)b64);
	return out;
}

static struct vault_keyring *
keyring(const char *master, const char *old)
{
	struct vault_keyring *kr;
	struct hb_error err = {0};
	int rc = vault_keyring_load(&kr, master, old, &err);

	if (rc != VAULT_OK) {
		printf("Bail out! keyring: %s\n", err.message);
		exit(2);
	}
	hb_error_clear(&err);
	return kr;
}

/*
 * Whether msg holds any 8 characters of the key text of the entries in
 * settings (a comma-separated list of "<key>" or "<kid>:<key>").
 */
static bool
leaks(const char *msg, const char *settings)
{
	const char *p = settings;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ","), k = strcspn(p, ":");
		const char *key = k < n ? p + k + 1 : p;
		size_t keylen = n - (size_t)(key - p);

		for (size_t i = 0; i + 8 <= keylen; i++) {
			char piece[9];

			memcpy(piece, key + i, 8);
			piece[8] = '\0';
			if (strstr(msg, piece) != NULL)
				return true;
		}
		p = p[n] == ',' ? p + n + 1 : NULL;
	}
	return false;
}

struct bad_key {
	const char	*why;
	const char	*master;
	const char	*old;
	int		 rc;
	const char	*says;	/* in the message */
};

static void
test_keyring_refused(void)
{
	char good[128], good2[128], other[128], old[2048];
	char longkid[80], many[17 * 80];
	int silent = 0;
	const struct bad_key bad[] = {
		{ "unset", NULL, NULL, VAULT_E_MISSING, "VAULT_MASTER_KEY" },
		{ "empty", "", NULL, VAULT_E_MISSING, "is not set" },
		{ "empty key id", good + 2, NULL, VAULT_E_KID, "key id" },
		{ "a blank in the key id",
		  "k 1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL,
		  VAULT_E_KID, "key id" },
		{ "a colon-less text", "just-some-text", NULL, VAULT_E_BASE64,
		  "VAULT_MASTER_KEY" },
		{ "a text with blanks", "(too long)", NULL, VAULT_E_FORMAT,
		  "expected the base64" },
		{ "a colon-less short key", "AAECAwQFBgcICQoLDA0ODw==", NULL,
		  VAULT_E_KEY_LENGTH, "32 bytes" },
		{ "a plain old key equal to the master", good + 3, good + 3,
		  VAULT_E_DUPLICATE_KID, "is taken" },
		{ "a 33-character key id", longkid, NULL, VAULT_E_KID,
		  "1 to 32" },
		{ "a character outside base64",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "the url alphabet",
		  "k1:-_ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "no padding",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "padding inside",
		  "k1:AAEC=wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "a second spelling (unused bits set)",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "a trailing newline",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", NULL,
		  VAULT_E_BASE64, "base64" },
		{ "nothing after the colon", "k1:", NULL, VAULT_E_BASE64,
		  "base64" },
		{ "16 bytes", "k1:AAECAwQFBgcICQoLDA0ODw==", NULL,
		  VAULT_E_KEY_LENGTH, "32 bytes" },
		{ "31 bytes",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", NULL,
		  VAULT_E_KEY_LENGTH, "32 bytes" },
		{ "48 bytes",
		  "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygp"
		  "KissLS4v", NULL, VAULT_E_KEY_LENGTH, "32 bytes" },
		{ "an old key malformed", good, "k0:AAAA", VAULT_E_KEY_LENGTH,
		  "VAULT_OLD_KEYS: entry 1" },
		{ "an empty old entry", good, old, VAULT_E_FORMAT,
		  "VAULT_OLD_KEYS: entry 2" },
		{ "an old key id equal to the master's", good, good2,
		  VAULT_E_DUPLICATE_KID, "\"k1\"" },
		{ "17 old keys", good, many, VAULT_E_TOO_MANY,
		  "more than 16" },
	};
	struct bad_key dup = { "one old key id twice", good, NULL,
	    VAULT_E_DUPLICATE_KID, "VAULT_OLD_KEYS: entry 2" };

	mkkey(good, sizeof(good), "k1", 1);
	mkkey(good2, sizeof(good2), "k1", 2);
	mkkey(other, sizeof(other), "k0", 3);
	snprintf(old, sizeof(old), "%s,", other);
	memset(longkid, 'a', 33);
	longkid[33] = '\0';
	strcat(longkid, ":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	many[0] = '\0';
	for (int i = 0; i < VAULT_OLD_KEYS_MAX + 1; i++) {
		char kid[16], k[128];

		snprintf(kid, sizeof(kid), "o%d", i);
		if (i > 0)
			strcat(many, ",");
		strcat(many, mkkey(k, sizeof(k), kid, (unsigned char)i));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		const struct bad_key *b = i < sizeof(bad) / sizeof(bad[0]) ?
		    &bad[i] : &dup;
		char twice[512] = "";
		struct vault_keyring *kr = (struct vault_keyring *)&kr;
		struct hb_error err = {0};
		const char *why = b->why;
		bool clean;
		int rc;

		if (b == &dup) {
			snprintf(twice, sizeof(twice), "%s,%s", other, other);
			rc = vault_keyring_load(&kr, b->master, twice, &err);
		} else {
			rc = vault_keyring_load(&kr, b->master, b->old, &err);
		}
		is_int(rc, b->rc, "refused: %s", why);
		clean = !leaks(err.message, b->master) &&
		    !leaks(err.message, b->old) && !leaks(err.message, twice);
		ok(kr == NULL && strstr(err.message, b->says) != NULL && clean,
		    "refused: %s: no keyring, the message says \"%s\" and "
		    "holds no key", why, b->says);
		if (strstr(err.message, b->says) == NULL)
			tap_quote("message", err.message);
		hb_error_clear(&err);
	}
	for (int rc = VAULT_OK; rc <= VAULT_E_INTERNAL + 1; rc++)
		if (vault_strerror(rc) == NULL || *vault_strerror(rc) == '\0')
			silent++;
	is_int(silent, 0, "vault_strerror describes every code");
	ok(strcmp(vault_strerror(VAULT_E_DECRYPT),
	    vault_strerror(VAULT_E_UNKNOWN_KID)) != 0,
	    "vault_strerror tells the errors apart");
}

/*
 * api.md §11's form: the base64 of 32 bytes alone. Its key id comes from
 * the key: the same for the same key, another for another, and it holds
 * nothing of the key; a rotation between such keys works like one between
 * named keys.
 */
static void
test_keyring_plain(void)
{
	char a[128], b[128], kid[VAULT_KID_MAX + 1];
	struct vault_keyring *kr, *kr2, *rot;
	struct vault_data_key dk, back;
	unsigned char *w = NULL;
	size_t wl = 0;
	bool hex = true;

	mkkey(a, sizeof(a), "x", 11);
	mkkey(b, sizeof(b), "x", 12);
	kr = keyring(a + 2, NULL);
	kr2 = keyring(a + 2, "");
	snprintf(kid, sizeof(kid), "%s", vault_keyring_kid(kr));
	for (const char *c = kid; *c != '\0'; c++)
		hex = hex && ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
	ok(strlen(kid) == VAULT_KID_DERIVED_LEN && hex,
	    "a plain key's id is %d hex digits (%s)", VAULT_KID_DERIVED_LEN,
	    kid);
	ok(strcmp(vault_keyring_kid(kr2), kid) == 0,
	    "the same key has the same id");
	ok(!leaks(kid, a + 2), "the id is not the key's text");
	vault_keyring_free(kr2);
	kr2 = keyring(b + 2, NULL);
	ok(strcmp(vault_keyring_kid(kr2), kid) != 0,
	    "another key has another id");
	vault_data_key_generate(&dk);
	ok(vault_wrap(kr, "org-1", &dk, &w, &wl) == VAULT_OK,
	    "a plain master key wraps");
	rot = keyring(b + 2, a + 2);
	ok(vault_unwrap(rot, "org-1", w, wl, &back) == VAULT_OK &&
	    memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) == 0,
	    "and, retired to VAULT_OLD_KEYS, still unwraps");
	ok(vault_unwrap(kr2, "org-1", w, wl, &back) == VAULT_E_UNKNOWN_KID,
	    "another plain key does not know its id");
	free(w);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&back);
	vault_keyring_free(rot);
	vault_keyring_free(kr2);
	vault_keyring_free(kr);
}

static void
test_keyring_loads(void)
{
	char m[128], o1[128], o2[128], old[512];
	struct vault_keyring *kr;
	struct hb_error err = {0};
	int rc;

	mkkey(m, sizeof(m), "2026-12.a_1", 9);
	mkkey(o1, sizeof(o1), "old1", 8);
	mkkey(o2, sizeof(o2), "OLD.2", 7);
	snprintf(old, sizeof(old), "%s,%s", o1, o2);
	rc = vault_keyring_load(&kr, m, old, &err);
	is_int(rc, VAULT_OK, "a master key and two old ones load (%s)",
	    err.message);
	ok(kr != NULL && strcmp(vault_keyring_kid(kr), "2026-12.a_1") == 0,
	    "the current key id is the master key's");
	vault_keyring_free(kr);
	rc = vault_keyring_load(&kr, m, "", &err);
	is_int(rc, VAULT_OK, "an empty VAULT_OLD_KEYS is none");
	vault_keyring_free(kr);
	vault_keyring_free(NULL);
	hb_error_clear(&err);
	test_keyring_plain();
}

static const struct vault_aad row = { "6f1c2a0e-0000-4000-8000-00000000a001",
    "0c9d5e7a-0000-4000-8000-00000000b001", 1 };

static void
test_roundtrip(void)
{
	static const char value[] = "sk-live-0123456789abcdef";
	struct vault_data_key dk;
	unsigned char *blob, *pt, *big;
	size_t blen, ptlen;
	int rc;

	is_int(vault_data_key_generate(&dk), VAULT_OK, "a data key");
	is_int(vault_encrypt(&dk, &row, value, strlen(value), &blob, &blen),
	    VAULT_OK, "encrypts");
	is_int(blen, strlen(value) + VAULT_BLOB_OVERHEAD,
	    "the blob is the value and 29 bytes");
	is_int(blob[0], VAULT_BLOB_VERSION, "the blob starts with its version");
	ok(memmem(blob, blen, value, strlen(value)) == NULL &&
	    memmem(blob, blen, "sk-live", 7) == NULL,
	    "the blob holds no part of the value in clear");
	is_int(vault_decrypt(&dk, &row, blob, blen, &pt, &ptlen), VAULT_OK,
	    "decrypts");
	ok(ptlen == strlen(value) && memcmp(pt, value, ptlen) == 0,
	    "to the value");
	is_int(pt[ptlen], '\0', "the plaintext is NUL-terminated");
	vault_plaintext_free(pt, ptlen);
	vault_plaintext_free(NULL, 0);
	free(blob);

	rc = vault_encrypt(&dk, &row, NULL, 0, &blob, &blen);
	is_int(rc, VAULT_OK, "an empty value encrypts");
	is_int(vault_decrypt(&dk, &row, blob, blen, &pt, &ptlen), VAULT_OK,
	    "and decrypts");
	ok(ptlen == 0 && pt != NULL && pt[0] == '\0', "to nothing");
	vault_plaintext_free(pt, ptlen);
	free(blob);

	big = malloc(VAULT_VALUE_MAX + 1);
	if (big == NULL)
		exit(2);
	for (size_t i = 0; i < VAULT_VALUE_MAX + 1; i++)
		big[i] = (unsigned char)(i * 31);
	rc = vault_encrypt(&dk, &row, big, VAULT_VALUE_MAX, &blob, &blen);
	is_int(rc, VAULT_OK, "the largest value encrypts");
	is_int(vault_decrypt(&dk, &row, blob, blen, &pt, &ptlen), VAULT_OK,
	    "and decrypts");
	ok(ptlen == VAULT_VALUE_MAX && memcmp(pt, big, ptlen) == 0,
	    "to itself");
	vault_plaintext_free(pt, ptlen);
	free(blob);
	blob = (unsigned char *)&blob;
	is_int(vault_encrypt(&dk, &row, big, VAULT_VALUE_MAX + 1, &blob,
	    &blen), VAULT_E_ARG, "a byte more is refused");
	ok(blob == NULL && blen == 0, "and gives nothing");
	free(big);
	vault_data_key_wipe(&dk);
	ok(all_zero(dk.bytes, sizeof(dk.bytes)), "a wiped data key is zero");
}

/* Whether decrypting blob under dk and aad is refused, with no output. */
static bool
refused(const struct vault_data_key *dk, const struct vault_aad *aad,
    const unsigned char *blob, size_t len)
{
	unsigned char *pt = (unsigned char *)&pt;
	size_t ptlen = 99;
	int rc = vault_decrypt(dk, aad, blob, len, &pt, &ptlen);

	if (rc == VAULT_OK)
		vault_plaintext_free(pt, ptlen);
	return rc == VAULT_E_DECRYPT && pt == NULL && ptlen == 0;
}

static void
test_tampering(void)
{
	static const char value[] = "postgres://u:p4ssw0rd@db/app";
	size_t n = strlen(value), blen, bad = 0, region[4] = {0};
	struct vault_data_key dk, other;
	struct vault_aad a;
	unsigned char *blob, *copy, *huge;

	vault_data_key_generate(&dk);
	vault_data_key_generate(&other);
	vault_encrypt(&dk, &row, value, n, &blob, &blen);
	copy = malloc(blen + 1);
	if (copy == NULL)
		exit(2);
	/* Every bit of every byte: version, nonce, ciphertext, tag. */
	for (size_t i = 0; i < blen; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, blob, blen);
			copy[i] ^= (unsigned char)(1u << bit);
			if (refused(&dk, &row, copy, blen))
				continue;
			bad++;
			region[i == 0 ? 0 : i < 13 ? 1 : i < 13 + n ? 2 : 3]++;
		}
	is_int(bad, 0, "every one of the %zu bit flips is refused", blen * 8);
	is_int(region[0], 0, "a changed version byte is refused");
	is_int(region[1], 0, "a changed nonce is refused");
	is_int(region[2], 0, "a changed ciphertext is refused");
	is_int(region[3], 0, "a changed tag is refused");
	ok(refused(&dk, &row, blob, blen - 1), "a truncated blob is refused");
	memcpy(copy, blob, blen);
	copy[blen] = 0;
	ok(refused(&dk, &row, copy, blen + 1), "a lengthened blob is refused");
	ok(refused(&dk, &row, blob, 0) && refused(&dk, &row, blob, 28) &&
	    refused(&dk, &row, NULL, 0), "blobs shorter than 29 bytes are "
	    "refused");
	huge = calloc(1, VAULT_VALUE_MAX + VAULT_BLOB_OVERHEAD + 1);
	if (huge == NULL)
		exit(2);
	huge[0] = VAULT_BLOB_VERSION;
	ok(refused(&dk, &row, huge, VAULT_VALUE_MAX + VAULT_BLOB_OVERHEAD + 1),
	    "a blob of a value larger than VAULT_VALUE_MAX is refused");
	free(huge);

	a = row;
	a.org_id = "6f1c2a0e-0000-4000-8000-00000000a002";
	ok(refused(&dk, &a, blob, blen),
	    "the ciphertext copied to another organization's row is refused");
	a = row;
	a.secret_id = "0c9d5e7a-0000-4000-8000-00000000b002";
	ok(refused(&dk, &a, blob, blen),
	    "the ciphertext copied to another secret is refused");
	a = row;
	a.version = 2;
	ok(refused(&dk, &a, blob, blen),
	    "the ciphertext under another value version is refused");
	a.version = row.version | (1ull << 63);
	ok(refused(&dk, &a, blob, blen),
	    "the version's high bits are bound too");
	ok(refused(&other, &row, blob, blen), "another data key is refused");
	free(blob);

	/* Length-prefixed ids: "ab" + "c" is not "a" + "bc". */
	a.org_id = "ab";
	a.secret_id = "c";
	a.version = 1;
	vault_encrypt(&dk, &a, "v", 1, &blob, &blen);
	a.org_id = "a";
	a.secret_id = "bc";
	ok(refused(&dk, &a, blob, blen),
	    "ids are length-prefixed: \"ab\"+\"c\" is not \"a\"+\"bc\"");
	free(blob);
	free(copy);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&other);
}

static void
test_ids_bounded(void)
{
	char longid[VAULT_ID_MAX + 2];
	struct vault_data_key dk;
	struct vault_aad a = row;
	unsigned char *blob = NULL, *pt;
	size_t blen = 0, ptlen;

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	vault_data_key_generate(&dk);
	a.org_id = "";
	is_int(vault_encrypt(&dk, &a, "v", 1, &blob, &blen), VAULT_E_ARG,
	    "an empty organization id is refused");
	a.org_id = NULL;
	is_int(vault_encrypt(&dk, &a, "v", 1, &blob, &blen), VAULT_E_ARG,
	    "no organization id is refused");
	a = row;
	a.secret_id = longid;
	is_int(vault_encrypt(&dk, &a, "v", 1, &blob, &blen), VAULT_E_ARG,
	    "a secret id of 129 bytes is refused");
	is_int(vault_decrypt(&dk, &a, (const unsigned char *)"x", 1, &pt,
	    &ptlen), VAULT_E_ARG, "and in decrypt too");
	longid[VAULT_ID_MAX] = '\0';
	is_int(vault_encrypt(&dk, &a, "v", 1, &blob, &blen), VAULT_OK,
	    "a secret id of 128 bytes is fine");
	free(blob);
	vault_data_key_wipe(&dk);
}

static void
test_distinct(void)
{
	struct vault_data_key dk, dk2;
	unsigned char *b1, *b2, *w1, *w2;
	size_t l1, l2, wl1, wl2;
	struct vault_keyring *kr;
	char m[128];

	vault_data_key_generate(&dk);
	vault_data_key_generate(&dk2);
	ok(memcmp(dk.bytes, dk2.bytes, VAULT_KEY_LEN) != 0,
	    "two data keys differ");
	vault_encrypt(&dk, &row, "same value", 10, &b1, &l1);
	vault_encrypt(&dk, &row, "same value", 10, &b2, &l2);
	ok(l1 == l2 && memcmp(b1, b2, l1) != 0,
	    "two encryptions of one value differ");
	ok(memcmp(b1 + 1, b2 + 1, VAULT_NONCE_LEN) != 0,
	    "their nonces differ");
	ok(memcmp(b1 + 13, b2 + 13, 10) != 0, "their ciphertexts differ");
	free(b1);
	free(b2);
	kr = keyring(mkkey(m, sizeof(m), "k1", 1), NULL);
	vault_wrap(kr, row.org_id, &dk, &w1, &wl1);
	vault_wrap(kr, row.org_id, &dk, &w2, &wl2);
	ok(wl1 == wl2 && memcmp(w1, w2, wl1) != 0,
	    "two wrappings of one data key differ");
	free(w1);
	free(w2);
	vault_keyring_free(kr);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&dk2);
}

static void
test_wrap(void)
{
	char m[128], wrong[128], kid[VAULT_KID_MAX + 1];
	struct vault_keyring *kr, *wrongkr;
	struct vault_data_key dk, back;
	unsigned char *w, *copy;
	size_t wl, wl2, bad = 0, unknown = 0;

	kr = keyring(mkkey(m, sizeof(m), "k1", 1), NULL);
	wrongkr = keyring(mkkey(wrong, sizeof(wrong), "k1", 2), NULL);
	vault_data_key_generate(&dk);
	is_int(vault_wrap(kr, row.org_id, &dk, &w, &wl), VAULT_OK, "wraps");
	is_int(wl, 2 + 2 + 12 + 32 + 16, "66 bytes and the key id");
	ok(w[0] == VAULT_BLOB_VERSION && w[1] == 2 && memcmp(w + 2, "k1",
	    2) == 0, "the wrapped key starts with its version and key id");
	ok(memmem(w, wl, dk.bytes, VAULT_KEY_LEN) == NULL,
	    "and holds no data key in clear");
	is_int(vault_wrapped_kid(w, wl, kid), VAULT_OK, "names its key id");
	is_str(kid, "k1", "the master key's");
	is_int(vault_unwrap(kr, row.org_id, w, wl, &back), VAULT_OK,
	    "unwraps");
	ok(memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) == 0,
	    "to the data key");
	memset(back.bytes, 0xa5, sizeof(back.bytes));
	is_int(vault_unwrap(wrongkr, row.org_id, w, wl, &back),
	    VAULT_E_DECRYPT, "a wrong master key of the same id is refused");
	ok(all_zero(back.bytes, VAULT_KEY_LEN), "and gives a zero key");
	is_int(vault_unwrap(kr, "another-org", w, wl, &back), VAULT_E_DECRYPT,
	    "a data key copied to another organization is refused");
	is_int(vault_unwrap(kr, "", w, wl, &back), VAULT_E_ARG,
	    "unwrapping for an empty organization id is refused");
	copy = (unsigned char *)&copy;
	is_int(vault_wrap(kr, NULL, &dk, &copy, &wl2), VAULT_E_ARG,
	    "wrapping for no organization is refused");
	ok(copy == NULL && wl2 == 0, "and gives nothing");
	copy = malloc(wl);
	if (copy == NULL)
		exit(2);
	for (size_t i = 0; i < wl; i++)
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			memcpy(copy, w, wl);
			copy[i] ^= (unsigned char)(1u << bit);
			memset(back.bytes, 0xa5, sizeof(back.bytes));
			rc = vault_unwrap(kr, row.org_id, copy, wl, &back);
			if (rc == VAULT_E_UNKNOWN_KID)
				unknown++;
			if ((rc != VAULT_E_DECRYPT && rc != VAULT_E_UNKNOWN_KID) ||
			    !all_zero(back.bytes, VAULT_KEY_LEN))
				bad++;
		}
	is_int(bad, 0, "every bit flip of the wrapped key is refused, with a "
	    "zero key");
	ok(unknown > 0, "a changed key id names an unknown key (%zu flips)",
	    unknown);
	ok(vault_unwrap(kr, row.org_id, w, wl - 1, &back) == VAULT_E_DECRYPT &&
	    vault_unwrap(kr, row.org_id, w, 1, &back) == VAULT_E_DECRYPT &&
	    vault_unwrap(kr, row.org_id, NULL, 0, &back) == VAULT_E_DECRYPT,
	    "a truncated wrapped key is refused");
	is_int(vault_wrapped_kid(w, wl - 1, kid), VAULT_E_DECRYPT,
	    "and names no key id");
	is_str(kid, "", "an empty one");
	free(copy);
	free(w);
	vault_keyring_free(kr);
	vault_keyring_free(wrongkr);
	vault_data_key_wipe(&dk);
}

static void
test_rotation(void)
{
	char k1[128], k2[128], k9[128], kid[VAULT_KID_MAX + 1];
	struct vault_keyring *before, *during, *after, *stranger;
	struct vault_data_key dk, back;
	unsigned char *w1, *w2, *blob, *pt;
	size_t wl1, wl2, blen, ptlen;

	mkkey(k1, sizeof(k1), "k1", 1);
	mkkey(k2, sizeof(k2), "k2", 2);
	before = keyring(k1, NULL);
	during = keyring(k2, k1);
	after = keyring(k2, NULL);
	stranger = keyring(mkkey(k9, sizeof(k9), "k9", 1), NULL);

	vault_data_key_generate(&dk);
	vault_wrap(before, row.org_id, &dk, &w1, &wl1);
	vault_encrypt(&dk, &row, "rotated", 7, &blob, &blen);
	is_int(vault_unwrap(during, row.org_id, w1, wl1, &back), VAULT_OK,
	    "after rotation the old key id still unwraps");
	ok(memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) == 0,
	    "to the same data key");
	is_int(vault_unwrap(stranger, row.org_id, w1, wl1, &back),
	    VAULT_E_UNKNOWN_KID, "an unknown key id is refused as such");
	ok(all_zero(back.bytes, VAULT_KEY_LEN), "with a zero key");
	is_int(vault_rewrap(during, row.org_id, w1, wl1, &w2, &wl2), VAULT_OK,
	    "re-wraps under the current key");
	vault_wrapped_kid(w2, wl2, kid);
	is_str(kid, "k2", "which the blob names");
	is_int(vault_unwrap(after, row.org_id, w2, wl2, &back), VAULT_OK,
	    "once the old key is retired, the re-wrapped key unwraps");
	is_int(vault_decrypt(&back, &row, blob, blen, &pt, &ptlen), VAULT_OK,
	    "and the value still decrypts");
	ok(ptlen == 7 && memcmp(pt, "rotated", 7) == 0, "to itself");
	vault_plaintext_free(pt, ptlen);
	is_int(vault_unwrap(after, row.org_id, w1, wl1, &back),
	    VAULT_E_UNKNOWN_KID, "the key wrapped by the retired one does not");
	free(w2);
	w2 = (unsigned char *)&w2;
	is_int(vault_rewrap(after, row.org_id, w1, wl1, &w2, &wl2),
	    VAULT_E_UNKNOWN_KID, "nor does it re-wrap");
	ok(w2 == NULL && wl2 == 0, "giving nothing");
	free(w1);
	free(blob);
	vault_keyring_free(before);
	vault_keyring_free(during);
	vault_keyring_free(after);
	vault_keyring_free(stranger);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&back);
}

int
main(void)
{
	plan(30 + 50 + 10 + 17 + 15 + 5 + 5 + 19 + 12);
	test_kat();
	test_keyring_refused();
	test_keyring_loads();
	test_roundtrip();
	test_tampering();
	test_ids_bounded();
	test_distinct();
	test_wrap();
	test_rotation();
	return done_testing();
}
