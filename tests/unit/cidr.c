/*
 * Address lists (METRICS_ALLOW, TRUSTED_PROXIES): IPv4 and IPv6 networks,
 * IPv4-mapped IPv6 addresses, hosts without a prefix, and everything a
 * list or an address may be that is not one.
 */
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "tap.h"

/* Whether addr lies in the list text (which must parse). */
static bool
in(const char *text, const char *addr)
{
	struct hb_cidr_list l;
	struct hb_error err = {0};

	if (cidr_list_parse(&l, text, &err) == -1) {
		printf("Bail out! %s does not parse: %s\n", text, err.message);
		return false;
	}
	return cidr_list_contains(&l, addr);
}

static int
parses(const char *text)
{
	struct hb_cidr_list l;
	struct hb_error err = {0};

	return cidr_list_parse(&l, text, &err);
}

static void
test_parse(void)
{
	struct hb_cidr_list l;
	struct hb_error err = {0};
	char many[2048] = "";

	is_int(cidr_list_parse(&l, "127.0.0.1/32,::1/128", &err), 0,
	    "the default METRICS_ALLOW parses");
	is_int(l.n, 2, "two networks");
	is_int(cidr_list_parse(&l, "", &err), 0, "an empty list parses");
	is_int(l.n, 0, "and holds nothing");
	is_int(cidr_list_parse(&l, " 10.0.0.0/8 , , fd00::/8 ", &err), 0,
	    "blanks and empty entries are allowed");
	is_int(l.n, 2, "empty entries are not networks");
	is_int(parses("10.0.0.1"), 0, "an address alone is one host");
	is_int(parses("0.0.0.0/0"), 0, "every IPv4 address");
	is_int(parses("::/0"), 0, "every address");
	is_int(parses("10.0.0.0/33"), -1, "IPv4 prefix above 32");
	is_int(parses("fd00::/129"), -1, "IPv6 prefix above 128");
	is_int(parses("10.0.0.0/-1"), -1, "negative prefix");
	is_int(parses("10.0.0.0/"), -1, "empty prefix");
	is_int(parses("10.0.0.0/8x"), -1, "prefix with letters");
	is_int(parses("10.0.0.0/0008"), -1, "prefix of four digits");
	is_int(parses("10.0.0/8"), -1, "three octets");
	is_int(parses("10.0.0.256"), -1, "octet above 255");
	is_int(parses("example.com"), -1, "a name");
	is_int(parses("fe80::1%eth0"), -1, "a zone index");
	is_int(cidr_list_parse(&l, "10.0.0.0/8,nonsense", &err), -1,
	    "one bad entry fails the list");
	has_str(err.message, "nonsense", "and the message names it");
	is_int(cidr_list_parse(&l, "10.0.0.0/8,  10.0.0.300/8 ,::1", &err), -1,
	    "a bad entry between good ones fails the list");
	has_str(err.message, "\"10.0.0.300/8\" is not",
	    "and the message quotes it without its blanks");
	for (int i = 0; i <= HB_CIDR_MAX; i++)
		strcat(many, "10.0.0.0/8,");
	is_int(parses(many), -1, "more than HB_CIDR_MAX networks");
}

static void
test_contains(void)
{
	ok(in("127.0.0.1/32,::1/128", "127.0.0.1"), "loopback v4");
	ok(in("127.0.0.1/32,::1/128", "::1"), "loopback v6");
	ok(!in("127.0.0.1/32,::1/128", "127.0.0.2"), "another loopback address");
	ok(!in("127.0.0.1/32,::1/128", "10.1.2.3"), "a private address");
	ok(in("10.0.0.0/8", "10.255.255.255"), "last of 10/8");
	ok(!in("10.0.0.0/8", "11.0.0.0"), "first after 10/8");
	ok(in("192.168.1.0/25", "192.168.1.127"), "last of a /25");
	ok(!in("192.168.1.0/25", "192.168.1.128"), "first after a /25");
	ok(in("172.16.0.0/12", "172.31.0.1"), "inside a /12");
	ok(!in("172.16.0.0/12", "172.32.0.1"), "outside a /12");
	ok(in("0.0.0.0/0", "8.8.8.8"), "/0 holds every IPv4 address");
	ok(!in("0.0.0.0/0", "2001:db8::1"), "but no IPv6 one");
	ok(in("10.0.0.0/8", "::ffff:10.1.2.3"), "IPv4-mapped IPv6 address");
	ok(in("::ffff:10.0.0.0/104", "10.9.9.9"), "IPv4 address, mapped network");
	ok(in("2001:db8::/32", "2001:db8:ffff::1"), "inside an IPv6 /32");
	ok(!in("2001:db8::/32", "2001:db9::1"), "outside an IPv6 /32");
	ok(in("2001:db8::/33", "2001:db8:7fff::1"), "IPv6 odd prefix, in");
	ok(!in("2001:db8::/33", "2001:db8:8000::1"), "IPv6 odd prefix, out");
	ok(in("10.0.0.7", " 10.0.0.7 "), "blanks around the address");
	ok(!in("10.0.0.7", "10.0.0.8"), "a host is one address");
	ok(!in("0.0.0.0/0,::/0", ""), "empty address");
	ok(!in("0.0.0.0/0,::/0", "unknown"), "a word");
	ok(!in("0.0.0.0/0,::/0", "10.0.0.1:8080"), "address with a port");
	ok(!in("", "127.0.0.1"), "the empty list holds nothing");
	ok(!cidr_list_contains(&(struct hb_cidr_list){ .n = 0 }, NULL),
	    "NULL is no address");
	ok(cidr_addr_valid("2001:db8::1"), "valid IPv6");
	ok(cidr_addr_valid(" 10.0.0.1"), "valid IPv4 with a blank");
	ok(!cidr_addr_valid("10.0.0.1, 10.0.0.2"), "two addresses");
	ok(!cidr_addr_valid(
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000:1111:2222:3333"),
	    "64 bytes and no address");
}

int
main(void)
{
	plan(53);
	test_parse();
	test_contains();
	return done_testing();
}
