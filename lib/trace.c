#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "trace.h"
#include "uuid.h"

/* Longest tracestate member parts (the specification's key grammar). */
#define KEY_MAX		256
#define TENANT_MAX	241
#define SYSTEM_MAX	14
#define VALUE_MAX	256

static bool
lchex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Whether s[0..n) is lowercase hex and, when nonzero, not all zeros. */
static bool
hex_field(const char *s, size_t n, bool nonzero)
{
	bool zero = true;

	for (size_t i = 0; i < n; i++) {
		if (!lchex(s[i]))
			return false;
		if (s[i] != '0')
			zero = false;
	}
	return !(nonzero && zero);
}

static unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

bool
trace_id_valid(const char *s)
{
	return s != NULL && strlen(s) == HB_TRACE_ID_LEN &&
	    hex_field(s, HB_TRACE_ID_LEN, true);
}

bool
trace_parse_parent(const char *s, char trace_id[HB_TRACE_ID_LEN + 1],
    char parent_id[HB_SPAN_ID_LEN + 1], unsigned *flags)
{
	size_t n;

	if (s == NULL)
		return false;
	/* Reads no further than one byte past the version-00 length. */
	n = strnlen(s, HB_TRACEPARENT_LEN + 1);
	if (n < HB_TRACEPARENT_LEN || !hex_field(s, 2, false) ||
	    strncmp(s, "ff", 2) == 0)
		return false;
	/* 00 is exactly 55; a later version may add fields after a '-'. */
	if (n > HB_TRACEPARENT_LEN && (strncmp(s, "00", 2) == 0 ||
	    s[HB_TRACEPARENT_LEN] != '-'))
		return false;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-' ||
	    !hex_field(s + 3, HB_TRACE_ID_LEN, true) ||
	    !hex_field(s + 36, HB_SPAN_ID_LEN, true) ||
	    !hex_field(s + 53, 2, false))
		return false;
	memcpy(trace_id, s + 3, HB_TRACE_ID_LEN);
	trace_id[HB_TRACE_ID_LEN] = '\0';
	memcpy(parent_id, s + 36, HB_SPAN_ID_LEN);
	parent_id[HB_SPAN_ID_LEN] = '\0';
	*flags = hexval(s[53]) << 4 | hexval(s[54]);
	return true;
}

static bool
lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
key_char(char c)
{
	return lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	    c == '*' || c == '/';
}

/* simple-key, or tenant-id "@" system-id. */
static bool
key_valid(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	size_t tn, sn;

	if (at == NULL) {
		if (n == 0 || n > KEY_MAX || !lcalpha(k[0]))
			return false;
		for (size_t i = 1; i < n; i++)
			if (!key_char(k[i]))
				return false;
		return true;
	}
	tn = (size_t)(at - k);
	sn = n - tn - 1;
	if (tn == 0 || tn > TENANT_MAX || sn == 0 || sn > SYSTEM_MAX ||
	    !(lcalpha(k[0]) || (k[0] >= '0' && k[0] <= '9')) ||
	    !lcalpha(at[1]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (i != tn && !key_char(k[i]))
			return false;
	return true;
}

/* 1 to 256 of 0x20-0x7e but ',' and '=', not ending in a space. */
static bool
value_valid(const char *v, size_t n)
{
	if (n == 0 || n > VALUE_MAX || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

bool
trace_state_valid(const char *s)
{
	const char *key[HB_TRACESTATE_MAX_MEMBERS];
	size_t klen[HB_TRACESTATE_MAX_MEMBERS];
	int members = 0;

	if (s == NULL)
		return false;
	for (;;) {
		const char *end = strchr(s, ','), *eq;
		size_t n;

		if (end == NULL)
			end = s + strlen(s);
		while (s < end && ows(*s))
			s++;
		n = (size_t)(end - s);
		while (n > 0 && ows(s[n - 1]))
			n--;
		/* Empty and blank members are allowed and count for nothing. */
		if (n > 0) {
			eq = memchr(s, '=', n);
			if (eq == NULL || members == HB_TRACESTATE_MAX_MEMBERS ||
			    !key_valid(s, (size_t)(eq - s)) ||
			    !value_valid(eq + 1, n - (size_t)(eq - s) - 1))
				return false;
			key[members] = s;
			klen[members] = (size_t)(eq - s);
			/* A key may appear once. */
			for (int i = 0; i < members; i++)
				if (klen[i] == klen[members] &&
				    memcmp(key[i], s, klen[i]) == 0)
					return false;
			members++;
		}
		if (*end == '\0')
			return true;
		s = end + 1;
	}
}

/* n random bytes, not all zero, as lowercase hex into out[2n+1]. */
static void
random_hex(char *out, size_t n)
{
	unsigned char b[16];
	bool zero = true;

	uuid_random(b, n);
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			zero = false;
	if (zero)
		b[n - 1] = 1;
	crypto_hex(b, n, out);
}

void
trace_begin(struct hb_trace *t, const char *traceparent,
    const char *tracestate)
{
	t->tracestate = NULL;
	if (trace_parse_parent(traceparent, t->trace_id, t->parent_id,
	    &t->flags)) {
		if (tracestate != NULL && trace_state_valid(tracestate))
			t->tracestate = tracestate;
	} else {
		random_hex(t->trace_id, HB_TRACE_ID_LEN / 2);
		t->parent_id[0] = '\0';
		t->flags = 0;
	}
	random_hex(t->span_id, HB_SPAN_ID_LEN / 2);
}

void
trace_child(struct hb_trace *t, const char *trace_id)
{
	if (trace_id_valid(trace_id))
		memcpy(t->trace_id, trace_id, HB_TRACE_ID_LEN + 1);
	else
		random_hex(t->trace_id, HB_TRACE_ID_LEN / 2);
	t->parent_id[0] = '\0';
	t->flags = 0;
	t->tracestate = NULL;
	random_hex(t->span_id, HB_SPAN_ID_LEN / 2);
}

void
trace_format(const struct hb_trace *t, char out[HB_TRACEPARENT_LEN + 1])
{
	snprintf(out, HB_TRACEPARENT_LEN + 1, "00-%s-%s-%02x", t->trace_id,
	    t->span_id, t->flags & 0xffu);
}
