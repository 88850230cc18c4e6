#ifndef HB_VAULT_ROTATE_H
#define HB_VAULT_ROTATE_H

#include "db.h"
#include "error.h"
#include "vault.h"

/*
 * Master-key rotation (api.md §11): every organization's data key and
 * every user's two-factor data key (homebot.user_totp, lib/mfa.h) that is
 * not under the current master key is wrapped again with it. A walk goes
 * through homebot.vault_data_keys in organization order, then through
 * homebot.user_totp in user order, one batch per short transaction:
 * homebot.vault_rotate_take (vault_rotate_totp_take; R__vault.sql,
 * SECURITY DEFINER, homebot_worker's) locks the batch's rows FOR UPDATE
 * SKIP LOCKED, they are re-wrapped here, and homebot.vault_rotate_put
 * (vault_rotate_totp_put) writes them back in one statement before the
 * commit. A run killed midway loses
 * one batch's work at most and the next run goes on from there; the
 * programs that read a data key meanwhile unwrap it with whichever master
 * key it names, the old one still being in VAULT_OLD_KEYS. Data keys are
 * in clear only inside vault_rewrap(), which wipes them.
 */

#define VAULT_ROTATE_BATCH_MAX	1000
#define VAULT_ROTATE_PASSES	5

struct vault_rotate_counts {
	long	 rewrapped;	/* wrapped again with the current key */
	long	 current;	/* were under the current key already */
	long	 failed;	/* could not be unwrapped: left as they were */
	long	 left;		/* not under the current key at the end */
	char	 failed_org[37];	/* the first that failed; "" */
	const char *failed_what;	/* "organization" or "user": its kind */
	int	 failed_rc;		/* its vault error */
};

/*
 * One wrapped key (hex, as encode(…, 'hex') gives it) bound to org_id (an
 * organization's id, or "user:<user id>" for a two-factor key): *out is NULL when it is under the current master key already,
 * else the new wrapping in hex, malloc'ed (the caller frees it). Returns
 * VAULT_OK or the vault error (VAULT_E_UNKNOWN_KID, VAULT_E_DECRYPT, …).
 */
int	vault_rotate_key(const struct vault_keyring *kr, const char *org_id,
	    const char *hex, char **out);

/*
 * One batch of at most batch keys after the organization after ("" for
 * the first), in a transaction of its own on db, adding to *c and moving
 * after on to the batch's last organization. Returns the number of keys
 * taken (0: the walk is over), or -1 with err set (the batch rolled back,
 * nothing of it counted).
 */
int	vault_rotate_batch(struct hb_db *db, const struct vault_keyring *kr,
	    int batch, char after[37], struct vault_rotate_counts *c,
	    struct hb_error *err);

/* vault_rotate_batch over the two-factor keys, after the user after. */
int	vault_rotate_totp_batch(struct hb_db *db, const struct vault_keyring *kr,
	    int batch, char after[37], struct vault_rotate_counts *c,
	    struct hb_error *err);

/*
 * The number of data keys (the organizations' and the two-factor ones)
 * not under the current master key, or -1.
 */
long	vault_rotate_pending(struct hb_db *db, const struct vault_keyring *kr,
	    struct hb_error *err);

/*
 * A whole rotation: walks, and walks again (up to VAULT_ROTATE_PASSES
 * times) while keys another run held are still under an old master key.
 * between, when not NULL, is called after each batch (the worker extends
 * its lease there); when it returns -1 the run stops with err set as it
 * left it. Returns 0 with *c filled (failed and left may be nonzero), or
 * -1 with err set.
 */
int	vault_rotate_run(struct hb_db *db, const struct vault_keyring *kr,
	    int batch, int (*between)(void *arg, struct hb_error *err),
	    void *arg, struct vault_rotate_counts *c, struct hb_error *err);

#endif
