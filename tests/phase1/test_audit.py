"""Audit events of authentication and API keys (api.md §4): each action
is recorded with the request ID of the response that caused it.

Every flow sends its own X-Request-ID on the request that should be
audited, then looks for the event in homebot.audit_log as the owner.
"""
import uuid

import pytest

from conftest import (assert_status, create_key, key_secret, login, new_email, new_password,
                      register)


def rid():
    return "audit-" + uuid.uuid4().hex


def _register(stack, request_id):
    body = {"email": new_email(), "password": new_password(), "organization_name": "Audited"}
    r = stack.post("/api/v1/auth/register", body, headers={"X-Request-ID": request_id})
    assert r.status == 201, r
    return r.json()["user"]["id"]


def _login_succeeded(stack, request_id):
    a = register(stack)
    r = login(stack, a.email, a.password, headers={"X-Request-ID": request_id})
    assert r.status == 200, r
    return a.user_id


def _login_failed(stack, request_id):
    a = register(stack)
    r = login(stack, a.email, "wrong-password-123", headers={"X-Request-ID": request_id})
    assert r.status == 401, r
    return a.user_id


def _locked(stack, request_id):
    a = register(stack)
    for i in range(5):
        headers = {"X-Request-ID": request_id} if i == 4 else None
        assert_status(login(stack, a.email, "wrong-password-123", headers=headers), 401)
    return a.user_id


def _logout(stack, request_id):
    a = register(stack)
    r = a.post("/api/v1/auth/logout", {}, headers={"X-Request-ID": request_id})
    assert r.status == 204, r
    return a.user_id


def _refresh_reused(stack, request_id):
    a = register(stack)
    assert_status(stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh}), 200)
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh},
                   headers={"X-Request-ID": request_id})
    assert r.status == 401, r
    return a.user_id


def _password_changed(stack, request_id):
    a = register(stack)
    r = a.post("/api/v1/auth/password",
               {"current_password": a.password, "new_password": new_password()},
               headers={"X-Request-ID": request_id})
    assert r.status == 204, r
    return a.user_id


def _api_key_created(stack, request_id):
    a = register(stack)
    r = a.post("/api/v1/api-keys", {"name": "audited", "scopes": ["org:read"]},
               headers={"X-Request-ID": request_id})
    assert r.status == 201, r
    return a.user_id


def _api_key_revoked(stack, request_id):
    a = register(stack)
    k = create_key(a, ["org:read"])
    r = a.delete(f"/api/v1/api-keys/{k['id']}", headers={"X-Request-ID": request_id})
    assert r.status == 204, r
    return a.user_id


FLOWS = {
    "auth.register": _register,
    "auth.login.succeeded": _login_succeeded,
    "auth.login.failed": _login_failed,
    "auth.locked": _locked,
    "auth.logout": _logout,
    "auth.refresh.reused": _refresh_reused,
    "auth.password.changed": _password_changed,
    "api_key.created": _api_key_created,
    "api_key.revoked": _api_key_revoked,
}


@pytest.mark.parametrize("action", list(FLOWS))
def test_action_is_audited_with_the_request_id(stack, action):
    stack.need_own()
    request_id = rid()
    user_id = FLOWS[action](stack, request_id)
    rows = stack.psql("SELECT action, actor_id FROM homebot.audit_log WHERE request_id = :'rid'",
                      rid=request_id)
    assert action in [a for a, _ in rows], rows
    assert all(actor == user_id for _, actor in rows), rows


def test_audit_never_records_a_secret(stack):
    a = register(stack)
    new = new_password()
    a.post("/api/v1/auth/password", {"current_password": a.password, "new_password": new})
    k = create_key(a, ["org:read"])
    login(stack, a.email, "wrong-" + new)
    [(dump,)] = stack.psql("SELECT coalesce(string_agg(row_to_json(l)::text, ' '), '')"
                           " FROM homebot.audit_log l WHERE actor_id = :'u'", u=a.user_id)
    assert dump, "no audit events"
    [(password_hash,)] = stack.psql("SELECT password_hash FROM homebot.users WHERE id = :'u'",
                                    u=a.user_id)
    for secret in (password_hash, a.password, new, "wrong-" + new, a.refresh, a.access, k["key"],
                   key_secret(k["key"])):
        assert secret not in dump
