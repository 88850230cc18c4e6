#include <string.h>

#include "mqtt_acl.h"
#include "uuid.h"

#define HEALTH_TOPIC	"system/health"

bool
mqtt_name_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return true;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= HB_MQTT_NAME_MAX || c < 0x21 || c > 0x7e ||
		    c == '+' || c == '#' || c == '/')
			return false;
	}
	return true;
}

bool
mqtt_client_id_ok(const char *id)
{
	return id != NULL && id[0] != '\0' && mqtt_name_ok(id) &&
	    strncmp(id, HB_MQTT_RESERVED, strlen(HB_MQTT_RESERVED)) != 0;
}

/*
 * The part of topic after "org/<org_id>/", or NULL when topic is not in
 * that organization's subtree or has nothing after it.
 */
static const char *
own_subtree(const char *org_id, const char *topic)
{
	size_t n = strlen(org_id);

	if (strncmp(topic, "org/", 4) != 0 || strncmp(topic + 4, org_id, n) != 0 ||
	    topic[4 + n] != '/' || topic[5 + n] == '\0')
		return NULL;
	return topic + 5 + n;
}

/* Whether rest (below org/<org_id>/) is the events topic or below it. */
static bool
is_events(const char *rest)
{
	return strncmp(rest, "events", 6) == 0 &&
	    (rest[6] == '\0' || rest[6] == '/');
}

bool
mqtt_acl_allows(const struct hb_mqtt_grant *grant, int access,
    const char *topic)
{
	const char *rest;

	if (grant == NULL || topic == NULL || grant->org_id == NULL ||
	    !uuid_valid(grant->org_id))
		return false;
	if (access == HB_MQTT_UNSUBSCRIBE)
		return true;
	if (strcmp(topic, HEALTH_TOPIC) == 0)
		return access == HB_MQTT_READ || access == HB_MQTT_SUBSCRIBE;
	rest = own_subtree(grant->org_id, topic);
	if (rest == NULL)
		return false;
	switch (access) {
	case HB_MQTT_READ:
	case HB_MQTT_SUBSCRIBE:
		return grant->subscribe;
	case HB_MQTT_WRITE:
		/* The broker refuses wildcards in a published topic itself. */
		return grant->publish && !is_events(rest) &&
		    strpbrk(topic, "+#") == NULL;
	default:
		return false;
	}
}

bool
mqtt_publisher_allows(int access, const char *topic)
{
	char org[HB_UUID_LEN + 1];

	if (access != HB_MQTT_WRITE || topic == NULL ||
	    strncmp(topic, "org/", 4) != 0 ||
	    strnlen(topic + 4, HB_UUID_LEN + 1) < HB_UUID_LEN)
		return false;
	memcpy(org, topic + 4, HB_UUID_LEN);
	org[HB_UUID_LEN] = '\0';
	return uuid_valid(org) && strcmp(topic + 4 + HB_UUID_LEN, "/events") == 0;
}
