/*
 * The syntax of a setting's key and the "value" field of a settings
 * body (tests/unit/http.c has the If-Match header).
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "setting.h"
#include "tap.h"

static void
test_key(void)
{
	char longest[HB_SETTING_KEY_MAX + 2];

	ok(setting_key_valid("a"), "one letter");
	ok(setting_key_valid("support.email"), "a dotted key");
	ok(setting_key_valid("a0_b-c.d"), "digits, _ - and .");
	ok(!setting_key_valid(""), "empty");
	ok(!setting_key_valid(NULL), "NULL");
	ok(!setting_key_valid("Upper"), "an upper-case letter");
	ok(!setting_key_valid("9lives"), "a digit first");
	ok(!setting_key_valid(".dot"), "a dot first");
	ok(!setting_key_valid("a b"), "a blank");
	ok(!setting_key_valid("a/b"), "a slash");
	ok(!setting_key_valid("caf\xc3\xa9"), "non-ASCII");
	memset(longest, 'a', HB_SETTING_KEY_MAX);
	longest[HB_SETTING_KEY_MAX] = '\0';
	ok(setting_key_valid(longest), "64 characters");
	longest[HB_SETTING_KEY_MAX] = 'a';
	longest[HB_SETTING_KEY_MAX + 1] = '\0';
	ok(!setting_key_valid(longest), "65 characters");
}

/* setting_value_json() of body text, or NULL; fails counts failures. */
static const char *
value_of(struct json_object **body, const char *text, size_t max,
    int *fails)
{
	struct hb_json_check c;
	struct hb_error err = {0};
	const char *v;

	*body = json_tokener_parse(text);
	json_check_begin(&c, *body);
	v = setting_value_json(&c, max);
	*fails = json_check_done(&c, &err) == -1;
	hb_error_clear(&err);
	return v;
}

static void
test_value(void)
{
	struct json_object *body;
	const char *v;
	int fails;

	v = value_of(&body, "{\"value\": {\"a\": [1, true]}}", 100, &fails);
	is_str(v, "{\"a\":[1,true]}", "an object, as plain JSON");
	ok(!fails, "is valid");
	json_object_put(body);
	v = value_of(&body, "{\"value\": [1, {\"a\": 123456789012345678901234567890}]}",
	    100, &fails);
	ok(v == NULL && fails, "an integer json-c cannot hold, however deep, fails");
	json_object_put(body);
	v = value_of(&body, "{\"value\": {\"x\": 1e400}}", 100, &fails);
	ok(v == NULL && fails, "a number beyond a double fails");
	json_object_put(body);
	v = value_of(&body, "{\"value\": [0.1, -5, 9007199254740993]}", 100, &fails);
	ok(v != NULL && !fails, "numbers within range pass");
	json_object_put(body);
	v = value_of(&body, "{\"value\": null}", 100, &fails);
	is_str(v, "null", "null is a value");
	json_object_put(body);
	v = value_of(&body, "{\"other\": 1}", 100, &fails);
	ok(v == NULL && fails, "a missing value fails");
	json_object_put(body);
	v = value_of(&body, "{\"value\": \"0123456789\"}", 11, &fails);
	ok(v == NULL && fails, "a value over max bytes fails");
	json_object_put(body);
	v = value_of(&body, "{\"value\": \"a\\u0000b\"}", 100, &fails);
	ok(v == NULL && fails, "an escaped NUL fails");
	json_object_put(body);
}

int
main(void)
{
	plan(22);
	test_key();
	test_value();
	return done_testing();
}
