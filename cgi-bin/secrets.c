/*
 * Secrets (api.md §11): list, create, read the metadata of, reveal, write
 * a new value of and (softly) delete secrets. secrets:read reads
 * metadata, secrets:write writes, secrets:reveal reads a value (audited
 * as secret.revealed); the team scope is the policies' (0012_secrets.sql).
 * Values are encrypted in lib/secret.c with the keyring this program
 * loads at start: a missing or malformed VAULT_MASTER_KEY stops this
 * program alone, with one line naming the setting. No value is ever
 * logged, and only reveal answers one.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "json.h"
#include "program.h"
#include "secret.h"
#include "uuid.h"

/* The body a POST or PUT of the largest value may need. */
#define SECRET_BODY_MAX	(6L * SECRET_VALUE_MAX + 8192)

/* Loaded once at start, wiped at exit. */
static struct vault_keyring *keyring;

static int
begin(struct hb_request *r, struct hb_app *app, struct hb_principal *who,
    const char *permission)
{
	if (auth_request(r, app->db, &app->keys, 0, who, &r->err) == -1 ||
	    auth_require(who, permission, &r->err) == -1)
		return -1;
	return 0;
}

static const char *
read_value(struct hb_json_check *c, bool required)
{
	return json_get_string(c, "value", required, 1, SECRET_VALUE_MAX);
}

static int
handle_list(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_page page;
	struct hb_rows rows;
	struct hb_db_ctx ctx;
	const char *team = http_query(r, "team_id");

	if (begin(r, app, &who, "secrets:read") == -1)
		return -1;
	if (team != NULL && !uuid_valid(team))
		return hb_fail(&r->err, 422, "validation_failed",
		    "team_id must be a UUID.");
	if (page_parse(r, team != NULL ? "secrets_team" : "secrets",
	    team != NULL ? team : who.org_id, &page, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (secret_list(app->db, &ctx, team, &page, &rows, &r->err) == -1)
		return -1;
	return send_rows(r, &page, &rows);
}

static int
handle_create(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_secret_input in;
	struct hb_db_ctx ctx;
	struct json_object *secret;

	if (begin(r, app, &who, "secrets:write") == -1)
		return -1;
	json_check_begin(&c, r->json);
	in.name = json_get_string(&c, "name", true, 1, 200);
	in.description = json_get_string(&c, "description", false, 0, 2000);
	in.team_id = json_get_string(&c, "team_id", false, 36, 36);
	if (in.team_id != NULL && !uuid_valid(in.team_id)) {
		json_check_fail(&c, "team_id", "must be a UUID");
		in.team_id = NULL;
	}
	in.value = read_value(&c, true);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	ctx = auth_ctx(&who, r);
	if (secret_create(app->db, &ctx, keyring, &in, &secret,
	    &r->err) == -1)
		return -1;
	return http_json_versioned(r, 201, secret);
}

static int
handle_get(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *secret;
	const char *id;

	if (begin(r, app, &who, "secrets:read") == -1 ||
	    (id = http_path_uuid(r, "id", "secret")) == NULL)
		return -1;
	ctx = auth_ctx(&who, r);
	if (secret_get(app->db, &ctx, id, &secret, &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, secret);
}

static int
handle_reveal(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	struct json_object *body;
	unsigned char *value;
	size_t len;
	const char *id;
	int rc;

	if (begin(r, app, &who, "secrets:reveal") == -1 ||
	    (id = http_path_uuid(r, "id", "secret")) == NULL)
		return -1;
	ctx = auth_ctx(&who, r);
	if (secret_reveal(app->db, &ctx, keyring, id, &value, &len,
	    &r->err) == -1)
		return -1;
	body = json_object_new_object();
	json_object_object_add(body, "value",
	    json_object_new_string_len((const char *)value, (int)len));
	vault_plaintext_free(value, len);
	/* Cache-Control: no-store, as every answer of the API. */
	rc = http_json(r, 200, body);
	return rc;
}

static int
handle_put(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_json_check c;
	struct hb_db_ctx ctx;
	struct json_object *secret;
	const char *id, *value, *version;
	char buf[24];

	if (begin(r, app, &who, "secrets:write") == -1 ||
	    (id = http_path_uuid(r, "id", "secret")) == NULL)
		return -1;
	json_check_begin(&c, r->json);
	value = read_value(&c, true);
	if (json_check_done(&c, &r->err) == -1)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (secret_put(app->db, &ctx, keyring, id, version, value,
	    app->cfg.secret_history, &secret, &r->err) == -1)
		return -1;
	return http_json_versioned(r, 200, secret);
}

static int
handle_delete(struct hb_request *r, struct hb_app *app)
{
	struct hb_principal who;
	struct hb_db_ctx ctx;
	const char *id, *version;
	char buf[24];

	if (begin(r, app, &who, "secrets:write") == -1 ||
	    (id = http_path_uuid(r, "id", "secret")) == NULL)
		return -1;
	version = http_if_match_param(http_if_match(http_header(r,
	    "If-Match")), buf);
	ctx = auth_ctx(&who, r);
	if (secret_delete(app->db, &ctx, id, version, &r->err) == -1)
		return -1;
	return http_no_content(r);
}

static const struct hb_route routes[] = {
	{ "GET", "/api/v1/secrets", handle_list, 0 },
	{ "POST", "/api/v1/secrets", handle_create, 0 },
	{ "GET", "/api/v1/secrets/{id}", handle_get, 0 },
	{ "PUT", "/api/v1/secrets/{id}", handle_put, 0 },
	{ "DELETE", "/api/v1/secrets/{id}", handle_delete, 0 },
	{ "POST", "/api/v1/secrets/{id}/reveal", handle_reveal, 0 },
};

/*
 * program_main's, with the keyring: a VAULT_MASTER_KEY or VAULT_OLD_KEYS
 * that cannot be used stops this program with one line naming it.
 */
int
main(void)
{
	struct hb_app app = { .name = "homebot-secrets", .routes = routes,
	    .nroutes = sizeof(routes) / sizeof(routes[0]) };
	struct hb_error err = {0};
	int rc;

	if (app_init(&app, &err) == -1) {
		fprintf(stderr, "%s: %s\n", app.name, err.message);
		return 1;
	}
	/*
	 * A 64 KiB value must fit whatever HOMEBOT_MAX_BODY says, with its
	 * JSON escapes (up to 6 bytes a byte) and the other fields.
	 */
	if (app.cfg.max_body < SECRET_BODY_MAX)
		app.cfg.max_body = SECRET_BODY_MAX;
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
