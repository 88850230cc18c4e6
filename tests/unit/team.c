/*
 * lib/team.c: the version an If-Match header names. Anything that is not
 * one strong tag of a version matches no row, so it is a 412, never a
 * change made without the check the client asked for.
 */
#include <stdio.h>

#include "tap.h"
#include "team.h"

static void
test_if_match(void)
{
	char buf[16];

	ok(team_if_match(NULL, buf, sizeof(buf)) == NULL,
	    "no If-Match: no condition");
	ok(team_if_match("*", buf, sizeof(buf)) == NULL,
	    "*: any version");
	ok(team_if_match(" * ", buf, sizeof(buf)) == NULL,
	    "*, with blanks around it");
	is_str(team_if_match("\"7\"", buf, sizeof(buf)), "7", "\"7\": 7");
	is_str(team_if_match(" \"123456789\"\t", buf, sizeof(buf)),
	    "123456789", "nine digits, blanks around");
	is_str(team_if_match("W/\"7\"", buf, sizeof(buf)), "-1",
	    "a weak tag matches nothing");
	is_str(team_if_match("7", buf, sizeof(buf)), "-1",
	    "no quotes: matches nothing");
	is_str(team_if_match("\"\"", buf, sizeof(buf)), "-1",
	    "an empty tag matches nothing");
	is_str(team_if_match("\"1234567890\"", buf, sizeof(buf)), "-1",
	    "ten digits (past an integer) match nothing");
	is_str(team_if_match("\"7\", \"8\"", buf, sizeof(buf)), "-1",
	    "a list matches nothing");
	is_str(team_if_match("\"-1\"", buf, sizeof(buf)), "-1",
	    "a sign is not a version");
	is_str(team_if_match("\"7", buf, sizeof(buf)), "-1",
	    "an unclosed quote matches nothing");
	is_str(team_if_match("\"12\"", buf, 2), "-1",
	    "a version longer than the buffer matches nothing");
}

int
main(void)
{
	plan(13);
	test_if_match();
	return done_testing();
}
