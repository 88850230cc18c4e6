#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_BLOCK	16384

struct hb_arena_block {
	struct hb_arena_block *next;
	size_t		 size;
	size_t		 used;
	max_align_t	 data[];
};

static struct hb_arena_block *
block_new(size_t size)
{
	struct hb_arena_block *b;

	/* No object may exceed PTRDIFF_MAX; sizeof(*b) + size must not wrap. */
	if (size > PTRDIFF_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

void
arena_init(struct hb_arena *a)
{
	a->head = NULL;
	a->first = NULL;
}

void *
arena_alloc(struct hb_arena *a, size_t n)
{
	struct hb_arena_block *b;
	size_t align = sizeof(max_align_t), need;
	void *p;

	need = (n + align - 1) / align * align;
	if (need < n)
		return NULL;
	b = a->head;
	if (b == NULL || b->size - b->used < need) {
		b = block_new(need > ARENA_BLOCK ? need : ARENA_BLOCK);
		if (b == NULL)
			return NULL;
		if (a->first == NULL)
			a->first = b;
		else
			a->head->next = b;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct hb_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct hb_arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_reset(struct hb_arena *a)
{
	struct hb_arena_block *b, *next;

	if (a->first == NULL)
		return;
	for (b = a->first->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->first->next = NULL;
	a->first->used = 0;
	a->head = a->first;
}

void
arena_free(struct hb_arena *a)
{
	arena_reset(a);
	free(a->first);
	arena_init(a);
}
