"""GET /api/v1/auth/sessions and DELETE /api/v1/auth/sessions/{id}
(api.md §2): the user's active sessions, in every organization, paged as
every collection is (api.md §1)."""
import pytest

from conftest import (RFC3339_RE, UUID_RE, assert_error, assert_invalid, assert_status,
                      assert_unauthenticated, b64url, b64url_decode, bearer, create_key, join_org,
                      jwt_parts, login, register)

SESSIONS = "/api/v1/auth/sessions"


def _sid(tokens):
    sid = jwt_parts(tokens["access_token"])[1]["sid"]
    assert UUID_RE.fullmatch(sid)
    return sid


def pages(account, limit):
    """Every item of the collection, following next_cursor."""
    items, url = [], f"{SESSIONS}?limit={limit}"
    for _ in range(50):
        r = account.get(url)
        assert r.status == 200, r
        body = r.json()
        assert len(body["data"]) <= limit, body
        items += body["data"]
        if body["next_cursor"] is None:
            return items
        url = f"{SESSIONS}?limit={limit}&cursor={body['next_cursor']}"
    raise AssertionError("next_cursor never ends")


def next_cursor(account, path):
    r = account.get(path)
    assert r.status == 200, r
    cursor = r.json()["next_cursor"]
    assert cursor, r
    return cursor


def test_sessions_is_a_collection_of_the_users_sessions(account):
    r = account.get(SESSIONS)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"data", "next_cursor"}, body
    assert body["next_cursor"] is None
    [s] = body["data"]
    assert set(s) == {"id", "created_at", "last_used_at", "ip", "user_agent", "organization_id",
                      "current"}, s
    assert s["id"] == account.session_id
    assert s["organization_id"] == account.org_id
    assert RFC3339_RE.fullmatch(s["created_at"]) and RFC3339_RE.fullmatch(s["last_used_at"]), s


def test_exactly_one_session_is_current(account):
    account.login()
    account.login()
    data = account.get(SESSIONS).json()["data"]
    assert len(data) == 3
    assert [s["id"] for s in data if s["current"]] == [account.session_id], data


def test_session_records_ip_and_user_agent(stack, account):
    t = login(stack, account.email, account.password,
              headers={"User-Agent": "homebot-tests/1.0 (sessions)"}).json()
    data = account.get(SESSIONS).json()["data"]
    [s] = [s for s in data if s["current"] is False]
    assert s["id"] == _sid(t)
    assert s["ip"] == "127.0.0.1"
    assert s["user_agent"] == "homebot-tests/1.0 (sessions)"


def test_sessions_are_newest_first(account):
    account.login()
    data = account.get(SESSIONS).json()["data"]
    assert [s["created_at"] for s in data] == sorted((s["created_at"] for s in data), reverse=True)
    assert data[-1]["id"] == account.session_id


def test_sessions_of_every_organization_are_listed(stack, account):
    other = register(stack)
    join_org(stack, other.org_id, account.user_id)
    elsewhere = account.login(organization_id=other.org_id)
    data = account.get(SESSIONS).json()["data"]
    assert {(s["id"], s["organization_id"]) for s in data} == {
        (account.session_id, account.org_id), (_sid(elsewhere), other.org_id)}


def test_revoked_sessions_are_not_listed(stack, account):
    other = account.login()
    stack.post("/api/v1/auth/logout", {}, headers=bearer(other["access_token"]))
    assert [s["id"] for s in account.get(SESSIONS).json()["data"]] == [account.session_id]


def test_limit_1_pages_through_every_session_once(account):
    expected = {account.session_id} | {_sid(account.login()) for _ in range(3)}
    items = pages(account, 1)
    assert [s["id"] for s in items] == [s["id"] for s in account.get(SESSIONS).json()["data"]]
    assert len(items) == 4 and {s["id"] for s in items} == expected


def test_last_page_has_no_next_cursor(account):
    account.login()
    r = account.get(f"{SESSIONS}?limit=2")
    assert len(r.json()["data"]) == 2
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "abc", "-1", "", "1.5"])
def test_limit_out_of_range_is_422(account, limit):
    assert_invalid(account.get(f"{SESSIONS}?limit={limit}"), "limit")


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_bounds_are_accepted(account, limit):
    assert_status(account.get(f"{SESSIONS}?limit={limit}"), 200)


def test_tampered_cursor_is_400_invalid_cursor(account):
    account.login()
    cursor = next_cursor(account, f"{SESSIONS}?limit=1")
    payload, mac = cursor.split(".")
    forged = b64url(b64url_decode(payload).replace(b"sessions", b"sessionz")) + "." + mac
    for bad in (forged, cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "garbage",
                "a.b", cursor + "x"):
        assert_error(account.get(f"{SESSIONS}?cursor={bad}"), 400, "invalid_cursor")


def test_cursor_of_another_collection_is_400_invalid_cursor(account):
    create_key(account, ["org:read"])
    create_key(account, ["org:read"])
    cursor = next_cursor(account, "/api/v1/api-keys?limit=1")
    assert_error(account.get(f"{SESSIONS}?cursor={cursor}"), 400, "invalid_cursor")


def test_cursor_of_another_users_sessions_is_400_invalid_cursor(stack, account):
    other = register(stack)
    other.login()
    cursor = next_cursor(other, f"{SESSIONS}?limit=1")
    assert_error(account.get(f"{SESSIONS}?cursor={cursor}"), 400, "invalid_cursor")


def test_delete_session_is_204_and_its_token_is_401(stack, account):
    other = account.login()
    r = account.delete(f"{SESSIONS}/{_sid(other)}")
    assert r.status == 204, r
    assert_unauthenticated(stack.get("/api/v1/auth/me", headers=bearer(other["access_token"])),
                           "invalid_token")
    assert_status(account.get("/api/v1/auth/me"), 200)


def test_deleted_session_cannot_refresh(stack, account):
    other = account.login()
    account.delete(f"{SESSIONS}/{_sid(other)}")
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert_unauthenticated(r, "invalid_refresh_token")


def test_deleting_the_current_session_logs_out(account):
    assert_status(account.delete(f"{SESSIONS}/{account.session_id}"), 204)
    assert_unauthenticated(account.get("/api/v1/auth/me"), "invalid_token")


def test_delete_someone_elses_session_is_404(stack, account):
    other = register(stack)
    assert_error(account.delete(f"{SESSIONS}/{other.session_id}"), 404, "not_found")
    assert_status(other.get("/api/v1/auth/me"), 200)


def test_delete_revoked_session_is_404(account):
    other = account.login()
    account.delete(f"{SESSIONS}/{_sid(other)}")
    assert_error(account.delete(f"{SESSIONS}/{_sid(other)}"), 404, "not_found")


@pytest.mark.parametrize("sid", ["not-a-uuid", "1", "00000000-0000-4000-8000-00000000000Z",
                                 "00000000-0000-4000-8000-000000000000"])
def test_delete_unknown_or_malformed_session_is_404(account, sid):
    assert_error(account.delete(f"{SESSIONS}/{sid}"), 404, "not_found")

