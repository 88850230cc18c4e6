/*
 * Homebot's Mosquitto 2 plugin (plugin API v5, api.md §8): the CONNECT
 * password is an access token or an API key, verified by lib/auth.c as
 * for an HTTP request (signature, expiry, session, membership, user,
 * organization, permissions, in one round trip); topics are those of the
 * credential's organization (lib/mqtt_acl.c), answered from memory; a
 * client whose credential stops working is disconnected within a tick or
 * two of the database's NOTIFY homebot_mqtt (R__mqtt.sql), and a token's
 * client at its exp.
 *
 * The broker is single-threaded: every callback runs on its thread, so the
 * plugin's state needs no lock. It keeps three database connections of
 * its own (role homebot_app): one for the credential checks, one for the
 * audit rows, one that LISTENs. All reopen after a failure; a listening
 * connection that was lost means notifications may have been missed, so
 * every client is checked again.
 *
 * A CONNACK never waits for an audit row: each row is queued in memory
 * and the queue is written from the broker's tick (every loop of the
 * broker, at least every 100 ms), up to AUDIT_BATCH rows in one
 * statement sent without waiting for its answer, read on a later tick.
 * A batch that fails is sent again (at least once: a connection lost
 * after its commit writes it twice); one the server refuses is written
 * row by row, so that no row can hold the others up (a row refused then
 * is logged and given up). The plugin's cleanup, at the broker's
 * shutdown, writes what is still queued.
 *
 * Homebot's own publisher (homebot-worker, which publishes the events of
 * org/<org_id>/events) connects with a client id of Homebot's reserved
 * prefix, which no client may use, and MQTT_PUBLISHER_SECRET as its
 * password, compared in constant time; it may publish on an
 * organization's events topic and do nothing else. Without the setting
 * no publisher is admitted.
 *
 * Options (plugin_opt_*): config, the env file of settings (as
 * HOMEBOT_CONFIG; the environment's HOMEBOT_CONFIG otherwise).
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "arena.h"
#include "auth.h"
#include "auth_jwt.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "error.h"
#include "mqtt_acl.h"
#include "uuid.h"

#define CHANNEL		"homebot_mqtt"
#define BUCKETS		4096
#define MAX_CRED	4096	/* longest password taken */
#define RETRY_NS	1000000000L	/* between attempts to reach the database */
#define AUDIT_BATCH	1000	/* audit rows in one statement at most */
#define AUDIT_MAX	65536	/* audit rows queued at most */
#define FLUSH_MS	5000	/* at shutdown, to write what is queued */

/* One client that passed CONNECT, by client id. */
struct client {
	struct client	*next;		/* in its bucket */
	const struct mosquitto *mosq;	/* its current connection */
	char		 id[HB_MQTT_NAME_MAX + 1];
	char		 org_id[HB_UUID_LEN + 1];
	char		 user_id[HB_UUID_LEN + 1];
	char		 session_id[HB_UUID_LEN + 1];	/* token only */
	char		 key_id[HB_UUID_LEN + 1];	/* API key only */
	char		 ip[64];
	char		*cred;		/* owned: the password, to check again */
	bool		 is_key;
	bool		 publisher;	/* Homebot's own: events topics only */
	bool		 subscribe;	/* mqtt:subscribe */
	bool		 publish;	/* mqtt:publish */
	bool		 online;	/* offline: a persistent session's */
	bool		 recheck;	/* a notification named it */
	const char	*kick_reason;	/* set: being disconnected for it */
	const char	*doom;		/* sweep(): to be disconnected for it */
	long		 exp;		/* token's exp; 0 for a key */
};

/* One audit row waiting to be written; "" is SQL NULL. */
struct audit_row {
	char		 action[24];
	char		 org_id[HB_UUID_LEN + 1];
	char		 actor_type[8];
	char		 actor_id[HB_UUID_LEN + 1];
	char		 client_id[HB_MQTT_NAME_MAX + 1];
	char		 ip[64];
	char		 reason[64];
};

struct plugin {
	mosquitto_plugin_id_t *id;
	struct hb_config cfg;
	struct hb_jwt_keys keys;
	struct hb_db	*db;		/* credential checks */
	struct hb_db	*audit_db;	/* audit rows, sent without waiting */
	struct audit_row *queue;	/* owned: the rows not yet written */
	size_t		 queued;	/* rows in queue */
	size_t		 queue_cap;
	size_t		 in_flight;	/* the first rows of queue, sent */
	long		 audit_retry;	/* monotonic ns before which not to send */
	struct hb_db	*listen;	/* LISTEN homebot_mqtt */
	unsigned	 listen_opened;	/* db_opened(listen) at the last poll */
	long		 listen_retry;	/* monotonic ns before which not to retry */
	struct hb_arena	 arena;		/* per callback, reset after it */
	struct client	*buckets[BUCKETS];
	long		 next_exp;	/* the soonest exp of any client; 0: none */
	bool		 recheck_all;
	long		 recheck_retry;	/* monotonic ns: checks the database failed */
};

static long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

static struct client *
find(struct plugin *p, const char *id)
{
	struct client *c;

	if (id == NULL)
		return NULL;
	for (c = p->buckets[hash(id)]; c != NULL; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static void
client_free(struct client *c)
{
	if (c->cred != NULL) {
		explicit_bzero(c->cred, strlen(c->cred));
		free(c->cred);
	}
	free(c);
}

/* Takes c out of the table and frees it. */
static void
forget(struct plugin *p, struct client *c)
{
	struct client **pp = &p->buckets[hash(c->id)];

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
	client_free(c);
}

/* The client's grant; for an ACL check its connection must be c->mosq. */
static bool
grant_of(const struct client *c, struct hb_mqtt_grant *g)
{
	if (c->kick_reason != NULL)
		return false;
	*g = (struct hb_mqtt_grant){ .org_id = c->org_id,
	    .subscribe = c->subscribe, .publish = c->publish };
	return true;
}

static const char SQL_AUDIT[] = "SELECT homebot.mqtt_audit($1, $2, $3, $4,"
    " $5, $6, $7)";

/* Several rows in one statement, in the queue's order. */
static const char SQL_AUDIT_BATCH[] = "SELECT count(homebot.mqtt_audit("
    "e->>'a', (e->>'o')::uuid, e->>'t', (e->>'i')::uuid, e->>'c',"
    " e->>'ip', e->>'r')) FROM jsonb_array_elements($1::jsonb) AS e";

static const char *
or_null(const char *s)
{
	return s[0] != '\0' ? s : NULL;
}

/*
 * Writes one queued row and waits for it. Returns 0, or the failure's
 * status: 503 (the database unreachable: the row stays queued), or any
 * other, logged (a row the server refuses: given up).
 */
static int
audit_write_one(struct plugin *p, const struct audit_row *r)
{
	const char *params[7];
	struct hb_error err = { 0 };
	PGresult *res;

	params[0] = r->action;
	params[1] = or_null(r->org_id);
	params[2] = or_null(r->actor_type);
	params[3] = or_null(r->actor_id);
	params[4] = or_null(r->client_id);
	params[5] = or_null(r->ip);
	params[6] = or_null(r->reason);
	res = db_exec(p->audit_db, SQL_AUDIT, 7, params, &err);
	if (res == NULL && err.status != 503)
		mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: audit %s not "
		    "written: %s", r->action, db_last_error(p->audit_db));
	PQclear(res);
	return res != NULL ? 0 : err.status;
}

static int
json_put(struct json_object *o, const char *key, const char *value)
{
	struct json_object *v = NULL;

	if (value[0] != '\0' && (v = json_object_new_string(value)) == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* The first n queued rows as a JSON array the caller puts; NULL: no memory. */
static struct json_object *
audit_batch_json(const struct plugin *p, size_t n)
{
	struct json_object *a = json_object_new_array(), *o;

	for (size_t i = 0; a != NULL && i < n; i++) {
		const struct audit_row *r = &p->queue[i];

		if ((o = json_object_new_object()) == NULL ||
		    json_object_array_add(a, o) != 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
		if (json_put(o, "a", r->action) == -1 ||
		    json_put(o, "o", r->org_id) == -1 ||
		    json_put(o, "t", r->actor_type) == -1 ||
		    json_put(o, "i", r->actor_id) == -1 ||
		    json_put(o, "c", r->client_id) == -1 ||
		    json_put(o, "ip", r->ip) == -1 ||
		    json_put(o, "r", r->reason) == -1) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* Drops the first n rows of the queue: written, or given up. */
static void
audit_shift(struct plugin *p, size_t n)
{
	memmove(p->queue, p->queue + n, (p->queued - n) * sizeof(*p->queue));
	p->queued -= n;
}

/*
 * Sends the next batch of queued rows without waiting (none while one is
 * in flight, or before audit_retry). Returns 0, or -1 when it could not.
 */
static int
audit_send(struct plugin *p, long mono)
{
	struct hb_error err = { 0 };
	struct json_object *batch;
	const char *param;
	size_t n = p->queued < AUDIT_BATCH ? p->queued : AUDIT_BATCH;
	int rc;

	if (p->in_flight > 0 || n == 0 || mono < p->audit_retry)
		return 0;
	if ((batch = audit_batch_json(p, n)) == NULL)
		return -1;
	param = json_object_to_json_string_ext(batch, JSON_C_TO_STRING_PLAIN);
	db_clear_error(p->audit_db);
	rc = param != NULL ? db_send(p->audit_db, SQL_AUDIT_BATCH, 1, &param,
	    &err) : -1;
	/* libpq has copied the parameter into its buffer by now. */
	json_object_put(batch);
	if (rc == -1) {
		p->audit_retry = mono + RETRY_NS;
		mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: audit rows not "
		    "written yet: %s", db_last_error(p->audit_db));
		return -1;
	}
	p->in_flight = n;
	return 0;
}

/*
 * Reads the answer to the batch in flight, if it came: written rows leave
 * the queue; a lost connection sends them again later; rows the server
 * refused are written one by one, each failure logged. Returns 1 when
 * the batch is done (either way), 0 while it runs.
 */
static int
audit_collect(struct plugin *p, long mono)
{
	struct hb_error err = { 0 };
	int rc;

	if (p->in_flight == 0)
		return 1;
	if ((rc = db_sent_done(p->audit_db, &err)) == 0)
		return 0;
	if (rc == -1) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: audit rows not "
		    "written yet: %s", db_last_error(p->audit_db));
		if (err.status == 503)
			p->audit_retry = mono + RETRY_NS;
		else {
			size_t i;

			for (i = 0; i < p->in_flight; i++)
				if (audit_write_one(p, &p->queue[i]) == 503) {
					p->audit_retry = mono + RETRY_NS;
					break;
				}
			audit_shift(p, i);
		}
		p->in_flight = 0;
		return 1;
	}
	audit_shift(p, p->in_flight);
	p->in_flight = 0;
	return 1;
}

/*
 * Sends and waits, up to ms, until at most keep rows are queued. At
 * shutdown (keep 0) it tries again at once after a failure; otherwise
 * not before audit_retry.
 */
static void
audit_wait(struct plugin *p, size_t keep, int ms)
{
	long deadline = now_ns() + ms * 1000000L;

	while (p->queued > keep && now_ns() < deadline) {
		struct pollfd pfd = { .fd = db_socket(p->audit_db),
		    .events = POLLIN };

		if (keep == 0)
			p->audit_retry = 0;
		else if (p->in_flight == 0 && now_ns() < p->audit_retry)
			return;
		if (audit_send(p, now_ns()) == -1) {
			if (keep > 0)
				return;
			poll(NULL, 0, 100);
			continue;
		}
		if (audit_collect(p, now_ns()) == 0 && pfd.fd != -1)
			poll(&pfd, 1, 100);
	}
}

/*
 * Queues one audit row (mqtt_audit, R__mqtt.sql) for the next tick. A
 * failure is logged, never a reason to refuse or keep a client: the
 * decision does not wait on it. A full queue (the database slower than
 * the CONNECTs for a long while) makes the broker wait for a batch to be
 * written; only when the database cannot be reached is a row lost.
 */
static void
audit(struct plugin *p, const char *action, const struct client *c,
    const char *client_id, const char *ip, const char *reason)
{
	struct audit_row *r;

	if (p->queued == AUDIT_MAX)
		audit_wait(p, AUDIT_MAX - AUDIT_BATCH, 5000);
	if (p->queued == p->queue_cap) {
		size_t cap = p->queue_cap == 0 ? 256 : 2 * p->queue_cap;
		struct audit_row *q;

		if (cap > AUDIT_MAX ||
		    (q = realloc(p->queue, cap * sizeof(*q))) == NULL) {
			mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: audit "
			    "%s not written: %zu rows are waiting", action,
			    p->queued);
			return;
		}
		p->queue = q;
		p->queue_cap = cap;
	}
	r = &p->queue[p->queued++];
	snprintf(r->action, sizeof(r->action), "%s", action);
	snprintf(r->org_id, sizeof(r->org_id), "%s", c != NULL ? c->org_id : "");
	snprintf(r->actor_type, sizeof(r->actor_type), "%s",
	    c != NULL ? (c->is_key ? "api_key" : "user") : "");
	snprintf(r->actor_id, sizeof(r->actor_id), "%s",
	    c != NULL ? (c->is_key ? c->key_id : c->user_id) : "");
	snprintf(r->client_id, sizeof(r->client_id), "%s",
	    client_id != NULL ? client_id : "");
	snprintf(r->ip, sizeof(r->ip), "%s", ip != NULL ? ip : "");
	snprintf(r->reason, sizeof(r->reason), "%s",
	    reason != NULL ? reason : "");
}

/*
 * At shutdown: waits for the batch in flight, then writes every queued
 * row, giving up after FLUSH_MS (the database unreachable: logged).
 */
static void
audit_flush(struct plugin *p)
{
	audit_wait(p, 0, FLUSH_MS);
	if (p->queued > 0)
		mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: %zu audit rows "
		    "not written at shutdown: %s", p->queued,
		    db_last_error(p->audit_db));
}

/*
 * Verifies cred as lib/auth.c does for a request and fills the client's
 * organization, user, credential id and permissions. Returns 0, or -1
 * with the reason in err.
 */
static int
verify(struct plugin *p, const char *cred, struct client *c,
    struct hb_error *err)
{
	struct hb_principal who;
	bool is_key = strncmp(cred, "hb_", 3) == 0;
	int rc;

	arena_reset(&p->arena);
	db_clear_error(p->db);
	rc = auth_credential(&p->arena, p->cfg.issuer, p->db, &p->keys, 0,
	    cred, is_key, &who, err);
	if (rc == 0 && (!uuid_valid(who.org_id) || !uuid_valid(who.user_id)))
		rc = hb_fail(err, 401, "invalid_token", "no organization");
	if (rc == 0) {
		c->is_key = is_key;
		snprintf(c->org_id, sizeof(c->org_id), "%s", who.org_id);
		snprintf(c->user_id, sizeof(c->user_id), "%s", who.user_id);
		snprintf(c->session_id, sizeof(c->session_id), "%s",
		    who.session_id != NULL ? who.session_id : "");
		snprintf(c->key_id, sizeof(c->key_id), "%s",
		    who.key_id != NULL ? who.key_id : "");
		c->subscribe = auth_has(&who, "mqtt:subscribe");
		c->publish = auth_has(&who, "mqtt:publish");
		c->exp = is_key ? 0 : who.claims.exp;
	}
	arena_reset(&p->arena);
	return rc;
}

static void
note_exp(struct plugin *p, long exp)
{
	if (exp > 0 && (p->next_exp == 0 || exp < p->next_exp))
		p->next_exp = exp;
}

/*
 * Whether password is MQTT_PUBLISHER_SECRET: compared as SHA-256 digests,
 * so the time taken tells nothing of either, their lengths included.
 */
static bool
publisher_secret_ok(const struct plugin *p, const char *password)
{
	unsigned char a[32], b[32];
	const char *secret = p->cfg.mqtt_publisher_secret;
	bool same;

	if (secret[0] == '\0' || password == NULL)
		return false;
	/* A digest that failed leaves its buffer as it was: refused. */
	same = crypto_sha256(secret, strlen(secret), a) == 0 &&
	    crypto_sha256(password, strnlen(password, MAX_CRED + 1), b) == 0 &&
	    crypto_equal(a, b, sizeof(a));
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return same;
}

/*
 * CONNECT with a client id of Homebot's reserved prefix: only the
 * publisher, with its secret. It goes into the table like any client
 * (its ACL checks find it there), with no organization, no credential
 * to check again and no exp; its connections are platform audit events.
 */
static int
publisher_auth(struct plugin *p, struct mosquitto_evt_basic_auth *ed,
    const char *id, const char *ip)
{
	struct client *c, *old;

	if (!mqtt_name_ok(id) || !publisher_secret_ok(p, ed->password)) {
		audit(p, "mqtt.refused", NULL, NULL, ip, "reserved client id");
		return MOSQ_ERR_AUTH;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MOSQ_ERR_NOMEM;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->ip, sizeof(c->ip), "%s", ip != NULL ? ip : "");
	c->publisher = true;
	c->mosq = ed->client;
	c->online = true;
	if ((old = find(p, id)) != NULL)
		forget(p, old);
	c->next = p->buckets[hash(id)];
	p->buckets[hash(id)] = c;
	audit(p, "mqtt.connected", NULL, id, ip, "homebot publisher");
	return MOSQ_ERR_SUCCESS;
}

static int
on_basic_auth(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *id = mosquitto_client_id(ed->client);
	const char *ip = mosquitto_client_address(ed->client);
	struct hb_error err = { 0 };
	struct client *c, *old;
	const char *reason = NULL;

	(void)event;
	if (id != NULL && strncmp(id, HB_MQTT_RESERVED,
	    strlen(HB_MQTT_RESERVED)) == 0)
		return publisher_auth(p, ed, id, ip);
	if (!mqtt_client_id_ok(id))
		reason = "client id refused";
	else if (!mqtt_name_ok(ed->username))
		reason = "username refused";
	else if (ed->password == NULL || ed->password[0] == '\0' ||
	    strnlen(ed->password, MAX_CRED + 1) > MAX_CRED)
		reason = "no credential";
	if (reason != NULL) {
		/* The client id may be anything here: it is not logged. */
		audit(p, "mqtt.refused", NULL, NULL, ip, reason);
		return MOSQ_ERR_AUTH;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return MOSQ_ERR_NOMEM;
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->ip, sizeof(c->ip), "%s", ip != NULL ? ip : "");
	if (verify(p, ed->password, c, &err) == -1) {
		audit(p, "mqtt.refused", NULL, id, ip, err.code);
		client_free(c);
		return MOSQ_ERR_AUTH;
	}
	c->cred = strdup(ed->password);
	if (c->cred == NULL) {
		client_free(c);
		return MOSQ_ERR_NOMEM;
	}
	c->mosq = ed->client;
	c->online = true;
	/* This connection takes the client id's session over. */
	if ((old = find(p, id)) != NULL)
		forget(p, old);
	c->next = p->buckets[hash(id)];
	p->buckets[hash(id)] = c;
	note_exp(p, c->exp);
	audit(p, "mqtt.connected", c, id, ip, NULL);
	return MOSQ_ERR_SUCCESS;
}

static int
on_acl_check(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	struct mosquitto_evt_acl_check *ed = event_data;
	struct client *c = find(p, mosquitto_client_id(ed->client));
	struct hb_mqtt_grant g;

	(void)event;
	/*
	 * No grant at all: a persistent session the broker restored from its
	 * persistence file, or one whose grant a revocation took, neither
	 * connected (a connected client always has a grant). A message may be
	 * queued for it: when its client connects again, the broker checks
	 * every queued message against the grant of that CONNECT (a client
	 * id reused by another organization's client gets none of them).
	 */
	if (c == NULL)
		return ed->access == HB_MQTT_READ ? MOSQ_ERR_SUCCESS :
		    MOSQ_ERR_ACL_DENIED;
	if (c->mosq != ed->client)
		return MOSQ_ERR_ACL_DENIED;
	if (c->publisher)
		return mqtt_publisher_allows(ed->access, ed->topic) ?
		    MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
	if (!grant_of(c, &g))
		return MOSQ_ERR_ACL_DENIED;
	return mqtt_acl_allows(&g, ed->access, ed->topic) ?
	    MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}

static int
on_disconnect(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	struct mosquitto_evt_disconnect *ed = event_data;
	struct client *c = find(p, mosquitto_client_id(ed->client));

	(void)event;
	if (c == NULL || c->mosq != ed->client || !c->online)
		return MOSQ_ERR_SUCCESS;
	if (c->publisher) {
		audit(p, "mqtt.disconnected", NULL, c->id, c->ip,
		    "homebot publisher");
		forget(p, c);
		return MOSQ_ERR_SUCCESS;
	}
	audit(p, "mqtt.disconnected", c, c->id, c->ip,
	    c->kick_reason != NULL ? c->kick_reason : "client");
	/*
	 * A persistent session's messages are queued while it is away, each
	 * after an ACL check of this connection: its grant stays until a
	 * notification takes it, or a new CONNECT replaces it.
	 */
	if (c->kick_reason != NULL || mosquitto_client_clean_session(ed->client))
		forget(p, c);
	else
		c->online = false;
	return MOSQ_ERR_SUCCESS;
}

/* Marks the clients a notification names for a new check. */
static void
on_notify(const char *payload, void *arg)
{
	struct plugin *p = arg;
	char a[HB_UUID_LEN + 1] = "", b[HB_UUID_LEN + 1] = "";
	const char *kind = payload, *colon = strchr(payload, ':');
	size_t klen;

	if (strcmp(payload, "all") == 0 || colon == NULL) {
		p->recheck_all = true;
		return;
	}
	klen = (size_t)(colon - kind);
	if (strlen(colon + 1) >= 2 * sizeof(a) + 1)
		return;
	sscanf(colon + 1, "%36[0-9a-f-]:%36[0-9a-f-]", a, b);
	for (int i = 0; i < BUCKETS; i++)
		for (struct client *c = p->buckets[i]; c != NULL; c = c->next) {
			bool hit = false;

			if (klen == 7 && strncmp(kind, "session", 7) == 0)
				hit = strcmp(c->session_id, a) == 0;
			else if (klen == 3 && strncmp(kind, "key", 3) == 0)
				hit = strcmp(c->key_id, a) == 0;
			else if (klen == 4 && strncmp(kind, "user", 4) == 0)
				hit = strcmp(c->user_id, a) == 0;
			else if (klen == 3 && strncmp(kind, "org", 3) == 0)
				hit = strcmp(c->org_id, a) == 0;
			else if (klen == 6 && strncmp(kind, "member", 6) == 0)
				hit = strcmp(c->org_id, a) == 0 &&
				    strcmp(c->user_id, b) == 0;
			else
				hit = true;	/* unknown: check to be safe */
			if (hit)
				c->recheck = true;
		}
}

/*
 * Disconnects c for reason; an offline session is forgotten, so nothing
 * more is queued for it. Kicking may call on_disconnect at once, which
 * frees c: the caller must not touch c afterwards.
 */
static void
kick(struct plugin *p, struct client *c, const char *reason)
{
	char id[sizeof(c->id)];

	if (!c->online) {
		forget(p, c);
		return;
	}
	c->kick_reason = reason;
	snprintf(id, sizeof(id), "%s", c->id);
	/* Never with NULL: that would disconnect every client. */
	if (id[0] != '\0')
		mosquitto_kick_client_by_clientid(id, false);
}

/*
 * The clients to disconnect, collected first: kicking changes the table.
 * A client marked for a check is verified again with its credential; it
 * goes when that fails (revoked, removed, disabled, suspended, expired)
 * or when it lost a permission it had. Those past their exp go too.
 */
static void
sweep(struct plugin *p, long now)
{
	struct hb_error err;
	struct client *doomed = NULL, **tail = &doomed;

	p->next_exp = 0;
	for (int i = 0; i < BUCKETS; i++) {
		struct client **pp = &p->buckets[i];

		while (*pp != NULL) {
			struct client *c = *pp, probe = { 0 };
			const char *reason = NULL;

			/* The publisher has no credential to check again. */
			if (c->kick_reason != NULL || c->publisher) {
				c->recheck = false;
				pp = &c->next;
				continue;
			}
			if (c->exp > 0 && c->exp <= now)
				reason = "expired";
			else if (c->recheck || p->recheck_all) {
				c->recheck = false;
				err = (struct hb_error){ 0 };
				if (verify(p, c->cred, &probe, &err) == -1) {
					/* An outage is no revocation: later. */
					if (err.status != 503)
						reason = "revoked";
					else {
						c->recheck = true;
						p->recheck_retry = now_ns() +
						    RETRY_NS;
					}
				} else if (strcmp(probe.org_id, c->org_id) != 0 ||
				    (c->subscribe && !probe.subscribe) ||
				    (c->publish && !probe.publish))
					reason = "revoked";
				else {
					c->subscribe = probe.subscribe;
					c->publish = probe.publish;
				}
			}
			if (reason == NULL) {
				note_exp(p, c->exp);
				pp = &c->next;
				continue;
			}
			/* Out of the table into the list, in order. */
			*pp = c->next;
			c->next = NULL;
			c->doom = reason;
			*tail = c;
			tail = &c->next;
		}
	}
	p->recheck_all = false;
	while (doomed != NULL) {
		struct client *c = doomed;

		doomed = c->next;
		/* Back into the table so that on_disconnect finds it. */
		c->next = p->buckets[hash(c->id)];
		p->buckets[hash(c->id)] = c;
		kick(p, c, c->doom);
	}
}

static int
on_tick(int event, void *event_data, void *userdata)
{
	struct plugin *p = userdata;
	struct hb_error err = { 0 };
	long mono = now_ns(), now = (long)time(NULL);
	int rc = 0;

	(void)event;
	(void)event_data;
	/* The audit rows: the answer to the last batch, then the next one. */
	if (audit_collect(p, mono) == 1)
		audit_send(p, mono);
	/* The tick's own time fields are zero in 2.0: read the clock. */
	if (mono >= p->listen_retry) {
		rc = db_poll_notify(p->listen, on_notify, p, &err);
		if (rc == -1) {
			p->listen_retry = mono + RETRY_NS;
			mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: "
			    "database: %s", db_last_error(p->listen));
		} else if (db_opened(p->listen) != p->listen_opened) {
			/* A new connection: what was sent meanwhile is lost. */
			if (p->listen_opened != 0)
				p->recheck_all = true;
			p->listen_opened = db_opened(p->listen);
		}
	}
	if (rc > 0 || p->recheck_all ||
	    (p->next_exp > 0 && p->next_exp <= now) ||
	    (p->recheck_retry != 0 && mono >= p->recheck_retry)) {
		p->recheck_retry = 0;
		sweep(p, now);
	}
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_plugin_version(int supported_version_count,
    const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int
mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
    struct mosquitto_opt *options, int option_count)
{
	struct hb_error err = { 0 };
	struct plugin *p;

	for (int i = 0; i < option_count; i++)
		if (strcmp(options[i].key, "config") == 0 &&
		    setenv("HOMEBOT_CONFIG", options[i].value, 1) == -1)
			return MOSQ_ERR_NOMEM;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return MOSQ_ERR_NOMEM;
	arena_init(&p->arena);
	if (config_load(&p->cfg, &err) == -1 ||
	    auth_jwt_keys_load(&p->keys, &p->cfg, &err) == -1) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "homebot: %s", err.message);
		arena_free(&p->arena);
		free(p);
		return MOSQ_ERR_INVAL;
	}
	p->db = db_new(p->cfg.database_url, "homebot-mqtt");
	p->listen = db_new(p->cfg.database_url, "homebot-mqtt-listen");
	p->audit_db = db_new(p->cfg.database_url, "homebot-mqtt-audit");
	if (p->db == NULL || p->listen == NULL || p->audit_db == NULL) {
		db_free(p->db);
		db_free(p->listen);
		db_free(p->audit_db);
		auth_jwt_keys_free(&p->keys);
		arena_free(&p->arena);
		free(p);
		return MOSQ_ERR_NOMEM;
	}
	/* A database still down is no reason not to start: ticks retry. */
	if (db_listen(p->listen, CHANNEL, &err) == -1)
		mosquitto_log_printf(MOSQ_LOG_WARNING, "homebot: database: %s",
		    db_last_error(p->listen));
	p->listen_opened = db_opened(p->listen);
	p->id = identifier;
	*userdata = p;
	mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH,
	    on_basic_auth, NULL, p);
	mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK,
	    on_acl_check, NULL, p);
	mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT,
	    on_disconnect, NULL, p);
	mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL,
	    p);
	mosquitto_log_printf(MOSQ_LOG_INFO, "homebot: plugin ready");
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
    int option_count)
{
	struct plugin *p = userdata;

	(void)options;
	(void)option_count;
	if (p == NULL)
		return MOSQ_ERR_SUCCESS;
	mosquitto_callback_unregister(p->id, MOSQ_EVT_BASIC_AUTH,
	    on_basic_auth, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, on_acl_check,
	    NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_DISCONNECT,
	    on_disconnect, NULL);
	mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
	audit_flush(p);
	free(p->queue);
	for (int i = 0; i < BUCKETS; i++)
		while (p->buckets[i] != NULL) {
			struct client *c = p->buckets[i];

			p->buckets[i] = c->next;
			client_free(c);
		}
	db_free(p->db);
	db_free(p->listen);
	db_free(p->audit_db);
	auth_jwt_keys_free(&p->keys);
	arena_free(&p->arena);
	explicit_bzero(&p->cfg, sizeof(p->cfg));
	free(p);
	return MOSQ_ERR_SUCCESS;
}
