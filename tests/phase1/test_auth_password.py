"""POST /api/v1/auth/password (api.md §2): changes the password and
revokes the user's other sessions; the current one keeps working."""
import pytest

from conftest import (assert_invalid, assert_status, assert_unauthenticated, bearer, login,
                      new_password)

PASSWORD = "/api/v1/auth/password"


def change(account, new, current=None):
    return account.post(PASSWORD, {"current_password": current or account.password,
                                   "new_password": new})


def test_password_change_is_204(account):
    r = change(account, new_password())
    assert r.status == 204, r
    assert r.body == b""


def test_new_password_logs_in_and_the_old_does_not(stack, account):
    new = new_password()
    change(account, new)
    assert_status(login(stack, account.email, new), 200)
    assert_unauthenticated(login(stack, account.email, account.password), "invalid_credentials")


def test_wrong_current_password_is_401_invalid_credentials(stack, account):
    new = new_password()
    r = change(account, new, current="not-" + account.password)
    assert_unauthenticated(r, "invalid_credentials")
    assert_status(login(stack, account.email, account.password), 200)


def test_wrong_current_password_keeps_the_session(account):
    change(account, new_password(), current="not-" + account.password)
    assert_status(account.get("/api/v1/auth/me"), 200)


@pytest.mark.parametrize("new", ["x" * 9, "x" * 73, ""], ids=["9_bytes", "73_bytes", "empty"])
def test_bad_new_password_is_422(account, new):
    assert_invalid(change(account, new), "new_password")


def test_new_password_equal_to_the_email_is_422(account):
    assert_invalid(change(account, account.email), "new_password")


@pytest.mark.parametrize("field", ["current_password", "new_password"])
def test_missing_field_is_422(account, field):
    body = {"current_password": account.password, "new_password": new_password()}
    del body[field]
    assert_invalid(account.post(PASSWORD, body), field)


def test_password_change_revokes_the_other_sessions(stack, account):
    other = account.login()
    change(account, new_password())
    r = stack.get("/api/v1/auth/me", headers=bearer(other["access_token"]))
    assert_unauthenticated(r, "invalid_token")
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert_unauthenticated(r, "invalid_refresh_token")


def test_password_change_keeps_the_current_session(stack, account):
    change(account, new_password())
    assert_status(account.get("/api/v1/auth/me"), 200)
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": account.refresh})
    assert r.status == 200, r


def test_revoked_session_cannot_change_the_password(stack, account):
    account.post("/api/v1/auth/logout", {})
    new = new_password()
    assert_unauthenticated(change(account, new), "invalid_token")
    assert_status(login(stack, account.email, new), 401)

