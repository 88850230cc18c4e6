/*
 * Homebot's events (lib/event.c): the topic of an organization's events,
 * and the envelope check the worker makes before publishing a job's
 * payload there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "tap.h"

#define ORG	"0b7e58a4-4c43-4d3e-9d7c-3a2f0c9b1a11"
#define OTHER	"6f1d2c3b-aaaa-4bbb-8ccc-0123456789ab"
#define ID	"9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"

/* An envelope of ORG, with one member replaced (or added) as given. */
static void
envelope(char *out, size_t n, const char *id, const char *type,
    const char *version, const char *org)
{
	snprintf(out, n, "{\"id\": %s, \"type\": %s, \"version\": %s,"
	    " \"occurred_at\": \"2026-12-03T15:00:00.000001Z\","
	    " \"correlation_id\": \"req-1\", \"trace_id\": null,"
	    " \"organization_id\": %s, \"data\": {}}", id, type, version, org);
}

static void
test_topic(void)
{
	struct hb_error err = {0};
	char topic[HB_EVENT_TOPIC_MAX], small[16];

	is_int(event_topic(ORG, topic, sizeof(topic), &err), 0, "a topic");
	is_str(topic, "org/" ORG "/events", "org/<org_id>/events");
	is_int(event_topic("not-a-uuid", topic, sizeof(topic), &err), -1,
	    "no UUID: no topic");
	is_str(err.code, "event_invalid", "event_invalid");
	hb_error_clear(&err);
	is_int(event_topic(NULL, topic, sizeof(topic), &err), -1, "NULL: none");
	hb_error_clear(&err);
	is_int(event_topic(ORG "/x", topic, sizeof(topic), &err), -1,
	    "a UUID and more: none");
	hb_error_clear(&err);
	is_int(event_topic("0B7E58A4-4C43-4D3E-9D7C-3A2F0C9B1A11", topic,
	    sizeof(topic), &err), -1, "upper case: not as Homebot writes it");
	hb_error_clear(&err);
	is_int(event_topic(ORG, small, sizeof(small), &err), -1,
	    "a buffer too small");
	hb_error_clear(&err);
}

static void
test_check(void)
{
	struct hb_error err = {0};
	char buf[1024], *big;

	envelope(buf, sizeof(buf), "\"" ID "\"", "\"member.added\"", "1",
	    "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), 0, "a valid envelope (%s)",
	    err.message);
	hb_error_clear(&err);
	is_int(event_check(buf, OTHER, &err), -1,
	    "of another organization than its job");
	is_str(err.code, "event_invalid", "event_invalid");
	hb_error_clear(&err);
	is_int(event_check(buf, "x", &err), -1, "a job organization no UUID");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"x\"", "\"member.added\"", "1",
	    "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "an id that is no UUID");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "1", "\"member.added\"", "1", "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "an id that is no string");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"\"", "1", "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "an empty type");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "null", "1", "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "a null type");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"t\"", "2", "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "version 2");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"t\"", "\"1\"",
	    "\"" ORG "\"");
	is_int(event_check(buf, ORG, &err), -1, "version as a string");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"t\"", "1", "null");
	is_int(event_check(buf, ORG, &err), -1, "no organization");
	hb_error_clear(&err);
	is_int(event_check("{\"id\": \"" ID "\", \"type\": \"t\", \"version\": 1,"
	    " \"organization_id\": \"" ORG "\"}", ORG, &err), -1,
	    "no occurred_at");
	hb_error_clear(&err);
	is_int(event_check("[1, 2]", ORG, &err), -1, "an array");
	hb_error_clear(&err);
	is_int(event_check("{\"id\": ", ORG, &err), -1, "cut JSON");
	hb_error_clear(&err);
	is_int(event_check("", ORG, &err), -1, "empty");
	hb_error_clear(&err);
	is_int(event_check(NULL, ORG, &err), -1, "NULL");
	hb_error_clear(&err);
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"t\"", "1", "\"" ORG "\"");
	strcat(buf, " trailing");
	is_int(event_check(buf, ORG, &err), -1, "trailing garbage");
	hb_error_clear(&err);
	big = malloc(HB_EVENT_MAX + 64);
	if (big == NULL)
		abort();
	memset(big, ' ', HB_EVENT_MAX + 63);
	big[HB_EVENT_MAX + 63] = '\0';
	envelope(buf, sizeof(buf), "\"" ID "\"", "\"t\"", "1", "\"" ORG "\"");
	memcpy(big, buf, strlen(buf));
	is_int(event_check(big, ORG, &err), -1, "longer than HB_EVENT_MAX");
	hb_error_clear(&err);
	free(big);
}

static void
test_config(void)
{
	struct hb_config cfg = { 0 };
	struct hb_error err = {0};

	is_int(event_config_check(&cfg, &err), 0, "no MQTT_HOST: no events");
	snprintf(cfg.mqtt_host, sizeof(cfg.mqtt_host), "127.0.0.1");
	is_int(event_config_check(&cfg, &err), -1, "MQTT_HOST without a secret");
	ok(strstr(err.message, "MQTT_PUBLISHER_SECRET") != NULL,
	    "the message names the secret");
	hb_error_clear(&err);
	snprintf(cfg.mqtt_publisher_secret, sizeof(cfg.mqtt_publisher_secret),
	    "0123456789abcdef0123456789abcdef");
	is_int(event_config_check(&cfg, &err), 0, "MQTT_HOST and a secret");
}

int
main(void)
{
	plan(26 + 4);
	test_topic();
	test_check();
	test_config();
	return done_testing();
}
