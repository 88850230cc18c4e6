#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

/*
 * addr, without surrounding blanks and at most 63 bytes, as 16 bytes (an
 * IPv4 address in its IPv4-mapped form). Returns 0, or -1 when it is not an
 * address; *v4 tells which family it was written in.
 */
static int
addr_parse(const char *s, size_t len, unsigned char out[16], bool *v4)
{
	char buf[64];
	struct in_addr a4;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return 0;
	}
	*v4 = false;
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

/* Prefix length from text ("24"); -1 unless 0..max in plain digits. */
static int
bits_parse(const char *s, size_t len, int max)
{
	int v = 0;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len > 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* One entry, "addr" or "addr/bits", into *net. Returns 0 or -1. */
static int
entry_parse(struct hb_cidr *net, const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	bool v4;

	if (addr_parse(s, alen, net->addr, &v4) == -1)
		return -1;
	if (slash == NULL)
		net->bits = 128;
	else {
		int bits = bits_parse(slash + 1, len - alen - 1, v4 ? 32 : 128);

		if (bits < 0)
			return -1;
		net->bits = v4 ? bits + 96 : bits;
	}
	return 0;
}

/* The error of a bad entry, quoted without its surrounding blanks. */
static int
entry_fail(const char *s, size_t len, struct hb_error *err)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return hb_fail(err, 500, "config",
	    "\"%.*s\" is not an address or a network "
	    "(such as 10.0.0.0/8 or ::1/128)", (int)(len > 64 ? 64 : len), s);
}

int
cidr_list_parse(struct hb_cidr_list *list, const char *text,
    struct hb_error *err)
{
	const char *p = text;

	list->n = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		size_t blank = strspn(p, " \t");

		if (blank < len) {
			if (list->n == HB_CIDR_MAX)
				return hb_fail(err, 500, "config",
				    "more than %d networks in one list",
				    HB_CIDR_MAX);
			if (entry_parse(&list->net[list->n], p, len) == -1)
				return entry_fail(p, len, err);
			list->n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Whether the first bits bits of a and b are equal. */
static bool
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

bool
cidr_list_contains(const struct hb_cidr_list *list, const char *addr)
{
	unsigned char a[16];
	bool v4;

	if (addr == NULL || addr_parse(addr, strlen(addr), a, &v4) == -1)
		return false;
	for (size_t i = 0; i < list->n; i++)
		if (prefix_equal(a, list->net[i].addr, list->net[i].bits))
			return true;
	return false;
}

bool
cidr_addr_valid(const char *addr)
{
	unsigned char a[16];
	bool v4;

	return addr != NULL && addr_parse(addr, strlen(addr), a, &v4) == 0;
}
