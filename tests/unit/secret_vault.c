/*
 * lib/secret.c's vault under the secrets and the connections' secret
 * fields, against a real PostgreSQL server (HOMEBOT_TEST_DATABASE_URL, as
 * scripts/check.sh makes it): secret_seal creates the organization's data
 * key on first use and binds organization, id and version into the blob;
 * secret_open gives the value back for exactly that triple and 409
 * secret_unreadable for any other, for a tampered blob and for hex that
 * is no blob. Everything runs in one transaction that is rolled back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "tap.h"

#define ORG_A	"5e1c0a4b-3d2f-4a6e-8b7c-9d0e1f2a3b01"
#define ORG_B	"5e1c0a4b-3d2f-4a6e-8b7c-9d0e1f2a3b02"
#define ID_1	"6f2d1b5c-4e3a-4b7f-9c8d-0e1f2a3b4c01"
#define ID_2	"6f2d1b5c-4e3a-4b7f-9c8d-0e1f2a3b4c02"
/* 32 bytes 0x00..0x1f, base64. */
#define MASTER	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* secret_open of hex for (org, id, version): "" on success with the value in out. */
static const char *
open_as(struct hb_db *db, const struct vault_keyring *kr, const char *org,
    const char *id, uint64_t version, const char *hex, char *out, size_t n)
{
	static struct hb_error err;
	unsigned char *value;
	size_t len;

	out[0] = '\0';
	hb_error_clear(&err);
	if (secret_open(db, kr, org, id, version, hex, &value, &len,
	    &err) == -1)
		return err.code;
	snprintf(out, n, "%.*s", (int)len, (const char *)value);
	vault_plaintext_free(value, len);
	return "";
}

static int
exec(struct hb_db *db, const char *sql)
{
	struct hb_error err = {0};
	PGresult *res = db_exec(db, sql, 0, NULL, &err);

	if (res == NULL) {
		diag("%s: %s", sql, err.message);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
main(void)
{
	const char *url = getenv("HOMEBOT_TEST_DATABASE_URL");
	struct hb_db_ctx ctx = { .org_id = ORG_A };
	struct vault_keyring *kr = NULL;
	struct hb_error err = {0};
	struct hb_db *db;
	char *a1 = NULL, *b1 = NULL, *again = NULL, out[128];

	plan(15);
	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url == NULL || url[0] == '\0')
		return done_testing();
	is_int(vault_keyring_load(&kr, MASTER, NULL, &err), VAULT_OK,
	    "the keyring loads");
	db = db_new(url, "unit-secret-vault");
	is_int(db_tx_begin(db, &ctx, &err), 0, "a transaction: %s",
	    err.message);
	ok(exec(db, "INSERT INTO homebot.organizations (id, name, slug) VALUES"
	    " ('" ORG_A "', 'Vault A', 'unit-vault-a'),"
	    " ('" ORG_B "', 'Vault B', 'unit-vault-b')") == 0,
	    "two organizations");

	is_int(secret_seal(db, kr, ORG_A, ID_1, 1, "correct horse", &a1, &err),
	    0, "seal: a value of A (its data key made on first use)");
	is_int(secret_seal(db, kr, ORG_A, ID_1, 1, "correct horse", &again,
	    &err), 0, "seal: the same value again");
	ok(a1 != NULL && again != NULL && strcmp(a1, again) != 0,
	    "seal: a fresh nonce each time, so two blobs differ");
	ok(a1 != NULL && strstr(a1, "636f727265637420686f727365") == NULL,
	    "seal: the blob does not hold the value's bytes");
	is_str(open_as(db, kr, ORG_A, ID_1, 1, a1, out, sizeof(out)), "",
	    "open: the same organization, id and version");
	is_str(out, "correct horse", "open: the value comes back");
	is_str(open_as(db, kr, ORG_A, ID_2, 1, a1, out, sizeof(out)),
	    "secret_unreadable", "open: another id does not decrypt");
	is_str(open_as(db, kr, ORG_A, ID_1, 2, a1, out, sizeof(out)),
	    "secret_unreadable", "open: another version does not decrypt");
	is_int(secret_seal(db, kr, ORG_B, ID_1, 1, "battery staple", &b1,
	    &err), 0, "seal: a value of B, under B's own data key");
	is_str(open_as(db, kr, ORG_A, ID_1, 1, b1, out, sizeof(out)),
	    "secret_unreadable", "open: B's blob in A does not decrypt");
	/* One hex digit of the tag changed; and hex that is no blob. */
	if (a1 != NULL) {
		size_t n = strlen(a1);

		a1[n - 1] = a1[n - 1] == '0' ? '1' : '0';
	}
	ok(strcmp(open_as(db, kr, ORG_A, ID_1, 1, a1, out, sizeof(out)),
	    "secret_unreadable") == 0 && strcmp(open_as(db, kr, ORG_A, ID_1,
	    1, "zz", out, sizeof(out)), "secret_unreadable") == 0,
	    "open: a tampered blob and hex that is no blob do not decrypt");
	db_tx_rollback(db);
	free(a1);
	free(b1);
	free(again);
	db_free(db);
	vault_keyring_free(kr);
	return done_testing();
}
