/*
 * A JSON request body through what reads one: the RFC 8259 and UTF-8
 * checks the body must pass first, json-c's strict parse, then the typed
 * field accessors of lib/json.c and the validators of lib/validate.c on
 * whatever fields the body has. An input is the body itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"
#include "json.h"
#include "validate.h"

static struct hb_config cfg;
static struct hb_arena arena;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	cfg.password_min_length = 10;
	arena_init(&arena);
	return 0;
}

static struct json_object *
parse(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new_ex(HB_JSON_MAX_DEPTH);
	struct json_object *o;

	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)n + 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Every accessor on one field, whatever its type. */
static void
read_field(struct hb_json_check *c, const char *key)
{
	const char *s;

	s = json_get_string(c, key, false, 0, 4096);
	if (s != NULL) {
		validate_timestamp(s);
		validate_email_key(&arena, s);
		validate_new_password(c, &cfg, key, s, "alice@example.com");
		validate_form_text(c, key, s, 64);
	}
	json_get_string(c, key, true, 3, 3);
	json_get_int(c, key, false, INT64_MIN, INT64_MAX, 0);
	json_get_int(c, key, true, -5, 200, 50);
	json_get_bool(c, key, false, true);
	json_get_object(c, key, false);
	validate_email(c, &arena, key, false);
}

static void
check_object(struct json_object *body)
{
	struct hb_json_check c;
	struct hb_error err = {0};
	struct json_object *meta;

	json_check_begin(&c, body);
	validate_email(&c, &arena, "email", true);
	json_get_string(&c, "name", true, 1, 200);
	json_get_int(&c, "limit", false, 1, 200, 50);
	json_get_bool(&c, "active", false, true);
	meta = json_get_object(&c, "meta", false);
	if (json_object_is_type(body, json_type_object)) {
		json_object_object_foreach(body, key, val) {
			(void)val;
			read_field(&c, key);
		}
	}
	if (json_check_done(&c, &err) == -1 && err.details == NULL)
		abort();
	hb_error_clear(&err);
	if (meta != NULL) {
		json_check_begin(&c, meta);
		json_object_object_foreach(meta, key, val) {
			(void)val;
			read_field(&c, key);
		}
		json_check_done(&c, &err);
		hb_error_clear(&err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct json_object *body;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	json_text_valid(s, size, 4);
	if (memchr(s, '\0', size) == NULL && json_utf8_valid(s, size) &&
	    json_text_valid(s, size, HB_JSON_MAX_DEPTH)) {
		body = parse(s, size);
		check_object(body);
		json_object_put(body);
	}
	validate_timestamp(s);
	free(s);
	arena_reset(&arena);
	return 0;
}
