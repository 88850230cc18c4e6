/*
 * The vault (lib/vault.c) on inputs an attacker with the database could
 * write. An input's first byte chooses what the rest is:
 *
 *   0  VAULT_MASTER_KEY, then after the first '\n' VAULT_OLD_KEYS: a
 *      keyring that loads must wrap and unwrap a data key back;
 *   1  a value blob, decrypted under a fixed data key and row: anything
 *      but a blob the harness made itself must be refused with no output;
 *   2  a wrapped data key, unwrapped with a fixed keyring, and its key id
 *      read: refused unless it is one the keyring wrapped;
 *   3  a value the harness encrypts, then one byte of the blob changed
 *      (at the position and by the value of the input's second and third
 *      bytes), which must be refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault.h"

#define ORG	"6f1c2a0e-0000-4000-8000-00000000a001"
#define SECRET	"0c9d5e7a-0000-4000-8000-00000000b001"

static struct vault_keyring *kr;
static struct vault_data_key dk;
static const struct vault_aad row = { ORG, SECRET, 3 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hb_error err = {0};

	(void)argc;
	(void)argv;
	/* The keys of the seed corpus: bytes 0..31 and 1..32. */
	if (vault_keyring_load(&kr,
	    "k2:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
	    "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &err) !=
	    VAULT_OK)
		abort();
	for (size_t i = 0; i < sizeof(dk.bytes); i++)
		dk.bytes[i] = (unsigned char)i;
	return 0;
}

/* A fresh NUL-terminated copy of n bytes; the caller frees it. */
static char *
text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
fuzz_keyring(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t mlen = nl != NULL ? (size_t)(nl - data) : size;
	char *master = text(data, mlen);
	char *old = nl != NULL ? text(nl + 1, size - mlen - 1) : NULL;
	struct vault_keyring *k = NULL;
	struct vault_data_key back;
	struct hb_error err = {0};
	unsigned char *w;
	size_t wl;
	int rc;

	rc = vault_keyring_load(&k, master, old, &err);
	if (rc == VAULT_OK) {
		if (k == NULL || vault_wrap(k, ORG, &dk, &w, &wl) != VAULT_OK)
			abort();
		if (vault_unwrap(k, ORG, w, wl, &back) != VAULT_OK ||
		    memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) != 0)
			abort();
		free(w);
		vault_data_key_wipe(&back);
	} else if (k != NULL || err.message[0] == '\0') {
		abort();
	}
	vault_keyring_free(k);
	hb_error_clear(&err);
	free(master);
	free(old);
}

static void
fuzz_decrypt(const uint8_t *data, size_t size)
{
	unsigned char *pt = (unsigned char *)&pt;
	size_t ptlen = 1;
	int rc = vault_decrypt(&dk, &row, data, size, &pt, &ptlen);

	if (rc == VAULT_OK) {
		/* Only a real blob (a seed) decrypts: its length must add up. */
		if (pt == NULL || ptlen + VAULT_BLOB_OVERHEAD != size ||
		    pt[ptlen] != '\0')
			abort();
		vault_plaintext_free(pt, ptlen);
	} else if (rc != VAULT_E_DECRYPT || pt != NULL || ptlen != 0) {
		abort();
	}
}

static void
fuzz_unwrap(const uint8_t *data, size_t size)
{
	char kid[VAULT_KID_MAX + 1];
	struct vault_data_key back;
	int rc = vault_unwrap(kr, ORG, data, size, &back);
	int krc = vault_wrapped_kid(data, size, kid);

	if (rc == VAULT_OK) {
		if (krc != VAULT_OK || (strcmp(kid, "k1") != 0 &&
		    strcmp(kid, "k2") != 0))
			abort();
	} else {
		for (size_t i = 0; i < sizeof(back.bytes); i++)
			if (back.bytes[i] != 0)
				abort();
		if (rc == VAULT_E_UNKNOWN_KID && krc != VAULT_OK)
			abort();
	}
	if (krc != VAULT_OK && kid[0] != '\0')
		abort();
	vault_data_key_wipe(&back);
}

static void
fuzz_tamper(const uint8_t *data, size_t size)
{
	unsigned char *blob, *pt;
	size_t blen, ptlen, at;

	if (size < 2 || data[1] == 0)
		return;
	if (vault_encrypt(&dk, &row, data + 2, size - 2, &blob, &blen) !=
	    VAULT_OK)
		abort();
	at = data[0] % blen;
	blob[at] ^= data[1];
	if (vault_decrypt(&dk, &row, blob, blen, &pt, &ptlen) !=
	    VAULT_E_DECRYPT || pt != NULL)
		abort();
	free(blob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_keyring(data + 1, size - 1);
		break;
	case 1:
		fuzz_decrypt(data + 1, size - 1);
		break;
	case 2:
		fuzz_unwrap(data + 1, size - 1);
		break;
	default:
		fuzz_tamper(data + 1, size - 1);
		break;
	}
	return 0;
}
