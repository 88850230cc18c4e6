/*
 * lib/secret.c: a value's hint (api.md §11), its last 4 characters only
 * when it has at least 16, counted in characters, not bytes, so that a
 * multi-byte character is never cut.
 */
#include "secret.h"
#include "tap.h"

static void
test_hint(void)
{
	char hint[17];

	secret_hint("fifteen-chars!!", hint);
	is_str(hint, "", "15 characters: no hint");
	secret_hint("sixteen-chars!!x", hint);
	is_str(hint, "s!!x", "16 characters: the last 4");
	secret_hint("sk_live_51HfZ2Y4f8b", hint);
	is_str(hint, "4f8b", "a token: its last 4");
	secret_hint("xxxxxxxxxxxxäöü€", hint);
	is_str(hint, "äöü€", "multi-byte characters: 4 characters, 9 bytes");
	secret_hint("äöüäöüäöüäöüäöü", hint);
	is_str(hint, "", "15 two-byte characters (30 bytes): no hint");
	secret_hint("", hint);
	is_str(hint, "", "empty: no hint");
}

int
main(void)
{
	plan(6);
	test_hint();
	return done_testing();
}
