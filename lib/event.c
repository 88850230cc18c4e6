#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"
#include "uuid.h"

int
event_topic(const char *org_id, char *out, size_t n, struct hb_error *err)
{
	if (org_id == NULL || !uuid_valid(org_id))
		return hb_fail(err, 422, "event_invalid",
		    "an event's organization must be a UUID");
	if (n < HB_EVENT_TOPIC_MAX)
		return hb_fail(err, 500, "event_invalid", "topic buffer too small");
	snprintf(out, n, "org/%s/events", org_id);
	return 0;
}

/* The string member name of obj, or NULL when absent or no string. */
static const char *
member_string(struct json_object *obj, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
event_check(const char *payload, const char *org_id, struct hb_error *err)
{
	struct json_tokener *tok;
	struct json_object *env = NULL, *v;
	const char *id, *type, *org, *at;
	size_t len;
	int rc = -1;

	if (payload == NULL || org_id == NULL || !uuid_valid(org_id))
		return hb_fail(err, 422, "event_invalid",
		    "no payload or no organization");
	len = strnlen(payload, HB_EVENT_MAX + 1);
	if (len > HB_EVENT_MAX)
		return hb_fail(err, 422, "event_invalid",
		    "the envelope is longer than %d bytes", HB_EVENT_MAX);
	tok = json_tokener_new();
	if (tok == NULL)
		return hb_fail(err, 500, "internal", "out of memory");
	env = json_tokener_parse_ex(tok, payload, (int)len);
	if (env != NULL && json_tokener_get_error(tok) == json_tokener_success)
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (strchr(" \t\r\n", payload[i]) == NULL) {
				json_object_put(env);
				env = NULL;
				break;
			}
	if (env == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(env, json_type_object)) {
		hb_fail(err, 422, "event_invalid", "the envelope is no JSON object");
		goto out;
	}
	id = member_string(env, "id");
	type = member_string(env, "type");
	org = member_string(env, "organization_id");
	at = member_string(env, "occurred_at");
	if (id == NULL || !uuid_valid(id))
		hb_fail(err, 422, "event_invalid", "the envelope's id is no UUID");
	else if (type == NULL || type[0] == '\0')
		hb_fail(err, 422, "event_invalid", "the envelope has no type");
	else if (!json_object_object_get_ex(env, "version", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != HB_EVENT_VERSION)
		hb_fail(err, 422, "event_invalid",
		    "the envelope's version is not %d", HB_EVENT_VERSION);
	else if (at == NULL || at[0] == '\0')
		hb_fail(err, 422, "event_invalid", "the envelope has no occurred_at");
	else if (org == NULL || strcmp(org, org_id) != 0)
		hb_fail(err, 422, "event_invalid",
		    "the envelope is of another organization than its job");
	else
		rc = 0;
out:
	json_object_put(env);
	json_tokener_free(tok);
	return rc;
}

int
event_config_check(const struct hb_config *cfg, struct hb_error *err)
{
	if (cfg->mqtt_host[0] != '\0' && cfg->mqtt_publisher_secret[0] == '\0')
		return hb_fail(err, 500, "config", "MQTT_PUBLISHER_SECRET is not "
		    "set: homebot-worker publishes events to MQTT_HOST with it "
		    "(at least %d bytes)", HB_SECRET_MIN);
	return 0;
}
