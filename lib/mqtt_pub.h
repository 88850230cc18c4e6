#ifndef HB_MQTT_PUB_H
#define HB_MQTT_PUB_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

/*
 * homebot-worker's MQTT publisher (api.md §8): one connection per worker
 * process to MQTT_HOST:MQTT_PORT, kept between jobs, admitted by the
 * broker's plugin with MQTT_PUBLISHER_SECRET under a client id of
 * Homebot's own (HB_MQTT_RESERVED), which no client may use. QoS 1: a
 * publish returns 0 only after the broker's PUBACK. Linked with
 * -lmosquitto; only homebot-worker uses it. Not thread-safe: one per
 * process.
 */

struct hb_mqtt_pub;

/*
 * A publisher for cfg's broker, named client_id (it starts with
 * HB_MQTT_RESERVED), not yet connected: it connects on its first publish.
 * NULL when out of memory or cfg has no MQTT_HOST (err says which). The
 * caller owns it: mqtt_pub_free().
 */
struct hb_mqtt_pub *mqtt_pub_new(const struct hb_config *cfg,
	    const char *client_id, struct hb_error *err);
void	mqtt_pub_free(struct hb_mqtt_pub *p);

/*
 * Publishes payload (len bytes) on topic with QoS 1 and waits for the
 * PUBACK, at most timeout_ms: 0, or -1 with err set (503 mqtt_unavailable:
 * the broker is down, refused the publisher or did not answer in time; a
 * later attempt may succeed). The connection is opened again first when
 * it was lost.
 */
int	mqtt_pub_publish(struct hb_mqtt_pub *p, const char *topic,
	    const void *payload, size_t len, int timeout_ms,
	    struct hb_error *err);

/*
 * Serves the connection between jobs (keep-alive pings, a broker that
 * went away): call it when idle; it never blocks.
 */
void	mqtt_pub_poll(struct hb_mqtt_pub *p);

/* Whether the last publish or poll left it connected. */
bool	mqtt_pub_connected(const struct hb_mqtt_pub *p);

#endif
