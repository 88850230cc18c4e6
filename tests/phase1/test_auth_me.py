"""GET /api/v1/auth/me (api.md §2): who the credential speaks for. The
membership is read on every request, so role changes, extra grants and
removal show at once, whatever the token says."""
from conftest import RFC3339_RE, assert_unauthenticated, create_key, jwt_parts, register, set_role

ME = "/api/v1/auth/me"
ALL_PERMISSIONS = sorted(["org:read", "members:read", "audit:read", "api_keys:read",
                          "api_keys:write", "members:write", "org:update", "org:delete",
                          "members:owners", "jobs:read", "teams:read", "teams:write",
                          "mqtt:subscribe", "mqtt:publish",
                          "secrets:read", "secrets:write", "secrets:reveal",
                          "connections:read", "connections:write"])


def test_me_describes_the_user_organization_and_session(stack):
    a = register(stack, full_name="Grace Hopper")
    r = a.get(ME)
    assert r.status == 200, r
    me = r.json()
    assert set(me) == {"id", "email", "full_name", "email_verified", "mfa_enabled", "created_at",
                       "organization", "role", "permissions", "teams", "auth_method",
                       "session_id"}, me
    assert me["teams"] == [], me
    assert me["email_verified"] is False
    assert me["id"] == a.user_id
    assert me["email"] == a.email
    assert me["full_name"] == "Grace Hopper"
    assert RFC3339_RE.fullmatch(me["created_at"]), me
    assert me["organization"] == a.tokens["organization"]
    assert me["role"] == "owner"
    assert me["auth_method"] == "jwt"
    assert me["session_id"] == jwt_parts(a.access)[1]["sid"]


def test_owner_holds_every_permission_sorted(account):
    assert account.get(ME).json()["permissions"] == ALL_PERMISSIONS


def test_me_with_an_api_key_describes_the_key_and_its_creator(stack, account):
    k = create_key(account, ["org:read", "api_keys:read"], name="ci-bot")
    r = stack.get(ME, headers={"X-API-Key": k["key"]})
    assert r.status == 200, r
    me = r.json()
    assert me["auth_method"] == "api_key"
    assert me["api_key"]["id"] == k["id"]
    assert me["api_key"]["name"] == "ci-bot"
    assert me["api_key"]["prefix"] == k["prefix"]
    assert sorted(me["api_key"]["scopes"]) == ["api_keys:read", "org:read"]
    assert me["permissions"] == ["api_keys:read", "org:read"]
    assert me["id"] == account.user_id
    assert me["email"] == account.email
    assert me["organization"]["id"] == account.org_id
    assert "session_id" not in me


def test_role_change_applies_to_the_next_request(stack, account):
    set_role(stack, account.org_id, account.user_id, "viewer")
    me = account.get(ME).json()
    assert me["role"] == "viewer"
    assert me["permissions"] == ["connections:read", "members:read", "mqtt:subscribe", "org:read",
                                 "teams:read"]


def test_admin_holds_all_but_the_owners_permissions(stack, account):
    set_role(stack, account.org_id, account.user_id, "admin")
    perms = account.get(ME).json()["permissions"]
    assert perms == sorted(set(ALL_PERMISSIONS) - {"org:delete", "members:owners", "secrets:reveal"})


def test_extra_grant_adds_a_permission(stack, account):
    set_role(stack, account.org_id, account.user_id, "member")
    stack.psql("INSERT INTO homebot.user_permissions (organization_id, user_id, permission)"
               " VALUES (:'org', :'user', 'audit:read')", org=account.org_id, user=account.user_id)
    assert account.get(ME).json()["permissions"] == ["audit:read", "connections:read", "members:read",
                                                     "mqtt:publish", "mqtt:subscribe", "org:read",
                                                     "teams:read"]


def test_removed_member_token_is_401_invalid_token(stack, account):
    stack.psql("DELETE FROM homebot.memberships"
               " WHERE organization_id = :'org' AND user_id = :'user'",
               org=account.org_id, user=account.user_id)
    assert_unauthenticated(account.get(ME), "invalid_token")


def test_disabled_user_token_is_401_invalid_token(stack, account):
    stack.psql("UPDATE homebot.users SET disabled_at = now() WHERE id = :'id'", id=account.user_id)
    assert_unauthenticated(account.get(ME), "invalid_token")
