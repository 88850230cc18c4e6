/*
 * The row decoding of lib/db.c on results built by hand (libpq's
 * PQsetResultAttrs and PQsetvalue): no server needed.
 */
#include <string.h>

#include "db.h"
#include "tap.h"

static PGresult *
result(int n, PGresAttDesc *attrs)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	PQsetResultAttrs(res, n, attrs);
	return res;
}

static void
test_row_json_types(void)
{
	PGresAttDesc attrs[6] = {
		{ .name = "name", .typid = 25 },
		{ .name = "active", .typid = 16 },
		{ .name = "count", .typid = 20 },
		{ .name = "settings", .typid = 3802 },
		{ .name = "gone", .typid = 25 },
		{ .name = "_cursor", .typid = 25 },
	};
	PGresult *res = result(6, attrs);
	struct json_object *o, *v;

	PQsetvalue(res, 0, 0, "Acme", 4);
	PQsetvalue(res, 0, 1, "t", 1);
	PQsetvalue(res, 0, 2, "9000000000", 10);
	PQsetvalue(res, 0, 3, "{\"a\": [1, 2]}", 13);
	PQsetvalue(res, 0, 4, NULL, -1);
	PQsetvalue(res, 0, 5, "2026-01-01", 10);
	o = db_row_json(res, 0);
	is_int(json_object_object_length(o), 5,
	    "row_json: one field per column, '_' columns left out");
	ok(json_object_object_get_ex(o, "name", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "Acme") == 0,
	    "row_json: text is a string named as the column");
	ok(json_object_object_get_ex(o, "active", &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v), "row_json: boolean is a boolean");
	ok(json_object_object_get_ex(o, "count", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 9000000000LL,
	    "row_json: bigint is an integer, not cut to 32 bits");
	ok(json_object_object_get_ex(o, "settings", &v) &&
	    json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "a", NULL),
	    "row_json: jsonb is parsed, not quoted");
	ok(json_object_object_get_ex(o, "gone", &v) && v == NULL,
	    "row_json: SQL NULL is JSON null");
	ok(!json_object_object_get_ex(o, "_cursor", NULL),
	    "row_json: a '_' column is not in the object");
	json_object_put(o);
	PQclear(res);
}

static void
test_values_by_name(void)
{
	PGresAttDesc attrs[2] = { { .name = "status", .typid = 25 },
	    { .name = "ok", .typid = 16 } };
	PGresult *res = result(2, attrs);
	struct json_object *a;

	PQsetvalue(res, 0, 0, "ok", 2);
	PQsetvalue(res, 0, 1, "f", 1);
	PQsetvalue(res, 1, 0, NULL, -1);
	PQsetvalue(res, 1, 1, "t", 1);
	is_str(db_value(res, 0, "status"), "ok", "value: read by name");
	ok(db_value(res, 1, "status") == NULL, "value: SQL NULL is NULL");
	ok(db_value(res, 0, "nope") == NULL, "value: unknown column is NULL");
	ok(db_value(res, 2, "status") == NULL, "value: row past the end is NULL");
	ok(!db_bool(res, 0, "ok") && db_bool(res, 1, "ok"), "bool: by name");
	ok(!db_bool(res, 0, "nope"), "bool: unknown column is false");
	a = db_rows_json(res, 1);
	is_int(json_object_array_length(a), 1, "rows_json: at most max rows");
	json_object_put(a);
	a = db_rows_json(res, 10);
	is_int(json_object_array_length(a), 2, "rows_json: every row up to max");
	json_object_put(a);
	PQclear(res);
}

int
main(void)
{
	plan(15);
	test_row_json_types();
	test_values_by_name();
	return done_testing();
}
