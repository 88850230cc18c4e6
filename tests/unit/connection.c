/*
 * lib/connection.c: the syntax of a connection's type and of its secret
 * fields' names, and the check of a secret_fields object (POST: strings;
 * PATCH: strings or null), which decides what reaches the vault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "tap.h"

static void
test_type(void)
{
	char longest[CONNECTION_TYPE_MAX + 2];

	ok(connection_type_valid("smtp"), "type: smtp");
	ok(connection_type_valid("s3"), "type: s3");
	ok(connection_type_valid("llm.openai-v1_x"), "type: . - _ and digits");
	ok(!connection_type_valid(NULL), "type: NULL");
	ok(!connection_type_valid(""), "type: empty");
	ok(!connection_type_valid("SMTP"), "type: upper case");
	ok(!connection_type_valid("3s"), "type: a digit first");
	ok(!connection_type_valid("-x"), "type: a dash first");
	ok(!connection_type_valid("sm tp"), "type: a blank");
	ok(!connection_type_valid("smtp/x"), "type: a slash");
	ok(!connection_type_valid("caf\xc3\xa9"), "type: non-ASCII");
	memset(longest, 'a', CONNECTION_TYPE_MAX);
	longest[CONNECTION_TYPE_MAX] = '\0';
	ok(connection_type_valid(longest), "type: 32 characters");
	longest[CONNECTION_TYPE_MAX] = 'a';
	longest[CONNECTION_TYPE_MAX + 1] = '\0';
	ok(!connection_type_valid(longest), "type: 33 characters");
}

static void
test_field_name(void)
{
	char longest[CONNECTION_FIELD_MAX + 2];

	ok(connection_field_name_valid("password"), "field: password");
	ok(connection_field_name_valid("API_KEY"), "field: upper case");
	ok(connection_field_name_valid("_private.key-2"), "field: _ first, . - digits");
	ok(!connection_field_name_valid(NULL), "field: NULL");
	ok(!connection_field_name_valid(""), "field: empty");
	ok(!connection_field_name_valid("2fa"), "field: a digit first");
	ok(!connection_field_name_valid(".x"), "field: a dot first");
	ok(!connection_field_name_valid("a b"), "field: a blank");
	ok(!connection_field_name_valid("\xc3\xa9t\xc3\xa9"), "field: non-ASCII first");
	ok(!connection_field_name_valid("a\xc3\xa9"), "field: non-ASCII after");
	memset(longest, 'k', CONNECTION_FIELD_MAX);
	longest[CONNECTION_FIELD_MAX] = '\0';
	ok(connection_field_name_valid(longest), "field: 64 characters");
	longest[CONNECTION_FIELD_MAX] = 'k';
	longest[CONNECTION_FIELD_MAX + 1] = '\0';
	ok(!connection_field_name_valid(longest), "field: 65 characters");
}

/* connection_fields_check() of JSON text; "(parse)" if it does not parse. */
static const char *
check(const char *text, bool allow_null)
{
	struct json_object *o = json_tokener_parse(text);
	const char *msg;

	if (o == NULL)
		return "(parse)";
	msg = connection_fields_check(o, allow_null);
	json_object_put(o);
	return msg;
}

static void
test_fields(void)
{
	struct json_object *o, *big;
	char *value;

	ok(check("{}", false) == NULL, "fields: none");
	ok(check("{\"password\": \"p\", \"token\": \"t\"}", false) == NULL,
	    "fields: two strings");
	ok(check("{\"password\": null}", true) == NULL,
	    "fields: null removes, in a PATCH");
	ok(check("{\"password\": null}", false) != NULL,
	    "fields: null is no value, in a POST");
	ok(check("{\"password\": \"\"}", true) != NULL, "fields: empty value");
	ok(check("{\"password\": 5}", true) != NULL, "fields: a number");
	ok(check("{\"password\": {}}", true) != NULL, "fields: an object");
	ok(check("{\"password\": true}", true) != NULL, "fields: a boolean");
	ok(check("{\"bad name\": \"v\"}", true) != NULL, "fields: a bad name");
	ok(check("{\"\": \"v\"}", true) != NULL, "fields: an empty name");
	ok(check("[\"password\"]", true) != NULL, "fields: an array");
	ok(check("\"password\"", true) != NULL, "fields: a string");
	ok(check("{\"p\": \"a\\u0000b\"}", true) != NULL, "fields: a NUL");
	ok(check("{\"p\": \"\\u00e9t\\u00e9\"}", true) == NULL,
	    "fields: UTF-8 text");

	/* 16 KiB is the largest value. */
	value = malloc(CONNECTION_VALUE_MAX + 2);
	memset(value, 'v', CONNECTION_VALUE_MAX + 1);
	value[CONNECTION_VALUE_MAX] = '\0';
	big = json_object_new_object();
	json_object_object_add(big, "p", json_object_new_string(value));
	ok(connection_fields_check(big, false) == NULL, "fields: 16 KiB");
	value[CONNECTION_VALUE_MAX] = 'v';
	value[CONNECTION_VALUE_MAX + 1] = '\0';
	json_object_object_add(big, "p", json_object_new_string(value));
	ok(connection_fields_check(big, false) != NULL,
	    "fields: 16 KiB and one byte");
	json_object_put(big);
	free(value);

	/* 32 fields at most. */
	o = json_object_new_object();
	for (int i = 0; i < CONNECTION_FIELDS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		json_object_object_add(o, name, json_object_new_string("v"));
	}
	ok(connection_fields_check(o, false) == NULL, "fields: 32");
	json_object_object_add(o, "one_more", json_object_new_string("v"));
	ok(connection_fields_check(o, false) != NULL, "fields: 33");
	json_object_put(o);
}

int
main(void)
{
	plan(13 + 12 + 18);
	test_type();
	test_field_name();
	test_fields();
	return done_testing();
}
