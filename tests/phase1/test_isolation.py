"""Tenant isolation, proven from outside (api.md §1, §3): three
organizations, each with members, API keys, sessions, invitations and
audit events. Every endpoint that takes an id answers another
organization's id with 404 — exactly as for an id that does not exist —
and the database shows that nothing changed; every list shows only the
caller's organization. (The admin endpoints answer 403 to anyone who is
not a superadmin, whoever's id they name.)"""
import itertools
import uuid
from types import SimpleNamespace

import pytest

from conftest import (add_member, assert_error, assert_status, create_key, invite, join, register)

NAMES = ["A", "B", "C"]
PAIRS = list(itertools.permutations(NAMES, 2))
PAIR_IDS = [f"{a}_on_{b}" for a, b in PAIRS]
ALL_SCOPES = ["org:read", "members:read", "audit:read", "api_keys:read", "api_keys:write",
              "members:write", "org:update", "org:delete", "members:owners"]

# What "nothing changed" means: one digest per table of the organization's
# rows (last_used_at aside: reading with a key touches it), and the number
# of its audit events.
SNAPSHOT = """
SELECT
 (SELECT md5(coalesce(string_agg(row_to_json(o)::text, ','), ''))
    FROM homebot.organizations o WHERE id = :'o'),
 (SELECT md5(coalesce(string_agg(row_to_json(m)::text, ',' ORDER BY user_id), ''))
    FROM homebot.memberships m WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg((to_jsonb(k) - 'last_used_at')::text, ',' ORDER BY id), ''))
    FROM homebot.api_keys k WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg((to_jsonb(s) - 'last_used_at')::text, ',' ORDER BY id), ''))
    FROM homebot.sessions s WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg(row_to_json(r)::text, ',' ORDER BY id), ''))
    FROM homebot.refresh_tokens r WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg(row_to_json(i)::text, ',' ORDER BY id), ''))
    FROM homebot.invitations i WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg(row_to_json(p)::text, ',' ORDER BY user_id, permission), ''))
    FROM homebot.user_permissions p WHERE organization_id = :'o'),
 (SELECT md5(coalesce(string_agg(row_to_json(u)::text, ',' ORDER BY id), ''))
    FROM homebot.users u WHERE id IN (SELECT user_id FROM homebot.memberships
                                       WHERE organization_id = :'o')),
 (SELECT count(*) FROM homebot.audit_log WHERE organization_id = :'o')
"""
SNAPSHOT_PARTS = ["organizations", "memberships", "api_keys", "sessions", "refresh_tokens",
                  "invitations", "user_permissions", "users", "audit events"]


class Org:
    """One organization of the world and everything it holds."""

    def __init__(self, stack, name):
        self.owner = register(stack, organization_name=f"Isolation {name} {uuid.uuid4().hex[:8]}")
        self.id = self.owner.org_id
        self.admin = add_member(self.owner, "admin")
        self.member = add_member(self.owner, "member")
        self.viewer = add_member(self.owner, "viewer")
        self.invited = invite(self.owner, role="member")
        self.full_key = create_key(self.owner, ALL_SCOPES, name=f"full {name}")
        self.admin_key = create_key(self.admin, ["org:read", "api_keys:read"], name=f"ro {name}")
        self.keys = [self.full_key, self.admin_key]
        assert_status(self.owner.patch("/api/v1/organizations/current",
                                       {"settings": {"tenant": name}}), 200)
        self.org = self.owner.get("/api/v1/organizations/current").json()

    @property
    def users(self):
        return [self.owner, self.admin, self.member, self.viewer]

    def user_ids(self):
        return {u.user_id for u in self.users} | {self.invited["user_id"]}

    def markers(self):
        """Strings that only this organization's answers may contain."""
        out = {self.id, self.org["name"], self.org["slug"], self.invited["user_id"],
               self.invited["email"]}
        for u in self.users:
            out |= {u.user_id, u.email, u.session_id}
        for k in self.keys:
            out |= {k["id"], f'"{k["prefix"]}"'}
        return out

    def key_headers(self):
        return {"X-API-Key": self.full_key["key"]}


@pytest.fixture(scope="module")
def world(stack):
    stack.need_own()
    orgs = {name: Org(stack, name) for name in NAMES}
    # One user in two organizations: admin of A and of B.
    bridge = add_member(orgs["A"].owner, "admin")
    orgs["A"].bridge = bridge
    orgs["A"].bridge_key = create_key(bridge, ["members:read", "members:write", "api_keys:read",
                                               "api_keys:write"], name="bridge")
    orgs["A"].keys.append(orgs["A"].bridge_key)
    orgs["B"].bridge = join(orgs["B"].owner, bridge.home, "admin")
    for o in orgs.values():
        o.baseline = snapshot(stack, o.id)
    return orgs


def snapshot(stack, org_id):
    [row] = stack.psql(SNAPSHOT, o=org_id)
    return dict(zip(SNAPSHOT_PARTS, row))


def assert_unchanged(stack, org):
    assert snapshot(stack, org.id) == org.baseline


def foreign_markers(world, name):
    own = world[name].markers()
    shared = {world["A"].bridge.user_id, world["A"].bridge.email}
    return set().union(*(world[n].markers() for n in NAMES if n != name)) - own - shared


def leaks(body, markers):
    text = body.decode()
    return sorted(m for m in markers if m in text)


# ---- ids of another organization: 404, and nothing changes --------------------------------

def new_id():
    return str(uuid.uuid4())


def answer(r):
    return r.status, r.json()["error"]["code"], r.json()["error"]["message"]


def _attack(stack, attacker, victim, method, path, body=None, by_key=False):
    headers = attacker.key_headers() if by_key else attacker.owner.auth
    return stack.request(method, path, body=body, headers=headers)


ID_ATTACKS = {
    "GET api-keys/{id} (token)":
        lambda s, a, v: _attack(s, a, v, "GET", f"/api/v1/api-keys/{v.full_key['id']}"),
    "GET api-keys/{id} (key)":
        lambda s, a, v: _attack(s, a, v, "GET", f"/api/v1/api-keys/{v.admin_key['id']}",
                                by_key=True),
    "DELETE api-keys/{id} (token)":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/api-keys/{v.full_key['id']}"),
    "DELETE api-keys/{id} (key)":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/api-keys/{v.admin_key['id']}",
                                by_key=True),
    "PATCH members/{member} (token)":
        lambda s, a, v: _attack(s, a, v, "PATCH", f"/api/v1/members/{v.member.user_id}",
                                {"role": "viewer"}),
    "PATCH members/{owner} (token)":
        lambda s, a, v: _attack(s, a, v, "PATCH", f"/api/v1/members/{v.owner.user_id}",
                                {"role": "viewer"}),
    "PATCH members/{admin} (key)":
        lambda s, a, v: _attack(s, a, v, "PATCH", f"/api/v1/members/{v.admin.user_id}",
                                {"role": "owner"}, by_key=True),
    "PATCH members/{invited} (token)":
        lambda s, a, v: _attack(s, a, v, "PATCH", f"/api/v1/members/{v.invited['user_id']}",
                                {"role": "admin"}),
    "DELETE members/{member} (token)":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/members/{v.member.user_id}"),
    "DELETE members/{owner} (key)":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/members/{v.owner.user_id}",
                                by_key=True),
    "DELETE members/{invited} (key)":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/members/{v.invited['user_id']}",
                                by_key=True),
    "DELETE auth/sessions/{owner's}":
        lambda s, a, v: _attack(s, a, v, "DELETE", f"/api/v1/auth/sessions/{v.owner.session_id}"),
    "DELETE auth/sessions/{viewer's}":
        lambda s, a, v: _attack(s, a, v, "DELETE",
                                f"/api/v1/auth/sessions/{v.viewer.session_id}"),
}


@pytest.mark.parametrize("attack", ID_ATTACKS)
@pytest.mark.parametrize("attacker,victim", PAIRS, ids=PAIR_IDS)
def test_another_organizations_id_is_404_and_changes_nothing(stack, world, attacker, victim,
                                                              attack):
    r = ID_ATTACKS[attack](stack, world[attacker], world[victim])
    assert_error(r, 404, "not_found")
    assert_unchanged(stack, world[victim])


@pytest.mark.parametrize("attack", ID_ATTACKS)
def test_foreign_id_is_answered_like_an_unknown_one(stack, world, attack):
    """The 404 for another organization's id is the 404 for no id at all."""
    ghost = SimpleNamespace(full_key={"id": new_id()}, admin_key={"id": new_id()},
                            owner=SimpleNamespace(user_id=new_id(), session_id=new_id()),
                            admin=SimpleNamespace(user_id=new_id()),
                            member=SimpleNamespace(user_id=new_id()),
                            viewer=SimpleNamespace(session_id=new_id()),
                            invited={"user_id": new_id()})
    unknown = ID_ATTACKS[attack](stack, world["A"], ghost)
    foreign = ID_ATTACKS[attack](stack, world["A"], world["B"])
    assert answer(unknown) == answer(foreign)


@pytest.mark.parametrize("attack", [a for a in ID_ATTACKS if "sessions" not in a])
def test_member_of_both_organizations_cannot_reach_across_with_one_session(stack, world, attack):
    """The bridge user is admin in A and in B; his A session and his A key
    see only A."""
    a, b = world["A"], world["B"]
    bridge = SimpleNamespace(owner=a.bridge,
                             key_headers=lambda: {"X-API-Key": a.bridge_key["key"]})
    r = ID_ATTACKS[attack](stack, bridge, b)
    assert_error(r, 404, "not_found")
    assert_unchanged(stack, b)


ADMIN_ATTACKS = {
    "suspend": lambda v: f"/api/v1/admin/organizations/{v.id}/suspend",
    "unsuspend": lambda v: f"/api/v1/admin/organizations/{v.id}/unsuspend",
    "disable": lambda v: f"/api/v1/admin/users/{v.owner.user_id}/disable",
    "enable": lambda v: f"/api/v1/admin/users/{v.member.user_id}/enable",
    "unlock": lambda v: f"/api/v1/admin/users/{v.viewer.user_id}/unlock",
}


@pytest.mark.parametrize("by_key", [False, True], ids=["token", "key"])
@pytest.mark.parametrize("attack", ADMIN_ATTACKS)
@pytest.mark.parametrize("attacker,victim", PAIRS, ids=PAIR_IDS)
def test_admin_endpoint_on_another_organization_is_403_and_changes_nothing(
        stack, world, attacker, victim, attack, by_key):
    r = _attack(stack, world[attacker], world[victim], "POST",
                ADMIN_ATTACKS[attack](world[victim]), by_key=by_key)
    assert_error(r, 403, "forbidden")
    assert_unchanged(stack, world[victim])


# ---- lists show only the caller's organization ---------------------------------------------

LISTS = ["/api/v1/members?limit=200", "/api/v1/api-keys?limit=200", "/api/v1/audit-log?limit=200",
         "/api/v1/organizations/current", "/api/v1/auth/me"]
TOKEN_LISTS = ["/api/v1/auth/sessions?limit=200", "/api/v1/organizations?limit=200"]


@pytest.mark.parametrize("path", LISTS + TOKEN_LISTS)
@pytest.mark.parametrize("name", NAMES)
def test_list_with_a_token_shows_nothing_of_another_organization(stack, world, name, path):
    r = world[name].owner.get(path)
    assert r.status == 200, r
    assert leaks(r.body, foreign_markers(world, name)) == []


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("name", NAMES)
def test_list_with_a_key_shows_nothing_of_another_organization(stack, world, name, path):
    r = stack.get(path, headers=world[name].key_headers())
    assert r.status == 200, r
    assert leaks(r.body, foreign_markers(world, name)) == []


@pytest.mark.parametrize("name", NAMES)
def test_members_are_exactly_the_organizations_members(world, name):
    o = world[name]
    data = o.owner.get("/api/v1/members?limit=200").json()["data"]
    expected = o.user_ids() | ({o.bridge.user_id} if hasattr(o, "bridge") else set())
    assert {m["user_id"] for m in data} == expected


@pytest.mark.parametrize("name", NAMES)
def test_api_keys_are_exactly_the_organizations_keys(world, name):
    o = world[name]
    data = o.owner.get("/api/v1/api-keys?limit=200").json()["data"]
    assert {k["id"] for k in data} == {k["id"] for k in o.keys}


@pytest.mark.parametrize("name", NAMES)
def test_audit_events_are_all_of_the_organization(world, name):
    o = world[name]
    data = o.owner.get("/api/v1/audit-log?limit=200").json()["data"]
    assert data
    assert {e["organization_id"] for e in data} == {o.id}


@pytest.mark.parametrize("attacker,victim", PAIRS, ids=PAIR_IDS)
def test_audit_filter_by_another_organizations_actor_is_empty(world, attacker, victim):
    v = world[victim]
    r = world[attacker].owner.get(f"/api/v1/audit-log?actor_id={v.owner.user_id}")
    assert r.status == 200, r
    assert r.json()["data"] == []


@pytest.mark.parametrize("name", ["A", "B"])
def test_bridge_user_sees_each_organization_through_its_own_session(world, name):
    o = world[name]
    data = o.bridge.get("/api/v1/members?limit=200").json()["data"]
    assert {m["user_id"] for m in data} == o.user_ids() | {o.bridge.user_id}
    assert o.bridge.get("/api/v1/organizations/current").json()["id"] == o.id


@pytest.mark.parametrize("attacker,victim", PAIRS, ids=PAIR_IDS)
def test_cursor_of_another_organization_is_400(world, attacker, victim):
    for path in ("/api/v1/members?limit=1", "/api/v1/api-keys?limit=1",
                 "/api/v1/audit-log?limit=1"):
        cursor = world[victim].owner.get(path).json()["next_cursor"]
        assert cursor, path
        r = world[attacker].owner.get(f"{path}&cursor={cursor}")
        assert_error(r, 400, "invalid_cursor")


# ---- and afterwards, every organization is as it was ---------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_credential_of_the_organization_still_works(stack, world, name):
    o = world[name]
    assert_unchanged(stack, o)
    for u in o.users:
        assert_status(u.get("/api/v1/auth/me"), 200)
    for k in o.keys:
        assert_status(stack.get("/api/v1/auth/me", headers={"X-API-Key": k["key"]}), 200)
