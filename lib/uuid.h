#ifndef HB_UUID_H
#define HB_UUID_H

#include <stdbool.h>
#include <stddef.h>

#define HB_UUID_LEN	36	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* Whether s is a UUID as Homebot writes them: 36 characters, lowercase. */
bool	uuid_valid(const char *s);
/* Writes a new random (version 4) UUID, lowercase, into out. */
void	uuid_new(char out[HB_UUID_LEN + 1]);
/* n (at most 16) random bytes from the kernel, by way of a pool. */
void	uuid_random(unsigned char *out, size_t n);

#endif
