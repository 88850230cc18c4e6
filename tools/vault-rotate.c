/*
 * homebot-vault-rotate [--batch N] [--pause MS] [--job]: wraps every organization's
 * data key and every user's two-factor data key that is not under the
 * current master key (VAULT_MASTER_KEY)
 * again with it (api.md §11, lib/vault_rotate.h), a batch per
 * transaction (--pause: MS milliseconds between two, to spare a busy
 * database), while the service serves; make vault-rotate runs it. The
 * master keys of the data keys to re-wrap must be in VAULT_OLD_KEYS.
 * Prints the counts; exits 0 when every data key is under the current
 * master key, 1 when one could not be unwrapped (or stayed behind), 2 on
 * a bad command line or setting, 3 when the database failed (a rerun goes
 * on where it stopped). --job queues the same as the job vault.rotate for
 * homebot-worker instead, and returns at once. It connects with
 * DATABASE_URL as the homebot_worker role, the one the rotation's
 * functions (R__vault.sql) are granted to.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "job.h"
#include "vault.h"
#include "vault_rotate.h"

#define DEFAULT_BATCH	200
#define PAUSE_MAX	60000

static int
usage(void)
{
	fprintf(stderr, "usage: homebot-vault-rotate [--batch 1-%d] "
	    "[--pause 0-%d] [--job]\n", VAULT_ROTATE_BATCH_MAX, PAUSE_MAX);
	return 2;
}

/* An option's number within lo..hi into *v: 0, or -1. */
static int
number(const char *s, long lo, long hi, int *v)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < lo || n > hi)
		return -1;
	*v = (int)n;
	return 0;
}

/* Between two batches: the pause asked for, in milliseconds (arg). */
static int
pause_between(void *arg, struct hb_error *err)
{
	int ms = *(const int *)arg;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)err;
	while (ms > 0 && nanosleep(&ts, &ts) == -1)
		;
	return 0;
}

/* Queues vault.rotate (a no-op while one is pending): 0 or 3. */
static int
enqueue(struct hb_db *db)
{
	struct hb_job_new in = { .kind = "vault.rotate",
	    .unique_key = "vault.rotate", .max_attempts = 3,
	    .platform = true };
	struct hb_error err = {0};
	bool queued = false;

	if (job_enqueue(db, &in, &queued, &err) == -1) {
		fprintf(stderr, "homebot-vault-rotate: cannot queue the job: "
		    "%s\n", err.message);
		return 3;
	}
	printf("homebot-vault-rotate: %s\n", queued ?
	    "queued the job vault.rotate for homebot-worker" :
	    "a vault.rotate job is pending already");
	return 0;
}

static int
rotate(struct hb_db *db, const struct vault_keyring *kr, int batch, int pause)
{
	struct vault_rotate_counts c;
	struct hb_error err = {0};

	if (vault_rotate_run(db, kr, batch,
	    pause > 0 ? pause_between : NULL, &pause, &c, &err) == -1) {
		fprintf(stderr, "homebot-vault-rotate: %s%s%s\n", err.message,
		    db_last_error(db)[0] != '\0' ? ": " : "",
		    db_last_error(db));
		return 3;
	}
	printf("homebot-vault-rotate: master key %s: %ld re-wrapped, %ld "
	    "already current, %ld failed\n", vault_keyring_kid(kr),
	    c.rewrapped, c.current, c.failed);
	if (c.failed > 0)
		fprintf(stderr, "homebot-vault-rotate: %ld data keys could not "
		    "be unwrapped, the first that of %s %s: %s (is "
		    "its master key in VAULT_OLD_KEYS?)\n", c.failed,
		    c.failed_what, c.failed_org, vault_strerror(c.failed_rc));
	if (c.left > c.failed)
		fprintf(stderr, "homebot-vault-rotate: %ld data keys are still "
		    "under an old master key (held by another run, or "
		    "written by a program that still has the old "
		    "VAULT_MASTER_KEY); run again\n", c.left - c.failed);
	return c.failed > 0 || c.left > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct hb_config cfg;
	struct hb_error err = {0};
	struct vault_keyring *kr = NULL;
	struct hb_db *db;
	bool job = false;
	int batch = DEFAULT_BATCH, pause = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--job") == 0)
			job = true;
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			if (number(argv[++i], 1, VAULT_ROTATE_BATCH_MAX,
			    &batch) == -1)
				return usage();
		} else if (strcmp(argv[i], "--pause") == 0 && i + 1 < argc) {
			if (number(argv[++i], 0, PAUSE_MAX, &pause) == -1)
				return usage();
		} else
			return usage();
	}
	if (config_load(&cfg, &err) == -1) {
		fprintf(stderr, "homebot-vault-rotate: %s\n", err.message);
		return 2;
	}
	if (cfg.database_url[0] == '\0') {
		fprintf(stderr, "homebot-vault-rotate: DATABASE_URL is not set "
		    "(the homebot_worker role's)\n");
		return 2;
	}
	/* The job loads the keys in the worker; this run needs them here. */
	if (!job && vault_keyring_load(&kr, cfg.vault_master_key,
	    cfg.vault_old_keys, &err) != VAULT_OK) {
		fprintf(stderr, "homebot-vault-rotate: %s\n", err.message);
		OPENSSL_cleanse(&cfg, sizeof(cfg));
		return 2;
	}
	OPENSSL_cleanse(cfg.vault_master_key, sizeof(cfg.vault_master_key));
	OPENSSL_cleanse(cfg.vault_old_keys, sizeof(cfg.vault_old_keys));
	if ((db = db_new(cfg.database_url, "homebot-vault-rotate")) == NULL) {
		fprintf(stderr, "homebot-vault-rotate: out of memory\n");
		vault_keyring_free(kr);
		return 3;
	}
	rc = job ? enqueue(db) : rotate(db, kr, batch, pause);
	vault_keyring_free(kr);
	db_free(db);
	OPENSSL_cleanse(&cfg, sizeof(cfg));
	return rc;
}
