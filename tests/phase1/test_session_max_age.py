"""Sessions end SESSION_MAX_AGE (30 days) after the login that began them,
however often they were refreshed (api.md §2): a refresh after that is
401 session_expired, and the session is over."""
from conftest import assert_error, assert_status, register


def age_session(stack, session_id, days):
    stack.psql("UPDATE homebot.sessions SET created_at = now() - make_interval(days => :'d'::int)"
               " WHERE id = :'id'", id=session_id, d=days)


def test_a_refresh_within_the_maximum_age_rotates(stack):
    a = register(stack)
    age_session(stack, a.session_id, 29)
    assert_status(stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh}), 200)


def test_a_refresh_after_the_maximum_age_is_session_expired_and_ends_the_session(stack):
    a = register(stack)
    age_session(stack, a.session_id, 31)
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh})
    assert_error(r, 401, "session_expired")
    assert_error(a.get("/api/v1/auth/me"), 401, "invalid_token")
    [(revoked,)] = stack.psql("SELECT revoked_at IS NOT NULL FROM homebot.sessions WHERE id = :'id'",
                              id=a.session_id)
    assert revoked == "t"
    # The next refresh of the same token is no longer a session to expire.
    assert_error(stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh}), 401,
                 "invalid_refresh_token")


def test_refreshing_does_not_extend_the_maximum_age(stack):
    a = register(stack)
    age_session(stack, a.session_id, 29)
    r = stack.post("/api/v1/auth/refresh", {"refresh_token": a.refresh})
    assert_status(r, 200)
    age_session(stack, a.session_id, 31)
    assert_error(stack.post("/api/v1/auth/refresh", {"refresh_token": r.json()["refresh_token"]}),
                 401, "session_expired")
