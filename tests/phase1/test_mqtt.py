"""Real-time messages (api.md §8): Mosquitto with Homebot's plugin.

The CONNECT password is an access token or an API key, checked as for an
HTTP request; each client reaches only its organization's topics (and
system/health); a revoked credential is disconnected within 2 s, a token at
its exp; a persistent session keeps a QoS 1 message across a broker restart.
"""
import ssl
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from conftest import (add_member, assert_status, create_key, jwt_parts,
                      jwt_sign, make_superadmin, register, report)

DENIED = 0x80           # a SUBACK's refusal
NOT_AUTHORIZED = 5      # CONNACK of MQTT 3.1.1
ALL_MQTT = ["mqtt:subscribe", "mqtt:publish"]
ADMIN_PREFIX = "/api/v1/admin"


class Client:
    """A paho client connected (or refused) synchronously. Homebot's own
    events (org/<id>/events, test_events.py) arrive on every filter that
    covers them; they are kept only with events=True, so that the tests
    here see the messages their clients publish and nothing else."""

    def __init__(self, stack, password, client_id=None, username="homebot",
                 clean_session=True, connect=True, events=False):
        self.events = events
        self.rc = None
        self.messages = []
        self.granted = {}
        self.disconnected_at = None
        self.lock = threading.Lock()
        self.id = client_id or f"t-{uuid.uuid4().hex[:12]}"
        self.c = mqtt.Client(client_id=self.id, clean_session=clean_session)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_disconnect = self._on_disconnect
        self.port = int(stack.env["MQTT_PORT"])
        if connect:
            self.connect()

    def _on_connect(self, c, u, flags, rc):
        self.rc = rc

    def _on_message(self, c, u, m):
        if not self.events and m.topic.endswith("/events"):
            return
        with self.lock:
            self.messages.append((m.topic, m.payload))

    def _on_subscribe(self, c, u, mid, granted):
        self.granted[mid] = granted

    def _on_disconnect(self, c, u, rc):
        if self.disconnected_at is None:
            self.disconnected_at = time.monotonic()
        # No reconnecting: the network thread ends at once.
        c.disconnect()

    def connect(self):
        self.rc = None
        self.disconnected_at = None
        self.c.connect("127.0.0.1", self.port, keepalive=30)
        # The CONNACK on this thread; the network thread only once in
        # (stopping one that was refused costs its reconnect delay).
        deadline = time.monotonic() + 5
        while self.rc is None and time.monotonic() < deadline:
            if self.c.loop(0.05) != 0 and self.rc is None:
                break
        if self.rc == 0:
            self.c.loop_start()
        return self.rc

    def subscribe(self, topic, qos=1):
        """The granted QoS of one filter (DENIED when refused)."""
        rc, mid = self.c.subscribe(topic, qos)
        assert rc == 0
        deadline = time.monotonic() + 5
        while mid not in self.granted and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.granted[mid][0]

    def publish(self, topic, payload, qos=1):
        info = self.c.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish()
        return info

    def wait_disconnect(self, timeout):
        deadline = time.monotonic() + timeout
        while self.disconnected_at is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.disconnected_at

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def mqtt_key(account, scopes=ALL_MQTT):
    return create_key(account, scopes)["key"]


def wait_rows(stack, sql, done, timeout=10, **params):
    """The rows of sql once done(rows) holds, or the last ones after timeout
    seconds: the plugin writes its audit rows from the broker's tick, after
    the CONNACK."""
    deadline = time.monotonic() + timeout
    while not done(rows := stack.psql(sql, **params)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


# ---- CONNECT ----------------------------------------------------------------

def test_a_token_and_an_api_key_connect(stack, account):
    for password in (account.access, mqtt_key(account)):
        c = Client(stack, password)
        assert c.rc == 0
        assert c.subscribe(f"org/{account.org_id}/a") == 1
        c.close()
    rows = wait_rows(stack, "SELECT actor_type FROM homebot.audit_log WHERE organization_id = :'o'"
                     " AND action = 'mqtt.connected' ORDER BY occurred_at",
                     lambda r: len(r) >= 2, o=account.org_id)
    assert rows == [("user",), ("api_key",)]


def test_bad_credentials_are_refused(stack, account):
    secret = stack.secret_key()
    header, claims = jwt_parts(account.access)
    now = int(time.time())
    expired = jwt_sign(header, {**claims, "iat": now - 100, "exp": now - 10}, secret)
    foreign = jwt_sign(header, claims, "another secret of at least thirty-two bytes!")
    confused = jwt_sign({**header, "alg": "HS512"}, claims, secret)
    unsigned = jwt_sign({**header, "alg": "none"}, claims, secret)
    other_org = jwt_sign(header, {**claims, "org": str(uuid.uuid4())}, secret)
    key = mqtt_key(account)
    wrong_key = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for password in ("", "garbage", account.refresh, expired, foreign, confused, unsigned,
                     other_org, wrong_key, "hb_" + "x" * 5000):
        assert Client(stack, password).rc == NOT_AUTHORIZED, password[:40]
    # A token the broker would take alone, were its session not revoked.
    logged_out = account.login()["access_token"]
    assert Client(stack, logged_out).rc == 0
    r = stack.post("/api/v1/auth/logout", {}, headers={"Authorization": f"Bearer {logged_out}"})
    assert r.status in (200, 204), r
    assert Client(stack, logged_out).rc == NOT_AUTHORIZED
    refused = wait_rows(stack, "SELECT count(*) FROM homebot.audit_log WHERE action = 'mqtt.refused'"
                        " AND organization_id IS NULL AND changes->>'reason' IS NOT NULL",
                        lambda r: int(r[0][0]) >= 11)
    assert int(refused[0][0]) >= 11


def test_crafted_client_ids_and_usernames_are_refused(stack, account):
    for cid in ("a+b", "a#", "org/x", "+", "#", "homebot-events", "homebot-x"):
        assert Client(stack, account.access, client_id=cid).rc == NOT_AUTHORIZED, cid
    for user in ("a+b", "#", f"org/{account.org_id}"):
        assert Client(stack, account.access, username=user).rc == NOT_AUTHORIZED, user
    # Without a username at all there is no password: refused by the broker.
    assert Client(stack, account.access, username=None).rc == NOT_AUTHORIZED


def test_every_connect_and_refusal_of_a_burst_is_audited_once(stack, account):
    """CONNECTs from 8 threads at once, accepted (token and API key) and
    refused: the plugin answers before it writes their audit rows, and
    still writes every one of them, exactly once, each connection's
    mqtt.connected before its mqtt.disconnected."""
    run = uuid.uuid4().hex[:8]
    key = mqtt_key(account)
    per_thread, failures = 15, []

    def burst(t):
        try:
            for i in range(per_thread):
                c = Client(stack, key if i % 2 else account.access, client_id=f"b-{run}-{t}-{i}")
                assert c.rc == 0, c.rc
                c.close()
                assert Client(stack, "garbage", client_id=f"b-{run}-{t}-{i}-x").rc == NOT_AUTHORIZED
        except AssertionError as e:
            failures.append(e)

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    n = str(8 * per_thread)
    want = [("mqtt.connected", n), ("mqtt.disconnected", n), ("mqtt.refused", n)]
    rows = wait_rows(stack, "SELECT action, count(*) FROM homebot.audit_log WHERE target_id LIKE :'p'"
                     " GROUP BY 1 ORDER BY 1", lambda r: r == want, p=f"b-{run}-%")
    assert rows == want
    assert stack.psql("SELECT target_id, action FROM homebot.audit_log WHERE target_id LIKE :'p'"
                      " GROUP BY 1, 2 HAVING count(*) > 1", p=f"b-{run}-%") == []
    ordered = stack.psql("SELECT count(*) FROM homebot.audit_log c JOIN homebot.audit_log d"
                         " ON d.target_id = c.target_id AND d.action = 'mqtt.disconnected'"
                         " WHERE c.action = 'mqtt.connected' AND c.target_id LIKE :'p'"
                         " AND c.organization_id = :'o' AND d.occurred_at > c.occurred_at",
                         p=f"b-{run}-%", o=account.org_id)
    assert ordered == [(n,)]
    actors = stack.psql("SELECT actor_type, count(*) FROM homebot.audit_log"
                        " WHERE action = 'mqtt.connected' AND target_id LIKE :'p'"
                        " GROUP BY 1 ORDER BY 1", p=f"b-{run}-%")
    assert actors == [("api_key", str(8 * (per_thread // 2))),
                      ("user", str(8 * (per_thread - per_thread // 2)))]
    # Each row of a batch keeps its own address and reason.
    assert stack.psql("SELECT count(*) FROM homebot.audit_log WHERE target_id LIKE :'p'"
                      " AND ip IS DISTINCT FROM '127.0.0.1'", p=f"b-{run}-%") == [("0",)]
    assert stack.psql("SELECT changes->>'reason', count(*) FROM homebot.audit_log"
                      " WHERE target_id LIKE :'p' AND action <> 'mqtt.connected'"
                      " GROUP BY 1 ORDER BY 1", p=f"b-{run}-%") == [("client", n),
                                                                     ("invalid_token", n)]


def test_queued_audit_rows_are_written_when_the_broker_stops(stack, account):
    """With the audit log locked, CONNECTs are still answered (their rows
    wait in the plugin's queue); a broker told to stop then waits for the
    lock and writes every row before it exits."""
    stack.need_own()
    run = uuid.uuid4().hex[:8]
    lock = subprocess.Popen(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", stack.env["OWNER_URL"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lock.stdin.write("BEGIN;\nLOCK TABLE homebot.audit_log IN SHARE MODE;\nSELECT 'locked';\n")
    lock.stdin.flush()
    stopper = threading.Thread(target=stack.control, args=("mqtt-stop",))
    try:
        assert lock.stdout.readline().strip() == "locked"
        for i in range(20):
            c = Client(stack, account.access, client_id=f"s-{run}-{i}")
            assert c.rc == 0, c.rc
            c.close()
        time.sleep(0.3)
        stopper.start()
        time.sleep(1.5)
        assert stopper.is_alive(), "the broker exited with its audit rows unwritten"
    finally:
        lock.communicate("COMMIT;\n")
        if stopper.ident is not None:
            stopper.join()
        stack.control("mqtt-start")
    assert lock.returncode == 0
    rows = stack.psql("SELECT action, count(*) FROM homebot.audit_log WHERE target_id LIKE :'p'"
                      " GROUP BY 1 ORDER BY 1", p=f"s-{run}-%")
    assert rows == [("mqtt.connected", "20"), ("mqtt.disconnected", "20")]


def test_a_suspended_organization_and_a_disabled_user_are_refused(stack, account):
    member = add_member(account, role="admin")
    key = mqtt_key(member)
    stack.psql("UPDATE homebot.users SET disabled_at = now() WHERE id = :'u'", u=member.user_id)
    assert Client(stack, key).rc == NOT_AUTHORIZED
    other = register(stack)
    okey = mqtt_key(other)
    stack.psql("UPDATE homebot.organizations SET suspended_at = now() WHERE id = :'o'",
               o=other.org_id)
    try:
        assert Client(stack, other.access).rc == NOT_AUTHORIZED
        assert Client(stack, okey).rc == NOT_AUTHORIZED
    finally:
        stack.psql("UPDATE homebot.organizations SET suspended_at = NULL WHERE id = :'o'",
                   o=other.org_id)


# ---- topics -----------------------------------------------------------------

def test_every_cross_organization_filter_and_publish_is_denied(stack, account):
    other = register(stack)
    mine, theirs = account.org_id, other.org_id
    c = Client(stack, account.access)
    watcher = Client(stack, other.access)
    assert watcher.subscribe(f"org/{theirs}/#") == 1
    for f in ("#", "+", "+/#", "+/+/x", "org/#", "org/+", "org/+/x", "org/+/#",
              f"org/{theirs}/x", f"org/{theirs}/#", f"org/{theirs}/+", "$SYS/#",
              f"$share/g/org/{theirs}/x", "system/#", "system/+", f"org/{mine}",
              f"org/{mine}x/#", f"org/{mine[:-1]}/#", "org", "org/"):
        assert c.subscribe(f) == DENIED, f
    assert c.subscribe("system/health") == 1
    assert c.subscribe(f"org/{mine}/#") == 1
    assert c.subscribe(f"org/{mine}/exercise/+/control") == 1
    for t in (f"org/{theirs}/x", f"org/{theirs}/events", "system/health", f"org/{mine}/events",
              f"org/{mine}/events/x", f"org{mine}/x", "x"):
        c.publish(t, b"no")
    c.publish(f"org/{mine}/x", b"yes")
    time.sleep(0.3)
    assert watcher.messages == []
    assert c.messages == [(f"org/{mine}/x", b"yes")]
    c.close()
    watcher.close()


def test_a_viewer_subscribes_but_does_not_publish(stack, account):
    viewer = add_member(account, role="viewer")
    v = Client(stack, viewer.access)
    assert v.subscribe(f"org/{account.org_id}/#") == 1
    v.publish(f"org/{account.org_id}/x", b"from a viewer")
    o = Client(stack, account.access)
    o.publish(f"org/{account.org_id}/y", b"from the owner")
    time.sleep(0.3)
    assert v.messages == [(f"org/{account.org_id}/y", b"from the owner")]
    # A key without mqtt:subscribe may publish but not subscribe.
    k = Client(stack, mqtt_key(account, ["mqtt:publish"]))
    assert k.subscribe(f"org/{account.org_id}/#") == DENIED
    for x in (v, o, k):
        x.close()


def test_concurrent_organizations_stay_isolated(stack):
    """Four organizations, a publisher and two subscribers each, 10,000
    QoS 1 messages at once; a probe client of each organization also
    tries the filters that could reach the others."""
    orgs = [register(stack) for _ in range(4)]
    per_org = 2500
    subs, pubs = {}, {}
    for a in orgs:
        subs[a.org_id] = [Client(stack, a.access), Client(stack, mqtt_key(a))]
        for s in subs[a.org_id]:
            assert s.subscribe(f"org/{a.org_id}/#") == 1
            assert s.subscribe("+/+/#") == DENIED
        pubs[a.org_id] = Client(stack, a.access)

    def send(a):
        p = pubs[a.org_id]
        infos = [p.c.publish(f"org/{a.org_id}/exercise/{i % 7}/control", a.org_id.encode(),
                             qos=1) for i in range(per_org)]
        for info in infos:
            info.wait_for_publish()
    t0 = time.monotonic()
    threads = [threading.Thread(target=send, args=(a,)) for a in orgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 20
    while (time.monotonic() < deadline and
           any(len(s.messages) < per_org for ss in subs.values() for s in ss)):
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    crossed = sum(1 for org, ss in subs.items() for s in ss for topic, payload in s.messages
                  if payload != org.encode() or not topic.startswith(f"org/{org}/"))
    counts = [len(s.messages) for ss in subs.values() for s in ss]
    report(f"MQTT isolation: {len(orgs) * per_org} messages published by 4 organizations, "
           f"{sum(counts)} delivered to 8 subscribers in {elapsed:.1f} s, {crossed} crossed")
    assert crossed == 0
    assert counts == [per_org] * 8
    for c in [*pubs.values(), *(s for ss in subs.values() for s in ss)]:
        c.close()


# ---- revocation -------------------------------------------------------------

def _latency(stack, name, password, revoke):
    c = Client(stack, password)
    assert c.rc == 0, name
    t0 = time.monotonic()
    revoke()
    at = c.wait_disconnect(5)
    c.c.loop_stop()
    assert at is not None, f"{name}: still connected after 5 s"
    latency = at - t0
    report(f"MQTT disconnect after {name}: {latency * 1000:.0f} ms")
    assert latency < 2, f"{name}: {latency:.2f} s"
    # And it cannot come back.
    assert Client(stack, password).rc == NOT_AUTHORIZED, name


def test_each_revocation_disconnects_within_two_seconds(stack, account):
    admin = make_superadmin(stack)
    # Logout of the very session.
    s = account.login()["access_token"]
    _latency(stack, "logout", s, lambda: assert_status(
        stack.post("/api/v1/auth/logout", {}, headers={"Authorization": f"Bearer {s}"}), 204))
    # Another session revoked from this one.
    s2 = account.login()["access_token"]
    sid = jwt_parts(s2)[1]["sid"]
    _latency(stack, "session revocation", s2,
             lambda: assert_status(account.delete(f"/api/v1/auth/sessions/{sid}"), 204))
    # An API key revoked.
    k = create_key(account, ALL_MQTT)
    _latency(stack, "API key revocation", k["key"],
             lambda: assert_status(account.delete(f"/api/v1/api-keys/{k['id']}"), 204))
    # A member removed.
    m = add_member(account)
    _latency(stack, "member removal", m.access,
             lambda: assert_status(account.delete(f"/api/v1/members/{m.user_id}"), 204))
    # A role change that takes mqtt:publish away (member → viewer).
    m2 = add_member(account)
    c = Client(stack, m2.access)
    t0 = time.monotonic()
    assert_status(account.patch(f"/api/v1/members/{m2.user_id}", {"role": "viewer"}), 200)
    assert c.wait_disconnect(5) is not None, "role change: still connected"
    report(f"MQTT disconnect after role change: {(c.disconnected_at - t0) * 1000:.0f} ms")
    assert c.disconnected_at - t0 < 2
    # It may come back, as the viewer it now is.
    c2 = Client(stack, m2.access)
    assert c2.rc == 0
    assert c2.subscribe(f"org/{account.org_id}/x") == 1
    c2.close()
    # A user disabled.
    m3 = add_member(account)
    _latency(stack, "user disable", m3.access, lambda: assert_status(
        admin.post(f"{ADMIN_PREFIX}/users/{m3.user_id}/disable"), 200))
    # An organization suspended.
    other = register(stack)
    try:
        _latency(stack, "organization suspension", other.access, lambda: assert_status(
            admin.post(f"{ADMIN_PREFIX}/organizations/{other.org_id}/suspend"), 200))
    finally:
        admin.post(f"{ADMIN_PREFIX}/organizations/{other.org_id}/unsuspend")
    rows = wait_rows(stack, "SELECT changes->>'reason', count(*) FROM homebot.audit_log"
                     " WHERE action = 'mqtt.disconnected' AND organization_id = :'o'"
                     " GROUP BY 1 ORDER BY 1", lambda r: ("revoked", "6") in r, o=account.org_id)
    assert ("revoked", "6") in rows, rows


def test_taking_an_extra_grant_or_a_role_permission_disconnects(stack, account):
    """Grants beyond the role (user_permissions) and the role table itself
    are followed too: a client that loses mqtt:publish goes."""
    viewer = add_member(account, role="viewer")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'o', :'u', 'mqtt:publish')", o=account.org_id, u=viewer.user_id)
    c = Client(stack, viewer.access)
    assert c.rc == 0
    t0 = time.monotonic()
    stack.psql("DELETE FROM homebot.user_permissions WHERE organization_id = :'o'"
               " AND user_id = :'u'", o=account.org_id, u=viewer.user_id)
    assert c.wait_disconnect(5) is not None and c.disconnected_at - t0 < 2
    report(f"MQTT disconnect after an extra grant taken: {(c.disconnected_at - t0) * 1000:.0f} ms")
    # The role table: every client is checked again; only those that lost
    # something go.
    member = add_member(account)
    m = Client(stack, member.access)
    o = Client(stack, account.access)
    t0 = time.monotonic()
    stack.psql("DELETE FROM homebot.role_permissions WHERE role = 'member'"
               " AND permission = 'mqtt:publish'")
    try:
        assert m.wait_disconnect(5) is not None and m.disconnected_at - t0 < 2
        report(f"MQTT disconnect after a role permission taken: "
               f"{(m.disconnected_at - t0) * 1000:.0f} ms")
        time.sleep(0.3)
        assert o.disconnected_at is None, "the owner lost nothing"
    finally:
        stack.psql("INSERT INTO homebot.role_permissions (role, permission)"
                   " VALUES ('member', 'mqtt:publish')")
    o.close()


def test_every_client_of_a_suspended_organization_goes_at_once(stack, account):
    """One notification, 80 clients (tokens and keys alike) of the
    organization: all go within 2 s; another organization's stay."""
    admin = make_superadmin(stack)
    key = mqtt_key(account)
    clients = [Client(stack, key if i % 2 else account.access) for i in range(80)]
    assert all(c.rc == 0 for c in clients)
    other = register(stack)
    bystander = Client(stack, other.access)
    t0 = time.monotonic()
    assert_status(admin.post(f"{ADMIN_PREFIX}/organizations/{account.org_id}/suspend"), 200)
    try:
        for c in clients:
            assert c.wait_disconnect(max(0.1, t0 + 5 - time.monotonic())) is not None
        worst = max(c.disconnected_at for c in clients) - t0
        report(f"MQTT disconnect of 80 clients after organization suspension: "
               f"{worst * 1000:.0f} ms for the last")
        assert worst < 2
        assert bystander.disconnected_at is None
    finally:
        admin.post(f"{ADMIN_PREFIX}/organizations/{account.org_id}/unsuspend")
    for c in clients:
        c.c.loop_stop()
    bystander.close()


def test_a_token_is_disconnected_at_its_expiry(stack, account):
    header, claims = jwt_parts(account.access)
    exp = int(time.time()) + 2
    token = jwt_sign(header, {**claims, "exp": exp}, stack.secret_key())
    c = Client(stack, token)
    assert c.rc == 0
    at = c.wait_disconnect(6)
    assert at is not None, "still connected after its exp"
    late = time.time() - (time.monotonic() - at) - exp
    report(f"MQTT disconnect after a token's exp: {late * 1000:.0f} ms late")
    assert -1 < late < 2
    c.c.loop_stop()


def test_a_persistent_session_keeps_a_qos1_message_across_a_restart(stack, account):
    """QoS 1 messages published before and after a broker restart reach a
    persistent session when its client reconnects; another organization's
    client reusing a client id of such a session gets none of them."""
    stack.need_own()
    other = register(stack)
    topic = f"org/{account.org_id}/persist"
    sub = Client(stack, account.access, client_id=f"p-{uuid.uuid4().hex[:8]}",
                 clean_session=False)
    victim = Client(stack, account.access, client_id=f"v-{uuid.uuid4().hex[:8]}",
                    clean_session=False)
    for c in (sub, victim):
        assert c.subscribe(topic) == 1
        c.close()
    pub = Client(stack, account.access)
    pub.publish(topic, b"before")
    pub.close()
    stack.control("mqtt-stop")
    stack.control("mqtt-start")
    pub = Client(stack, account.access)
    pub.publish(topic, b"after")
    pub.close()
    thief = Client(stack, other.access, client_id=victim.id, clean_session=False)
    assert thief.rc == 0
    sub.connect()
    assert sub.rc == 0
    deadline = time.monotonic() + 5
    while len(sub.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert sub.messages == [(topic, b"before"), (topic, b"after")]
    assert thief.messages == []
    sub.close()
    thief.close()


def test_tls_listener_takes_a_token(stack, account):
    c = mqtt.Client(client_id=f"t-{uuid.uuid4().hex[:12]}")
    # The development certificate, for 127.0.0.1, is its own CA.
    c.tls_set_context(ssl.create_default_context(cafile=stack.env["MQTT_CAFILE"]))
    c.username_pw_set("x", account.access)
    got = {}
    c.on_connect = lambda c_, u, f, rc: got.__setitem__("rc", rc)
    c.connect("127.0.0.1", int(stack.env["MQTTS_PORT"]))
    deadline = time.monotonic() + 5
    while "rc" not in got and time.monotonic() < deadline:
        c.loop(0.05)
    assert got.get("rc") == 0
    c.disconnect()


def test_the_plugin_outlives_a_database_restart(stack, account):
    """While PostgreSQL is down a CONNECT is refused and the broker stays
    up; once it is back, CONNECTs work again and revocations still reach
    the plugin (its LISTEN connection was opened again)."""
    stack.control("pg-stop")
    refused_id = f"down-{uuid.uuid4().hex[:12]}"
    try:
        assert Client(stack, account.access, client_id=refused_id).rc == NOT_AUTHORIZED
    finally:
        stack.control("pg-start")
    deadline = time.monotonic() + 10
    while (c := Client(stack, account.access)).rc != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert c.rc == 0
    # The web programs reconnect on their first request after the restart.
    fresh = account.login()["access_token"]
    c2 = Client(stack, fresh)
    assert c2.rc == 0
    t0 = time.monotonic()
    assert_status(stack.post("/api/v1/auth/logout", {},
                             headers={"Authorization": f"Bearer {fresh}"}), 204)
    assert c2.wait_disconnect(5) is not None
    report(f"MQTT disconnect after logout, after a database restart: "
           f"{(c2.disconnected_at - t0) * 1000:.0f} ms")
    assert c2.disconnected_at - t0 < 2
    c.close()
    # The refusal while the database was down waited in the queue.
    rows = wait_rows(stack, "SELECT changes->>'reason' FROM homebot.audit_log"
                     " WHERE action = 'mqtt.refused' AND target_id = :'c'", bool, c=refused_id)
    assert rows == [("service_unavailable",)], rows
