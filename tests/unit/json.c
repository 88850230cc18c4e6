/*
 * The typed field readers collect every problem of a request body into
 * one 422 validation_failed answer whose details name each field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static struct json_object *
parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (o == NULL) {
		printf("Bail out! test JSON does not parse: %s\n", text);
		exit(2);
	}
	return o;
}

static size_t
ndetails(const struct hb_json_check *c)
{
	return c->details == NULL ? 0 :
	    json_object_array_length(c->details);
}

/* The field and message of detail i, or "" when there is none. */
static const char *
detail(const struct json_object *details, size_t i, const char *key)
{
	struct json_object *d, *v;

	if (details == NULL || i >= json_object_array_length(details))
		return "";
	d = json_object_array_get_idx(details, i);
	if (!json_object_object_get_ex(d, key, &v))
		return "";
	return json_object_get_string(v);
}

/* Runs the check to its end; returns the status of the error (0 if none). */
static int
finish(struct hb_json_check *c, struct hb_error *err)
{
	hb_error_clear(err);
	if (json_check_done(c, err) == 0)
		return 0;
	return err->status;
}

static void
test_strings(void)
{
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *body;

	body = parse("{\"email\":\"a@b.c\",\"name\":\"Zo\xc3\xab\","
	    "\"n\":5,\"empty\":\"\",\"nul\":null}");
	json_check_begin(&c, body);
	is_int(ndetails(&c), 0, "string: an object body starts with no details");
	is_str(json_get_string(&c, "email", true, 1, 254), "a@b.c",
	    "string: a present field is returned");
	is_str(json_get_string(&c, "name", true, 4, 4), "Zo\xc3\xab",
	    "string: 'Zo\\u00eb' is 4 bytes long (bytes, not characters)");
	is_str(json_get_string(&c, "empty", false, 0, 10), "",
	    "string: an empty string is allowed when min is 0");
	ok(json_get_string(&c, "absent", false, 1, 10) == NULL,
	    "string: an absent optional field is NULL");
	ok(json_get_string(&c, "nul", false, 1, 10) == NULL,
	    "string: an optional field that is null is NULL");
	is_int(ndetails(&c), 0, "string: valid and absent-optional fields add no details");
	is_int(finish(&c, &err), 0, "string: json_check_done returns 0");
	ok(err.details == NULL && err.status == 0,
	    "string: no error is set when everything was valid");
	json_object_put(body);

	body = parse("{\"n\":5,\"b\":true,\"o\":{},\"a\":[],\"nul\":null,"
	    "\"long\":\"abcdef\",\"short\":\"ab\",\"name\":\"Zo\xc3\xab\"}");
	json_check_begin(&c, body);
	ok(json_get_string(&c, "missing", true, 1, 10) == NULL,
	    "string: a required missing field is NULL");
	is_str(detail(c.details, 0, "field"), "missing",
	    "string: the detail names the missing field");
	is_str(detail(c.details, 0, "message"), "is required",
	    "string: the detail says \"is required\"");
	ok(json_get_string(&c, "nul", true, 1, 10) == NULL,
	    "string: a required field that is null is NULL");
	is_str(detail(c.details, 1, "field"), "nul",
	    "string: null counts as missing");
	is_str(detail(c.details, 1, "message"), "is required",
	    "string: null is \"is required\"");
	ok(json_get_string(&c, "n", true, 1, 10) == NULL,
	    "string: a number is not a string");
	is_str(detail(c.details, 2, "field"), "n", "string: wrong type names n");
	is_str(detail(c.details, 2, "message"), "must be a string",
	    "string: wrong type says \"must be a string\"");
	ok(json_get_string(&c, "b", false, 0, 10) == NULL,
	    "string: a boolean is not a string, even when optional");
	ok(json_get_string(&c, "o", false, 0, 10) == NULL,
	    "string: an object is not a string");
	ok(json_get_string(&c, "a", false, 0, 10) == NULL,
	    "string: an array is not a string");
	ok(json_get_string(&c, "long", true, 1, 5) == NULL,
	    "string: 6 bytes is over a max of 5");
	is_str(detail(c.details, 6, "field"), "long",
	    "string: too long names the field");
	has_str(detail(c.details, 6, "message"), "1 to 5",
	    "string: too long states the bounds");
	ok(json_get_string(&c, "short", true, 3, 5) == NULL,
	    "string: 2 bytes is under a min of 3");
	is_str(detail(c.details, 7, "field"), "short",
	    "string: too short names the field");
	ok(json_get_string(&c, "name", true, 5, 10) == NULL,
	    "string: 'Zo\\u00eb' (3 characters, 4 bytes) is under a min of 5 bytes");
	ok(json_get_string(&c, "name", true, 1, 3) == NULL,
	    "string: 'Zo\\u00eb' (3 characters, 4 bytes) is over a max of 3 bytes");
	is_str(json_get_string(&c, "long", true, 6, 6), "abcdef",
	    "string: exactly min == max bytes is accepted");
	ok(json_get_string(&c, "short", true, 6, 6) == NULL,
	    "string: fewer than min == max bytes is refused");
	has_str(detail(c.details, 10, "message"), "6 bytes",
	    "string: min == max says how many bytes");
	is_int(ndetails(&c), 11, "string: one detail per failed field read");
	is_int(finish(&c, &err), 422, "string: json_check_done fails with 422");
	json_object_put(body);
	hb_error_clear(&err);
}

static void
test_string_bytes(void)
{
	static const struct {
		const char *bytes;
		int len;
		const char *what;
	} bad[] = {
		{ "a\0b", 3, "an embedded NUL" },
		{ "\0", 1, "a lone NUL" },
		{ "abc\xff", 4, "a 0xff byte" },
		{ "\xc3\x28", 2, "a bad continuation byte" },
		{ "\xc0\xaf", 2, "an overlong '/'" },
		{ "\xed\xa0\x80", 3, "an encoded surrogate U+D800" },
		{ "\xf4\x90\x80\x80", 4, "U+110000" },
		{ "ab\xe2\x82", 4, "a truncated 3-byte sequence" },
	};
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *body;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body = json_object_new_object();
		json_object_object_add(body, "s",
		    json_object_new_string_len(bad[i].bytes, bad[i].len));
		json_check_begin(&c, body);
		ok(json_get_string(&c, "s", true, 0, 100) == NULL,
		    "bytes: a string with %s is refused", bad[i].what);
		is_str(detail(c.details, 0, "field"), "s",
		    "bytes: the detail for %s names the field", bad[i].what);
		is_str(detail(c.details, 0, "message"),
		    "must be valid UTF-8 text",
		    "bytes: the detail for %s says why", bad[i].what);
		is_int(finish(&c, &err), 422, "bytes: %s fails the check",
		    bad[i].what);
		json_object_put(body);
	}

	body = json_object_new_object();
	json_object_object_add(body, "s",
	    json_object_new_string_len("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x8f\xa0", 15));
	json_check_begin(&c, body);
	is_str(json_get_string(&c, "s", true, 15, 15),
	    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x8f\xa0",
	    "bytes: 2-, 3- and 4-byte UTF-8 sequences are accepted");
	is_int(finish(&c, &err), 0, "bytes: valid multi-byte text passes");
	json_object_put(body);
	hb_error_clear(&err);
}

static void
test_ints_bools_objects(void)
{
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *body, *o;

	body = parse("{\"limit\":50,\"neg\":-3,\"big\":9007199254740993,"
	    "\"dbl\":1.5,\"str\":\"7\",\"t\":true,\"f\":false,\"one\":1,"
	    "\"obj\":{\"a\":1},\"arr\":[1],\"nul\":null}");
	json_check_begin(&c, body);
	is_int(json_get_int(&c, "limit", true, 1, 200, 0), 50,
	    "int: a value in range is returned");
	is_int(json_get_int(&c, "neg", true, -10, 10, 0), -3,
	    "int: negative values work");
	ok(json_get_int(&c, "big", true, 0, INT64_MAX, 0) ==
	    INT64_C(9007199254740993), "int: 64-bit values are exact");
	is_int(json_get_int(&c, "absent", false, 1, 200, 50), 50,
	    "int: an absent optional field gives the default");
	is_int(json_get_int(&c, "nul", false, 1, 200, 42), 42,
	    "int: a null optional field gives the default");
	is_int(json_get_int(&c, "limit", true, 50, 50, 0), 50,
	    "int: min == max == value is accepted");
	is_int(ndetails(&c), 0, "int: valid reads add no details");
	is_int(json_get_int(&c, "limit", true, 1, 49, 7), 7,
	    "int: over max gives the default");
	is_str(detail(c.details, 0, "field"), "limit", "int: over max names the field");
	has_str(detail(c.details, 0, "message"), "1 to 49",
	    "int: over max states the bounds");
	is_int(json_get_int(&c, "limit", true, 51, 200, 7), 7,
	    "int: under min gives the default");
	is_int(json_get_int(&c, "dbl", true, 0, 10, 7), 7,
	    "int: 1.5 is not an integer");
	is_str(detail(c.details, 2, "message"), "must be an integer",
	    "int: a double says \"must be an integer\"");
	is_int(json_get_int(&c, "str", true, 0, 10, 7), 7,
	    "int: the string \"7\" is not an integer");
	is_int(json_get_int(&c, "t", true, 0, 10, 7), 7,
	    "int: true is not an integer");
	is_int(json_get_int(&c, "missing", true, 0, 10, 7), 7,
	    "int: a required missing field gives the default");
	is_str(detail(c.details, 5, "field"), "missing",
	    "int: the missing field is named");
	is_str(detail(c.details, 5, "message"), "is required",
	    "int: missing says \"is required\"");
	is_int(ndetails(&c), 6, "int: six failed reads, six details");

	ok(json_get_bool(&c, "t", true, false) == true, "bool: true is read");
	ok(json_get_bool(&c, "f", true, true) == false, "bool: false is read");
	ok(json_get_bool(&c, "absent", false, true) == true,
	    "bool: an absent optional field gives the default true");
	ok(json_get_bool(&c, "absent", false, false) == false,
	    "bool: an absent optional field gives the default false");
	is_int(ndetails(&c), 6, "bool: valid reads add no details");
	ok(json_get_bool(&c, "one", true, false) == false,
	    "bool: 1 is not a boolean (default returned)");
	is_str(detail(c.details, 6, "field"), "one", "bool: wrong type names the field");
	is_str(detail(c.details, 6, "message"), "must be true or false",
	    "bool: wrong type says \"must be true or false\"");
	ok(json_get_bool(&c, "str", false, true) == true,
	    "bool: a string is not a boolean, even when optional");
	ok(json_get_bool(&c, "gone", true, false) == false,
	    "bool: a required missing field gives the default");
	is_str(detail(c.details, 8, "message"), "is required",
	    "bool: missing says \"is required\"");

	o = json_get_object(&c, "obj", true);
	ok(o != NULL && json_object_is_type(o, json_type_object),
	    "object: an object field is returned");
	ok(json_object_object_get_ex(o, "a", NULL),
	    "object: the returned object is the field's value");
	ok(json_get_object(&c, "absent", false) == NULL,
	    "object: an absent optional field is NULL");
	is_int(ndetails(&c), 9, "object: valid reads add no details");
	ok(json_get_object(&c, "arr", true) == NULL,
	    "object: an array is not an object");
	is_str(detail(c.details, 9, "message"), "must be a JSON object",
	    "object: wrong type says \"must be a JSON object\"");
	ok(json_get_object(&c, "str", false) == NULL,
	    "object: a string is not an object");
	ok(json_get_object(&c, "settings", true) == NULL,
	    "object: a required missing field is NULL");
	is_str(detail(c.details, 11, "field"), "settings",
	    "object: the missing field is named");
	is_str(detail(c.details, 11, "message"), "is required",
	    "object: missing says \"is required\"");
	is_int(finish(&c, &err), 422, "object: the check fails");
	json_object_put(body);
	hb_error_clear(&err);
}

static void
test_not_an_object(void)
{
	static const char *const texts[] = { "[]", "[{\"email\":\"a@b.c\"}]",
	    "\"email\"", "42", "true", "null" };
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *body;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		body = json_tokener_parse(texts[i]);
		json_check_begin(&c, body);
		ok(json_get_string(&c, "email", true, 1, 10) == NULL,
		    "body %s: fields read as missing", texts[i]);
		is_int(json_get_int(&c, "n", true, 0, 10, 3), 3,
		    "body %s: an int read gives the default", texts[i]);
		ok(json_get_object(&c, "o", true) == NULL &&
		    json_get_bool(&c, "b", true, true) == true,
		    "body %s: object and bool reads give NULL and the default",
		    texts[i]);
		is_int(ndetails(&c), 1, "body %s: exactly one detail", texts[i]);
		is_str(detail(c.details, 0, "field"), "body",
		    "body %s: the detail is for \"body\"", texts[i]);
		is_str(detail(c.details, 0, "message"), "must be a JSON object",
		    "body %s: the detail says it must be an object", texts[i]);
		is_int(finish(&c, &err), 422, "body %s: the check fails with 422",
		    texts[i]);
		json_object_put(body);
	}

	json_check_begin(&c, NULL);
	ok(json_get_string(&c, "email", true, 1, 10) == NULL,
	    "no body: fields read as missing");
	is_int(ndetails(&c), 1, "no body: exactly one detail");
	is_str(detail(c.details, 0, "field"), "body",
	    "no body: the detail is for \"body\"");
	is_int(finish(&c, &err), 422, "no body: the check fails with 422");
	hb_error_clear(&err);
}

static void
test_done(void)
{
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *body, *d, *v;
	size_t nkeys;

	body = parse("{\"email\":\"x\"}");
	json_check_begin(&c, body);
	json_get_string(&c, "email", true, 3, 254);
	json_get_string(&c, "password", true, 10, 72);
	json_check_fail(&c, "organization_name", "custom reason");
	hb_fail(&err, 400, "stale", "a previous error");
	is_int(json_check_done(&c, &err), -1,
	    "done: details present → json_check_done returns -1");
	is_int(err.status, 422, "done: err.status is 422");
	is_str(err.code, "validation_failed", "done: err.code is validation_failed");
	ok(err.message[0] != '\0' && strcmp(err.message, "a previous error") != 0,
	    "done: err.message is set anew");
	ok(json_object_is_type(err.details, json_type_array),
	    "done: err.details is an array");
	is_int(json_object_array_length(err.details), 3,
	    "done: err.details has one entry per problem");
	ok(c.details == NULL, "done: the check no longer owns the details");
	is_str(detail(err.details, 0, "field"), "email", "done: details[0].field");
	has_str(detail(err.details, 0, "message"), "3 to 254",
	    "done: details[0].message");
	is_str(detail(err.details, 1, "field"), "password",
	    "done: details[1].field");
	is_str(detail(err.details, 1, "message"), "is required",
	    "done: details[1].message");
	is_str(detail(err.details, 2, "field"), "organization_name",
	    "done: json_check_fail adds a detail");
	is_str(detail(err.details, 2, "message"), "custom reason",
	    "done: json_check_fail keeps the message");
	for (size_t i = 0; i < json_object_array_length(err.details); i++) {
		d = json_object_array_get_idx(err.details, i);
		nkeys = (size_t)json_object_object_length(d);
		ok(nkeys == 2 && json_object_object_get_ex(d, "field", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    json_object_object_get_ex(d, "message", &v) &&
		    json_object_is_type(v, json_type_string),
		    "done: details[%zu] is exactly {field, message} strings", i);
	}
	json_object_put(body);
	hb_error_clear(&err);
	ok(err.details == NULL && err.status == 0,
	    "done: hb_error_clear releases the details");

	body = parse("{\"a\":\"b\"}");
	json_check_begin(&c, body);
	json_get_string(&c, "a", true, 1, 1);
	hb_fail(&err, 400, "left_over", "from before");
	is_int(json_check_done(&c, &err), 0,
	    "done: no details → json_check_done returns 0");
	is_int(err.status, 400, "done: success leaves err alone");
	ok(err.details == NULL, "done: success sets no details");
	json_object_put(body);
	hb_error_clear(&err);
}

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n;
		bool valid;
		const char *what;
	} cases[] = {
		{ "", 0, true, "the empty string" },
		{ "plain ASCII", 11, true, "ASCII" },
		{ "\x7f", 1, true, "U+007F" },
		{ "\xc2\x80", 2, true, "U+0080, the smallest 2-byte" },
		{ "\xc3\xa9", 2, true, "U+00E9 (2 bytes)" },
		{ "\xdf\xbf", 2, true, "U+07FF, the largest 2-byte" },
		{ "\xe0\xa0\x80", 3, true, "U+0800, the smallest 3-byte" },
		{ "\xe2\x82\xac", 3, true, "U+20AC euro sign (3 bytes)" },
		{ "\xed\x9f\xbf", 3, true, "U+D7FF, just below the surrogates" },
		{ "\xee\x80\x80", 3, true, "U+E000, just above the surrogates" },
		{ "\xef\xbf\xbf", 3, true, "U+FFFF" },
		{ "\xf0\x90\x80\x80", 4, true, "U+10000, the smallest 4-byte" },
		{ "\xf0\x9f\x8f\xa0", 4, true, "U+1F3E0 house (4 bytes)" },
		{ "\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF, the largest" },
		{ "a\0b", 3, true, "an embedded U+0000 (checked elsewhere)" },
		{ "\x80", 1, false, "a lone continuation byte" },
		{ "\xbf", 1, false, "a lone 0xbf" },
		{ "\xc0\x80", 2, false, "overlong U+0000 (C0 80)" },
		{ "\xc1\xbf", 2, false, "overlong U+007F (C1 BF)" },
		{ "\xe0\x80\xaf", 3, false, "overlong '/' in 3 bytes" },
		{ "\xe0\x9f\xbf", 3, false, "overlong U+07FF in 3 bytes" },
		{ "\xf0\x80\x80\xaf", 4, false, "overlong '/' in 4 bytes" },
		{ "\xf0\x8f\xbf\xbf", 4, false, "overlong U+FFFF in 4 bytes" },
		{ "\xed\xa0\x80", 3, false, "surrogate U+D800" },
		{ "\xed\xbf\xbf", 3, false, "surrogate U+DFFF" },
		{ "\xed\xa0\xbd\xed\xb2\xa9", 6, false, "a CESU-8 surrogate pair" },
		{ "\xf4\x90\x80\x80", 4, false, "U+110000" },
		{ "\xf5\x80\x80\x80", 4, false, "lead byte 0xf5" },
		{ "\xf7\xbf\xbf\xbf", 4, false, "U+1FFFFF" },
		{ "\xf8\x88\x80\x80\x80", 5, false, "a 5-byte sequence" },
		{ "\xfe", 1, false, "0xfe" },
		{ "\xff", 1, false, "0xff" },
		{ "\xc3", 1, false, "a truncated 2-byte sequence" },
		{ "\xe2\x82", 2, false, "a truncated 3-byte sequence" },
		{ "\xf0\x9f\x8f", 3, false, "a truncated 4-byte sequence" },
		{ "abc\xe2", 4, false, "a truncated sequence after ASCII" },
		{ "\xe2\x28\xa1", 3, false, "a bad second byte" },
		{ "\xe2\x82\x28", 3, false, "a bad third byte" },
		{ "\xf0\x9f\x8f\x28", 4, false, "a bad fourth byte" },
		{ "\xc3\xa9\xc3", 3, false, "valid text then a truncated sequence" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(json_utf8_valid(cases[i].s, cases[i].n) == cases[i].valid,
		    "utf8: %s is %s", cases[i].what,
		    cases[i].valid ? "valid" : "invalid");
	ok(!json_utf8_valid("\xc3\xa9", 1),
	    "utf8: the length is honoured (a sequence cut by n)");
	ok(json_utf8_valid("ab\xff", 2),
	    "utf8: bytes past n are not read");
}

/* Parses text the way http.c does, then asks json_keys_unique. */
static int
keys_unique(const char *text)
{
	struct json_object *root;
	int unique;

	if (!json_text_valid(text, strlen(text), 32))
		return -1;
	root = json_tokener_parse(text);
	unique = json_keys_unique(text, strlen(text), root);
	json_object_put(root);
	return unique;
}

static void
test_keys_unique(void)
{
	static const char *const once[] = {
		"{}", "[]", "null", "1", "\"a\"", "{\"a\":1,\"b\":2}",
		"{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}",
		" { \"a\" : [ 1 , { } , [ ] ] , \"b\" : null } ",
		"{\"a\\\"\":1,\"a\":2}", "{\"A\":1,\"a\":2}",
		"[{\"x\":1,\"y\":2},{\"x\":3}]",
	};
	static const char *const twice[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":2,\"a\":1}",
		"{\"a\":{\"b\":1,\"b\":2}}", "[1,{\"k\":[],\"k\":[]}]",
		"{\"a\":{\"x\":1},\"b\":1,\"a\":2}",
		"{\"a\":[1,2],\"a\":{\"a\":1}}",
		"{\"e\":1,\"\\u0065\":2}", "{\"x\":[{\"q\":1},{\"q\":1,\"q\":2}]}",
	};

	static const char *const nul_keys[] = {
		"{\"role\\u0000x\":1}", "{\"a\":{\"\\u0000\":1}}",
		"[{\"k\\u0000\":1}]",
	};
	static const char *const nul_fine[] = {
		"{\"a\":\"\\u0000\"}", "{\"a\\\\u0000\":1}",
		"{\"\\u0001\":1}",
	};

	for (size_t i = 0; i < sizeof(nul_keys) / sizeof(nul_keys[0]); i++)
		ok(!json_text_valid(nul_keys[i], strlen(nul_keys[i]), 32),
		    "text_valid: a key escaping NUL is refused: %s", nul_keys[i]);
	for (size_t i = 0; i < sizeof(nul_fine) / sizeof(nul_fine[0]); i++)
		ok(json_text_valid(nul_fine[i], strlen(nul_fine[i]), 32),
		    "text_valid: %s is valid", nul_fine[i]);
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		is_int(keys_unique(once[i]), 1, "keys_unique: %s", once[i]);
	for (size_t i = 0; i < sizeof(twice) / sizeof(twice[0]); i++)
		is_int(keys_unique(twice[i]), 0, "keys_unique: %s has a key twice",
		    twice[i]);
}

int
main(void)
{
	plan(241);
	test_strings();
	test_string_bytes();
	test_ints_bools_objects();
	test_not_an_object();
	test_done();
	test_utf8();
	test_keys_unique();
	return done_testing();
}
