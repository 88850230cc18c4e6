"""The per-IP limits on the anonymous auth endpoints (api.md §2): at most
AUTH_RATE_PER_MINUTE calls to register, login and the other calls that
guard a secret together, and REFRESH_RATE_PER_MINUTE refreshes, counted
apart so that neither can starve the other.

A stack of its own with AUTH_RATE_PER_MINUTE=5 and REFRESH_RATE_PER_MINUTE=3,
since the session stack lifts the limits out of the way of the rest of the
suite. Each test starts from empty counters in a minute it will not leave.
"""
import time

import pytest

from conftest import assert_error, assert_status, bearer, new_email, new_password, own_stack

LIMIT = 5
REFRESH_LIMIT = 3


@pytest.fixture(scope="module")
def limited_stack():
    yield from own_stack(AUTH_RATE_PER_MINUTE=LIMIT, REFRESH_RATE_PER_MINUTE=REFRESH_LIMIT)


@pytest.fixture
def fresh_counters(limited_stack):
    # The limit counts fixed one-minute windows: a test's calls must not
    # straddle a window's end.
    second = time.time() % 60
    if second > 50:
        time.sleep(60.5 - second)
    limited_stack.psql("DELETE FROM homebot.auth_rate_limits")
    return limited_stack


def register_body():
    return {"email": new_email(), "password": new_password(), "organization_name": "Limited"}


def test_sixth_auth_call_in_a_minute_is_429_rate_limited(fresh_counters):
    s = fresh_counters
    r = s.post("/api/v1/auth/register", register_body())
    assert r.status == 201, r
    email = r.json()["user"]["email"]
    statuses = [
        s.post("/api/v1/auth/login", {"email": email, "password": "wrong-password"}).status,
        s.post("/api/v1/auth/register", register_body()).status,
        s.post("/api/v1/auth/login", {"email": new_email(), "password": "wrong-password"}).status,
        s.post("/api/v1/auth/register", register_body()).status,
    ]
    assert statuses == [401, 201, 401, 201], statuses
    for path, body in (("/api/v1/auth/login", {"email": email, "password": "x" * 12}),
                       ("/api/v1/auth/register", register_body())):
        r = s.post(path, body)
        assert_error(r, 429, "rate_limited")
        assert 0 < int(r.header("Retry-After")) <= 60, r.headers


def test_refreshes_do_not_count_against_the_auth_limit(fresh_counters):
    s = fresh_counters
    t = s.post("/api/v1/auth/register", register_body()).json()
    for _ in range(REFRESH_LIMIT):
        r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
        assert r.status == 200, r
        t = r.json()
    for _ in range(LIMIT - 1):
        assert_status(s.post("/api/v1/auth/login",
                             {"email": new_email(), "password": "wrong-password"}), 401)
    assert_error(s.post("/api/v1/auth/login",
                        {"email": new_email(), "password": "wrong-password"}), 429, "rate_limited")


def test_refresh_has_its_own_limit(fresh_counters):
    s = fresh_counters
    t = s.post("/api/v1/auth/register", register_body()).json()
    for _ in range(REFRESH_LIMIT):
        r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
        assert r.status == 200, r
        t = r.json()
    r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert_error(r, 429, "rate_limited")
    assert 0 < int(r.header("Retry-After")) <= 60, r.headers
    # Logins still get through: the refreshes spent none of the auth calls.
    assert_status(s.post("/api/v1/auth/login",
                         {"email": t["user"]["email"], "password": "wrong-password"}), 401)


def test_refresh_keeps_working_while_auth_calls_are_rate_limited(fresh_counters):
    s = fresh_counters
    t = s.post("/api/v1/auth/register", register_body()).json()
    for _ in range(LIMIT):
        s.post("/api/v1/auth/login", {"email": new_email(), "password": "wrong-password"})
    assert_error(s.post("/api/v1/auth/register", register_body()), 429, "rate_limited")
    r = s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]})
    assert r.status == 200, r


def test_rate_limit_leaves_authenticated_endpoints_alone(fresh_counters):
    s = fresh_counters
    token = s.post("/api/v1/auth/register", register_body()).json()["access_token"]
    for _ in range(LIMIT):
        s.post("/api/v1/auth/login", {"email": new_email(), "password": "wrong-password"})
    for _ in range(REFRESH_LIMIT):
        s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"})
    assert_status(s.post("/api/v1/auth/login", {"email": new_email(), "password": "x" * 12}), 429)
    assert_status(s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"}), 429)
    assert_status(s.get("/api/v1/auth/me", headers=bearer(token)), 200)
