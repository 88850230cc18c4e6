"""POST /api/v1/auth/logout (api.md §2): revokes this session, or with
all_sessions every session of the user, effective on the next request."""
from conftest import assert_status, assert_unauthenticated, bearer, join_org, register

LOGOUT = "/api/v1/auth/logout"


def me(stack, token):
    return stack.get("/api/v1/auth/me", headers=bearer(token))


def test_logout_is_204(account):
    r = account.post(LOGOUT, {})
    assert r.status == 204, r
    assert r.body == b""


def test_logout_needs_no_body(stack, account):
    r = stack.request("POST", LOGOUT, headers=account.auth)
    assert r.status == 204, r


def test_logged_out_token_is_401_on_the_very_next_request(account):
    account.post(LOGOUT, {})
    assert_unauthenticated(account.get("/api/v1/auth/me"), "invalid_token")


def test_logged_out_refresh_token_is_401_invalid_refresh_token(stack, account):
    account.post(LOGOUT, {})
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": account.refresh})
    assert_unauthenticated(r, "invalid_refresh_token")


def test_logout_twice_is_401(account):
    account.post(LOGOUT, {})
    assert_unauthenticated(account.post(LOGOUT, {}), "invalid_token")


def test_logout_keeps_the_users_other_sessions(stack, account):
    other = account.login()
    account.post(LOGOUT, {"all_sessions": False})
    assert_status(me(stack, other["access_token"]), 200)


def test_logout_all_sessions_revokes_every_session_in_every_organization(stack, account):
    second = register(stack)
    join_org(stack, second.org_id, account.user_id, "member")
    elsewhere = account.login(organization_id=second.org_id)
    here = account.login(organization_id=account.org_id)
    assert_status(account.post(LOGOUT, {"all_sessions": True}), 204)
    for token in (account.access, elsewhere["access_token"], here["access_token"]):
        assert_unauthenticated(me(stack, token), "invalid_token")
    refreshed = stack.post("/api/v1/auth/refresh", {"refresh_token": elsewhere["refresh_token"]})
    assert_unauthenticated(refreshed, "invalid_refresh_token")


def test_logout_all_sessions_leaves_other_users_alone(stack, account):
    other = register(stack)
    account.post(LOGOUT, {"all_sessions": True})
    assert_status(me(stack, other.access), 200)


def test_user_can_log_in_again_after_logout(stack, account):
    account.post(LOGOUT, {"all_sessions": True})
    assert_status(me(stack, account.login()["access_token"]), 200)
