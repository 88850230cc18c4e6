/*
 * Access-token verification (lib/auth_jwt.c) with fixed test keys: HS256
 * with a SECRET_KEY, and ES256 with a P-256 key made for this harness
 * only. An input's first byte chooses what the rest is:
 *
 *   0  the token itself, garbage included;
 *   1  a JOSE header and a claims set, one per line, which the harness
 *      signs with the HS256 key: well-formed tokens whose claims libjwt
 *      and check_claims then read;
 *   2  as 1, then one byte of the token changed, which must be refused
 *      (libjwt compares signatures as text, so no two spellings of one
 *      signature exist);
 *   3  as 1, but signed with the ES256 key's public PEM as the HMAC
 *      secret: the algorithm-confusion forgery, refused by the ES256 keys.
 *
 * Every token is verified with both keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "auth_jwt.h"
#include "crypto.h"

#define ISS	"homebot"
#define NOW	1750000000L

static const char es256_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDkibqj3sdFbp5zPP\n"
    "Z8N9rHFL5W9VO3MmWGgyKIiPDeahRANCAARDfo5grZ0PX785u144srUw4A+Ievue\n"
    "I+GgHOKbmkQMw9n16xVB5zvpRrmi5wEoKicX/vkDuoc7zAJXdJ0b/soM\n"
    "-----END PRIVATE KEY-----\n";

static struct hb_jwt_keys hs, es;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	int fd;

	(void)argc;
	(void)argv;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "fuzz-secret-key-0123456789abcdef0123456789");
	if (auth_jwt_keys_load(&hs, &cfg, &err) == -1)
		abort();
	fd = memfd_create("es256.pem", 0);
	if (fd == -1 || write(fd, es256_pem, sizeof(es256_pem) - 1) !=
	    (ssize_t)(sizeof(es256_pem) - 1))
		abort();
	snprintf(cfg.jwt_private_key_file, sizeof(cfg.jwt_private_key_file),
	    "/proc/self/fd/%d", fd);
	if (auth_jwt_keys_load(&es, &cfg, &err) == -1)
		abort();
	close(fd);
	return 0;
}

static int
verify(struct hb_jwt_keys *k, const char *token)
{
	struct hb_claims c;
	struct hb_error err = {0};
	int rc = auth_jwt_verify(k, ISS, token, NOW, &c, &err);

	if (rc == 0 && c.exp <= NOW)
		abort();
	if (rc == -1 && err.status != 401)
		abort();
	hb_error_clear(&err);
	return rc;
}

/* header.payload, base64url, then its HMAC-SHA256 under key. */
static char *
sign_hs256(const char *header, const char *payload, const void *key,
    size_t keylen)
{
	size_t hn = strlen(header), pn = strlen(payload);
	size_t cap = (hn + pn) * 4 / 3 + 64;
	char *t = malloc(cap);
	unsigned char mac[HB_SHA256_LEN];
	size_t n;

	if (t == NULL)
		abort();
	n = crypto_b64url_encode((const unsigned char *)header, hn, t, cap);
	t[n++] = '.';
	n += crypto_b64url_encode((const unsigned char *)payload, pn, t + n,
	    cap - n);
	if (crypto_hmac_sha256(key, keylen, t, n, mac) == -1)
		abort();
	t[n++] = '.';
	crypto_b64url_encode(mac, sizeof(mac), t + n, cap - n);
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *payload, *token;
	size_t len;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0] % 4;
	text = malloc(size);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (mode == 0) {
		verify(&hs, text);
		verify(&es, text);
		free(text);
		return 0;
	}
	payload = strchr(text, '\n');
	if (payload != NULL)
		*payload++ = '\0';
	else
		payload = (char *)"";
	if (mode == 3) {
		token = sign_hs256(text, payload, es.verify_key,
		    (size_t)es.verify_len);
		if (verify(&es, token) == 0)
			abort();
		verify(&hs, token);
	} else {
		token = sign_hs256(text, payload, hs.verify_key,
		    (size_t)hs.verify_len);
		len = strlen(token);
		if (mode == 2 && len > 0) {
			size_t at = (size_t)data[size - 1] * 7 % len;

			if (token[at] != '.') {
				token[at] = token[at] == 'A' ? 'B' : 'A';
				if (verify(&hs, token) == 0)
					abort();
			}
		} else
			verify(&hs, token);
		verify(&es, token);
	}
	free(token);
	free(text);
	return 0;
}
