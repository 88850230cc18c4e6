#include <ctype.h>
#include <string.h>

#include <uuid/uuid.h>

#include "crypto.h"
#include "uuid.h"

bool
uuid_valid(const char *s)
{
	if (s == NULL || strlen(s) != HB_UUID_LEN)
		return false;
	for (int i = 0; i < HB_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * Random bytes for request IDs (and trace and span IDs) come from a pool
 * filled by one getrandom() per 4 KiB instead of one call per request.
 */
void
uuid_random(unsigned char *out, size_t n)
{
	static unsigned char pool[4096];
	static size_t left;

	if (left < n) {
		if (crypto_random(pool, sizeof(pool)) == -1) {
			uuid_t u;

			uuid_generate(u);
			memcpy(out, u, n < sizeof(u) ? n : sizeof(u));
			return;
		}
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	explicit_bzero(pool + sizeof(pool) - left, n);
	left -= n;
}

void
uuid_new(char out[HB_UUID_LEN + 1])
{
	uuid_t u = {0};

	uuid_random(u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	uuid_unparse_lower(u, out);
}
