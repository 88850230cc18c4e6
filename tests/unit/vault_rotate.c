/*
 * lib/vault_rotate: one data key's rotation as the batches do it, from the
 * hex the database gives: under the current master key it is left alone,
 * under an old one it is wrapped again (to the same data key), and a key
 * no loaded master key unwraps, another organization's, or text that is
 * no wrapped key fails with nothing to write. With a database
 * (HOMEBOT_TEST_DATABASE_URL, as scripts/check.sh sets it): whole runs in
 * batches, their counts, a failure left as it was, a second run that does
 * nothing, a walk stopped midway and resumed; the users' two-factor keys,
 * bound to their users.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db.h"
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

#define NORGS	5

static char keyhex[3][128];

/* Runs sql with params, failing the test run when it does not work. */
static void
exec_ok(struct hb_db *db, const char *sql, int n, const char *const *params)
{
	struct hb_error err = {0};
	PGresult *res = db_exec(db, sql, n, params, &err);

	if (res == NULL) {
		printf("Bail out! %s: %s\n", sql, db_last_error(db));
		exit(2);
	}
	PQclear(res);
}

/* The number of the test's data keys under kid. */
static long
under(struct hb_db *db, const char *kid)
{
	const char *params[1] = { kid };
	struct hb_error err = {0};
	PGresult *res = db_exec(db, "SELECT count(*) AS n FROM "
	    "homebot.vault_data_keys WHERE substring(wrapped FROM 3 FOR "
	    "get_byte(wrapped, 1)) = convert_to($1, 'UTF8')", 1, params, &err);
	long n = res != NULL ? atol(db_value(res, 0, "n")) : -1;

	PQclear(res);
	return n;
}

static int
stop_now(void *arg, struct hb_error *err)
{
	(*(int *)arg)++;
	return hb_fail(err, 500, "stopped", "stopped by the test");
}

static void
test_runs(const char *url)
{
	struct vault_keyring *a = keyring(keyhex[0], NULL);
	struct vault_keyring *ba = keyring(keyhex[1], keyhex[0]);
	struct vault_keyring *b = keyring(keyhex[1], NULL);
	struct vault_keyring *cb = keyring(keyhex[2], keyhex[1]);
	struct vault_keyring *x;
	struct vault_rotate_counts c, first;
	struct vault_data_key dk[NORGS + 1], back;
	struct hb_db *db = db_new(url, "unit");
	struct hb_error err = {0};
	char orgs[NORGS + 1][37], after[37] = "", kx[128];
	int unwrapped = 0, calls = 0;

	exec_ok(db, "DELETE FROM homebot.vault_data_keys", 0, NULL);
	for (int i = 0; i <= NORGS; i++) {
		const char *params[2];
		unsigned char *w;
		size_t wl;
		char slug[32], *hex;
		PGresult *res;

		snprintf(slug, sizeof(slug), "unit-rotate-%d", i);
		params[0] = slug;
		res = db_exec(db, "INSERT INTO homebot.organizations (name, slug)"
		    " VALUES ($1, $1) RETURNING id", 1, params, &err);
		if (res == NULL) {
			printf("Bail out! %s\n", db_last_error(db));
			exit(2);
		}
		snprintf(orgs[i], sizeof(orgs[i]), "%s", db_value(res, 0, "id"));
		PQclear(res);
		/* The last one's master key is loaded nowhere. */
		x = keyring(mkkey(kx, "key-x", 9), NULL);
		vault_data_key_generate(&dk[i]);
		vault_wrap(i < NORGS ? a : x, orgs[i], &dk[i],
		    &w, &wl);
		vault_keyring_free(x);
		hex = tohex(w, wl);
		params[0] = orgs[i];
		params[1] = hex;
		exec_ok(db, "INSERT INTO homebot.vault_data_keys (organization_id,"
		    " wrapped) VALUES ($1, decode($2, 'hex'))", 2, params);
		free(hex);
		free(w);
	}

	is_int(vault_rotate_run(db, ba, 2, NULL, NULL, &c, &err), 0,
	    "a run in batches of 2");
	ok(c.rewrapped == NORGS && c.current == 0 && c.failed == 1 &&
	    c.left == 1, "re-wraps the 5 keys under key-a, fails the one "
	    "under key-x and leaves it (%ld %ld %ld %ld)", c.rewrapped,
	    c.current, c.failed, c.left);
	is_str(c.failed_org, orgs[NORGS], "naming its organization");
	is_int(c.failed_rc, VAULT_E_UNKNOWN_KID, "and why");
	ok(under(db, "key-b") == NORGS && under(db, "key-a") == 0 &&
	    under(db, "key-x") == 1, "5 under key-b, none under key-a");
	for (int i = 0; i < NORGS; i++) {
		const char *params[1] = { orgs[i] };
		PGresult *res = db_exec(db, "SELECT encode(wrapped, 'hex') AS w"
		    " FROM homebot.vault_data_keys WHERE organization_id = $1",
		    1, params, &err);
		unsigned char raw[VAULT_WRAPPED_MAX];
		size_t rl = fromhex(db_value(res, 0, "w"), raw);

		if (vault_unwrap(b, orgs[i], raw, rl, &back) == VAULT_OK &&
		    memcmp(back.bytes, dk[i].bytes, VAULT_KEY_LEN) == 0)
			unwrapped++;
		PQclear(res);
	}
	is_int(unwrapped, NORGS, "each unwraps with key-b alone to its own "
	    "data key");
	is_int(vault_rotate_run(db, ba, 100, NULL, NULL, &c, &err), 0,
	    "a second run");
	ok(c.rewrapped == 0 && c.current == NORGS && c.failed == 1,
	    "re-wraps nothing");
	is_int(vault_rotate_pending(db, ba, &err), 1, "one key is pending");

	first = (struct vault_rotate_counts){0};
	is_int(vault_rotate_batch(db, cb, 2, after, &first, &err), 2,
	    "one batch of 2 under key-c");
	/* key-x's organization may be among the first two. */
	ok(strlen(after) == 36 && first.rewrapped + first.failed == 2,
	    "moves the walk past the 2 it took");
	is_int(under(db, "key-c"), first.rewrapped,
	    "the walk stopped there: those alone under key-c");
	is_int(vault_rotate_run(db, cb, 3, NULL, NULL, &c, &err), 0,
	    "a new run");
	ok(c.rewrapped == NORGS - first.rewrapped &&
	    c.current == first.rewrapped && c.failed == 1,
	    "goes on with the rest");
	is_int(under(db, "key-c"), NORGS, "every key under key-c");
	is_int(vault_rotate_run(db, cb, 1, stop_now, &calls, &c, &err), -1,
	    "a run its caller stops between two batches");
	ok(calls == 1 && strcmp(err.code, "stopped") == 0, "stops after the "
	    "first");
	hb_error_clear(&err);
	is_int(vault_rotate_batch(db, cb, VAULT_ROTATE_BATCH_MAX + 1, after,
	    &c, &err), -1, "a batch too large is refused");
	hb_error_clear(&err);

	exec_ok(db, "DELETE FROM homebot.organizations WHERE slug LIKE "
	    "'unit-rotate-%'", 0, NULL);
	for (int i = 0; i <= NORGS; i++)
		vault_data_key_wipe(&dk[i]);
	vault_data_key_wipe(&back);
	vault_keyring_free(a);
	vault_keyring_free(ba);
	vault_keyring_free(b);
	vault_keyring_free(cb);
	db_free(db);
}

/* A new user with a two-factor key wrapped by kr: its id into id. */
static void
totp_user(struct hb_db *db, const char *email, struct vault_keyring *kr,
    struct vault_data_key *dk, char id[37])
{
	struct hb_error err = {0};
	const char *params[2] = { email, NULL };
	char bind[64], *hex;
	unsigned char *w;
	size_t wl;
	PGresult *res = db_exec(db, "INSERT INTO homebot.users (email) VALUES "
	    "($1) RETURNING id", 1, params, &err);

	if (res == NULL) {
		printf("Bail out! %s\n", db_last_error(db));
		exit(2);
	}
	snprintf(id, 37, "%s", db_value(res, 0, "id"));
	PQclear(res);
	snprintf(bind, sizeof(bind), "user:%s", id);
	vault_data_key_generate(dk);
	vault_wrap(kr, bind, dk, &w, &wl);
	hex = tohex(w, wl);
	params[0] = id;
	params[1] = hex;
	exec_ok(db, "INSERT INTO homebot.user_totp (user_id, wrapped_key, "
	    "secret, generation) VALUES ($1, decode($2, 'hex'), "
	    "decode(repeat('e1', 48), 'hex'), 1)", 2, params);
	free(hex);
	free(w);
}

/*
 * The users' two-factor keys: bound to "user:<id>", walked after the
 * organizations', re-wrapped to the same data key; one no loaded master
 * key unwraps fails naming its user.
 */
static void
test_totp(const char *url)
{
	struct vault_keyring *a = keyring(keyhex[0], NULL);
	struct vault_keyring *ba = keyring(keyhex[1], keyhex[0]);
	struct vault_keyring *b = keyring(keyhex[1], NULL);
	struct vault_keyring *x = keyring("key-x:eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=", NULL);
	struct vault_rotate_counts c = {0};
	struct vault_data_key dk, dx, back;
	struct hb_db *db = db_new(url, "unit");
	struct hb_error err = {0};
	char user[37], stranger[37], after[37] = "", bind[64];
	const char *params[1] = { user };
	unsigned char raw[VAULT_WRAPPED_MAX];
	size_t rl;
	PGresult *res;

	exec_ok(db, "DELETE FROM homebot.users WHERE email LIKE "
	    "'unit-rotate-totp-%'", 0, NULL);
	exec_ok(db, "DELETE FROM homebot.user_totp", 0, NULL);
	totp_user(db, "unit-rotate-totp-1@example.test", a, &dk, user);
	is_int(vault_rotate_totp_batch(db, ba, 10, after, &c, &err), 1,
	    "a batch of two-factor keys takes the user's");
	ok(c.rewrapped == 1 && strcmp(after, user) == 0, "re-wraps it and "
	    "moves the walk past its user");
	res = db_exec(db, "SELECT encode(wrapped_key, 'hex') AS w FROM "
	    "homebot.user_totp WHERE user_id = $1", 1, params, &err);
	rl = fromhex(db_value(res, 0, "w"), raw);
	PQclear(res);
	snprintf(bind, sizeof(bind), "user:%s", user);
	ok(vault_unwrap(b, bind, raw, rl, &back) == VAULT_OK &&
	    memcmp(back.bytes, dk.bytes, VAULT_KEY_LEN) == 0,
	    "it unwraps with key-b alone, bound to its user, to the same "
	    "data key");
	is_int(vault_unwrap(b, user, raw, rl, &back), VAULT_E_DECRYPT,
	    "not as an organization's key of the same id");
	is_int(vault_rotate_pending(db, ba, &err), 0, "nothing is pending");

	totp_user(db, "unit-rotate-totp-2@example.test", x, &dx, stranger);
	is_int(vault_rotate_run(db, ba, 2, NULL, NULL, &c, &err), 0,
	    "a run with a key under key-x");
	ok(c.rewrapped == 0 && c.current == 1 && c.failed == 1 &&
	    c.left == 1, "fails that one alone and leaves it (%ld %ld %ld "
	    "%ld)", c.rewrapped, c.current, c.failed, c.left);
	ok(strcmp(c.failed_org, stranger) == 0 && c.failed_what != NULL &&
	    strcmp(c.failed_what, "user") == 0, "naming its user");

	exec_ok(db, "DELETE FROM homebot.users WHERE email LIKE "
	    "'unit-rotate-totp-%'", 0, NULL);
	vault_data_key_wipe(&dk);
	vault_data_key_wipe(&dx);
	vault_data_key_wipe(&back);
	vault_keyring_free(a);
	vault_keyring_free(ba);
	vault_keyring_free(b);
	vault_keyring_free(x);
	db_free(db);
}

int
main(void)
{
	const char *url = getenv("HOMEBOT_TEST_DATABASE_URL");
	char ka[128], kb[128], kc[128], kid[VAULT_KID_MAX + 1];
	struct vault_keyring *a, *ba, *b, *c;
	struct vault_data_key dk, back;
	unsigned char *w, raw[VAULT_WRAPPED_MAX];
	size_t wl, rl;
	char *hex, *out, *again, *bad;

	plan(20 + 1 + 18 + 8);
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

	snprintf(keyhex[0], sizeof(keyhex[0]), "%s", ka);
	snprintf(keyhex[1], sizeof(keyhex[1]), "%s", kb);
	snprintf(keyhex[2], sizeof(keyhex[2]), "%s", kc);
	ok(url != NULL && url[0] != '\0', "HOMEBOT_TEST_DATABASE_URL names a "
	    "database (scripts/check.sh sets it)");
	if (url != NULL && url[0] != '\0') {
		test_runs(url);
		test_totp(url);
	}
	return done_testing();
}
