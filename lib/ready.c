#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include "json.h"
#include "ready.h"

/* The newest applied migration; public.schema_migrations is migrate's. */
static const char SQL_VERSION[] =
    "SELECT max(version) AS version FROM public.schema_migrations";
/*
 * The queue's two figures over every organization: job_counts() is
 * SECURITY DEFINER and answers counts per kind, never a row's content.
 */
static const char SQL_JOBS[] =
    "SELECT coalesce(max(oldest_queued_seconds), 0) AS oldest,"
    " coalesce(sum(dead), 0) AS dead FROM homebot.job_counts()";

int
ready_db_read(struct hb_db *db, struct hb_ready_db *out,
    struct hb_error *err)
{
	static const char *const sql[] = { SQL_VERSION, SQL_JOBS };
	PGresult *res[2];
	const char *v;

	memset(out, 0, sizeof(*out));
	if (db_pipeline(db, HB_READY_STATEMENT_MS, 2, sql, res, err) == -1)
		return -1;
	if (res[0] != NULL) {
		out->reached = true;
		v = db_value(res[0], 0, "version");
		snprintf(out->version, sizeof(out->version), "%s",
		    v != NULL ? v : "");
	}
	if (res[1] != NULL && db_value(res[1], 0, "oldest") != NULL &&
	    db_value(res[1], 0, "dead") != NULL) {
		out->jobs_read = true;
		out->oldest_queued_seconds =
		    strtod(db_value(res[1], 0, "oldest"), NULL);
		out->dead = strtoll(db_value(res[1], 0, "dead"), NULL, 10);
	}
	PQclear(res[0]);
	PQclear(res[1]);
	if (!out->reached)
		return hb_fail(err, 503, "service_unavailable",
		    "The database did not answer.");
	return 0;
}

double
ready_free_percent(unsigned long long avail, unsigned long long size)
{
	if (size == 0)
		return 0;
	if (avail > size)
		avail = size;
	return (double)avail * 100.0 / (double)size;
}

int
ready_dir_measure(struct hb_ready_dir *d, const char *name, const char *path)
{
	struct statvfs st;

	d->name = name;
	d->read = false;
	d->free_percent = 0;
	if (statvfs(path, &st) == -1)
		return -1;
	/* f_bavail: what the programs' user may still write, not root. */
	d->free_percent = ready_free_percent(st.f_bavail, st.f_blocks);
	d->read = true;
	return 0;
}

/* A number printed with one decimal. */
static struct json_object *
tenths_new(double p)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.1f", p);
	return json_object_new_double_s(p, buf);
}

static struct json_object *
status_new(bool warn)
{
	return json_object_new_string(warn ? "warn" : "ok");
}

struct json_object *
ready_disk_json(const struct hb_ready_dir *dirs, size_t n, int min_free)
{
	struct json_object *c = json_object_new_object();
	struct json_object *all = json_object_new_object();
	char low[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_new_object();
		bool warn = !dirs[i].read ||
		    dirs[i].free_percent < (double)min_free;

		json_object_object_add(d, "status", status_new(warn));
		json_object_object_add(d, "free_percent", dirs[i].read ?
		    tenths_new(dirs[i].free_percent) : NULL);
		if (!dirs[i].read)
			json_object_object_add(d, "message",
			    json_object_new_string(
			    "The free space cannot be read."));
		json_object_object_add(all, dirs[i].name, d);
		if (warn && used < sizeof(low))
			used += (size_t)snprintf(low + used, sizeof(low) - used,
			    "%s%s", used > 0 ? ", " : "", dirs[i].name);
	}
	json_object_object_add(c, "status", status_new(low[0] != '\0'));
	if (low[0] != '\0') {
		char msg[320];

		snprintf(msg, sizeof(msg),
		    "Free space is low or unknown on: %s.", low);
		json_object_object_add(c, "message",
		    json_object_new_string(msg));
	}
	json_object_object_add(c, "min_free_percent",
	    json_object_new_int(min_free));
	json_object_object_add(c, "directories", all);
	return c;
}

struct json_object *
ready_jobs_json(const struct hb_ready_db *db, int max_age, int max_dead)
{
	struct json_object *c = json_object_new_object();
	bool late = db->jobs_read && db->oldest_queued_seconds > max_age;
	bool dead = db->jobs_read && db->dead > max_dead;
	char msg[256];

	json_object_object_add(c, "status",
	    status_new(!db->jobs_read || late || dead));
	if (!db->jobs_read)
		snprintf(msg, sizeof(msg), "The job queue cannot be read.");
	else if (late || dead)
		snprintf(msg, sizeof(msg), "%s%s%s",
		    late ? "Jobs wait longer than they should to run." : "",
		    late && dead ? " " : "",
		    dead ? "Some jobs failed for good." : "");
	if (!db->jobs_read || late || dead)
		json_object_object_add(c, "message",
		    json_object_new_string(msg));
	json_object_object_add(c, "oldest_queued_seconds", db->jobs_read ?
	    tenths_new(db->oldest_queued_seconds) : NULL);
	json_object_object_add(c, "dead", db->jobs_read ?
	    json_object_new_int64(db->dead) : NULL);
	json_object_object_add(c, "max_queued_seconds",
	    json_object_new_int(max_age));
	json_object_object_add(c, "max_dead", json_object_new_int(max_dead));
	return c;
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC), at least 0. */
static int
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* Waits for events on fd until deadline: 1 when they came, 0 when not. */
static int
wait_for(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&pfd, 1, ms_left(deadline));
	while (n == -1 && errno == EINTR);
	return n == 1;
}

/* A non-blocking TCP socket connecting to host:port, or -1. */
static int
connect_start(const char *host, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)port);
		len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)port);
		len = sizeof(*v6);
	} else
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

enum ready_mqtt
ready_mqtt_probe(const char *host, int port, int timeout_ms, double *ms)
{
	/*
	 * CONNECT, protocol "MQTT" at a level no broker speaks (0x7f): the
	 * broker's loop answers it with a refusing CONNACK, or closes, before
	 * any credential is asked for, so nothing is authenticated or audited.
	 */
	static const unsigned char connect_pkt[] = { 0x10, 12, 0, 4, 'M', 'Q',
	    'T', 'T', 0x7f, 0x02, 0, 0, 0, 0 };
	struct timespec t0, deadline;
	unsigned char buf[16];
	socklen_t elen = sizeof(int);
	int fd, soerr = 0;
	enum ready_mqtt rc = READY_MQTT_SILENT;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = t0;
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	*ms = 0;
	fd = connect_start(host, port);
	if (fd == -1)
		return READY_MQTT_UNREACHABLE;
	if (!wait_for(fd, POLLOUT, &deadline))
		goto done;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == -1 ||
	    soerr != 0) {
		rc = READY_MQTT_UNREACHABLE;
		goto done;
	}
	if (send(fd, connect_pkt, sizeof(connect_pkt), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(connect_pkt)) {
		rc = READY_MQTT_UNREACHABLE;
		goto done;
	}
	if (!wait_for(fd, POLLIN, &deadline))
		goto done;
	/* A CONNACK, the end of the stream or a reset: the broker acted. */
	n = recv(fd, buf, sizeof(buf), 0);
	if (n >= 0 || errno == ECONNRESET) {
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		*ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		rc = READY_MQTT_OK;
	}
done:
	close(fd);
	return rc;
}

struct json_object *
ready_mqtt_json(enum ready_mqtt rc, double ms, int timeout_ms)
{
	struct json_object *c = json_object_new_object();
	char msg[128];

	json_object_object_add(c, "status", status_new(rc != READY_MQTT_OK));
	if (rc == READY_MQTT_OK) {
		json_object_object_add(c, "latency_ms", json_new_ms(ms));
		return c;
	}
	if (rc == READY_MQTT_UNREACHABLE)
		snprintf(msg, sizeof(msg), "The MQTT broker cannot be reached.");
	else
		snprintf(msg, sizeof(msg), "The MQTT broker did not answer "
		    "within %d ms.", timeout_ms);
	json_object_object_add(c, "message", json_object_new_string(msg));
	return c;
}
