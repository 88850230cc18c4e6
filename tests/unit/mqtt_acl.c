/*
 * The MQTT plugin's topic rules (lib/mqtt_acl.c): every topic and filter
 * of the organization's own subtree, system/health, and everything that
 * could reach another organization, with each access and grant; client
 * ids and usernames of the CVE-2017-7650 class.
 */
#include <stdio.h>
#include <string.h>

#include "mqtt_acl.h"
#include "tap.h"

#define ORG	"0b7e58a4-4c43-4d3e-9d7c-3a2f0c9b1a11"
#define OTHER	"6f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"

static const struct hb_mqtt_grant both = { ORG, true, true };
static const struct hb_mqtt_grant sub_only = { ORG, true, false };
static const struct hb_mqtt_grant pub_only = { ORG, false, true };
static const struct hb_mqtt_grant none = { ORG, false, false };

static void
test_names(void)
{
	char longest[HB_MQTT_NAME_MAX + 2];

	ok(mqtt_client_id_ok("sensor-1"), "a plain client id");
	ok(mqtt_client_id_ok("a.b_c:d@e"), "punctuation other than + # /");
	ok(!mqtt_client_id_ok("a+b"), "+ in a client id");
	ok(!mqtt_client_id_ok("#"), "# as a client id");
	ok(!mqtt_client_id_ok("org/x"), "/ in a client id");
	ok(!mqtt_client_id_ok(""), "an empty client id");
	ok(!mqtt_client_id_ok(NULL), "no client id");
	ok(!mqtt_client_id_ok("homebot-events"), "Homebot's own prefix");
	ok(mqtt_client_id_ok("homebot"), "homebot without the dash");
	ok(!mqtt_client_id_ok("a b"), "a blank");
	ok(!mqtt_client_id_ok("a\x01"), "a control character");
	ok(!mqtt_client_id_ok("caf\xc3\xa9"), "a byte above ASCII");
	memset(longest, 'x', sizeof(longest));
	longest[HB_MQTT_NAME_MAX] = '\0';
	ok(mqtt_client_id_ok(longest), "HB_MQTT_NAME_MAX bytes");
	longest[HB_MQTT_NAME_MAX] = 'x';
	longest[HB_MQTT_NAME_MAX + 1] = '\0';
	ok(!mqtt_client_id_ok(longest), "one byte more");
	ok(mqtt_name_ok(NULL) && mqtt_name_ok(""), "no username is fine");
	ok(!mqtt_name_ok("u+"), "+ in a username");
	ok(!mqtt_name_ok("u/"), "/ in a username");
	ok(mqtt_name_ok("homebot-x"), "a username may start with homebot-");
}

static void
test_subscribe(void)
{
	static const char *const refused[] = {
		"#", "+", "+/#", "+/+/#", "org", "org/", "org/#", "org/+",
		"org/+/x", "org/+/#", "org/" OTHER "/x", "org/" OTHER "/#",
		"org/" ORG, "org/" ORG "/", "org/" ORG "x/#",
		"$SYS/#", "$share/g/org/" ORG "/x", "system/#", "system/+",
		"system/health/#", "+/health", "ORG/" ORG "/x", "/org/" ORG "/x",
		"org//" ORG "/x",
	};
	static const char *const allowed[] = {
		"org/" ORG "/#", "org/" ORG "/x", "org/" ORG "/events",
		"org/" ORG "/exercise/+/control",
		"org/" ORG "/exercise/1/team/2/feeds/+", "org/" ORG "/+",
	};

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
		ok(!mqtt_acl_allows(&both, HB_MQTT_SUBSCRIBE, refused[i]),
		    "subscribe refused: %s", refused[i]);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++) {
		ok(mqtt_acl_allows(&both, HB_MQTT_SUBSCRIBE, allowed[i]),
		    "subscribe allowed: %s", allowed[i]);
		ok(!mqtt_acl_allows(&pub_only, HB_MQTT_SUBSCRIBE, allowed[i]),
		    "without mqtt:subscribe: %s", allowed[i]);
	}
	ok(mqtt_acl_allows(&none, HB_MQTT_SUBSCRIBE, "system/health"),
	    "system/health without any permission");
	ok(mqtt_acl_allows(&none, HB_MQTT_UNSUBSCRIBE, "#"),
	    "unsubscribing takes nothing");
}

static void
test_read_write(void)
{
	ok(mqtt_acl_allows(&sub_only, HB_MQTT_READ, "org/" ORG "/a/b"),
	    "read own");
	ok(!mqtt_acl_allows(&sub_only, HB_MQTT_READ, "org/" OTHER "/a"),
	    "read another organization's");
	ok(!mqtt_acl_allows(&pub_only, HB_MQTT_READ, "org/" ORG "/a"),
	    "read without mqtt:subscribe");
	ok(mqtt_acl_allows(&none, HB_MQTT_READ, "system/health"),
	    "read system/health");
	ok(!mqtt_acl_allows(&both, HB_MQTT_READ, "system/other"),
	    "read system/other");
	ok(mqtt_acl_allows(&pub_only, HB_MQTT_WRITE, "org/" ORG "/a"),
	    "publish own");
	ok(!mqtt_acl_allows(&sub_only, HB_MQTT_WRITE, "org/" ORG "/a"),
	    "publish without mqtt:publish");
	ok(!mqtt_acl_allows(&both, HB_MQTT_WRITE, "org/" OTHER "/a"),
	    "publish to another organization");
	ok(!mqtt_acl_allows(&both, HB_MQTT_WRITE, "org/" ORG "/events"),
	    "events are Homebot's to publish");
	ok(!mqtt_acl_allows(&both, HB_MQTT_WRITE, "org/" ORG "/events/x"),
	    "and below them");
	ok(mqtt_acl_allows(&both, HB_MQTT_WRITE, "org/" ORG "/eventsx"),
	    "a topic that only starts with events");
	ok(!mqtt_acl_allows(&both, HB_MQTT_WRITE, "system/health"),
	    "publish system/health");
	ok(!mqtt_acl_allows(&both, HB_MQTT_WRITE, "org/" ORG "/+"),
	    "a wildcard in a published topic");
	ok(!mqtt_acl_allows(&both, 0x10, "org/" ORG "/a"), "an unknown access");
	ok(!mqtt_acl_allows(&both, HB_MQTT_READ, NULL), "no topic");
	ok(!mqtt_acl_allows(NULL, HB_MQTT_READ, "system/health"), "no grant");
	ok(!mqtt_acl_allows(&(struct hb_mqtt_grant){ "+", true, true },
	    HB_MQTT_SUBSCRIBE, "org/+/x"), "a grant whose org is not a UUID");
	ok(!mqtt_acl_allows(&(struct hb_mqtt_grant){ NULL, true, true },
	    HB_MQTT_READ, "system/health"), "a grant without an org");
}

/* Homebot's own publisher: an organization's events topic, write only. */
static void
test_publisher(void)
{
	ok(mqtt_publisher_allows(HB_MQTT_WRITE, "org/" ORG "/events"),
	    "the publisher publishes an organization's events");
	ok(mqtt_publisher_allows(HB_MQTT_WRITE, "org/" OTHER "/events"),
	    "any organization's");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "org/" ORG "/events/x"),
	    "not below the events topic");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "org/" ORG "/eventsx"),
	    "not a topic that starts with events");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "org/" ORG "/x"),
	    "not another topic of an organization");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "org/+/events"),
	    "not a wildcard");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE,
	    "org/0B7E58A4-4C43-4D3E-9D7C-3A2F0C9B1A11/events"),
	    "not an organization no UUID as Homebot writes it");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "org/short/events"),
	    "not a short organization");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, "system/health"),
	    "not system/health");
	ok(!mqtt_publisher_allows(HB_MQTT_WRITE, NULL), "no topic");
	ok(!mqtt_publisher_allows(HB_MQTT_SUBSCRIBE, "org/" ORG "/events"),
	    "no subscription");
	ok(!mqtt_publisher_allows(HB_MQTT_READ, "org/" ORG "/events"),
	    "no delivery");
}

int
main(void)
{
	plan(18 + 24 + 12 + 2 + 18 + 12);
	test_names();
	test_subscribe();
	test_read_write();
	test_publisher();
	return done_testing();
}
