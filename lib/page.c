#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "uuid.h"
#include "crypto.h"
#include "page.h"

#define MAC_LEN	16

/*
 * Cursors are signed with a key derived from SECRET_KEY, not with the
 * key that signs access tokens, so neither signature can stand in for
 * the other.
 */
static int
cursor_mac(const struct hb_request *r, const char *payload,
    unsigned char mac[HB_SHA256_LEN])
{
	unsigned char key[HB_SHA256_LEN];
	int rc;

	rc = crypto_hmac_sha256(r->cfg->secret_key,
	    strlen(r->cfg->secret_key), "homebot cursor", 14, key) == 0 &&
	    crypto_hmac_sha256(key, sizeof(key), payload, strlen(payload),
	    mac) == 0 ? 0 : -1;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

const char *
page_cursor(struct hb_request *r, const char *kind, const char *scope,
    const char *ts, const char *id)
{
	char payload[256], b64[400], macb64[32], *out;
	unsigned char mac[HB_SHA256_LEN];
	int n;

	n = snprintf(payload, sizeof(payload), "%s|%s|%s|%s", kind, scope,
	    ts, id);
	if (n < 0 || (size_t)n >= sizeof(payload) ||
	    cursor_mac(r, payload, mac) == -1)
		return NULL;
	crypto_b64url_encode((unsigned char *)payload, (size_t)n, b64,
	    sizeof(b64));
	crypto_b64url_encode(mac, MAC_LEN, macb64, sizeof(macb64));
	out = arena_alloc(r->arena, strlen(b64) + strlen(macb64) + 2);
	if (out != NULL)
		sprintf(out, "%s.%s", b64, macb64);
	return out;
}

static int
bad_cursor(struct hb_error *err)
{
	return hb_fail(err, 400, "invalid_cursor",
	    "The cursor is not valid for this collection.");
}

static int
cursor_parse(struct hb_request *r, const char *cursor, const char *kind,
    const char *scope, struct hb_page *p, struct hb_error *err)
{
	const char *dot = strchr(cursor, '.');
	char payload[256], want[256];
	unsigned char mac[HB_SHA256_LEN], got[MAC_LEN];
	char *ts, *id;
	long n;

	if (dot == NULL || strlen(cursor) > 400)
		return bad_cursor(err);
	n = crypto_b64url_decode(cursor, (size_t)(dot - cursor),
	    (unsigned char *)payload, sizeof(payload) - 1);
	if (n <= 0 || crypto_b64url_decode(dot + 1, strlen(dot + 1), got,
	    sizeof(got)) != MAC_LEN)
		return bad_cursor(err);
	payload[n] = '\0';
	if (cursor_mac(r, payload, mac) == -1)
		return hb_fail_internal(err);
	if (!crypto_equal(mac, got, MAC_LEN))
		return bad_cursor(err);
	snprintf(want, sizeof(want), "%s|%s|", kind, scope);
	if (strncmp(payload, want, strlen(want)) != 0)
		return bad_cursor(err);
	ts = payload + strlen(want);
	id = strchr(ts, '|');
	if (id == NULL)
		return bad_cursor(err);
	*id++ = '\0';
	if (strlen(ts) >= sizeof(p->ts) || !uuid_valid(id))
		return bad_cursor(err);
	memcpy(p->ts, ts, strlen(ts) + 1);
	memcpy(p->id, id, 37);
	p->after = true;
	return 0;
}

int
page_parse(struct hb_request *r, const char *kind, const char *scope,
    struct hb_page *p, struct hb_error *err)
{
	const char *limit = http_query(r, "limit");
	const char *cursor = http_query(r, "cursor");
	size_t len = limit != NULL ? strlen(limit) : 0;
	long n = 0;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->scope = scope;
	p->limit = HB_PAGE_DEFAULT;
	if (limit != NULL) {
		/* Digits only: strtol would take " 5" (a "+5" decoded) or "-0". */
		if (len > 0 && len <= 3 && strspn(limit, "0123456789") == len)
			n = strtol(limit, NULL, 10);
		if (n < 1 || n > HB_PAGE_MAX) {
			struct json_object *d = json_object_new_array();
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "field",
			    json_object_new_string("limit"));
			json_object_object_add(e, "message",
			    json_object_new_string("must be from 1 to 200"));
			json_object_array_add(d, e);
			hb_fail(err, 422, "validation_failed",
			    "The request is not valid.");
			err->details = d;
			return -1;
		}
		p->limit = (int)n;
	}
	if (cursor != NULL && *cursor != '\0')
		return cursor_parse(r, cursor, kind, scope, p, err);
	return 0;
}

static void
page_params(const struct hb_page *p, const char **params, char buf[16])
{
	snprintf(buf, 16, "%d", p->limit + 1);
	params[0] = p->after ? p->ts : NULL;
	params[1] = p->after ? p->id : NULL;
	params[2] = buf;
}

static void
page_collect(const PGresult *res, const struct hb_page *p,
    const char *ts_col, const char *id_col, struct hb_rows *rows)
{
	const char *ts, *id;

	memset(rows, 0, sizeof(*rows));
	rows->data = db_rows_json(res, p->limit);
	/* One row more than asked for: there is a next page. */
	if (PQntuples(res) <= p->limit)
		return;
	rows->more = true;
	ts = db_value(res, p->limit - 1, ts_col);
	id = db_value(res, p->limit - 1, id_col);
	/* No position a cursor can hold: no cursor, never a last page. */
	if (ts == NULL || id == NULL || *ts == '\0' || *id == '\0' ||
	    strlen(ts) >= sizeof(rows->last_ts) ||
	    strlen(id) >= sizeof(rows->last_id))
		return;
	memcpy(rows->last_ts, ts, strlen(ts) + 1);
	memcpy(rows->last_id, id, strlen(id) + 1);
}

const char *
page_next_cursor(struct hb_request *r, const struct hb_page *p,
    const struct hb_rows *rows)
{
	if (!rows->more || rows->last_ts[0] == '\0' || rows->last_id[0] == '\0')
		return NULL;
	return page_cursor(r, p->kind, p->scope, rows->last_ts, rows->last_id);
}

int
page_query(struct hb_db *db, const struct hb_db_ctx *ctx,
    const struct hb_page *p, const char *sql, const char **params,
    int nextra, const char *ts_col, const char *id_col, struct hb_rows *rows,
    struct hb_error *err)
{
	char limit[16];
	PGresult *res;

	page_params(p, params + nextra, limit);
	res = db_tenant_query(db, ctx, false, sql, nextra + 3, params, err);
	if (res == NULL)
		return -1;
	page_collect(res, p, ts_col, id_col, rows);
	PQclear(res);
	return 0;
}
