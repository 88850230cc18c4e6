#ifndef HB_MQTT_ACL_H
#define HB_MQTT_ACL_H

#include <stdbool.h>

/*
 * The topic rules of the MQTT broker's plugin (api.md §8), without the
 * broker: pure functions of their arguments, so the unit tests can try
 * every case. The organization is always the verified credential's, never
 * anything the client sent.
 */

#define HB_MQTT_NAME_MAX	128	/* longest client id or username */
#define HB_MQTT_RESERVED	"homebot-"	/* client ids of Homebot's own */

/* The access asked for; the values of mosquitto's MOSQ_ACL_*. */
enum hb_mqtt_access {
	HB_MQTT_READ = 0x01,		/* a message delivered to the client */
	HB_MQTT_WRITE = 0x02,		/* a message the client publishes */
	HB_MQTT_SUBSCRIBE = 0x04,	/* a topic filter it subscribes to */
	HB_MQTT_UNSUBSCRIBE = 0x08,
};

/* What a verified credential may do; org_id is its organization's id. */
struct hb_mqtt_grant {
	const char	*org_id;
	bool		 subscribe;	/* mqtt:subscribe */
	bool		 publish;	/* mqtt:publish */
};

/*
 * Whether a client id or username may be used: at most HB_MQTT_NAME_MAX
 * bytes, printable ASCII, without '+', '#' or '/' (the CVE-2017-7650
 * class: such a name in a pattern ACL could match other clients' topics).
 * NULL or "" is acceptable (a username need not be sent).
 */
bool	 mqtt_name_ok(const char *s);
/* mqtt_name_ok(), not empty, and not starting with HB_MQTT_RESERVED. */
bool	 mqtt_client_id_ok(const char *id);

/*
 * Whether grant allows access to topic (for HB_MQTT_SUBSCRIBE: a topic
 * filter). Only the organization's own subtree "org/<org_id>/…" and, for
 * reading, "system/health" are ever allowed; a filter must name the
 * organization literally, so no wildcard can reach another one;
 * "org/<org_id>/events" (and below) is Homebot's to publish.
 */
bool	 mqtt_acl_allows(const struct hb_mqtt_grant *grant, int access,
	    const char *topic);

/*
 * Whether Homebot's own publisher (homebot-worker, admitted by its secret,
 * api.md §8) may have access to topic: publishing on an organization's
 * events topic "org/<uuid>/events", and nothing else (no subscription,
 * no delivery, no other topic).
 */
bool	 mqtt_publisher_allows(int access, const char *topic);

#endif
