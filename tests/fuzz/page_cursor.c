/*
 * Page cursors (lib/page.c): ?cursor= and ?limit= through page_parse.
 * An input's first byte chooses what the rest is:
 *
 *   0  the cursor itself, as a client may send anything;
 *   1  the created-at and id of a cursor the server signs (split at the
 *      first '|'), so what is parsed after the signature check is
 *      reached: a signed cursor must parse back to what was signed;
 *   2  as 1, then one byte of the signed cursor changed, which must be
 *      refused unless the change leaves it as it was.
 *
 * The last input byte is also the limit, to reach its checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"
#include "page.h"

#define KIND	"members"
#define SCOPE	"8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"

static struct hb_config cfg;
static struct hb_arena arena;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s",
	    "fuzz-secret-key-0123456789abcdef0123456789");
	arena_init(&arena);
	return 0;
}

static int
parse(struct hb_request *r, const char *cursor, const char *limit,
    struct hb_page *p)
{
	struct hb_error err = {0};
	int rc;

	r->nquery = 0;
	r->query[r->nquery].name = "cursor";
	r->query[r->nquery++].value = cursor;
	if (limit != NULL) {
		r->query[r->nquery].name = "limit";
		r->query[r->nquery++].value = limit;
	}
	rc = page_parse(r, KIND, SCOPE, p, &err);
	hb_error_clear(&err);
	return rc;
}

/* A cursor signed for (ts, id) must come back as exactly that. */
static void
signed_cursor(struct hb_request *r, const char *text, int tamper, size_t at)
{
	char *ts = arena_strdup(r->arena, text), *id, *c;
	const char *cursor;
	struct hb_page p;
	int rc;

	if (ts == NULL)
		return;
	id = strchr(ts, '|');
	if (id == NULL)
		id = ts + strlen(ts);
	else
		*id++ = '\0';
	cursor = page_cursor(r, KIND, SCOPE, ts, id);
	if (cursor == NULL)
		return;
	if (!tamper) {
		rc = parse(r, cursor, NULL, &p);
		if (rc == 0 && (strcmp(p.ts, ts) != 0 || strcmp(p.id, id) != 0))
			abort();
		return;
	}
	c = arena_strdup(r->arena, cursor);
	if (c == NULL || *c == '\0')
		return;
	at %= strlen(c);
	c[at] = c[at] == 'A' ? 'B' : 'A';
	if (parse(r, c, NULL, &p) == 0 && strcmp(c, cursor) != 0 &&
	    (strcmp(p.ts, ts) != 0 || strcmp(p.id, id) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hb_request r;
	struct hb_page p;
	char *text, limit[8];

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.arena = &arena;
	r.cfg = &cfg;
	text = arena_strndup(&arena, (const char *)data + 1, size - 1);
	if (text == NULL)
		return 0;
	snprintf(limit, sizeof(limit), "%d", (int)data[size - 1] - 20);
	switch (data[0] % 3) {
	case 0:
		parse(&r, text, limit, &p);
		break;
	case 1:
		signed_cursor(&r, text, 0, 0);
		break;
	default:
		signed_cursor(&r, text, 1, data[size - 1]);
		break;
	}
	arena_reset(&arena);
	return 0;
}
