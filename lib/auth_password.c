#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_password.h"
#include "crypto.h"

/* struct crypt_data is 32 KiB: one per process, never on the stack. */
static struct crypt_data *
crypt_area(void)
{
	static struct crypt_data *area;

	if (area == NULL)
		area = calloc(1, sizeof(*area));
	return area;
}

int
auth_password_hash(const char *pw, int cost, char out[HB_HASH_MAX],
    struct hb_error *err)
{
	struct crypt_data *cd = crypt_area();
	unsigned char rnd[16];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;

	if (cd == NULL || crypto_random(rnd, sizeof(rnd)) == -1 ||
	    crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)rnd,
	    sizeof(rnd), setting, sizeof(setting)) == NULL)
		return hb_fail(err, 503, "service_unavailable",
		    "The password cannot be hashed now.");
	h = crypt_r(pw, setting, cd);
	/* crypt_r reports failure with a string starting with '*'. */
	if (h == NULL || h[0] == '*' || strlen(h) >= HB_HASH_MAX)
		return hb_fail(err, 503, "service_unavailable",
		    "The password cannot be hashed now.");
	memcpy(out, h, strlen(h) + 1);
	return 0;
}

bool
auth_password_verify(const char *pw, const char *hash)
{
	struct crypt_data *cd = crypt_area();
	const char *h;
	size_t n;

	if (cd == NULL || hash == NULL || strncmp(hash, "$2", 2) != 0)
		return false;
	h = crypt_r(pw, hash, cd);
	n = strlen(hash);
	return h != NULL && h[0] != '*' && strlen(h) == n &&
	    crypto_equal(h, hash, n);
}

int
auth_password_dummy(const char *pw, int cost)
{
	static char dummy[HB_HASH_MAX];
	static int dummy_cost;
	struct hb_error err = {0};

	if (dummy_cost != cost) {
		if (auth_password_hash("not a password of anyone", cost, dummy,
		    &err) == -1)
			return -1;
		dummy_cost = cost;
	}
	(void)auth_password_verify(pw, dummy);
	return auth_password_cost(dummy);
}

int
auth_password_cost(const char *hash)
{
	int cost;

	if (hash == NULL || strncmp(hash, "$2b$", 4) != 0 ||
	    sscanf(hash + 4, "%2d$", &cost) != 1)
		return -1;
	return cost;
}
