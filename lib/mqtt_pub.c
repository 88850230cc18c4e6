#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "mqtt_pub.h"

#define KEEPALIVE	30	/* seconds; mqtt_pub_poll() pings */
#define USERNAME	"homebot"	/* the plugin ignores it */

struct hb_mqtt_pub {
	struct mosquitto *mosq;		/* owned */
	char		  host[256];
	int		  port;
	char		  client_id[128];
	char		  secret[256];	/* MQTT_PUBLISHER_SECRET */
	bool		  connected;	/* CONNACK accepted, not lost since */
	bool		  fresh;	/* mosq holds no old session state */
	int		  connack;	/* -1: none yet; else its return code */
	int		  waiting;	/* the mid whose PUBACK is awaited */
	bool		  acked;
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct hb_mqtt_pub *p = obj;

	(void)mosq;
	p->connack = rc;
	p->connected = rc == 0;
}

static void
on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct hb_mqtt_pub *p = obj;

	(void)mosq;
	(void)rc;
	p->connected = false;
}

static void
on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct hb_mqtt_pub *p = obj;

	(void)mosq;
	if (mid == p->waiting)
		p->acked = true;
}

/* Sets mosq's credentials and callbacks: 0, or -1. */
static int
setup(struct hb_mqtt_pub *p)
{
	if (mosquitto_username_pw_set(p->mosq, USERNAME, p->secret) !=
	    MOSQ_ERR_SUCCESS)
		return -1;
	mosquitto_connect_callback_set(p->mosq, on_connect);
	mosquitto_disconnect_callback_set(p->mosq, on_disconnect);
	mosquitto_publish_callback_set(p->mosq, on_publish);
	p->fresh = true;
	return 0;
}

struct hb_mqtt_pub *
mqtt_pub_new(const struct hb_config *cfg, const char *client_id,
    struct hb_error *err)
{
	struct hb_mqtt_pub *p;

	if (cfg->mqtt_host[0] == '\0') {
		hb_fail(err, 503, "mqtt_unavailable", "MQTT_HOST is not set");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		hb_fail(err, 500, "internal", "out of memory");
		return NULL;
	}
	snprintf(p->host, sizeof(p->host), "%s", cfg->mqtt_host);
	p->port = cfg->mqtt_port;
	snprintf(p->client_id, sizeof(p->client_id), "%s", client_id);
	snprintf(p->secret, sizeof(p->secret), "%s",
	    cfg->mqtt_publisher_secret);
	mosquitto_lib_init();
	p->mosq = mosquitto_new(p->client_id, true, p);
	if (p->mosq == NULL || setup(p) == -1) {
		hb_fail(err, 500, "internal", "out of memory");
		mqtt_pub_free(p);
		return NULL;
	}
	return p;
}

void
mqtt_pub_free(struct hb_mqtt_pub *p)
{
	if (p == NULL)
		return;
	if (p->mosq != NULL) {
		if (p->connected)
			mosquitto_disconnect(p->mosq);
		mosquitto_destroy(p->mosq);
	}
	mosquitto_lib_cleanup();
	explicit_bzero(p->secret, sizeof(p->secret));
	free(p);
}

/*
 * After a failure: the connection closed and the handle emptied, so no
 * message of a failed attempt is sent again behind the caller's back (its
 * job is retried instead).
 */
static void
reset(struct hb_mqtt_pub *p)
{
	if (p->connected)
		mosquitto_disconnect(p->mosq);
	p->connected = false;
	if (!p->fresh) {
		mosquitto_reinitialise(p->mosq, p->client_id, true, p);
		if (setup(p) == -1)
			p->fresh = false;
	}
}

/*
 * Connects and waits for the CONNACK until deadline: 0, or -1 with err.
 * The TCP connection is opened without blocking (only the name lookup
 * may), so a broker that does not answer costs at most the deadline, and
 * never a job's lease.
 */
static int
connect_until(struct hb_mqtt_pub *p, long deadline, struct hb_error *err)
{
	int rc, lrc = MOSQ_ERR_SUCCESS;

	p->connack = -1;
	p->fresh = false;
	rc = mosquitto_connect_async(p->mosq, p->host, p->port, KEEPALIVE);
	if (rc != MOSQ_ERR_SUCCESS) {
		reset(p);
		return hb_fail(err, 503, "mqtt_unavailable",
		    "cannot connect to the broker %s:%d: %s", p->host, p->port,
		    mosquitto_strerror(rc));
	}
	while (p->connack == -1 && now_ms() < deadline)
		if ((lrc = mosquitto_loop(p->mosq, 100, 1)) != MOSQ_ERR_SUCCESS)
			break;
	if (p->connack != 0) {
		rc = p->connack;
		reset(p);
		if (rc == -1 && lrc != MOSQ_ERR_SUCCESS)
			return hb_fail(err, 503, "mqtt_unavailable",
			    "cannot connect to the broker %s:%d: %s", p->host,
			    p->port, mosquitto_strerror(lrc));
		if (rc == -1)
			return hb_fail(err, 503, "mqtt_unavailable",
			    "the broker %s:%d did not accept the connection in "
			    "time", p->host, p->port);
		return hb_fail(err, 503, "mqtt_unavailable",
		    "the broker %s:%d refused the publisher: %s", p->host,
		    p->port, mosquitto_connack_string(rc));
	}
	return 0;
}

int
mqtt_pub_publish(struct hb_mqtt_pub *p, const char *topic,
    const void *payload, size_t len, int timeout_ms, struct hb_error *err)
{
	long deadline = now_ms() + timeout_ms;
	int rc, mid = 0;

	if (len > (size_t)256 * 1024 * 1024)
		return hb_fail(err, 422, "event_invalid", "payload too long");
	/* A broker that went away since the last job is noticed here. */
	if (p->connected)
		mqtt_pub_poll(p);
	if (!p->connected && connect_until(p, deadline, err) == -1)
		return -1;
	p->acked = false;
	p->waiting = -1;
	rc = mosquitto_publish(p->mosq, &mid, topic, (int)len, payload, 1,
	    false);
	if (rc != MOSQ_ERR_SUCCESS) {
		reset(p);
		return hb_fail(err, 503, "mqtt_unavailable",
		    "cannot publish: %s", mosquitto_strerror(rc));
	}
	p->waiting = mid;
	while (!p->acked && p->connected && now_ms() < deadline)
		if (mosquitto_loop(p->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (!p->acked) {
		reset(p);
		return hb_fail(err, 503, "mqtt_unavailable",
		    "the broker did not acknowledge the message in time");
	}
	return 0;
}

void
mqtt_pub_poll(struct hb_mqtt_pub *p)
{
	if (p == NULL || !p->connected)
		return;
	if (mosquitto_loop(p->mosq, 0, 1) != MOSQ_ERR_SUCCESS || !p->connected)
		reset(p);
}

bool
mqtt_pub_connected(const struct hb_mqtt_pub *p)
{
	return p != NULL && p->connected;
}
