#ifndef HB_SIGN_IN_H
#define HB_SIGN_IN_H

#include <stddef.h>

/*
 * The device of a sign-in, for the new sign-in notice (api.md §12): a
 * user-agent family and the client's network. A device is a hint for the
 * user, never a proof of anything: a client names its own user agent.
 */

/* Room for either value with its NUL. */
#define HB_SIGN_IN_FAMILY_MAX	48
#define HB_SIGN_IN_NETWORK_MAX	64

/*
 * The family of the user agent ua (NULL or empty: "other") into out (the
 * caller's, outsz bytes): "<browser> on <system>" for a browser
 * ("Firefox on Linux", "Safari on iOS"), the tool's name for a known one
 * ("curl", "Wget", "Python"), else "other". Only the first 512 bytes of
 * ua are read. Returns 0, or -1 (out empty) when out is too small.
 */
int	sign_in_family(const char *ua, char *out, size_t outsz);

/*
 * The network of addr (a textual IPv4 or IPv6 address, as the request's
 * client address) into out (the caller's, outsz bytes): its /24 for IPv4
 * (an IPv4-mapped IPv6 address counts as IPv4), its /48 for IPv6, as
 * "203.0.113.0/24" or "2001:db8:7::/48". Returns 0, or -1 (out empty) for
 * anything that is not one address, or an out too small.
 */
int	sign_in_network(const char *addr, char *out, size_t outsz);

#endif
