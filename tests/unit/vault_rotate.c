/*
 * lib/vault_rotate: one data key's rotation as the batches do it, from the
 * hex the database gives: under the current master key it is left alone,
 * under an old one it is wrapped again (to the same data key), and a key
 * no loaded master key unwraps, another organization's, or text that is
 * no wrapped key fails with nothing to write.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"
#include "vault.h"
#include "vault_rotate.h"

#define ORG	"3f2b8c1e-0a4d-4e6f-9b1c-2d3e4f5a6b7c"
#define OTHER	"8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a"

/* "<kid>:<base64 of 32 bytes of fill>" into buf. */
static const char *
mkkey(char *buf, const char *kid, unsigned char fill)
{
	unsigned char raw[VAULT_KEY_LEN];
	char b64[64];

	memset(raw, fill, sizeof(raw));
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	snprintf(buf, 128, "%s:%s", kid, b64);
	return buf;
}

static struct vault_keyring *
keyring(const char *master, const char *old)
{
	struct vault_keyring *kr = NULL;
	struct hb_error err = {0};

	if (vault_keyring_load(&kr, master, old, &err) != VAULT_OK) {
		printf("Bail out! %s\n", err.message);
		exit(2);
	}
	return kr;
}

static char *
tohex(const unsigned char *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = '\0';
	return s;
}

static size_t
fromhex(const char *s, unsigned char *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		sscanf(s + 2 * i, "%2x", &b);
		out[i] = (unsigned char)b;
	}
	return n;
}

int
main(void)
{
	char ka[128], kb[128], kc[128], kid[VAULT_KID_MAX + 1];
	struct vault_keyring *a, *ba, *b, *c;
	struct vault_data_key dk, back;
	unsigned char *w, raw[VAULT_WRAPPED_MAX];
	size_t wl, rl;
	char *hex, *out, *again, *bad;

	plan(20);
	mkkey(ka, "key-a", 1);
	mkkey(kb, "key-b", 2);
	mkkey(kc, "key-c", 3);
	a = keyring(ka, NULL);
	ba = keyring(kb, ka);
	b = keyring(kb, NULL);
	c = keyring(kc, NULL);
	vault_data_key_generate(&dk);
	vault_wrap(a, ORG, &dk, &w, &wl);
	hex = tohex(w, wl);

	out = (char *)"x";
	is_int(vault_rotate_key(a, ORG, hex, &out), VAULT_OK,
	    "under the current master key: fine");
	ok(out == NULL, "and nothing to write");

	is_int(vault_rotate_key(ba, ORG, hex, &out), VAULT_OK,
	    "under the old master key: re-wrapped");
	ok(out != NULL && strlen(out) == 2 * wl, "to hex of the same length "
	    "(key ids of the same length)");
	ok(out != NULL && strcmp(out, hex) != 0, "that differs");
	rl = fromhex(out, raw);
	is_int(vault_wrapped_kid(raw, rl, kid), VAULT_OK, "a wrapped key");
	is_str(kid, "key-b", "under the current key id");
	is_int(vault_unwrap(b, ORG, raw, rl, &back), VAULT_OK,
	    "which unwraps without the old master key");
	ok(memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) == 0,
	    "to the same data key");
	is_int(vault_rotate_key(ba, ORG, out, &again), VAULT_OK,
	    "a second rotation of it");
	ok(again == NULL, "is a no-op");
	is_int(vault_unwrap(ba, OTHER, raw, rl, &back), VAULT_E_DECRYPT,
	    "it stays bound to its organization");

	again = (char *)"x";
	is_int(vault_rotate_key(b, ORG, hex, &again), VAULT_E_UNKNOWN_KID,
	    "the old master key retired: its data keys fail as unknown");
	ok(again == NULL, "with nothing to write");
	is_int(vault_rotate_key(ba, OTHER, hex, &again), VAULT_E_DECRYPT,
	    "another organization's row does not unwrap");
	is_int(vault_rotate_key(c, ORG, out, &again), VAULT_E_UNKNOWN_KID,
	    "nor does a stranger's keyring");

	bad = strdup(hex);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	is_int(vault_rotate_key(ba, ORG, bad, &again), VAULT_E_DECRYPT,
	    "a changed tag is refused");
	bad[strlen(bad) - 1] = '\0';
	is_int(vault_rotate_key(ba, ORG, bad, &again), VAULT_E_DECRYPT,
	    "odd hex is refused");
	is_int(vault_rotate_key(ba, ORG, "ZZ", &again), VAULT_E_DECRYPT,
	    "so is text that is no hex");
	free(bad);
	bad = malloc(2 * VAULT_WRAPPED_MAX + 3);
	memset(bad, 'a', 2 * VAULT_WRAPPED_MAX + 2);
	bad[2 * VAULT_WRAPPED_MAX + 2] = '\0';
	is_int(vault_rotate_key(ba, ORG, bad, &again), VAULT_E_DECRYPT,
	    "and hex longer than any wrapped key");

	free(bad);
	free(out);
	free(hex);
	free(w);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&back);
	vault_keyring_free(a);
	vault_keyring_free(ba);
	vault_keyring_free(b);
	vault_keyring_free(c);
	return done_testing();
}
