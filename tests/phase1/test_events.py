"""Homebot's own events (api.md §8, README "Events"): every audit event of
an organization is published on org/<org_id>/events as the envelope of
docs/events.schema.json, QoS 1, through the outbox: the request ID is its
correlation_id and the request's trace ID its trace_id; it reaches only
its organization; only Homebot publishes there; a broker outage delays
events without losing any; no secret is ever in one. (That a change
which rolls back publishes nothing: tests/sql/28_events.sql.)
"""
import json
import time
import uuid
from pathlib import Path

import jsonschema
import pytest

from conftest import (ROOT, create_key, key_secret, new_email, own_stack, register, report,
                      verify_email)
from test_mqtt import DENIED, NOT_AUTHORIZED, Client
from test_trace import log_lines, worker_lines

SCHEMA = json.loads((ROOT / "docs" / "events.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def events_of(client):
    """The events client received so far, parsed, each checked against
    the JSON Schema and the topic it came on."""
    with client.lock:
        messages = list(client.messages)
    out = []
    for topic, payload in messages:
        e = json.loads(payload)
        VALIDATOR.validate(e)
        assert topic == f"org/{e['organization_id']}/events", (topic, e)
        out.append(e)
    return out


def wait_event(client, pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events_of(client) if pred(e)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no such event in {timeout} s; got "
                         f"{[(e['type'], e['correlation_id']) for e in events_of(client)]}")


def publish_lines(stack, event_id, timeout=20):
    """The worker's log lines of one event's publishing, once it has one."""
    path = Path(stack.dir) / "log" / "worker.log"
    deadline = time.monotonic() + timeout
    while True:
        found = [l for l in log_lines(path.read_text())
                 if l.get("msg") == "event" and l.get("fields", {}).get("event_id") == event_id]
        if found:
            return found
        assert time.monotonic() < deadline, f"no worker log line of event {event_id}"
        time.sleep(0.1)


def outbox_envelopes(stack, org_id):
    """The envelopes of an organization's events still in the outbox."""
    return [p for (p,) in stack.psql(
        "SELECT homebot.event_envelope(a)::text FROM homebot.event_outbox o"
        " JOIN homebot.audit_log a ON a.id = o.audit_id WHERE o.organization_id = :'o'",
        o=org_id)]


def subscriber(stack, account, **kw):
    c = Client(stack, account.access, events=True, **kw)
    assert c.rc == 0
    assert c.subscribe(f"org/{account.org_id}/events") == 1
    return c


def traced():
    """A request ID and a traceparent of a new trace: (rid, trace_id, headers)."""
    rid = f"ev-{uuid.uuid4().hex[:16]}"
    tid = uuid.uuid4().hex
    return rid, tid, {"X-Request-ID": rid,
                      "traceparent": f"00-{tid}-{uuid.uuid4().hex[:16]}-01"}


def test_a_member_added_arrives_with_the_request_id_and_trace_id(stack, account):
    sub = subscriber(stack, account)
    user = register(stack)
    rid1, tid1, headers = traced()
    r = account.post("/api/v1/members", {"email": user.email, "role": "member"}, headers=headers)
    assert r.status == 201 and r.header("X-Request-ID") == rid1, r
    invited = wait_event(sub, lambda e: e["type"] == "member.invited")
    assert invited["correlation_id"] == rid1
    assert invited["trace_id"] == tid1
    verify_email(stack, user.user_id)
    [inv] = [i for i in user.get("/api/v1/auth/invitations").json()["data"]
             if i["organization"]["id"] == account.org_id]
    rid2, tid2, headers = traced()
    r = user.post(f"/api/v1/auth/invitations/{inv['id']}/accept", headers=headers)
    assert r.status == 200, r
    added = wait_event(sub, lambda e: e["type"] == "member.added")
    assert added["correlation_id"] == rid2
    assert added["trace_id"] == tid2
    assert added["organization_id"] == account.org_id
    assert added["version"] == 1
    assert added["data"]["target_type"] == "user"
    assert added["data"]["target_id"] == user.user_id
    assert added["data"]["actor_id"] == user.user_id
    assert added["data"]["changes"]["role"] == "member"
    # The envelope's id is the audit row's: one per event.
    row = stack.psql("SELECT action, request_id, trace_id FROM homebot.audit_log"
                     " WHERE id = :'id'", id=added["id"])
    assert row == [("member.added", rid2, tid2)]
    # No address in it, though the audit row has one.
    assert user.email not in json.dumps(added)
    report("event envelope as received on org/<id>/events: " + json.dumps(added, sort_keys=True))
    sub.close()


def test_one_trace_from_a_request_to_its_mail_jobs_log_and_its_event(stack, account):
    """The trace of an invitation's request reaches the mail job it
    enqueued (the worker's log lines of its run), its event on
    org/<id>/events and the publishing job's log lines: one trace id."""
    stack.need_own()
    sub = subscriber(stack, account)
    rid, tid, headers = traced()
    email = new_email()
    r = account.post("/api/v1/members", {"email": email, "role": "member"}, headers=headers)
    assert r.status == 201 and r.header("X-Request-ID") == rid, r
    event = wait_event(sub, lambda e: e["correlation_id"] == rid and e["type"] == "member.invited")
    assert event["trace_id"] == tid, event
    # Every event of the request (the invitation's row too): that trace.
    assert all(e["trace_id"] == tid for e in events_of(sub) if e["correlation_id"] == rid)
    [(mail_id, mail_trace)] = stack.psql(
        "SELECT id, coalesce(trace_id, '') FROM homebot.jobs"
        " WHERE kind = 'mail' AND payload ->> 'to' = :'to'", to=email)
    assert mail_trace == tid
    lines = worker_lines(stack, mail_id)
    assert all(l["trace_id"] == tid for l in lines), lines
    lines = publish_lines(stack, event["id"])
    assert [l["fields"]["outcome"] for l in lines] == ["published"], lines
    assert all(l["trace_id"] == tid for l in lines), lines


def test_a_subscriber_of_another_organization_sees_none_of_its_events(stack, account):
    other = register(stack)
    mine, theirs = subscriber(stack, account), subscriber(stack, other)
    assert theirs.subscribe(f"org/{account.org_id}/events") == DENIED
    assert theirs.subscribe("org/+/events") == DENIED
    rid, _, headers = traced()
    assert account.post("/api/v1/api-keys", {"name": "k", "scopes": ["mqtt:subscribe"]},
                        headers=headers).status == 201
    wait_event(mine, lambda e: e["type"] == "api_key.created" and e["correlation_id"] == rid)
    rid2, _, headers = traced()
    assert other.post("/api/v1/api-keys", {"name": "k", "scopes": ["mqtt:subscribe"]},
                      headers=headers).status == 201
    wait_event(theirs, lambda e: e["correlation_id"] == rid2)
    time.sleep(0.5)
    assert all(e["organization_id"] == other.org_id for e in events_of(theirs))
    assert all(e["organization_id"] == account.org_id for e in events_of(mine))
    assert not any(e["correlation_id"] == rid for e in events_of(theirs))
    mine.close()
    theirs.close()


def test_no_client_publishes_on_the_events_topic(stack, account):
    sub = subscriber(stack, account)
    topic = f"org/{account.org_id}/events"
    forged = json.dumps({"id": str(uuid.uuid4()), "type": "forged", "version": 1})
    pub = Client(stack, account.access)
    pub.publish(topic, forged.encode())
    key = Client(stack, create_key(account, ["mqtt:publish", "mqtt:subscribe"])["key"])
    key.publish(topic, forged.encode())
    # A marker event after the forgeries: once it is in, they would be too.
    rid, _, headers = traced()
    assert account.post("/api/v1/api-keys", {"name": "m", "scopes": ["mqtt:subscribe"]},
                        headers=headers).status == 201
    wait_event(sub, lambda e: e["correlation_id"] == rid)
    time.sleep(0.3)
    assert not any(e["type"] == "forged" for e in events_of(sub))
    # Homebot's client ids are refused to a token, and to a wrong secret.
    for password in (account.access, "x" * 64, ""):
        assert Client(stack, password, client_id="homebot-worker-t").rc == NOT_AUTHORIZED
    # Homebot's publisher itself may publish events and nothing else.
    secret = stack.settings["MQTT_PUBLISHER_SECRET"]
    me = Client(stack, secret, client_id=f"homebot-worker-test-{uuid.uuid4().hex[:6]}")
    assert me.rc == 0
    assert me.subscribe(topic) == DENIED
    assert me.subscribe("#") == DENIED
    watcher = Client(stack, account.access)
    assert watcher.subscribe(f"org/{account.org_id}/#") == 1
    me.publish(f"org/{account.org_id}/x", b"not an event topic")
    time.sleep(0.3)
    assert watcher.messages == []
    for c in (sub, pub, key, me, watcher):
        c.close()


def test_secrets_and_api_keys_never_appear_in_an_event(stack, account):
    sub = subscriber(stack, account)
    value = f"v-{uuid.uuid4().hex}-never-published"
    r = account.post("/api/v1/secrets", {"name": f"s-{uuid.uuid4().hex[:8]}", "value": value,
                                         "description": "payments"})
    assert r.status == 201, r
    secret_id = r.json()["id"]
    assert account.post(f"/api/v1/secrets/{secret_id}/reveal").status == 200
    new_value = value + "-2"
    r = account.put(f"/api/v1/secrets/{secret_id}", {"value": new_value})
    assert r.status == 200, r
    key = create_key(account, ["mqtt:subscribe"])
    for kind in ("secret.created", "secret.revealed", "secret.updated", "api_key.created",
                 "row.api_keys.insert"):
        wait_event(sub, lambda e, k=kind: e["type"] == k)
    texts = [json.dumps(e) for e in events_of(sub)]
    # The envelopes as the worker builds them from the audit log, of every
    # event of the organization (published ones leave the outbox).
    payloads = [p for (p,) in stack.psql(
        "SELECT homebot.event_envelope(a)::text FROM homebot.audit_log a"
        " WHERE a.organization_id = :'o'", o=account.org_id)]
    assert len(payloads) >= 5
    for leak in (value, new_value, key["key"], key_secret(key["key"]), key["key"][3:11]):
        assert not any(leak in t for t in texts), leak[:12]
        assert not any(leak in t for t in payloads), leak[:12]
    # Not even the hashes or the vault's blobs, by their names.
    assert not any(f in t for t in texts + payloads
                   for f in ("key_hash", "ciphertext", "wrapped", "\"value\"", "prefix"))
    sub.close()


def test_a_broker_outage_delays_events_and_loses_none(stack, account):
    stack.need_own()
    cid = f"ev-{uuid.uuid4().hex[:8]}"
    sub = subscriber(stack, account, client_id=cid, clean_session=False)
    sub.close()
    stack.control("mqtt-stop")
    rids = []
    try:
        for i in range(5):
            rid, _, headers = traced()
            r = account.post("/api/v1/api-keys", {"name": f"o{i}", "scopes": ["mqtt:subscribe"]},
                             headers=headers)
            assert r.status == 201, r
            rids.append(rid)
        # The worker tries, fails and keeps the events for later.
        deadline = time.monotonic() + 10
        failed = []
        while time.monotonic() < deadline and not failed:
            failed = stack.psql("SELECT count(*) FROM homebot.event_outbox o"
                                " JOIN homebot.audit_log a ON a.id = o.audit_id"
                                " WHERE o.organization_id = :'o' AND o.attempts > 0"
                                " AND a.request_id = ANY (:'r'::text[])",
                                o=account.org_id, r="{" + ",".join(rids) + "}")
            failed = [] if failed[0][0] == "0" else failed
            time.sleep(0.1)
        assert failed, "no attempt failed while the broker was down"
        log = (Path(stack.dir) / "log" / "worker.log").read_text()
        assert any(l.get("msg") == "event" and l["fields"]["outcome"] == "failed"
                   for l in log_lines(log)), "no failed publishing was logged"
    finally:
        stack.control("mqtt-start")
    # Every event of those requests: api_key.created and the row event.
    [(expected,)] = stack.psql("SELECT count(*) FROM homebot.audit_log WHERE organization_id = :'o'"
                               " AND request_id = ANY (:'r'::text[])",
                               o=account.org_id, r="{" + ",".join(rids) + "}")
    expected = int(expected)
    assert expected >= 2 * len(rids)
    t0 = time.monotonic()
    sub = Client(stack, account.access, client_id=cid, clean_session=False, events=True)
    assert sub.rc == 0

    def received():
        return [e for e in events_of(sub) if e["correlation_id"] in rids]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len({e["id"] for e in received()}) < expected:
        time.sleep(0.1)
    time.sleep(0.5)
    ids = [e["id"] for e in received()]
    assert {e["correlation_id"] for e in received()} == set(rids)
    assert len(set(ids)) == expected, f"{expected - len(set(ids))} events lost"
    report(f"MQTT events: {len(set(ids))} events enqueued during a broker outage arrived "
           f"{time.monotonic() - t0:.1f} s after the restart ({len(ids) - len(set(ids))} "
           f"duplicates)")
    sub.close()


@pytest.fixture(scope="module")
def unconfigured():
    """A stack whose settings say MQTT_HOST= (no broker for events)."""
    yield from own_stack(MQTT_HOST="")


def test_without_mqtt_host_the_events_are_dropped_not_piled_up(unconfigured):
    a = register(unconfigured)
    [(written,)] = unconfigured.psql("SELECT count(*) FROM homebot.audit_log"
                                     " WHERE organization_id = :'o'", o=a.org_id)
    assert int(written) > 0, "registering wrote no event"
    deadline = time.monotonic() + 20
    left = None
    while time.monotonic() < deadline:
        left = unconfigured.psql("SELECT count(*) FROM homebot.event_outbox")
        if left == [("0",)]:
            break
        time.sleep(0.1)
    # Nothing waits: no event of any organization stays in the outbox.
    assert left == [("0",)], left
    log = (Path(unconfigured.dir) / "log" / "worker.log").read_text()
    assert "MQTT_HOST is not set" in log
    dropped = [l for l in log_lines(log) if l.get("msg") == "event"
               and l["fields"]["org_id"] == a.org_id]
    assert len(dropped) == int(written), dropped
    assert all(l["fields"]["outcome"] == "dropped"
               and l["fields"]["error"].startswith("mqtt_unconfigured") for l in dropped), dropped
