/*
 * The device of a sign-in (lib/sign_in.c): the user-agent families of
 * common browsers and tools, and the /24 or /48 network of an address,
 * with everything that is not one.
 */
#include <stdio.h>
#include <string.h>

#include "sign_in.h"
#include "tap.h"

static const char *
family(const char *ua)
{
	static char out[HB_SIGN_IN_FAMILY_MAX];

	if (sign_in_family(ua, out, sizeof(out)) == -1)
		return "(error)";
	return out;
}

static const char *
network(const char *addr)
{
	static char out[HB_SIGN_IN_NETWORK_MAX];

	if (sign_in_network(addr, out, sizeof(out)) == -1)
		return out[0] == '\0' ? "(error)" : "(error, not empty)";
	return out;
}

static void
test_family(void)
{
	char big[2048], small[8];

	is_str(family("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
	    "Gecko/20100101 Firefox/120.0"), "Firefox on Linux", "Firefox");
	is_str(family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
	    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
	    "Safari/537.36"), "Chrome on Windows", "Chrome, not Safari");
	is_str(family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
	    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
	    "Safari/537.36 Edg/120.0.0.0"), "Edge on Windows",
	    "Edge, not Chrome");
	is_str(family("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
	    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
	    "Safari/605.1.15"), "Safari on macOS", "Safari on a Mac");
	is_str(family("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
	    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
	    "Safari/604.1"), "Safari on iOS", "an iPhone, not a Mac");
	is_str(family("Mozilla/5.0 (Linux; Android 14; Pixel 8) "
	    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile "
	    "Safari/537.36"), "Chrome on Android", "Android, not Linux");
	is_str(family("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 "
	    "(KHTML, like Gecko) Chrome/120.0 Safari/537.36 OPR/105.0"),
	    "Opera on Windows", "Opera");
	is_str(family("Mozilla/5.0 (Plan9) Firefox/99.0"),
	    "Firefox on another system", "a browser on an unknown system");
	is_str(family("curl/8.4.0"), "curl", "curl");
	is_str(family("python-requests/2.31.0"), "Python", "python-requests");
	is_str(family("Python-urllib/3.11"), "Python", "urllib");
	is_str(family("Wget/1.21"), "Wget", "Wget");
	is_str(family("Mozilla/5.0 (Windows NT 10.0)"), "other",
	    "a system but no browser");
	is_str(family("my-robot/1.0"), "other", "an unknown agent");
	is_str(family(""), "other", "an empty agent");
	is_str(family(NULL), "other", "no agent");
	is_str(family("\x01\xff\xfe curl"), "other", "bytes that are no text");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 1000, "curl/8", 6);
	is_str(family(big), "other",
	    "a marker past the first 512 bytes is not read");
	memcpy(big + 100, "Firefox/1 Linux", 15);
	is_str(family(big), "Firefox on Linux",
	    "a long agent is read as far as 512 bytes");

	is_int(sign_in_family("curl/8", small, 4), -1,
	    "an out too small is an error");
	is_str(small, "", "...and leaves it empty");
	is_int(sign_in_family("Mozilla/5.0 (X11; Linux) Firefox/1", small,
	    sizeof(small)), -1, "a browser's family that does not fit");
}

static void
test_network(void)
{
	char small[12];

	is_str(network("203.0.113.77"), "203.0.113.0/24", "IPv4: its /24");
	is_str(network("10.1.2.3"), "10.1.2.0/24", "IPv4: another /24");
	is_str(network("10.1.2.255"), "10.1.2.0/24",
	    "IPv4: the same /24 for another host");
	is_str(network("::ffff:198.51.100.9"), "198.51.100.0/24",
	    "IPv4-mapped IPv6: the IPv4 /24");
	is_str(network("2001:db8:7:1::42"), "2001:db8:7::/48", "IPv6: its /48");
	is_str(network("2001:db8:7:ffff:1:2:3:4"), "2001:db8:7::/48",
	    "IPv6: the same /48 for another host");
	is_str(network("2001:db8:8::1"), "2001:db8:8::/48",
	    "IPv6: another /48");
	is_str(network("::1"), "::/48", "IPv6 loopback");
	is_str(network("127.0.0.1"), "127.0.0.0/24", "IPv4 loopback");
	is_str(network(""), "(error)", "empty");
	is_str(network(NULL), "(error)", "NULL");
	is_str(network("unknown"), "(error)", "a word");
	is_str(network("10.0.0.1:8080"), "(error)", "with a port");
	is_str(network(" 10.0.0.1"), "(error)", "with a blank");
	is_str(network("10.0.0.1/24"), "(error)", "a network, not an address");
	is_str(network("256.1.1.1"), "(error)", "an octet over 255");
	is_str(network("[2001:db8::1]"), "(error)", "IPv6 in brackets");
	is_str(network("2001:db8::1%eth0"), "(error)", "with a zone");
	is_str(network("1111:2222:3333:4444:5555:6666:7777:8888:9999"),
	    "(error)", "too long for an address");
	is_int(sign_in_network("2001:db8:7::1", small, sizeof(small)), -1,
	    "an out too small is an error");
	is_str(small, "", "...and leaves it empty");
}

int
main(void)
{
	plan(43);
	test_family();
	test_network();
	return done_testing();
}
