#ifndef HB_ARENA_H
#define HB_ARENA_H

#include <stddef.h>

/*
 * Per-request memory: everything a request allocates comes from one arena
 * that is reset when the request ends, so a worker holds the same memory
 * after a million requests as after the first.
 */
struct hb_arena_block;

struct hb_arena {
	struct hb_arena_block *head;	/* the block being filled */
	struct hb_arena_block *first;	/* kept across resets */
};

void	 arena_init(struct hb_arena *a);
/* Returns zeroed memory owned by the arena, or NULL when out of memory. */
void	*arena_alloc(struct hb_arena *a, size_t n);
/* Returns a copy of the n bytes at s plus a NUL, owned by the arena. */
char	*arena_strndup(struct hb_arena *a, const char *s, size_t n);
char	*arena_strdup(struct hb_arena *a, const char *s);
/* Frees every block but the first, which is kept for the next request. */
void	 arena_reset(struct hb_arena *a);
void	 arena_free(struct hb_arena *a);

#endif
