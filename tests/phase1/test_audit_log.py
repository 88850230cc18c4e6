"""GET /api/v1/audit-log (api.md §3, §4): this organization's audit events,
newest first, filtered and paged; what members and organizations do is
recorded with the request ID of the response that caused it, row changes
carry their old and new values without any hash, and the log is
append-only for the runtime database roles."""
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from conftest import (RFC3339_RE, UUID_RE, accept_invite, add_member, assert_error, assert_invalid,
                      assert_status, create_key, invite, new_email, new_password, register)

AUDIT = "/api/v1/audit-log"
MEMBERS = "/api/v1/members"
CURRENT = "/api/v1/organizations/current"
EVENT_FIELDS = {"id", "occurred_at", "organization_id", "actor", "action", "target_type",
                "target_id", "ip", "user_agent", "request_id", "changes"}


def rid():
    return "audit-log-" + uuid.uuid4().hex


def events(account, query=""):
    """Every event of the collection with this query, following next_cursor."""
    out, cursor = [], None
    for _ in range(100):
        url = f"{AUDIT}?limit=200{query}" + (f"&cursor={cursor}" if cursor else "")
        r = account.get(url)
        assert r.status == 200, r
        out += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("next_cursor never ends")


def when(event):
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


def by_request(account, request_id):
    return [e for e in events(account) if e["request_id"] == request_id]


@pytest.fixture
def busy(stack, account):
    """An organization with a history: members added, a role changed, a
    member removed, an invitation accepted, the organization updated, a key."""
    admin = add_member(account, "admin")
    viewer = add_member(account, "viewer")
    assert_status(account.patch(f"{MEMBERS}/{viewer.user_id}", {"role": "member"}), 200)
    assert_status(account.delete(f"{MEMBERS}/{viewer.user_id}"), 204)
    m = invite(admin)
    assert_status(accept_invite(stack, m["invite_token"]), 200)
    assert_status(account.patch(CURRENT, {"settings": {"a": 1}}), 200)
    create_key(admin, ["org:read"])
    account.admin = admin
    return account


def hash_keys(value, path="changes"):
    """Every object key ending in _hash anywhere in value, with its path."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("_hash"):
                found.append(f"{path}.{k}")
            found += hash_keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += hash_keys(v, f"{path}[{i}]")
    return found


# ---- the collection ---------------------------------------------------------------

def test_audit_log_is_a_collection_of_events(account):
    r = account.get(AUDIT)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"data", "next_cursor"}, body
    assert body["data"], body


def test_every_event_has_the_documented_fields(busy):
    for e in events(busy):
        assert set(e) == EVENT_FIELDS, e
        assert UUID_RE.fullmatch(e["id"]), e
        assert RFC3339_RE.fullmatch(e["occurred_at"]), e
        assert set(e["actor"]) == {"type", "id"}, e
        assert e["actor"]["type"] in ("user", "api_key", "system"), e
        assert isinstance(e["action"], str) and e["action"], e
        assert e["changes"] is None or isinstance(e["changes"], dict), e


def test_events_are_this_organizations_only(stack, busy):
    register(stack)
    for e in events(busy):
        assert e["organization_id"] == busy.org_id, e


def test_events_are_newest_first(busy):
    data = events(busy)
    keys = [(when(e), e["id"]) for e in data]
    assert keys == sorted(keys, reverse=True)


def test_registration_is_in_the_new_organizations_log(account):
    actions = {e["action"] for e in events(account)}
    assert {"auth.register", "organization.created", "row.organizations.insert",
            "row.memberships.insert", "row.sessions.insert"} <= actions, actions


def test_user_action_names_the_user_as_actor(account):
    request_id = rid()
    assert_status(account.patch(CURRENT, {"name": "Renamed"}, headers={"X-Request-ID": request_id}),
                  200)
    [e] = [e for e in by_request(account, request_id) if e["action"] == "organization.updated"]
    assert e["actor"] == {"type": "user", "id": account.user_id}
    assert e["ip"] == "127.0.0.1"


def test_key_action_names_the_key_as_actor(stack, account):
    k = create_key(account, ["org:update"])
    request_id = rid()
    r = stack.patch(CURRENT, {"name": "By key"},
                    headers={"X-API-Key": k["key"], "X-Request-ID": request_id})
    assert_status(r, 200)
    [e] = [e for e in by_request(account, request_id) if e["action"] == "organization.updated"]
    assert e["actor"] == {"type": "api_key", "id": k["id"]}


def test_event_records_the_user_agent(account):
    request_id = rid()
    account.patch(CURRENT, {"name": "UA"},
                  headers={"X-Request-ID": request_id, "User-Agent": "homebot-tests/2.0 (audit)"})
    [e] = [e for e in by_request(account, request_id) if e["action"] == "organization.updated"]
    assert e["user_agent"] == "homebot-tests/2.0 (audit)"


# ---- filters ------------------------------------------------------------------------

def test_action_filter_returns_only_that_action(busy):
    data = events(busy, "&action=member.invited")
    assert data and {e["action"] for e in data} == {"member.invited"}, data
    assert len(data) == len([e for e in events(busy) if e["action"] == "member.invited"])


def test_action_filter_of_an_unknown_action_is_empty(busy):
    assert events(busy, "&action=no.such.action") == []


def test_actor_filter_returns_only_that_actors_events(busy):
    admin = busy.admin.user_id
    data = events(busy, f"&actor_id={admin}")
    assert data, "the admin invited someone and made a key"
    assert all(e["actor"]["id"] == admin for e in data), data
    assert {e["id"] for e in data} == {e["id"] for e in events(busy) if e["actor"]["id"] == admin}


def test_filters_combine(busy):
    data = events(busy, f"&action=member.invited&actor_id={busy.admin.user_id}")
    assert len(data) == 1, data
    assert data[0]["action"] == "member.invited" and data[0]["actor"]["id"] == busy.admin.user_id


def test_since_keeps_events_at_or_after_the_time(busy):
    data = events(busy)
    t = data[len(data) // 2]["occurred_at"]
    got = events(busy, f"&since={quote(t)}")
    assert {e["id"] for e in got} == {e["id"] for e in data if when(e) >= when({"occurred_at": t})}
    assert data[len(data) // 2]["id"] in {e["id"] for e in got}


def test_until_keeps_events_before_the_time(busy):
    data = events(busy)
    t = data[len(data) // 2]["occurred_at"]
    got = events(busy, f"&until={quote(t)}")
    assert {e["id"] for e in got} == {e["id"] for e in data if when(e) < when({"occurred_at": t})}
    assert data[len(data) // 2]["id"] not in {e["id"] for e in got}


def test_since_and_until_take_any_utc_offset(busy):
    data = events(busy)
    t = when(data[len(data) // 2])
    shifted = t.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert {e["id"] for e in events(busy, f"&since={quote(shifted)}")} == \
        {e["id"] for e in data if when(e) >= t}


def test_since_in_the_future_is_empty(busy):
    future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert events(busy, f"&since={future}") == []


@pytest.mark.parametrize("query,field", [
    ("since=yesterday", "since"),
    ("since=2026-13-01T00:00:00Z", "since"),
    ("since=2026-01-01", "since"),
    ("until=garbage", "until"),
    ("actor_id=not-a-uuid", "actor_id"),
    ("actor_id=123", "actor_id"),
    ("limit=0", "limit"),
    ("limit=201", "limit"),
], ids=["since_word", "since_month_13", "since_date_only", "until_word", "actor_word",
        "actor_number", "limit_zero", "limit_too_big"])
def test_bad_filter_is_422(account, query, field):
    assert_invalid(account.get(f"{AUDIT}?{query}"), field)


# ---- paging ---------------------------------------------------------------------------

def test_limit_and_cursor_page_through_every_event(busy):
    everything = events(busy)
    assert len(everything) > 6
    seen, url = [], f"{AUDIT}?limit=3"
    while url:
        r = busy.get(url)
        assert r.status == 200, r
        body = r.json()
        assert len(body["data"]) <= 3, body
        seen += body["data"]
        url = body["next_cursor"] and f"{AUDIT}?limit=3&cursor={body['next_cursor']}"
    assert [e["id"] for e in seen] == [e["id"] for e in everything]


def test_paging_keeps_the_filter(busy):
    first = busy.get(f"{AUDIT}?limit=1&action=row.memberships.insert").json()
    assert first["next_cursor"], first
    rest = busy.get(f"{AUDIT}?limit=200&action=row.memberships.insert"
                    f"&cursor={first['next_cursor']}").json()
    assert {e["action"] for e in rest["data"]} == {"row.memberships.insert"}, rest


def test_last_page_has_no_cursor(account):
    r = account.get(f"{AUDIT}?limit=200")
    assert r.json()["next_cursor"] is None, r


def test_cursor_of_another_endpoint_is_400_invalid_cursor(busy):
    cursor = busy.get(f"{MEMBERS}?limit=1").json()["next_cursor"]
    assert cursor
    assert_error(busy.get(f"{AUDIT}?cursor={cursor}"), 400, "invalid_cursor")


def test_cursor_of_another_organization_is_400_invalid_cursor(stack, busy):
    other = register(stack)
    cursor = other.get(f"{AUDIT}?limit=1").json()["next_cursor"]
    assert cursor
    assert_error(busy.get(f"{AUDIT}?cursor={cursor}"), 400, "invalid_cursor")


def test_tampered_cursor_is_400_invalid_cursor(busy):
    cursor = busy.get(f"{AUDIT}?limit=1").json()["next_cursor"]
    tampered = ("A" if cursor[0] != "A" else "B") + cursor[1:]
    assert_error(busy.get(f"{AUDIT}?cursor={tampered}"), 400, "invalid_cursor")
    assert_error(busy.get(f"{AUDIT}?cursor=not-a-cursor"), 400, "invalid_cursor")


# ---- what is recorded ---------------------------------------------------------------------

def _member_invited(stack, owner, request_id):
    r = owner.post(MEMBERS, {"email": new_email(), "role": "viewer"},
                   headers={"X-Request-ID": request_id})
    assert r.status == 201, r
    return owner, r.json()["user_id"]


def _member_role_changed(stack, owner, request_id):
    m = add_member(owner, "viewer")
    r = owner.patch(f"{MEMBERS}/{m.user_id}", {"role": "admin"},
                    headers={"X-Request-ID": request_id})
    assert r.status == 200, r
    return owner, m.user_id


def _member_removed(stack, owner, request_id):
    m = add_member(owner, "viewer")
    r = owner.delete(f"{MEMBERS}/{m.user_id}", headers={"X-Request-ID": request_id})
    assert r.status == 204, r
    return owner, m.user_id


def _organization_created(stack, owner, request_id):
    r = owner.post("/api/v1/organizations", {"name": "Audited org"},
                   headers={"X-Request-ID": request_id})
    assert r.status == 201, r
    return owner.switch(r.json()["id"]), r.json()["id"]


def _organization_updated(stack, owner, request_id):
    r = owner.patch(CURRENT, {"name": "Audited rename"}, headers={"X-Request-ID": request_id})
    assert r.status == 200, r
    return owner, owner.org_id


FLOWS = {
    "member.invited": _member_invited,
    "member.role_changed": _member_role_changed,
    "member.removed": _member_removed,
    "organization.created": _organization_created,
    "organization.updated": _organization_updated,
}


@pytest.mark.parametrize("action", FLOWS)
def test_action_appears_with_the_request_id_of_its_response(stack, account, action):
    request_id = rid()
    reader, target = FLOWS[action](stack, account, request_id)
    found = [e for e in by_request(reader, request_id) if e["action"] == action]
    assert len(found) == 1, by_request(reader, request_id)
    e = found[0]
    assert e["actor"] == {"type": "user", "id": account.user_id}, e
    assert e["target_id"] == target, e
    assert e["organization_id"] == reader.org_id, e


@pytest.mark.parametrize("action", ["member.invite_accepted", "member.added"])
def test_an_accepted_invitation_is_recorded_as_the_invited_users_act(stack, account, action):
    m = invite(account, role="viewer")
    request_id = rid()
    r = stack.post("/api/v1/auth/accept-invite",
                   {"invite_token": m["invite_token"], "password": new_password()},
                   headers={"X-Request-ID": request_id})
    assert r.status == 200, r
    [e] = [e for e in by_request(account, request_id) if e["action"] == action]
    assert e["actor"] == {"type": "user", "id": m["user_id"]}, e
    assert e["target_id"] == m["user_id"] and e["organization_id"] == account.org_id, e
    assert e["changes"]["role"] == "viewer", e


def test_role_change_records_from_and_to(account):
    m = add_member(account, "viewer")
    request_id = rid()
    account.patch(f"{MEMBERS}/{m.user_id}", {"role": "admin"}, headers={"X-Request-ID": request_id})
    [e] = [e for e in by_request(account, request_id) if e["action"] == "member.role_changed"]
    assert e["changes"] == {"from": "viewer", "to": "admin"}, e


def test_unchanged_role_records_no_change(account):
    m = add_member(account, "viewer")
    request_id = rid()
    account.patch(f"{MEMBERS}/{m.user_id}", {"role": "viewer"},
                  headers={"X-Request-ID": request_id})
    assert by_request(account, request_id) == []


def test_refused_request_records_nothing(account):
    request_id = rid()
    r = account.delete(f"{MEMBERS}/{account.user_id}", headers={"X-Request-ID": request_id})
    assert_error(r, 409, "last_owner")
    assert by_request(account, request_id) == []


def test_row_update_has_old_and_new_values(account):
    m = add_member(account, "viewer")
    request_id = rid()
    account.patch(f"{MEMBERS}/{m.user_id}", {"role": "admin"}, headers={"X-Request-ID": request_id})
    [e] = [e for e in by_request(account, request_id) if e["action"] == "row.memberships.update"]
    assert set(e["changes"]) == {"old", "new"}, e
    assert e["changes"]["old"]["role"] == "viewer" and e["changes"]["new"]["role"] == "admin", e
    assert e["changes"]["new"]["user_id"] == m.user_id
    assert e["target_type"] == "memberships" and e["target_id"] == m.user_id, e


def test_row_insert_has_only_new_values(account):
    request_id = rid()
    r = account.post(MEMBERS, {"email": new_email(), "role": "viewer"},
                     headers={"X-Request-ID": request_id})
    [e] = [e for e in by_request(account, request_id) if e["action"] == "row.memberships.insert"]
    assert set(e["changes"]) == {"new"}, e
    assert e["changes"]["new"]["user_id"] == r.json()["user_id"]


def test_row_delete_has_only_old_values(account):
    m = add_member(account, "viewer")
    request_id = rid()
    account.delete(f"{MEMBERS}/{m.user_id}", headers={"X-Request-ID": request_id})
    [e] = [e for e in by_request(account, request_id) if e["action"] == "row.memberships.delete"]
    assert set(e["changes"]) == {"old"}, e
    assert e["changes"]["old"]["role"] == "viewer"


def test_settings_change_is_recorded_with_both_documents(account):
    account.patch(CURRENT, {"settings": {"v": 1}})
    request_id = rid()
    account.patch(CURRENT, {"settings": {"v": 2}}, headers={"X-Request-ID": request_id})
    [e] = [e for e in by_request(account, request_id)
           if e["action"] == "row.organizations.update"]
    assert e["changes"]["old"]["settings"] == {"v": 1}
    assert e["changes"]["new"]["settings"] == {"v": 2}


def test_key_and_refresh_token_rows_are_recorded_without_their_hashes(stack, account):
    request_id = rid()
    r = account.post("/api/v1/api-keys", {"name": "audited", "scopes": ["org:read"]},
                     headers={"X-Request-ID": request_id})
    assert r.status == 201, r
    [e] = [e for e in by_request(account, request_id) if e["action"] == "row.api_keys.insert"]
    assert e["changes"]["new"]["id"] == r.json()["id"]
    assert "key_hash" not in e["changes"]["new"], e
    refresh = [e for e in events(account) if e["action"] == "row.refresh_tokens.insert"]
    assert refresh, "the registration's refresh token"
    assert all("token_hash" not in e["changes"]["new"] for e in refresh), refresh


def test_no_event_of_the_organization_carries_a_hash(stack, busy):
    new = new_password()
    assert_status(busy.post("/api/v1/auth/password",
                            {"current_password": busy.password, "new_password": new}), 204)
    r = busy.get(f"{AUDIT}?limit=200")
    assert r.status == 200, r
    assert b"$2b$" not in r.body
    for e in events(busy):
        assert hash_keys(e["changes"]) == [], e


def test_no_event_in_the_whole_log_carries_a_hash(stack, busy):
    m = invite(busy)
    assert_status(accept_invite(stack, m["invite_token"]), 200)
    rows = stack.psql("SELECT id, action FROM homebot.audit_log"
                      " WHERE changes::text LIKE '%$2b$%'"
                      "    OR changes::text ~ '\"[^\"]*_hash\"\\s*:'")
    assert rows == [], rows
    [(n,)] = stack.psql("SELECT count(*) FROM homebot.audit_log WHERE action = 'row.users.update'"
                        " AND target_id = :'u'", u=m["user_id"])
    assert int(n) >= 1, "setting the password is recorded, without its hash"


def test_no_event_carries_a_secret_the_flows_used(stack, busy):
    m = invite(busy)
    password = new_password()
    t = accept_invite(stack, m["invite_token"], password).json()
    [(dump,)] = stack.psql("SELECT coalesce(string_agg(row_to_json(l)::text, ' '), '')"
                           " FROM homebot.audit_log l WHERE organization_id = :'o'", o=busy.org_id)
    for secret in (m["invite_token"], password, t["refresh_token"], t["access_token"]):
        assert secret not in dump


# ---- append-only ------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE homebot.audit_log SET action = 'forged' WHERE id = :'id'",
    "DELETE FROM homebot.audit_log WHERE id = :'id'",
    "TRUNCATE homebot.audit_log",
], ids=["update", "delete", "truncate"])
@pytest.mark.parametrize("role", ["homebot_app", "homebot_admin"])
def test_runtime_role_cannot_rewrite_the_audit_log(stack, account, role, statement):
    [(event_id,)] = stack.psql("SELECT id FROM homebot.audit_log WHERE organization_id = :'o'"
                               " AND action = 'auth.register'", o=account.org_id)
    before = stack.psql("SELECT row_to_json(l)::text FROM homebot.audit_log l WHERE id = :'id'",
                        id=event_id)
    err = stack.psql_error(f"SET ROLE {role};\n"
                           f"SELECT set_config('app.org_id', :'o', false);\n"
                           f"{statement};", o=account.org_id, id=event_id)
    assert "permission denied" in err, err
    after = stack.psql("SELECT row_to_json(l)::text FROM homebot.audit_log l WHERE id = :'id'",
                       id=event_id)
    assert after == before
