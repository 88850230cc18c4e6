"""The per-IP limit on the anonymous auth endpoints (api.md §2): at most
AUTH_RATE_PER_MINUTE calls to register, login and refresh together.

A stack of its own with AUTH_RATE_PER_MINUTE=5, since the session stack
lifts the limit out of the way of the rest of the suite. Each test starts
from empty counters in a minute it will not leave.
"""
import time

import pytest

from conftest import assert_error, assert_status, bearer, new_email, new_password, own_stack

LIMIT = 5


@pytest.fixture(scope="module")
def limited_stack():
    yield from own_stack(AUTH_RATE_PER_MINUTE=LIMIT)


@pytest.fixture
def fresh_counters(limited_stack):
    # The limit counts fixed one-minute windows: a test's calls must not
    # straddle a window's end.
    second = time.time() % 60
    if second > 54:
        time.sleep(60.5 - second)
    limited_stack.psql("DELETE FROM homebot.auth_rate_limits")
    return limited_stack


def register_body():
    return {"email": new_email(), "password": new_password(), "organization_name": "Limited"}


def test_sixth_auth_call_in_a_minute_is_429_rate_limited(fresh_counters):
    s = fresh_counters
    r = s.post("/api/v1/auth/register", register_body())
    assert r.status == 201, r
    t = r.json()
    email = t["user"]["email"]
    statuses = [
        s.post("/api/v1/auth/refresh", {"refresh_token": t["refresh_token"]}).status,
        s.post("/api/v1/auth/login", {"email": email, "password": "wrong-password"}).status,
        s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"}).status,
        s.post("/api/v1/auth/register", register_body()).status,
    ]
    assert statuses == [200, 401, 401, 201], statuses
    for path, body in (("/api/v1/auth/login", {"email": email, "password": "x" * 12}),
                       ("/api/v1/auth/register", register_body()),
                       ("/api/v1/auth/refresh", {"refresh_token": "garbage"})):
        r = s.post(path, body)
        assert_error(r, 429, "rate_limited")
        assert 0 < int(r.header("Retry-After")) <= 60, r.headers


def test_rate_limit_leaves_authenticated_endpoints_alone(fresh_counters):
    s = fresh_counters
    token = s.post("/api/v1/auth/register", register_body()).json()["access_token"]
    for _ in range(LIMIT):
        s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"})
    assert_status(s.post("/api/v1/auth/refresh", {"refresh_token": "garbage"}), 429)
    assert_status(s.get("/api/v1/auth/me", headers=bearer(token)), 200)
