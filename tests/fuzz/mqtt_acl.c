/*
 * The MQTT topic rules (lib/mqtt_acl.c): a topic or filter and a client id
 * as a client may send them. The first byte picks the access and the
 * grant, the rest up to the first newline is the topic, the rest the
 * client id. Whatever they are, nothing outside the grant's own subtree
 * (and system/health for reading) may be allowed, no allowed filter may
 * hold a wildcard before the organization, and an accepted client id
 * holds no '+', '#' or '/'. Homebot's own publisher may only write on an
 * organization's events topic: "org/", 36 bytes of a lowercase UUID,
 * "/events", and nothing after.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_acl.h"

#define ORG	"0b7e58a4-4c43-4d3e-9d7c-3a2f0c9b1a11"
#define PREFIX	"org/" ORG "/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int access[] = { HB_MQTT_READ, HB_MQTT_WRITE,
	    HB_MQTT_SUBSCRIBE, HB_MQTT_UNSUBSCRIBE };
	struct hb_mqtt_grant g = { ORG, true, true };
	char *topic, *id, *nl;
	int a;

	if (size == 0)
		return 0;
	a = access[data[0] & 3];
	g.subscribe = (data[0] & 4) != 0;
	g.publish = (data[0] & 8) != 0;
	/* Topics and ids are NUL-terminated strings in the broker. */
	topic = malloc(size);
	if (topic == NULL)
		return 0;
	memcpy(topic, data + 1, size - 1);
	topic[size - 1] = '\0';
	id = "";
	if ((nl = strchr(topic, '\n')) != NULL) {
		*nl = '\0';
		id = nl + 1;
	}
	if (mqtt_acl_allows(&g, a, topic) && a != HB_MQTT_UNSUBSCRIBE) {
		bool health = strcmp(topic, "system/health") == 0;

		if (!health && (strncmp(topic, PREFIX, strlen(PREFIX)) != 0 ||
		    topic[strlen(PREFIX)] == '\0'))
			abort();
		if (health && a == HB_MQTT_WRITE)
			abort();
		if (!health && a == HB_MQTT_WRITE && (!g.publish ||
		    strpbrk(topic, "+#") != NULL ||
		    (strncmp(topic + strlen(PREFIX), "events", 6) == 0 &&
		    (topic[strlen(PREFIX) + 6] == '\0' ||
		    topic[strlen(PREFIX) + 6] == '/'))))
			abort();
		if (!health && a != HB_MQTT_WRITE && !g.subscribe)
			abort();
	}
	if (mqtt_publisher_allows(a, topic) && (a != HB_MQTT_WRITE ||
	    strlen(topic) != 4 + 36 + 7 || strncmp(topic, "org/", 4) != 0 ||
	    strcmp(topic + 40, "/events") != 0 ||
	    strspn(topic + 4, "0123456789abcdef-") != 36))
		abort();
	if (mqtt_client_id_ok(id) && (strpbrk(id, "+#/") != NULL ||
	    strncmp(id, HB_MQTT_RESERVED, strlen(HB_MQTT_RESERVED)) == 0 ||
	    strlen(id) > HB_MQTT_NAME_MAX))
		abort();
	free(topic);
	return 0;
}
