/*
 * The MQTT figures of make bench (bench/mqtt.sh), with libmosquitto:
 *
 *   mqtt-bench connect PORT SECONDS THREADS
 *	authenticated CONNECT/CONNACK/DISCONNECT cycles on 127.0.0.1:PORT
 *	from THREADS threads for SECONDS; prints "connects/s refused".
 *   mqtt-bench publish PORT COUNT QOS TOPIC
 *	one subscriber of TOPIC, one publisher of COUNT messages at QOS;
 *	prints "messages/s received", from the first publish to the last
 *	message received.
 *
 * Every client's password is BENCH_MQTT_PASSWORD (unset: none), taken
 * from the environment so that no other user sees it in ps. A benchmark
 * tool, never installed.
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *password;
static double stop_at;
static atomic_long connects, refused;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A client with the credential (or none); NULL when libmosquitto fails. */
static struct mosquitto *
client_new(const char *id, void *obj)
{
	struct mosquitto *m = mosquitto_new(id, true, obj);

	if (m == NULL)
		return NULL;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if (password[0] != '\0' &&
	    mosquitto_username_pw_set(m, "bench", password) != MOSQ_ERR_SUCCESS) {
		mosquitto_destroy(m);
		return NULL;
	}
	return m;
}

struct cycle {
	int done;	/* 0 waiting, 1 accepted, -1 refused */
};

static void
on_connack(struct mosquitto *m, void *obj, int rc)
{
	struct cycle *c = obj;

	c->done = rc == 0 ? 1 : -1;
	if (rc == 0)
		mosquitto_disconnect(m);
}

/* One CONNECT answered by a CONNACK, then a DISCONNECT. */
static int
one_cycle(int thread, long n)
{
	char id[48];
	struct cycle c = {0};
	struct mosquitto *m;
	int rc = -1;

	snprintf(id, sizeof(id), "bench-%d-%ld", thread, n);
	if ((m = client_new(id, &c)) == NULL)
		return -1;
	mosquitto_connect_callback_set(m, on_connack);
	if (mosquitto_connect(m, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS) {
		while (c.done == 0 &&
		    mosquitto_loop(m, 1000, 1) == MOSQ_ERR_SUCCESS)
			;
		rc = c.done == 1 ? 0 : -1;
	}
	mosquitto_destroy(m);
	return rc;
}

static void *
connect_thread(void *arg)
{
	int thread = (int)(long)arg;
	long n = 0;

	while (now() < stop_at) {
		if (one_cycle(thread, n++) == 0)
			atomic_fetch_add(&connects, 1);
		else
			atomic_fetch_add(&refused, 1);
	}
	return NULL;
}

static int
bench_connect(int seconds, int threads)
{
	pthread_t t[64];
	double t0;
	int i;

	if (threads < 1 || threads > 64)
		return 2;
	t0 = now();
	stop_at = t0 + seconds;
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, connect_thread, (void *)(long)i))
			return 1;
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("%.0f %ld\n", (double)atomic_load(&connects) / (now() - t0),
	    atomic_load(&refused));
	return 0;
}

struct sub {
	atomic_long	received;
	atomic_int	ready;
	double		last;
	const char	*topic;
	int		qos;
};

static void
on_sub_connect(struct mosquitto *m, void *obj, int rc)
{
	struct sub *s = obj;

	if (rc == 0)
		mosquitto_subscribe(m, NULL, s->topic, s->qos);
}

static void
on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
	struct sub *s = obj;

	(void)m;
	(void)mid;
	if (n == 1 && q[0] <= 2)
		atomic_store(&s->ready, 1);
}

static void
on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct sub *s = obj;

	(void)m;
	(void)msg;
	atomic_fetch_add(&s->received, 1);
	s->last = now();
}

static int
bench_publish(long count, int qos, const char *topic)
{
	static const char payload[] = "{\"bench\":true,\"n\":0000000000}";
	struct sub s = { .topic = topic, .qos = qos };
	struct mosquitto *sub, *pub;
	double t0, deadline;
	long i;

	if ((sub = client_new("bench-sub", &s)) == NULL ||
	    (pub = client_new("bench-pub", NULL)) == NULL)
		return 1;
	mosquitto_connect_callback_set(sub, on_sub_connect);
	mosquitto_subscribe_callback_set(sub, on_subscribe);
	mosquitto_message_callback_set(sub, on_message);
	/* The publisher may have this many QoS 1 messages unacknowledged. */
	mosquitto_int_option(pub, MOSQ_OPT_SEND_MAXIMUM, 1000);
	if (mosquitto_connect(sub, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(sub) != MOSQ_ERR_SUCCESS ||
	    mosquitto_connect(pub, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(pub) != MOSQ_ERR_SUCCESS)
		return 1;
	for (deadline = now() + 10; !atomic_load(&s.ready); usleep(1000))
		if (now() > deadline)
			return 1;
	t0 = now();
	for (i = 0; i < count; i++) {
		while (mosquitto_publish(pub, NULL, topic, sizeof(payload) - 1,
		    payload, qos, false) == MOSQ_ERR_NOMEM)
			usleep(100);
	}
	for (deadline = now() + 60; atomic_load(&s.received) < count &&
	    now() < deadline; usleep(1000))
		;
	printf("%.0f %ld\n", (double)atomic_load(&s.received) /
	    ((atomic_load(&s.received) > 0 ? s.last : now()) - t0),
	    atomic_load(&s.received));
	mosquitto_disconnect(pub);
	mosquitto_disconnect(sub);
	mosquitto_loop_stop(pub, false);
	mosquitto_loop_stop(sub, false);
	mosquitto_destroy(pub);
	mosquitto_destroy(sub);
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	password = getenv("BENCH_MQTT_PASSWORD");
	if (password == NULL)
		password = "";
	if (argc == 5 && strcmp(argv[1], "connect") == 0) {
		port = atoi(argv[2]);
		mosquitto_lib_init();
		rc = bench_connect(atoi(argv[3]), atoi(argv[4]));
	} else if (argc == 6 && strcmp(argv[1], "publish") == 0) {
		port = atoi(argv[2]);
		mosquitto_lib_init();
		rc = bench_publish(atol(argv[3]), atoi(argv[4]), argv[5]);
	} else {
		fprintf(stderr, "usage: mqtt-bench connect PORT SECONDS THREADS | "
		    "publish PORT COUNT QOS TOPIC\n");
		return 2;
	}
	mosquitto_lib_cleanup();
	return rc;
}
