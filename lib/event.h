#ifndef HB_EVENT_H
#define HB_EVENT_H

#include <stddef.h>

#include "config.h"
#include "error.h"

/*
 * Homebot's own events (api.md §8, docs/events.schema.json): the envelope
 * of every audit event of an organization, built by the database
 * (R__events.sql) when homebot-worker takes the event from the outbox,
 * and published by it on org/<org_id>/events. Pure functions, no broker.
 */

#define HB_EVENT_VERSION	1
#define HB_EVENT_TOPIC_MAX	64	/* "org/" + a UUID + "/events" + NUL */
#define HB_EVENT_MAX		(256 * 1024)	/* longest payload published */

/*
 * Writes the events topic of org_id (a UUID) into out (n bytes): 0, or
 * -1 with err set when org_id is no UUID or out too small.
 */
int	event_topic(const char *org_id, char *out, size_t n,
	    struct hb_error *err);

/*
 * Checks that payload is an envelope of an event of org_id, the one
 * to publish on its organization's topic: a JSON object of at most
 * HB_EVENT_MAX bytes with a UUID id, a non-empty type, version
 * HB_EVENT_VERSION, an occurred_at, and organization_id org_id. Returns 0,
 * or -1 with err set (422 event_invalid: no retry can fix it).
 */
int	event_check(const char *payload, const char *org_id,
	    struct hb_error *err);

/*
 * Whether cfg lets homebot-worker publish events: without MQTT_HOST it
 * publishes none (0: they are dropped); with it,
 * MQTT_PUBLISHER_SECRET must be set, or the broker would refuse every
 * attempt and the events would wait for ever: -1 with err naming it.
 */
int	event_config_check(const struct hb_config *cfg, struct hb_error *err);

#endif
