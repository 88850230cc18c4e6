#ifndef HB_AUTH_PASSWORD_H
#define HB_AUTH_PASSWORD_H

#include <stdbool.h>

#include "error.h"

#define HB_PASSWORD_MAX	72	/* bcrypt reads no further: longer is refused */
#define HB_HASH_MAX	128

/* A new bcrypt ($2b$) hash of pw at cost into out; 0 or -1 with err. */
int	 auth_password_hash(const char *pw, int cost, char out[HB_HASH_MAX],
	    struct hb_error *err);
/* Whether pw matches hash; the comparison takes constant time. */
bool	 auth_password_verify(const char *pw, const char *hash);
/*
 * Spends the time of one verification at cost against a fixed hash, so
 * an unknown email answers as slowly as a wrong password. Returns the
 * cost of the hash it verified against, or -1 when none could be made.
 */
int	 auth_password_dummy(const char *pw, int cost);
/* The cost of a $2b$ hash, or -1. */
int	 auth_password_cost(const char *hash);

#endif
