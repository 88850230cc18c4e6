#ifndef HB_AUTH_JWT_H
#define HB_AUTH_JWT_H

#include <jwt.h>

#include "config.h"
#include "error.h"

struct hb_jwt_cache;

/* The signing and verification keys of this process, loaded once. */
struct hb_jwt_keys {
	jwt_alg_t	 alg;
	unsigned char	*sign_key;	/* owned: SECRET_KEY or private PEM */
	int		 sign_len;
	unsigned char	*verify_key;	/* owned: SECRET_KEY or public PEM */
	int		 verify_len;
	char		 kid[24];	/* "" under HS256 */
	char		*jwks;		/* owned: the /.well-known/jwks.json body */
	/* Owned: the tokens verified, which auth_jwt_verify() updates. */
	struct hb_jwt_cache *cache;
};

/* The claims of an access token (api.md §2). */
struct hb_claims {
	char	sub[37];
	char	org[37];
	char	sid[37];
	char	jti[37];
	char	role[16];
	long	iat;
	long	exp;
};

/*
 * HS256 with SECRET_KEY, or RS256/ES256 (P-256) when JWT_PRIVATE_KEY_FILE
 * names a PEM private key. Returns 0, or -1 with err naming the problem.
 */
int	 auth_jwt_keys_load(struct hb_jwt_keys *k, const struct hb_config *cfg,
	    struct hb_error *err);
void	 auth_jwt_keys_free(struct hb_jwt_keys *k);

/* Returns a signed token the caller releases with free(), or NULL. */
char	*auth_jwt_sign(const struct hb_jwt_keys *k, const char *issuer,
	    const struct hb_claims *c);
/*
 * Verifies signature, algorithm, typ, iss, exp and nbf at time now, and
 * fills *out. Returns 0, or -1 with a 401 invalid_token in err. A token
 * verified before is found by its SHA-256 among the last ones verified
 * (k->cache, which this updates) and only its exp and nbf are checked
 * again.
 */
int	 auth_jwt_verify(struct hb_jwt_keys *k, const char *issuer,
	    const char *token, long now, struct hb_claims *out,
	    struct hb_error *err);
/* How many verifications the cache has answered so far. */
unsigned long auth_jwt_cache_hits(const struct hb_jwt_keys *k);

#endif
