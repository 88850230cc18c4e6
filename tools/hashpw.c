/*
 * homebot-hashpw COST: reads a password on standard input (never from
 * the command line, where other users could see it) and prints its
 * bcrypt hash. make superadmin uses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_password.h"

int
main(int argc, char **argv)
{
	char pw[HB_PASSWORD_MAX + 2], hash[HB_HASH_MAX];
	struct hb_error err = {0};
	size_t n;
	int cost;

	cost = argc == 2 ? atoi(argv[1]) : 0;
	if (cost < 4 || cost > 31) {
		fprintf(stderr, "usage: homebot-hashpw COST (4-31) < password\n");
		return 2;
	}
	n = fread(pw, 1, sizeof(pw) - 1, stdin);
	pw[n] = '\0';
	pw[strcspn(pw, "\n")] = '\0';
	if (strlen(pw) < 1 || strlen(pw) > HB_PASSWORD_MAX) {
		fprintf(stderr, "homebot-hashpw: the password must be 1 to %d "
		    "bytes\n", HB_PASSWORD_MAX);
		return 1;
	}
	if (auth_password_hash(pw, cost, hash, &err) == -1) {
		fprintf(stderr, "homebot-hashpw: %s\n", err.message);
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	puts(hash);
	return 0;
}
