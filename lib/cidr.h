#ifndef HB_CIDR_H
#define HB_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define HB_CIDR_MAX	32	/* networks in one list */

/* One network: an IPv4 one is kept as its IPv4-mapped IPv6 form. */
struct hb_cidr {
	unsigned char	 addr[16];
	int		 bits;		/* prefix length, 0..128 */
};

/* A comma-separated list of networks, such as METRICS_ALLOW. */
struct hb_cidr_list {
	struct hb_cidr	 net[HB_CIDR_MAX];
	size_t		 n;
};

/*
 * Parses text ("127.0.0.1/32, ::1/128, 10.0.0.0/8"; an address without
 * "/bits" is one host; empty is the empty list) into *list. Returns 0, or
 * -1 with err->message naming the entry that does not parse.
 */
int	cidr_list_parse(struct hb_cidr_list *list, const char *text,
	    struct hb_error *err);

/*
 * Whether addr (a textual IPv4 or IPv6 address, as REMOTE_ADDR or one
 * entry of X-Forwarded-For gives it) lies in one of the networks. An
 * address that does not parse lies in none.
 */
bool	cidr_list_contains(const struct hb_cidr_list *list, const char *addr);

/*
 * Whether addr is a valid textual IPv4 or IPv6 address (surrounding blanks
 * allowed, at most 63 bytes).
 */
bool	cidr_addr_valid(const char *addr);

#endif
