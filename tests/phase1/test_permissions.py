"""Permissions (api.md §3): every endpoint checks one permission, read at
every request from the database — the role's in role_permissions plus the
user's own grants in user_permissions — and an API key holds its scopes
(never more than its creator still holds)."""
import pytest

from conftest import (add_member, assert_error, assert_status, create_key, invite, join, new_email,
                      register)

CURRENT = "/api/v1/organizations/current"
MEMBERS = "/api/v1/members"
KEYS = "/api/v1/api-keys"
AUDIT = "/api/v1/audit-log"

EVERYONE = {"org:read", "members:read", "teams:read", "mqtt:subscribe", "connections:read"}
MEMBER = EVERYONE | {"mqtt:publish"}
ADMIN = MEMBER | {"audit:read", "api_keys:read", "api_keys:write", "members:write", "org:update",
                  "teams:write", "secrets:read", "secrets:write", "connections:write",
                  "jobs:read"}
OWNER = ADMIN | {"org:delete", "members:owners", "secrets:reveal"}
ROLES = {"viewer": EVERYONE, "member": MEMBER, "admin": ADMIN, "owner": OWNER}


class Key:
    """Requests made with an API key, shaped like an Account's."""

    def __init__(self, stack, key):
        self.stack = stack
        self.headers = {"X-API-Key": key}

    def get(self, path):
        return self.stack.get(path, headers=self.headers)

    def post(self, path, body=None):
        return self.stack.post(path, body, headers=self.headers)

    def patch(self, path, body=None):
        return self.stack.patch(path, body, headers=self.headers)

    def delete(self, path):
        return self.stack.delete(path, headers=self.headers)


# (what it is, the permissions it needs, the call, its success status). The
# call gets the caller and the organization's owner, who makes its targets.
ENDPOINTS = [
    ("GET organizations/current", {"org:read"},
     lambda c, o: c.get(CURRENT), 200),
    ("PATCH organizations/current", {"org:update"},
     lambda c, o: c.patch(CURRENT, {"settings": {"touched": True}}), 200),
    ("GET members", {"members:read"},
     lambda c, o: c.get(MEMBERS), 200),
    ("POST members", {"members:write"},
     lambda c, o: c.post(MEMBERS, {"email": new_email(), "role": "viewer"}), 201),
    ("POST members as owner", {"members:write", "members:owners"},
     lambda c, o: c.post(MEMBERS, {"email": new_email(), "role": "owner"}), 201),
    ("PATCH members/{id}", {"members:write"},
     lambda c, o: c.patch(f"{MEMBERS}/{invite(o, role='viewer')['user_id']}", {"role": "member"}),
     200),
    ("PATCH members/{id} to owner", {"members:write", "members:owners"},
     lambda c, o: c.patch(f"{MEMBERS}/{invite(o, role='viewer')['user_id']}", {"role": "owner"}),
     200),
    ("PATCH members/{owner}", {"members:write", "members:owners"},
     lambda c, o: c.patch(f"{MEMBERS}/{invite(o, role='owner')['user_id']}", {"role": "admin"}),
     200),
    ("DELETE members/{id}", {"members:write"},
     lambda c, o: c.delete(f"{MEMBERS}/{invite(o, role='member')['user_id']}"), 204),
    ("DELETE members/{owner}", {"members:write", "members:owners"},
     lambda c, o: c.delete(f"{MEMBERS}/{invite(o, role='owner')['user_id']}"), 204),
    ("GET api-keys", {"api_keys:read"},
     lambda c, o: c.get(KEYS), 200),
    ("POST api-keys", {"api_keys:write"},
     lambda c, o: c.post(KEYS, {"name": "made", "scopes": ["api_keys:write"]}), 201),
    ("GET api-keys/{id}", {"api_keys:read"},
     lambda c, o: c.get(f"{KEYS}/{create_key(o, ['org:read'])['id']}"), 200),
    ("DELETE api-keys/{id}", {"api_keys:write"},
     lambda c, o: c.delete(f"{KEYS}/{create_key(o, ['org:read'])['id']}"), 204),
    ("GET audit-log", {"audit:read"},
     lambda c, o: c.get(AUDIT), 200),
]
ENDPOINT_IDS = [e[0].replace(" ", "_") for e in ENDPOINTS]


@pytest.fixture(scope="module")
def orgs(stack):
    """One organization per role: its owner, and a member holding that role."""
    out = {}
    for role in ROLES:
        owner = register(stack)
        out[role] = (owner, add_member(owner, role))
    return out


def test_role_permissions_in_the_database_are_the_documented_mapping(stack):
    rows = stack.psql("SELECT role, permission FROM homebot.role_permissions")
    mapping = {role: {p for r, p in rows if r == role} for role in ROLES}
    assert mapping == ROLES
    assert {r for r, _ in rows} == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_me_lists_the_permissions_of_the_role(orgs, role):
    _, caller = orgs[role]
    r = caller.get("/api/v1/auth/me")
    assert r.status == 200, r
    assert r.json()["role"] == role
    assert sorted(r.json()["permissions"]) == sorted(ROLES[role])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("role", ROLES)
def test_role_may_call_the_endpoint_only_with_its_permission(orgs, role, endpoint):
    name, needs, call, success = endpoint
    owner, caller = orgs[role]
    r = call(caller, owner)
    if needs <= ROLES[role]:
        assert r.status == success, (role, name, r)
    else:
        assert_error(r, 403, "forbidden")


# Endpoints an API key may never call, whatever its scopes.
TOKEN_ONLY = {"POST api-keys"}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_key_with_exactly_the_needed_scopes_may_call_the_endpoint(stack, orgs, endpoint):
    name, needs, call, success = endpoint
    owner, _ = orgs["owner"]
    key = Key(stack, create_key(owner, sorted(needs))["key"])
    r = call(key, owner)
    if name in TOKEN_ONLY:
        assert_error(r, 403, "forbidden")
    else:
        assert r.status == success, (name, r)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_key_without_one_needed_scope_is_403_forbidden(stack, orgs, endpoint):
    name, needs, call, _ = endpoint
    owner, _ = orgs["owner"]
    for missing in sorted(needs):
        key = Key(stack, create_key(owner, sorted(OWNER - {missing}))["key"])
        assert_error(call(key, owner), 403, "forbidden")


def test_key_with_members_read_lists_members_but_cannot_invite(stack, account):
    key = Key(stack, create_key(account, ["members:read"])["key"])
    r = key.get(MEMBERS)
    assert r.status == 200, r
    assert [m["user_id"] for m in r.json()["data"]] == [account.user_id]
    email = new_email()
    assert_error(key.post(MEMBERS, {"email": email, "role": "viewer"}), 403, "forbidden")
    assert stack.psql("SELECT id FROM homebot.users WHERE email = :'e'", e=email) == []


def test_key_permissions_shrink_with_its_creators_role(stack, account):
    admin = add_member(account, "admin")
    key = Key(stack, create_key(admin, ["audit:read", "org:read"])["key"])
    assert_status(key.get(AUDIT), 200)
    assert_status(account.patch(f"{MEMBERS}/{admin.user_id}", {"role": "viewer"}), 200)
    assert_error(key.get(AUDIT), 403, "forbidden")
    assert_status(key.get(CURRENT), 200)
    me = key.get("/api/v1/auth/me").json()
    assert me["permissions"] == ["org:read"], me


def test_user_permission_grant_applies_on_the_next_request(stack, account):
    viewer = add_member(account, "viewer")
    assert_error(viewer.get(AUDIT), 403, "forbidden")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'o', :'u', 'audit:read')", o=account.org_id, u=viewer.user_id)
    assert_status(viewer.get(AUDIT), 200)
    assert "audit:read" in viewer.get("/api/v1/auth/me").json()["permissions"]


def test_withdrawn_user_permission_applies_on_the_next_request(stack, account):
    viewer = add_member(account, "viewer")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'o', :'u', 'members:write')", o=account.org_id, u=viewer.user_id)
    assert_status(viewer.post(MEMBERS, {"email": new_email(), "role": "viewer"}), 201)
    stack.psql("DELETE FROM homebot.user_permissions WHERE organization_id = :'o'"
               " AND user_id = :'u'", o=account.org_id, u=viewer.user_id)
    assert_error(viewer.post(MEMBERS, {"email": new_email(), "role": "viewer"}), 403, "forbidden")


def test_user_permission_holds_only_in_its_organization(stack, account):
    viewer = add_member(account, "viewer")
    other = register(stack)
    elsewhere = join(other, viewer.home, "viewer")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'o', :'u', 'audit:read')", o=account.org_id, u=viewer.user_id)
    assert_status(viewer.get(AUDIT), 200)
    assert_error(elsewhere.get(AUDIT), 403, "forbidden")


def test_user_permission_lets_a_key_carry_that_scope(stack, account):
    viewer = add_member(account, "viewer")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " SELECT :'o', :'u', unnest(ARRAY['api_keys:write', 'audit:read'])",
               o=account.org_id, u=viewer.user_id)
    key = Key(stack, create_key(viewer, ["audit:read"])["key"])
    assert_status(key.get(AUDIT), 200)


def test_role_mapping_is_read_from_the_database_at_every_request(stack, account):
    viewer = add_member(account, "viewer")
    assert_error(viewer.get(AUDIT), 403, "forbidden")
    stack.psql("INSERT INTO homebot.role_permissions (role, permission)"
               " VALUES ('viewer', 'audit:read')")
    try:
        assert_status(viewer.get(AUDIT), 200)
    finally:
        stack.psql("DELETE FROM homebot.role_permissions"
                   " WHERE role = 'viewer' AND permission = 'audit:read'")
    assert_error(viewer.get(AUDIT), 403, "forbidden")
