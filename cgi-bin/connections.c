/*
 * Connections (api.md §11): list, create, read, change, (softly) delete
 * and reveal the secret fields of connections. connections:read reads,
 * connections:write writes, and secrets:reveal reveals (audited as
 * connection.revealed); the team scope is the policies'
 * (0013_connections.sql). The secret fields are encrypted in
 * lib/connection.c with the keyring this program loads at start, as the
 * secrets program does: a missing or malformed VAULT_MASTER_KEY stops
 * this program alone, with one line naming the setting. No value is ever
 * logged, and only reveal answers one. Answers of one connection carry
 * ETag: "<version>", and a PATCH or DELETE with a stale If-Match is 412.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "connection.h"
#include "json.h"
#include "program.h"
#include "uuid.h"

/*
 * The body a connection may need: a 16 KiB config and a few 16 KiB
 * values, with their JSON escapes (up to 6 bytes a byte). 32 values at
 * their largest do not fit one request; a PATCH adds more.
 */
#define CONNECTION_BODY_MAX	(256L * 1024)

/* Loaded once at start, wiped at exit. */
static struct vault_keyring *keyring;

/* Authenticated and holding permission: 0, or -1. */
static int
begin(struct hb_request *r, struct hb_app *app, struct hb_principal *who,
    const char *permission)
{
	if (auth_request(r, app->db, &app->keys, 0, who, &r->err) == -1 ||
	    auth_require(who, permission, &r->err) == -1)
		return -1;
	return 0;
}

/* A boolean field: 1, 0, or -1 when absent (or not a boolean: a failure). */
static int
read_flag(struct hb_json_check *c, const char *field)
{
	struct json_object *v;

	if (c->body == NULL || !json_object_object_get_ex(c->body, field, &v) ||
	    json_object_is_type(v, json_type_null))
		return -1;
	if (!json_object_is_type(v, json_type_boolean)) {
		json_check_fail(c, field, "must be true or false");
		return -1;
	}
	return json_object_get_boolean(v) ? 1 : 0;
}

/* Reads the fields a POST (create) or a PATCH carries into in. */
static void
read_input(struct hb_json_check *c, bool create,
    struct hb_connection_input *in)
{
	struct json_object *config;
	const char *msg;

	memset(in, 0, sizeof(*in));
	in->name = json_get_string(c, "name", create, 1, 200);
	in->type = json_get_string(c, "type", create, 1, CONNECTION_TYPE_MAX);
	if (in->type != NULL && !connection_type_valid(in->type)) {
		json_check_fail(c, "type", "must be 1 to 32 of a-z, 0-9, "
		    "'_', '.' and '-', starting with a letter");
		in->type = NULL;
	}
	if (create) {
		in->team_id = json_get_string(c, "team_id", false, 36, 36);
		if (in->team_id != NULL && !uuid_valid(in->team_id)) {
			json_check_fail(c, "team_id", "must be a UUID");
			in->team_id = NULL;
		}
	}
	config = json_get_object(c, "config", false);
	in->config = config != NULL ? json_object_to_json_string_ext(config,
	    JSON_C_TO_STRING_PLAIN) : NULL;
	if (in->config != NULL && strlen(in->config) > CONNECTION_CONFIG_MAX)
		json_check_fail(c, "config", "must be at most 16 KiB of JSON");
	/* PostgreSQL's jsonb cannot hold a NUL character, even escaped. */
	else if (in->config != NULL && strstr(in->config, "\\u0000") != NULL)
		json_check_fail(c, "config", "must not contain \\u0000");
	in->is_active = read_flag(c, "is_active");
	in->is_default = read_flag(c, "is_default");
	if (c->body != NULL && json_object_object_get_ex(c->body,
	    "secret_fields", &in->secret_fields) &&
	    json_object_is_type(in->secret_fields, json_type_null))
		in->secret_fields = NULL;
	if (in->secret_fields != NULL && (msg = connection_fields_check(
	    in->secret_fields, !create)) != NULL) {
		json_check_fail(c, "secret_fields", msg);
		in->secret_fields = NULL;
	}
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;
	const char *team = http_query(r, "team_id");
	const char *type = http_query(r, "type");
	char scope[128];

	if (begin(r, app, &who, "connections:read") == -1)
		return -1;
	if (team != NULL && !uuid_valid(team))
		return hb_fail(&r->err, 422, "validation_failed",
		    "team_id must be a UUID.");
	if (type != NULL && !connection_type_valid(type))
		return hb_fail(&r->err, 422, "validation_failed",
		    "type must be a connection type.");
	/* A cursor holds for the filters it was made with. */
	snprintf(scope, sizeof(scope), "%s/%s/%s", who.org_id,
	    team != NULL ? team : "", type != NULL ? type : "");
	if (page_parse(r, "connections", scope, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (connection_list(app->db, &ctx, team, type, &page, &rows,
	    &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_connection_input in;
	struct hb_db_ctx ctx;
	struct json_object *conn;

	if (begin(r, app, &who, "connections:write") == -1)
		return -1;
	json_check_begin(&c, r->json);
	read_input(&c, true, &in);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (connection_create(app->db, &ctx, keyring, &in, &conn,
	    &r->err) == -1)
		return -1;
	return http_json_versioned(r, 201, conn);
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *conn;
	const char *id;

	if (begin(r, app, &who, "connections:read") == -1 ||
	    (id = http_path_uuid(r, "id", "connection")) == NULL)
		return -1;
	ctx = auth_ctx(&who, r);
	if (connection_get(app->db, &ctx, id, &conn, &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, conn);
}

static int
handle_update(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_connection_input in;
	struct hb_db_ctx ctx;
	struct json_object *conn;
	const char *id, *version;
	char buf[24];

	if (begin(r, app, &who, "connections:write") == -1 ||
	    (id = http_path_uuid(r, "id", "connection")) == NULL)
		return -1;
	json_check_begin(&c, r->json);
	read_input(&c, false, &in);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (connection_update(app->db, &ctx, keyring, id, version, &in, &conn,
	    &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, conn);
}

static int
handle_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *id, *version;
	char buf[24];

	if (begin(r, app, &who, "connections:write") == -1 ||
	    (id = http_path_uuid(r, "id", "connection")) == NULL)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (connection_delete(app->db, &ctx, id, version, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static int
handle_reveal(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *fields, *body;
	const char *id;

	if (begin(r, app, &who, "secrets:reveal") == -1 ||
	    (id = http_path_uuid(r, "id", "connection")) == NULL)
		return -1;
	ctx = auth_ctx(&who, r);
	if (connection_reveal(app->db, &ctx, keyring, id, &fields,
	    &r->err) == -1)
		return -1;
	body = json_object_new_object();
	json_object_object_add(body, "secret_fields", fields);
	/* Cache-Control: no-store, as every answer of the API. */
	return http_json(r, 200, body);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/connections", handle_list, 0 },
	{ "POST", "/api/v1/connections", handle_create, 0 },
	{ "GET", "/api/v1/connections/{id}", handle_get, 0 },
	{ "PATCH", "/api/v1/connections/{id}", handle_update, 0 },
	{ "DELETE", "/api/v1/connections/{id}", handle_delete, 0 },
	{ "POST", "/api/v1/connections/{id}/reveal", handle_reveal, 0 },
};

/*
 * program_main's, with the keyring: a VAULT_MASTER_KEY or VAULT_OLD_KEYS
 * that cannot be used stops this program with one line naming it.
 */
int
main(void)
{
	struct hb_app app = { .name = "homebot-connections", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]) };
	struct hb_error err = {0};
	int rc;

	if (app_init(&app, &err) == -1) {
		fprintf(stderr, "%s: %s\n", app.name, err.message);
		return 1;
	}
	/* Whatever HOMEBOT_MAX_BODY says (the web server's is 1 MiB). */
	if (app.cfg.max_body < CONNECTION_BODY_MAX)
		app.cfg.max_body = CONNECTION_BODY_MAX;
	if (vault_keyring_load(&keyring, app.cfg.vault_master_key,
	    app.cfg.vault_old_keys, &err) != VAULT_OK) {
		app_free(&app);
		return program_stop_alone(app.name, err.message);
	}
	rc = app_run(&app);
	vault_keyring_free(keyring);
	app_free(&app);
	return rc;
}
