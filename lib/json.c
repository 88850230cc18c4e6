#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

void
json_check_begin(struct hb_json_check *c, struct json_object *body)
{
	c->body = body;
	c->details = json_object_new_array();
	if (!json_object_is_type(body, json_type_object)) {
		c->body = NULL;
		json_check_fail(c, "body", "must be a JSON object");
	}
}

void
json_check_fail(struct hb_json_check *c, const char *field,
    const char *message)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "field", json_object_new_string(field));
	json_object_object_add(d, "message", json_object_new_string(message));
	json_object_array_add(c->details, d);
}

int
json_check_done(struct hb_json_check *c, struct hb_error *err)
{
	struct json_object *details = c->details;

	c->details = NULL;
	if (details == NULL || json_object_array_length(details) == 0) {
		json_object_put(details);
		return 0;
	}
	hb_fail(err, 422, "validation_failed", "The request is not valid.");
	err->details = details;
	return -1;
}

/* The field's value, or NULL when absent (a failure if required). */
static struct json_object *
field_get(struct hb_json_check *c, const char *field, bool required)
{
	struct json_object *v = NULL;

	if (c->body == NULL)
		return NULL;
	if (!json_object_object_get_ex(c->body, field, &v) ||
	    json_object_is_type(v, json_type_null)) {
		if (required)
			json_check_fail(c, field, "is required");
		return NULL;
	}
	return v;
}

bool
json_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned char c = *p;
		size_t len;
		unsigned int cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += len;
	}
	return true;
}

const char *
json_get_string(struct hb_json_check *c, const char *field, bool required,
    size_t min, size_t max)
{
	struct json_object *v = field_get(c, field, required);
	const char *s;
	size_t n;
	char msg[96];

	if (v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		json_check_fail(c, field, "must be a string");
		return NULL;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', n) != NULL || !json_utf8_valid(s, n)) {
		json_check_fail(c, field, "must be valid UTF-8 text");
		return NULL;
	}
	if (n < min || n > max) {
		if (min == max)
			snprintf(msg, sizeof(msg), "must be %zu bytes", min);
		else
			snprintf(msg, sizeof(msg),
			    "must be %zu to %zu bytes long", min, max);
		json_check_fail(c, field, msg);
		return NULL;
	}
	return s;
}

int64_t
json_get_int(struct hb_json_check *c, const char *field, bool required,
    int64_t min, int64_t max, int64_t def)
{
	struct json_object *v = field_get(c, field, required);
	int64_t n;
	char msg[96];

	if (v == NULL)
		return def;
	if (!json_object_is_type(v, json_type_int)) {
		json_check_fail(c, field, "must be an integer");
		return def;
	}
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		snprintf(msg, sizeof(msg), "must be from %lld to %lld",
		    (long long)min, (long long)max);
		json_check_fail(c, field, msg);
		return def;
	}
	return n;
}

bool
json_get_bool(struct hb_json_check *c, const char *field, bool required,
    bool def)
{
	struct json_object *v = field_get(c, field, required);

	if (v == NULL)
		return def;
	if (!json_object_is_type(v, json_type_boolean)) {
		json_check_fail(c, field, "must be true or false");
		return def;
	}
	return json_object_get_boolean(v);
}

struct json_object *
json_get_object(struct hb_json_check *c, const char *field, bool required)
{
	struct json_object *v = field_get(c, field, required);

	if (v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_object)) {
		json_check_fail(c, field, "must be a JSON object");
		return NULL;
	}
	return v;
}

struct json_object *
json_new_ms(double ms)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.3f", ms);
	return json_object_new_double_s(ms, buf);
}

struct scan {
	const char	*p;
	const char	*end;
};

static void
scan_space(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

static bool
scan_digits(struct scan *sc)
{
	const char *start = sc->p;

	while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
		sc->p++;
	return sc->p > start;
}

static bool
scan_number(struct scan *sc)
{
	if (sc->p < sc->end && *sc->p == '-')
		sc->p++;
	if (sc->p < sc->end && *sc->p == '0')
		sc->p++;
	else if (!scan_digits(sc))
		return false;
	if (sc->p < sc->end && *sc->p == '.') {
		sc->p++;
		if (!scan_digits(sc))
			return false;
	}
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (!scan_digits(sc))
			return false;
	}
	return true;
}

static bool
scan_string(struct scan *sc)
{
	sc->p++;
	while (sc->p < sc->end) {
		unsigned char c = (unsigned char)*sc->p++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (sc->p == sc->end)
			return false;
		c = (unsigned char)*sc->p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, sc->p++)
				if (sc->p == sc->end ||
				    !isxdigit((unsigned char)*sc->p))
					return false;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
			return false;
	}
	return false;
}

static bool
scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
		return false;
	sc->p += n;
	return true;
}

static bool scan_value(struct scan *sc, int depth);

/*
 * Whether the string text [s, end) escapes a NUL (\u0000): json-c cuts a
 * key there, so {"role\u0000x": ...} would reach the programs as "role"
 * while anything in front reads another name.
 */
static bool
escapes_nul(const char *s, const char *end)
{
	for (; s < end; s++) {
		if (*s != '\\' || s + 1 == end)
			continue;
		s++;
		if (*s == 'u' && end - s >= 5 && memcmp(s + 1, "0000", 4) == 0)
			return true;
	}
	return false;
}

/* An array or object: open, values (with keys), separators, close. */
static bool
scan_container(struct scan *sc, int depth, bool object)
{
	char close = object ? '}' : ']';

	sc->p++;
	scan_space(sc);
	if (sc->p < sc->end && *sc->p == close) {
		sc->p++;
		return true;
	}
	for (;;) {
		if (object) {
			const char *key = sc->p;

			if (sc->p == sc->end || *sc->p != '"' ||
			    !scan_string(sc) || escapes_nul(key, sc->p))
				return false;
			scan_space(sc);
			if (sc->p == sc->end || *sc->p++ != ':')
				return false;
		}
		if (!scan_value(sc, depth - 1))
			return false;
		scan_space(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p == close) {
			sc->p++;
			return true;
		}
		if (*sc->p++ != ',')
			return false;
		scan_space(sc);
	}
}

static bool
scan_value(struct scan *sc, int depth)
{
	scan_space(sc);
	if (sc->p == sc->end || depth <= 0)
		return false;
	switch (*sc->p) {
	case '{':
		return scan_container(sc, depth, true);
	case '[':
		return scan_container(sc, depth, false);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		return scan_number(sc);
	}
}

bool
json_text_valid(const char *s, size_t n, int max_depth)
{
	struct scan sc = { s, s + n };

	if (!scan_value(&sc, max_depth))
		return false;
	scan_space(&sc);
	return sc.p == sc.end;
}

static bool unique_value(struct scan *sc, struct json_object *v);

/* Walks an object of the text beside json-c's: the same members, in order. */
static bool
unique_object(struct scan *sc, struct json_object *obj)
{
	struct json_object_iterator it, end;
	int members = 0;

	if (!json_object_is_type(obj, json_type_object))
		return false;
	it = json_object_iter_begin(obj);
	end = json_object_iter_end(obj);
	sc->p++;
	scan_space(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		return json_object_object_length(obj) == 0;
	}
	for (;;) {
		if (!scan_string(sc))
			return false;
		scan_space(sc);
		if (sc->p == sc->end || *sc->p++ != ':' ||
		    json_object_iter_equal(&it, &end))
			return false;
		members++;
		if (!unique_value(sc, json_object_iter_peek_value(&it)))
			return false;
		json_object_iter_next(&it);
		scan_space(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p++ == '}')
			break;
		scan_space(sc);
	}
	return members == json_object_object_length(obj);
}

static bool
unique_array(struct scan *sc, struct json_object *arr)
{
	size_t i = 0;

	if (!json_object_is_type(arr, json_type_array))
		return false;
	sc->p++;
	scan_space(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		return json_object_array_length(arr) == 0;
	}
	for (;;) {
		if (i == json_object_array_length(arr) ||
		    !unique_value(sc, json_object_array_get_idx(arr, i++)))
			return false;
		scan_space(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p++ == ']')
			break;
	}
	return i == json_object_array_length(arr);
}

static bool
unique_value(struct scan *sc, struct json_object *v)
{
	scan_space(sc);
	if (sc->p == sc->end)
		return false;
	if (*sc->p == '{')
		return unique_object(sc, v);
	if (*sc->p == '[')
		return unique_array(sc, v);
	/* A scalar: the text was valid, so scanning it cannot fail. */
	return scan_value(sc, 1);
}

bool
json_keys_unique(const char *s, size_t n, struct json_object *root)
{
	struct scan sc = { s, s + n };

	return unique_value(&sc, root);
}
