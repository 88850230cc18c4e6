#ifndef HB_UUID_H
#define HB_UUID_H

#include <stdbool.h>

#define HB_UUID_LEN	36	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* Whether s is a UUID as Homebot writes them: 36 characters, lowercase. */
bool	uuid_valid(const char *s);
/* Writes a new random (version 4) UUID, lowercase, into out. */
void	uuid_new(char out[HB_UUID_LEN + 1]);

#endif
