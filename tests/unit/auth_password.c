/*
 * bcrypt through libxcrypt (api.md §2 "Passwords"): $2b$ hashes of the
 * cost asked for, salted, verified in constant time, failure strings
 * ("*0") never taken for a hash, and bcrypt's 72-byte limit pinned.
 * Cost 4 (the least) except where the cost itself is under test.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_password.h"
#include "config.h"
#include "json.h"
#include "tap.h"
#include "validate.h"

#define COST	4

static char hash_a[HB_HASH_MAX];	/* "correct horse battery" at COST */

static void
must_hash(const char *pw, int cost, char out[HB_HASH_MAX])
{
	struct hb_error err = {0};

	if (auth_password_hash(pw, cost, out, &err) != 0) {
		printf("Bail out! auth_password_hash(cost %d): %s\n", cost,
		    err.message);
		exit(2);
	}
}

static bool
bcrypt_alphabet(const char *s)
{
	return strspn(s, "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789") == strlen(s);
}

static void
test_hash(void)
{
	char h[HB_HASH_MAX], h2[HB_HASH_MAX];
	struct hb_error err = {0};

	memset(hash_a, '#', sizeof(hash_a));
	is_int(auth_password_hash("correct horse battery", COST, hash_a, &err),
	    0, "auth_password_hash: 0");
	diag("hash: %s", hash_a);
	ok(strncmp(hash_a, "$2b$04$", 7) == 0, "the hash starts $2b$04$");
	is_int(strlen(hash_a), 60, "a bcrypt hash is 60 characters");
	ok(bcrypt_alphabet(hash_a + 7), "salt and digest use bcrypt's "
	    "base64 alphabet");
	is_int(auth_password_cost(hash_a), COST, "auth_password_cost reads 4");

	must_hash("correct horse battery", 5, h);
	ok(strncmp(h, "$2b$05$", 7) == 0, "cost 5 gives $2b$05$");
	is_int(auth_password_cost(h), 5, "auth_password_cost reads 5");
	ok(auth_password_verify("correct horse battery", h),
	    "a cost-5 hash verifies");

	/* Salt: the same password never hashes the same way twice. */
	must_hash("correct horse battery", COST, h);
	must_hash("correct horse battery", COST, h2);
	ok(strcmp(h, hash_a) != 0 && strcmp(h, h2) != 0 &&
	    strcmp(h2, hash_a) != 0, "three hashes of one password differ");
	ok(strncmp(h + 7, hash_a + 7, 22) != 0, "...in their 22-character "
	    "salts");
	ok(auth_password_verify("correct horse battery", h) &&
	    auth_password_verify("correct horse battery", h2),
	    "...and each verifies");

	/* Costs bcrypt does not have fail, with a 503 and no hash. */
	memset(h, 0, sizeof(h));
	is_int(auth_password_hash("x", 3, h, &err), -1, "cost 3 fails");
	is_int(err.status, 503, "...with a 503");
	is_str(err.code, "service_unavailable", "...service_unavailable");
	is_str(h, "", "...and writes no hash");
	hb_error_clear(&err);
	is_int(auth_password_hash("x", 32, h, &err), -1, "cost 32 fails");
	hb_error_clear(&err);
}

static void
test_cost(void)
{
	static const struct {
		const char	*hash;
		int		 cost;
	} v[] = {
		{ "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 12 },
		{ "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 10 },
		{ "$2b$31$x", 31 },
		{ "$2a$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", -1 },
		{ "$2y$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", -1 },
		{ "$6$salt$hash", -1 },
		{ "$2b$", -1 },
		{ "$2b$x4$", -1 },
		{ "*0", -1 },
		{ "", -1 },
		{ "garbage", -1 },
	};

	is_int(auth_password_cost(NULL), -1, "auth_password_cost(NULL) = -1");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		is_int(auth_password_cost(v[i].hash), v[i].cost,
		    "auth_password_cost(\"%.12s...\") = %d", v[i].hash,
		    v[i].cost);
}

static void
test_verify(void)
{
	char other[HB_HASH_MAX], bent[HB_HASH_MAX];
	static const char *const not_hashes[] = {
		"", "*0", "*1", "*", "garbage", "$2b$", "$2b$04$",
		"$2b$04$tooshort", "$2x$04$abcdefghijklmnopqrstuu",
		"$1$salt$abcdefghijklmnopqrstuv",
		"$6$salt$abcdefghijklmnopqrstuvwxyz",
		"correct horse battery",
	};

	ok(auth_password_verify("correct horse battery", hash_a),
	    "the right password verifies");
	ok(!auth_password_verify("correct horse batterY", hash_a),
	    "a wrong password (one letter's case) does not");
	ok(!auth_password_verify("correct horse battery ", hash_a),
	    "a wrong password (one more byte) does not");
	ok(!auth_password_verify("correct horse batter", hash_a),
	    "a wrong password (one less byte) does not");
	ok(!auth_password_verify("", hash_a), "the empty password does not");
	must_hash("another password entirely", COST, other);
	ok(!auth_password_verify("correct horse battery", other),
	    "the right password against another password's hash does not");
	ok(auth_password_verify("another password entirely", other),
	    "(which its own password does)");
	ok(!auth_password_verify("correct horse battery", NULL),
	    "a NULL hash does not");
	for (size_t i = 0; i < sizeof(not_hashes) / sizeof(not_hashes[0]); i++)
		ok(!auth_password_verify("correct horse battery",
		    not_hashes[i]), "a stored \"%s\" never verifies",
		    not_hashes[i]);
	/* crypt_r's failure string starts with '*': never a match. */
	ok(!auth_password_verify("*0", "*0"),
	    "\"*0\" does not verify against \"*0\"");
	/* One character of the digest changed. */
	memcpy(bent, hash_a, sizeof(bent));
	bent[40] = bent[40] == 'a' ? 'b' : 'a';
	ok(!auth_password_verify("correct horse battery", bent),
	    "a hash with one digest character changed does not verify");
	memcpy(bent, hash_a, sizeof(bent));
	bent[59] = '\0';
	ok(!auth_password_verify("correct horse battery", bent),
	    "a hash cut by one character does not verify");
	memcpy(bent, hash_a, sizeof(bent));
	bent[5] = '5';
	ok(!auth_password_verify("correct horse battery", bent),
	    "the hash with its cost changed to 05 does not verify");
}

/*
 * bcrypt reads 72 bytes of a password and ignores the rest; this pins
 * that, and so why api.md refuses longer passwords rather than cut them:
 * cgi-bin/auth.c refuses a login whose password is over HB_PASSWORD_MAX
 * even when verify says yes, and validate_new_password refuses to set one.
 */
static void
test_72(void)
{
	char pw72[73], pw73[74], pw71[72], h[HB_HASH_MAX];
	struct hb_json_check c;
	struct hb_config cfg;
	struct json_object *body;

	for (int i = 0; i < 72; i++)
		pw72[i] = (char)('!' + (i * 7) % 90);
	pw72[72] = '\0';
	memcpy(pw73, pw72, 72);
	pw73[72] = 'Z';
	pw73[73] = '\0';
	memcpy(pw71, pw72, 71);
	pw71[71] = '\0';

	is_int(HB_PASSWORD_MAX, 72, "HB_PASSWORD_MAX is 72");
	must_hash(pw72, COST, h);
	ok(auth_password_verify(pw72, h), "a 72-byte password verifies");
	ok(!auth_password_verify(pw71, h), "its first 71 bytes do not: the "
	    "72nd byte counts");
	pw72[71] ^= 1;
	ok(!auth_password_verify(pw72, h), "nor does it with the 72nd byte "
	    "changed");
	pw72[71] ^= 1;
	/* crypt itself: byte 73 is ignored. */
	ok(auth_password_verify(pw73, h), "crypt ignores byte 73: a 73-byte "
	    "password verifies against the hash of its first 72 bytes "
	    "(so callers must refuse > 72)");
	{
		struct crypt_data *cd = calloc(1, sizeof(*cd));
		const char *got;
		char copy[HB_HASH_MAX];

		if (cd == NULL)
			abort();
		got = crypt_r(pw73, h, cd);
		snprintf(copy, sizeof(copy), "%s", got != NULL ? got : "");
		is_str(copy, h, "crypt_r(73 bytes, hash of 72) returns that "
		    "very hash");
		free(cd);
	}
	/* ...and the calling code refuses such a password to be set. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.password_min_length = 10;
	body = json_object_new_object();
	json_check_begin(&c, body);
	validate_new_password(&c, &cfg, "password", pw73, "a@b.co");
	is_int(json_object_array_length(c.details), 1,
	    "validate_new_password refuses the 73-byte password");
	json_object_put(c.details);
	json_check_begin(&c, body);
	validate_new_password(&c, &cfg, "password", pw72, "a@b.co");
	is_int(json_object_array_length(c.details), 0,
	    "validate_new_password takes the 72-byte one");
	json_object_put(c.details);
	json_object_put(body);
}

/*
 * An unknown email costs what a wrong password costs: the dummy runs a
 * real bcrypt verification against a hash of the cost asked for, and
 * follows the cost when it changes.
 */
static void
test_dummy(void)
{
	is_int(auth_password_dummy("pw", 4), 4, "the dummy verifies at cost 4");
	is_int(auth_password_dummy("pw", 5), 5, "...then at cost 5");
	is_int(auth_password_dummy("pw", 4), 4, "...and back at cost 4");
	is_int(auth_password_dummy("", 6), 6, "an empty password at cost 6");
	is_int(auth_password_dummy("pw", 6), 6, "the cost-6 hash is reused");
}

int
main(void)
{
	plan(65);
	test_hash();
	test_cost();
	test_verify();
	test_72();
	test_dummy();
	return done_testing();
}
